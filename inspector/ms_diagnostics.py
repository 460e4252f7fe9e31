"""What Microsoft's ``x-ms-diagnostics`` codes mean: a small knowledge base of the codes Exchange, SharePoint and
Skype for Business send when they refuse a token, each with its likely cause in a hybrid and what to do.

Data, not parsing: ``http_auth.parse_ms_diagnostics`` reads the header and asks :func:`lookup` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class KnownDiagnostic:
    code: int
    category: str
    meaning: str
    likely_cause: str
    remedy: str


def _known(code: int, category: str, meaning: str, likely_cause: str, remedy: str) -> KnownDiagnostic:
    return KnownDiagnostic(code, category, meaning, likely_cause, remedy)


_GENERAL = (
    _known(
        2000000,
        "invalid_signature",
        'The token signature did not verify with the keys the server holds for its issuer ("The token has an '
        'invalid signature.").',
        "Stale auth server metadata on Exchange: ACS / Entra (EvoSTS) rolled its signing key and Exchange still "
        "has the old one; or the token is signed with a certificate the server does not trust.",
        "On Exchange: `Get-AuthServer | fl Name,AuthMetadataUrl,Enabled`, then `Set-AuthServer <name> "
        "-RefreshAuthMetadata` for the issuing auth server (ACS / EvoSts); wait about 15 minutes or run "
        "`iisreset /noforce`, and retry. Compare the token's x5t with the keys in the metadata document.",
    ),
    _known(
        2000001,
        "invalid_token",
        'The server rejected the token as invalid ("The token is invalid.").',
        "A malformed or unacceptable token: broken structure, outside its validity window, or not the kind of "
        "token this resource accepts.",
        "Decode the token and check its structure, nbf/exp against the server clock, aud and iss; the reason "
        "text usually names the failing check.",
    ),
    _known(
        2000003,
        "invalid_resource",
        "The token's audience (aud) does not match this resource.",
        "The token was requested for another resource or host than the one called (wrong URL in the partner "
        "configuration, a different external host name, http vs https).",
        "Request the token for the resource actually called: aud must be "
        "`00000002-0000-0ff1-ce00-000000000000/<exchange host>@<realm>` (or the https URL of that host); check "
        "the URL the partner uses and the service principal names registered for Exchange "
        "(`Get-MgServicePrincipal -Filter \"AppId eq '00000002-0000-0ff1-ce00-000000000000'\"`).",
    ),
    _known(
        2000004,
        "invalid_tenant",
        "The realm (tenant) in the token is not known to the server (\"The tenant for tenant guid '<realm>' "
        'does not exist.").',
        "The token's realm (e.g. the SIP domain of a Skype for Business partner) is not an accepted domain of "
        "the Exchange organization, typically because it is covered only by a wildcard accepted domain.",
        "Add the realm as an explicit accepted domain (`New-AcceptedDomain -Name <realm> -DomainName <realm>`) "
        "instead of relying on a wildcard entry (`Get-AcceptedDomain`), and check the partner's realm "
        "(`Get-CsOAuthConfiguration`).",
    ),
    _known(
        2000005,
        "invalid_user",
        "The user named by the token's user context (smtp / upn / sip claims) does not resolve to exactly one "
        "recipient.",
        "The user does not exist where the token is validated, or several recipients share the address.",
        "Look the token's smtp/upn/sip claims up with `Get-Recipient <address>` on the receiving side; remove "
        "duplicates or synchronise the missing user.",
    ),
    _known(
        2000008,
        "invalid_grant",
        "The partner application has neither permissions nor a linked account that allows this call.",
        "The partner application (e.g. Microsoft Graph 00000003-0000-0000-c000-000000000000) lacks a "
        "LinkedAccount or AppOnlyPermissions.",
        "`Get-PartnerApplication | fl Name,ApplicationIdentifier,Enabled,LinkedAccount,AppOnlyPermissions`; give "
        "the application named in the reason a linked account with the needed roles: `Set-PartnerApplication "
        "<name> -LinkedAccount <domain>/Users/<account>`.",
    ),
    _known(
        2000009,
        "invalid_issuer",
        "The token's issuer is not one the server trusts (\"The issuer of the token is unknown. Issuer was "
        "'<principal>@<realm>'.\").",
        "The auth server on Exchange points at another tenant (e.g. the Hybrid Configuration Wizard was re-run "
        "against a new tenant), or no auth server / partner application exists for that issuer.",
        "Compare the issuer in the reason with `Get-AuthServer | fl Name,IssuerIdentifier,Realm,AuthMetadataUrl`; "
        "point the ACS / EvoSts auth server at the right tenant (`Set-AuthServer <name> -AuthMetadataUrl "
        "https://accounts.accesscontrol.windows.net/<tenant id>/metadata/json/1`, or re-run the Hybrid "
        "Configuration Wizard), then `Set-AuthServer <name> -RefreshAuthMetadata`.",
    ),
    _known(
        2000020,
        "insufficient_claims",
        "Entra tenant restrictions: the token lacks the xms_trpid claim although the request carried a "
        "sec-tenant-restriction-access-policy header.",
        "A tenant restrictions v2 policy injected by a proxy or Global Secure Access; not an S2S configuration "
        "problem.",
        "Review the tenant restrictions v2 policy and whatever injects the sec-tenant-restriction-access-policy "
        "header (proxy, Global Secure Access); exempt the server-to-server traffic from it.",
    ),
    _known(
        4000000,
        "oauth_not_available",
        'OAuth is not available for this domain or virtual directory ("Flighting is not enabled for domain '
        "'<domain>'.\").",
        "OAuth / Hybrid Modern Auth is not enabled for that virtual directory or domain (seen on Exchange 2019 "
        "CU14); the Bearer challenge then usually lacks authorization_uri.",
        "Check the virtual directory allows OAuth (`Get-WebServicesVirtualDirectory | fl "
        "*AuthenticationMethods,OAuthAuthentication`, likewise Autodiscover, OWA, ECP, ActiveSync) and enable it "
        "(`Set-WebServicesVirtualDirectory <identity> -OAuthAuthentication $true`); for OWA/ECP follow "
        "Microsoft's Hybrid Modern Auth enablement steps for the installed CU; check `Get-AuthServer EvoSts | fl "
        "IsDefaultAuthorizationEndpoint`.",
    ),
    _known(
        3005004,
        "invalid_client",
        'SharePoint rejected the token header ("The token does not contain valid algorithm in header.").',
        "An unsigned token (alg none) or an algorithm SharePoint does not accept where a signed token is required.",
        "Sign the (actor) token with RS256 using a certificate SharePoint trusts (`Get-SPTrustedSecurityToken"
        "Issuer`); an alg:none outer token is only acceptable when it carries a signed actortoken.",
    ),
    _known(
        3000003,
        "invalid_client",
        "SharePoint rejected the token's audience (\"Invalid audience Uri '<principal>/<host>@<realm>'.\").",
        "The token's aud names another principal, host or realm than the SharePoint site: a token made for "
        "another service or host, or a realm that is not the farm's.",
        "Request the token for `00000003-0000-0ff1-ce00-000000000000/<site host>@<realm>` with the site's host "
        "exactly as addressed; check the realm (`Get-SPAuthenticationRealm`) and the trusted token issuer "
        "(`Get-SPTrustedSecurityTokenIssuer`).",
    ),
)

KNOWN_DIAGNOSTICS: Mapping[int, KnownDiagnostic] = MappingProxyType({d.code: d for d in _GENERAL})

# Codes whose documented reasons have different causes: (code, lower-case reason fragment, refinement).
_BY_REASON: tuple[tuple[int, str, KnownDiagnostic], ...] = (
    (
        2000001,
        "parsed",
        _known(
            2000001,
            "invalid_token",
            "The token in the Authorization header could not be parsed.",
            "A truncated or mangled token (a proxy or header size limit cut it, stray quotes or whitespace), or "
            "a value that is not a JWT sent as Bearer.",
            "Compare the token sent with the one issued: check for truncation (IIS / proxy header size limits), "
            "stray quotes or whitespace, and that the value after `Bearer ` is a complete three-part JWT.",
        ),
    ),
    (
        2000001,
        "too weak",
        _known(
            2000001,
            "invalid_token",
            "The token was acquired with an authentication method weaker than the application requires "
            "(presented auth strength 1, required 2).",
            "App-only access to Exchange Online EWS with a client secret instead of a certificate.",
            "Acquire app-only tokens for Exchange Online EWS with a certificate credential (client assertion) "
            "registered on the application, not a client secret.",
        ),
    ),
    (
        2000003,
        "hostname component",
        _known(
            2000003,
            "invalid_resource",
            "The scheme or host of the audience differs from the URL the server saw (e.g. expected "
            "https://mail.contoso.com, actual http://mail.contoso.com).",
            "SSL/TLS offloading: a load balancer terminates TLS and forwards plain HTTP, so Exchange sees "
            "http:// while the token names https://.",
            "Stop offloading TLS for the Exchange virtual directories (re-encrypt to Exchange over HTTPS); "
            "Exchange OAuth does not work with SSL offloading.",
        ),
    ),
    (
        2000005,
        "ambiguous",
        _known(
            2000005,
            "invalid_user",
            "The user named by the token's user context matches several recipients.",
            "A duplicate UPN, SMTP or SIP address on more than one on-premises object.",
            "Find the duplicates: `Get-Recipient -Filter \"EmailAddresses -eq 'smtp:<address>'\"` and `Get-User "
            "-Filter \"UserPrincipalName -eq '<upn>'\"`; remove the address from all objects but one.",
        ),
    ),
    (
        2000005,
        "does not exist",
        _known(
            2000005,
            "invalid_user",
            "The user named by the token's user context does not exist where the token is validated.",
            "The mailbox or mail user is not synchronised to that side (directory synchronisation), or the "
            "request names the wrong mailbox.",
            "Check the user exists as a mailbox or mail user where the token is validated (`Get-Recipient "
            "<address>`); fix directory synchronisation (Entra Connect) or the address the caller uses.",
        ),
    ),
)


_CATEGORY_SPELLINGS = {"insufficiant_claims": "insufficient_claims"}
"""Category spellings Microsoft's own documentation and services use beside the standard one (2000020)."""


def diagnostics_category(category: str) -> str:
    """A category as the knowledge base spells it: lower-case, ``-`` as ``_``, known misspellings corrected."""
    lowered = category.strip().lower().replace("-", "_")
    return _CATEGORY_SPELLINGS.get(lowered, lowered)


def lookup(code: int | None, reason: str | None, category: str | None) -> KnownDiagnostic | None:
    """The entry for a parsed ``x-ms-diagnostics`` value; a reason refines a code, a category that disagrees
    with the code's means no entry (the same number means something else there)."""
    if code is None:
        return None
    general = KNOWN_DIAGNOSTICS.get(code)
    if general is None:
        return None
    if category is not None and diagnostics_category(category) != general.category:
        return None  # same number, different meaning: do not guess
    if reason:
        lowered = reason.lower()
        for known_code, fragment, refined in _BY_REASON:
            if known_code == code and fragment in lowered:
                return refined
    return general
