"""The rule catalogue: every finding the tool can report, in one place.

IDs are stable kebab-case names: never renamed, renumbered or reused. Each rule says what it means, the usual cause
in an Exchange / Skype for Business Online hybrid, and what to do. The README's catalogue is generated from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from inspector.frozen import pickled_by_constructor
from inspector.jsonable import json_native

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
"""Every severity, worst first."""
SEVERITY_ORDER: dict[str, int] = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
"""A severity's rank: higher is worse."""


RuleId = Literal[
    "basic-credentials",
    "basic-fallback",
    "bearer-rejected",
    "token-malformed",
    "token-unsigned",
    "alg-not-allowed",
    "signature-invalid",
    "signing-key-wrong-issuer",
    "issuer-unexpected",
    "realm-mismatch",
    "issuer-nameid-mismatch",
    "audience-mismatch",
    "delegation-not-trusted",
    "token-expired",
    "token-not-yet-valid",
    "signed-with-expired-cert",
    "cert-expired",
    "token-request-failed",
    "response-error-in-body",
    "issuer-not-trusted-by-server",
    "signer-not-on-sp",
    "rejections-concentrated",
    "signer-not-current",
    "next-cert-not-published",
    "authorization-uri-missing",
    "tls-cert-expired",
    "tls-version-legacy",
    "signing-key-unknown",
    "legacy-auth",
    "basic-offered",
    "oauth-not-offered",
    "cert-expiring",
    "cert-weak-key",
    "dangerous-header",
    "capture-gap",
    "tls-cert-name-mismatch",
    "tls-decrypt-failed",
    "tls-malformed",
    "capture-link-unsupported",
    "http-malformed",
    "input-malformed",
    "auth-header-malformed",
    "capture-encrypted",
    "token-opaque",
    "inspector-error",
]
"""Every rule ID, as a type: mypy refuses a mistyped ID wherever one is given (a test holds it equal to the
catalogue). A new rule is a line here and its ``Rule`` below."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: RuleId
    severity: Severity
    title: str
    help: str


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Finding:
    rule: Final[RuleId]
    severity: Final[Severity]
    message: Final[str]
    exchange: Final[str | None]
    evidence: Final[dict[str, object]]
    """JSON-native: what the report writes and a flow's metadata holds. :func:`finding` makes it so (and a
    ``Notice``'s evidence is so already); a copy made with ``dataclasses.replace`` keeps it."""
    suppressed: Final[str | None]
    """Why it is suppressed (``--ignore`` or the configuration's ``ignore`` list): reported, not counted towards
    ``--fail-on`` (inspector/selection.py)."""

    def __init__(
        self,
        rule: RuleId,
        severity: Severity,
        message: str,
        exchange: str | None = None,
        evidence: dict[str, object] | None = None,
        suppressed: str | None = None,
    ) -> None:
        self.rule = rule
        self.severity = severity
        self.message = message
        self.exchange = exchange
        self.evidence = {} if evidence is None else evidence
        self.suppressed = suppressed

    def about(self, exchange: str | None) -> Finding:
        """The same finding about another exchange, its evidence shared (a finding made once and reported for every
        exchange that shows it: a token's, a refusal's). The constructor, not ``dataclasses.replace``, which walks
        the fields in Python: this runs per exchange."""
        return Finding(self.rule, self.severity, self.message, exchange, self.evidence, self.suppressed)


_RULES = (
    # --- errors --------------------------------------------------------------------------------------------------
    Rule(
        "basic-credentials",
        "error",
        "Basic credentials sent",
        "A request carried `Authorization: Basic`, i.e. a user name and a reusable password. Between Exchange and "
        "Skype for Business Online/Teams only OAuth should cross the wire. Usual cause: a client or service "
        "account configured for Basic, or OAuth failing and a component retrying with a password. Find the client "
        "(the finding names it), fix its OAuth configuration, and disable Basic on the virtual directory "
        "(`Set-WebServicesVirtualDirectory -BasicAuthentication $false`).",
    ),
    Rule(
        "basic-fallback",
        "error",
        "Fallback from OAuth to Basic/NTLM/Negotiate",
        "A client tried OAuth on a host (the empty `Bearer` probe or a token), was refused (401) or got no "
        "answer, and then used Basic, NTLM or Negotiate on the same host within 10 minutes of capture time. The "
        "same host is compared without case, a trailing dot or the scheme's default port; inputs are judged in "
        "capture-time order. Not a fallback: an anonymous request answered 401 and then NTLM (the client never "
        "tried OAuth: that is legacy-auth), Basic refused and retried with Basic (a password problem), a token "
        "accepted and Basic later. OAuth did not work and the client quietly fell back: look at the OAuth "
        "attempt the finding names (x-ms-diagnostics explains why the token was refused) and fix that; the seed "
        "article's steps 2-6 and `verify-oauth` cover the usual causes.",
    ),
    Rule(
        "bearer-rejected",
        "error",
        "Server rejected the bearer token",
        "The server answered 401 to a request that carried a bearer token. The evidence holds the decoded "
        "`x-ms-diagnostics` header (code, reason, category) when the server sent one, with the known cause and "
        "fix: e.g. 2000000 invalid_signature means stale auth metadata (`Set-AuthServer <name> "
        "-RefreshAuthMetadata`), 2000003 invalid_resource an audience/host or http-vs-https mismatch (SSL "
        "offloading), 2000008 a partner application without linked account.",
    ),
    Rule(
        "token-malformed",
        "error",
        "Token cannot be decoded",
        "A bearer value that starts like a JWT (or an S2S outer token's `actortoken`) is not a well-formed compact "
        "JWS: wrong number of segments, invalid base64url, a header or payload that is not a JSON object. No "
        "Microsoft S2S component sends such tokens; suspect truncation (a proxy or header size limit), a broken "
        "client, or a probe.",
    ),
    Rule(
        "token-unsigned",
        "error",
        "Unsigned token without a signed actor",
        "The token is `alg: none` and carries no signed actor token, or its actor token is itself unsigned. An "
        "S2S outer token is legitimately unsigned only because the RS256 actor token inside vouches for it. "
        "Anything else is an attack (SharePoint CVE-2023-29357 used `alg: none`) or a bug; the server must "
        "reject it.",
    ),
    Rule(
        "alg-not-allowed",
        "error",
        "Signature algorithm not allowed",
        "The signed token uses an algorithm other than RS256, the only one S2S tokens use. HS256 here usually "
        "means the classic key-confusion attack (the public certificate used as an HMAC secret); the tool never "
        "verifies such a token.",
    ),
    Rule(
        "signature-invalid",
        "error",
        "Signature does not verify",
        "The key the token names was found in the trust store, but the RS256 signature is wrong. The token was "
        "forged or altered in transit (a 2026 SharePoint bypass used a real x5t with the signature `AAAA`). "
        "If you expected it to verify, check that the certificate given is the current auth certificate "
        "(`Get-AuthConfig`).",
    ),
    Rule(
        "signing-key-wrong-issuer",
        "error",
        "Key trusted for another issuer",
        "The token is signed with a key from a metadata document that vouches only for another issuer (e.g. an "
        "Exchange key used for a token claiming to come from ACS). A key is trusted only for the issuer its "
        "document names; give the certificate with --cert if it is meant to be trusted for any issuer.",
    ),
    Rule(
        "issuer-unexpected",
        "error",
        "Unexpected token issuer",
        "The calling principal (the outer `iss`, or for an app-only token its `iss`, or its `nameid` when ACS "
        "issued it) is not an expected principal (default Skype for Business Online, "
        "00000004-0000-0ff1-ce00-000000000000). Either another service is calling (set --issuer), or the "
        "partner application is misconfigured. In a token request, the client assertion's `iss` (and `sub`, where "
        "it carries one) must name the `client_id` (Entra answers AADSTS700021/AADSTS50013 otherwise).",
    ),
    Rule(
        "realm-mismatch",
        "error",
        "Realm mismatch",
        "The realm after '@' differs from the configured realm(s) (--realm: the tenant ID for Skype for Business "
        "Online, the SIP domain for SfB Server), or differs between the outer `iss`, `aud` and the actor's "
        "`iss`/`nameid`. Exchange rejects such tokens (2000004 invalid_tenant). Check the AuthServer realm "
        "(`Get-AuthServer`) and that the realm is an accepted domain without wildcards.",
    ),
    Rule(
        "issuer-nameid-mismatch",
        "error",
        "Outer issuer differs from the actor's nameid",
        "In an S2S token the outer `iss` must equal the actor token's `nameid` (the application the actor token "
        "was issued to). A mismatch means the outer token was built by someone other than the application the "
        "signed actor vouches for: a forged or spliced token.",
    ),
    Rule(
        "audience-mismatch",
        "error",
        "Audience does not match the request",
        "The token's `aud` (`<principal>/<host>@<realm>`, or an Entra token's application ID or URL) does not "
        "name the service the request went to: its host is not the request's Host, or its principal is another "
        "service's (the message names the service the token was made for: a SharePoint token sent to Exchange "
        "EWS, an Azure AD Graph token sent to Exchange Online), or the outer and actor tokens name different "
        "audiences. The expected principal follows the request path (Exchange for /EWS/, /autodiscover/, /api/, "
        "/mapi/...; SharePoint for /_api/, /_vti_bin/, /_layouts/; Skype/Lync for its web services) or "
        "--audience-principal HOST=PRINCIPAL. Exchange answers 2000003 invalid_resource. Usual causes: a load "
        "balancer or proxy name differing from the name the caller was configured with, a caller asking for a "
        "token for the wrong resource, or a token replayed to another server or service.",
    ),
    Rule(
        "delegation-not-trusted",
        "error",
        "Actor not trusted for delegation",
        'The outer token speaks for a user, but its actor token does not carry `trustedfordelegation: "true"`. '
        "Only an actor trusted for delegation may act on behalf of a user; the server refuses the user context. "
        "The token was built by a caller that is not allowed to impersonate users, or the actor was swapped.",
    ),
    Rule(
        "token-expired",
        "error",
        "Token expired",
        "At capture time the token's `exp` (plus the allowed clock skew, --skew) had passed. Either the caller "
        "reused an old token or the clocks of the servers differ: check time synchronisation on Exchange and the "
        "time-skew events in the System log.",
    ),
    Rule(
        "token-not-yet-valid",
        "error",
        "Token not yet valid",
        "At capture time the token's `nbf` (minus the allowed clock skew) lay in the future: the issuer's clock "
        "runs ahead of the capture's. Fix time synchronisation.",
    ),
    Rule(
        "signed-with-expired-cert",
        "error",
        "Signed with a certificate outside its validity",
        "The signature verifies, but with a certificate that was expired (or not yet valid) when the token was "
        "used. Renew the auth certificate (`New-ExchangeCertificate`, `Set-AuthConfig -NewCertificateThumbprint`, "
        "`-PublishCertificate`) and upload the new one to the service principal.",
    ),
    Rule(
        "cert-expired",
        "error",
        "Trusted certificate expired",
        "A certificate given to the tool (or listed in a metadata document) is expired. Tokens signed with it "
        "will be refused. Renew the Exchange auth certificate (KB 2617816 procedure; CSS-Exchange "
        "MonitorExchangeAuthCertificate.ps1) and re-run the Hybrid Configuration Wizard where hybrid is set up.",
    ),
    Rule(
        "token-request-failed",
        "error",
        "Token request failed",
        "A token request (POST with a grant_type form to .../oauth2/token, .../oauth2/v2.0/token or ACS "
        ".../tokens/OAuth/2) was refused by Entra or ACS: the outbound leg, where Exchange asks for a token with a "
        "client assertion signed by its auth certificate. The evidence holds the AADSTS/ACS codes with their "
        "meaning and remedy; when the message names the thumbprint the client used, it is matched against the "
        "certificates given (--cert/--thumbprint). The commonest cause: the auth certificate was renewed but not "
        "uploaded to the service principal (AADSTS700027, AADSTS50012, ACS50012): upload it (provision step 5).",
    ),
    Rule(
        "response-error-in-body",
        "error",
        "Error inside the answer body",
        "The answer's body reports an error the status line does not: an EWS/Autodiscover SOAP response with "
        '`ResponseClass="Error"`, a SOAP fault or an Autodiscover ErrorCode (often in HTTP 200), or a '
        "SharePoint/Teams JSON error with an S2S code. The evidence holds each ResponseCode and MessageText and, "
        'for known OAuth shapes ("(401) Unauthorized" from the next hop, ErrorProxyRequestProcessingFailed, '
        "ErrorServerBusy after OAuth failures, free/busy errors, AADSTS codes quoted by Exchange, 3000003 invalid "
        "audience), what it means and what to do.",
    ),
    # --- from the trust inventory (inventory_rules.py) and its join with the configuration (rotation.py) ----------
    Rule(
        "issuer-not-trusted-by-server",
        "error",
        "Token issuer not among the server's trusted issuers",
        "A token was sent to a server whose own Bearer challenge lists `trusted_issuers`, and the token's issuer "
        "(`<principal>@<realm>`) is not among them (`*` matches any realm). That server will refuse the token. "
        "Usual cause: the partner application or auth server for this issuer is missing or disabled on Exchange, "
        "or its realm differs (SfB Online uses the tenant ID, SfB Server the SIP domain). Compare `Get-AuthServer` "
        "and `Get-PartnerApplication` with the issuer named in the finding.",
    ),
    Rule(
        "signer-not-on-sp",
        "error",
        "Signing certificate not on the service principal",
        "Tokens on the wire are signed by a certificate (named by its thumbprint) that is not among the service "
        "principal's keyCredentials (`--sp-credentials`). Entra/ACS will refuse what it signs (AADSTS700027, "
        "ACS50012). Upload that certificate to the service principal (seed step 5; `verify-oauth` shows the "
        "command), or make Exchange sign with the uploaded one.",
    ),
    Rule(
        "rejections-concentrated",
        "warning",
        "401s for valid tokens come from one server only",
        "Tokens of one signer that verify and pass every check were refused (401) by one back-end server "
        "(`X-BEServer`, else `X-FEServer` or the server address) while other servers accepted tokens of the same "
        "signer. Usual cause: the auth certificate or partner metadata was not replicated to that server, or its "
        "metadata cache is stale. On that server: `Get-AuthConfig`, `Get-ExchangeCertificate` for the thumbprint, "
        "`Set-AuthServer <name> -RefreshAuthMetadata`, then `iisreset` of the OAuth application pools.",
    ),
    Rule(
        "signer-not-current",
        "warning",
        "Tokens signed by a certificate that is not the current auth certificate",
        "Tokens on the wire are signed by a certificate that is not `Get-AuthConfig`'s CurrentCertificateThumbprint "
        "(`--exchange-config`). Either the capture predates a rotation, a server has not picked up the new "
        "configuration (restart the Microsoft Exchange Service Host and the OAuth app pools), or another signer "
        "is at work. The finding says whether it is the next or previous certificate.",
    ),
    Rule(
        "next-cert-not-published",
        "warning",
        "Next auth certificate not on the service principal",
        "`Get-AuthConfig` names a next certificate that becomes effective within 30 days (or already has) and it "
        "is not among the service principal's keyCredentials. When Exchange switches to it, S2S calls to Entra "
        "fail. Export it and upload it beside the current one before the effective date.",
    ),
    Rule(
        "authorization-uri-missing",
        "info",
        "Bearer challenge without authorization_uri",
        "A server's Bearer challenge carries no `authorization_uri`: Hybrid Modern Authentication is not "
        "configured with Entra (EvoSTS) as the default authorization endpoint. Normal where only S2S OAuth "
        "(SfB/Teams) is wanted; where HMA is intended check `Get-AuthServer | fl Name,IsDefaultAuthorizationEndpoint`.",
    ),
    # --- warnings ------------------------------------------------------------------------------------------------
    Rule(
        "tls-cert-expired",
        "error",
        "TLS server certificate outside its validity",
        "The certificate a server presented in a TLS handshake (in clear up to TLS 1.2, or decrypted) was expired "
        "or not yet valid at the capture's time. Partners such as Skype for Business Online and Exchange Online "
        "refuse the connection before any OAuth happens. Renew the certificate bound on IIS (Exchange "
        "`Enable-ExchangeCertificate -Services IIS`) or on the load balancer in front of it.",
    ),
    Rule(
        "tls-version-legacy",
        "error",
        "Legacy TLS version negotiated",
        "A TLS connection negotiated SSL 3.0, TLS 1.0 or TLS 1.1. Microsoft 365 refuses them, so S2S calls over "
        "such a connection fail. Enable TLS 1.2 on the Exchange server (SChannel and .NET `SchUseStrongCrypto`) "
        "and on every device in between.",
    ),
    Rule(
        "signing-key-unknown",
        "warning",
        "Signing key unknown: cannot verify",
        "No trusted key matches the token's `x5t`/`kid`, so its signature cannot be checked. This is not a "
        "verdict of invalid. Give the exported auth certificate (--cert OAuthCert.cer) or the issuer's metadata "
        "document (--metadata) to verify it.",
    ),
    Rule(
        "legacy-auth",
        "warning",
        "NTLM or Negotiate credentials",
        "A request authenticated with NTLM or Negotiate (Kerberos or NTLM inside): reported on the NTLM Type 3, "
        "or once per client and host at the end of the input for a handshake that began (Type 1) and never "
        "reached its Type 3. Between Skype for Business Online and Exchange this means OAuth was not used; "
        "on-premises clients may legitimately use it (every domain-joined client answers an anonymous 401 this "
        "way). NTLMv1 is weak and should be disabled.",
    ),
    Rule(
        "basic-offered",
        "warning",
        "Basic offered beside Bearer",
        "A 401 offers Basic as well as Bearer, inviting clients to send a password when OAuth fails. Disable Basic "
        "on the virtual directory once OAuth works.",
    ),
    Rule(
        "oauth-not-offered",
        "warning",
        "OAuth not offered",
        "A 401 from the server offers no Bearer challenge, so no S2S client can use OAuth there. Check that OAuth "
        "is enabled on the virtual directory (`Get-WebServicesVirtualDirectory | fl *Authentication*`, "
        "`OAuthAuthentication`) and that the request reached Exchange and not a device in front of it.",
    ),
    Rule(
        "cert-expiring",
        "warning",
        "Trusted certificate expires soon",
        "A trusted certificate expires within 60 days. Configure the next auth certificate now "
        "(`Set-AuthConfig -NewCertificateThumbprint ... -NewCertificateEffectiveDate ...`) and upload it to the "
        "service principal before it takes effect.",
    ),
    Rule(
        "cert-weak-key",
        "warning",
        "Weak certificate key",
        "A trusted certificate's RSA key is shorter than 2048 bits. Replace the auth certificate with a 2048-bit "
        "or larger key (`New-ExchangeCertificate -KeySize 2048`).",
    ),
    Rule(
        "dangerous-header",
        "warning",
        "Dangerous token header",
        "The token header carries `jku`, `x5u` or `jwk` (asking the verifier to fetch or accept a key from the "
        "token itself), or a `kid` that looks like a path or URL. S2S tokens never do; these are injection "
        "attempts against naive verifiers. This tool ignores them.",
    ),
    Rule(
        "capture-gap",
        "warning",
        "Capture gap",
        "Bytes of a TCP connection are missing from the capture, so the exchanges they carried are incomplete or "
        "lost. Nothing is invented in their place. Capture with a larger buffer and snap length (`-s 0`) and on "
        "the server itself where possible.",
    ),
    Rule(
        "tls-cert-name-mismatch",
        "warning",
        "TLS certificate does not name the server asked for",
        "The server certificate's SANs (or, without SANs, its common name) do not cover the SNI the client sent. "
        "Usual cause: a TLS-intercepting device in the path, or the wrong certificate bound on IIS or the load "
        "balancer. Partners validate the name and fail the call.",
    ),
    Rule(
        "tls-decrypt-failed",
        "warning",
        "TLS records do not open with the key given",
        "A key for this TLS session was found (key log or the capture's secrets block) but the records' tags or "
        "MACs do not check with it: the key log belongs to another session, or the capture damaged the record. "
        "Nothing from that direction is reported; use the key log written by the same client run as the capture.",
    ),
    Rule(
        "tls-malformed",
        "warning",
        "Malformed TLS",
        "A connection that began as TLS carried bytes that are not TLS records, a record larger than TLS allows, "
        "or a broken handshake message. That direction is not read further; the rest of the capture is.",
    ),
    Rule(
        "capture-link-unsupported",
        "warning",
        "Capture frames not read",
        "Frames of a link type this reader does not decode are in the capture, so whatever traffic they carried "
        "is not analysed (a capture made of nothing else gives no exchange at all). Capture on an Ethernet, "
        "loopback or Linux `any` interface.",
    ),
    Rule(
        "http-malformed",
        "warning",
        "Malformed HTTP message",
        "An HTTP message in the input could not be parsed (broken request or status line, oversized header "
        "block), or was parsed although it has a shape servers must reject: whitespace between a header name and "
        "its colon (`Authorization : Bearer ...`, RFC 9112 section 5.1), a request-smuggling shape where a proxy "
        "and a server may read the field differently; such a field is still judged, as if the space were absent. "
        "The rest of the input is still analysed.",
    ),
    Rule(
        "input-malformed",
        "warning",
        "Malformed input entry",
        "An entry of a HAR or flow file could not be read (not an object, missing request), or part of it is "
        "unusable: an entry whose time is not a time is still judged, with its time unknown (its token and "
        "certificate times and the rules that compare exchanges over time are not). The other entries are still "
        "analysed.",
    ),
    Rule(
        "auth-header-malformed",
        "warning",
        "Malformed Authorization header",
        "An Authorization value could not be decoded (Basic that is not base64 or has no ':', NTLM/Negotiate that "
        "is not base64). Clients that send such values are broken or probing.",
    ),
    # --- info ----------------------------------------------------------------------------------------------------
    Rule(
        "capture-encrypted",
        "info",
        "Encrypted traffic not inspected",
        "Some TLS connections in the capture could not be decrypted, so their Authorization headers cannot be "
        "read from the file. The evidence names the SNIs, the client randoms whose keys were missing and any "
        "cipher suite this reader does not decrypt. Give the key log with `--keylog` (or a pcapng with its "
        "secrets embedded), run `oauth-inspector proxy` (mitmproxy) in front of Exchange, or capture behind "
        "the TLS terminator.",
    ),
    Rule(
        "token-opaque",
        "info",
        "Bearer token is not a JWT",
        "The bearer value is not a JWT, so nothing about it can be checked. Microsoft S2S tokens are always JWTs; "
        "this is another kind of OAuth client.",
    ),
    Rule(
        "inspector-error",
        "warning",
        "Internal error while inspecting",
        "The inspector failed on this exchange (a bug: please report it with the evidence). The traffic itself "
        "passed untouched and the other exchanges were analysed.",
    ),
)

CATALOGUE: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def finding(rule_id: RuleId, message: str, exchange: str | None = None, **evidence: object) -> Finding:
    rule = CATALOGUE[rule_id]
    native: dict[str, object] = json_native(evidence)
    return Finding(rule=rule.id, severity=rule.severity, message=message, exchange=exchange, evidence=native)


def at_or_above(severity: str, threshold: str) -> bool:
    return SEVERITY_ORDER[severity] >= SEVERITY_ORDER[threshold]


def markdown_table() -> str:
    """The catalogue as the README's table (``oauth-inspector rules --format markdown``; a test holds the README to
    it)."""
    lines = ["| ID | severity | title | what it means and what to do |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.severity} | {r.title} | {r.help.replace('|', '\\|')} |" for r in CATALOGUE.values()]
    return "\n".join(lines)


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (Rule, Finding):
    pickled_by_constructor(_cls)
