"""What Entra (``AADSTS…``) and ACS (``ACS…``) token-endpoint error codes mean for an Exchange S2S setup.

Meanings follow Microsoft's "Microsoft Entra authentication and authorization error codes" reference and the
Exchange free/busy troubleshooting article (reference §0, §6), restated for this setting: the client is Exchange,
its credential is a client assertion signed by the auth certificate. ACS codes share their numbers with the
AADSTS codes of the same meaning (ACS50012 = authentication failed, as AADSTS50012).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class KnownTokenError:
    code: str
    """As it appears on the wire: ``AADSTS700027``, ``ACS50012``."""
    meaning: str
    remedy: str


_UPLOAD = (
    "Upload the current Exchange auth certificate (`(Get-AuthConfig).CurrentCertificateThumbprint`, exported as "
    "a .cer) to the service principal the request's client_id names (provision step 5; `verify-oauth` shows the "
    "keys registered there), then wait for replication (minutes) and retry."
)

_KNOWN = (
    KnownTokenError(
        "AADSTS700027",
        "The client assertion failed signature validation: Entra found no key on the application's service "
        "principal that verifies the assertion (the certificate named by its x5t is not registered there).",
        _UPLOAD,
    ),
    KnownTokenError(
        "AADSTS50012",
        "Authentication failed: the client assertion carries an invalid signature or names a certificate that is "
        'not registered (the message says "The key was not found" and the thumbprint the client used), or the '
        "signing certificate is not authorised.",
        _UPLOAD,
    ),
    KnownTokenError(
        "AADSTS7000215",
        "An invalid client secret was sent: the client authenticated with a secret the application does not have.",
        "Exchange S2S authenticates with the auth certificate, not a secret: check which application sends the "
        "secret; if it is meant to use one, create a new client secret for the application and configure it.",
    ),
    KnownTokenError(
        "AADSTS700016",
        "The application named by client_id was not found in the tenant the request went to.",
        "Check the client_id and the tenant in the token endpoint URL (the AuthServer's `TokenIssuingEndpoint`); "
        "for hybrid, check the first-party or dedicated hybrid application exists in that tenant "
        "(`Get-AuthServer | fl Name,Realm,TokenIssuingEndpoint,ApplicationIdentifier`).",
    ),
    KnownTokenError(
        "AADSTS500011",
        "The resource principal named in the request (resource/scope) was not found in the tenant: the target "
        "service is not provisioned there, or the request went to the wrong tenant.",
        "Check the resource value (e.g. 00000002-0000-0ff1-ce00-000000000000/<host>@<tenant> or "
        "https://outlook.office365.com) and the tenant in the endpoint URL; the on-premises host name must be "
        "registered as a service principal name of the Exchange service principal.",
    ),
    KnownTokenError(
        "AADSTS90002",
        "The tenant named in the token endpoint URL was not found (a mistyped or stale tenant id or domain, or a "
        "national-cloud tenant asked at the global endpoint).",
        "Fix the tenant in the AuthServer's token endpoint (`Set-AuthServer <name> -AuthMetadataUrl "
        "https://accounts.accesscontrol.windows.net/<tenant id>/metadata/json/1` then `-RefreshAuthMetadata`, "
        "or re-run the Hybrid Configuration Wizard).",
    ),
    KnownTokenError(
        "AADSTS700024",
        "The client assertion is not within its valid time range: its nbf/exp do not cover the moment Entra "
        "received it (a clock far off on the Exchange server).",
        "Fix time synchronisation on the Exchange servers (w32tm /query /status; the System log's time-skew "
        "events) and retry.",
    ),
    KnownTokenError(
        "AADSTS50013",
        "The assertion is invalid: wrong issuer or audience, expired or not yet valid, malformed, or signed in a "
        "way Entra does not accept.",
        "Compare the decoded client assertion (shown with this exchange) with what Entra expects: iss and sub "
        "equal to the client_id, aud the token endpoint, valid times; then check the clocks and the certificate.",
    ),
    KnownTokenError(
        "ACS50012",
        'ACS refused to authenticate the client ("Authentication failed"): most often the auth certificate '
        "that signed the assertion is not among the service principal's keys, or it expired.",
        _UPLOAD,
    ),
    KnownTokenError(
        "ACS90019",
        "ACS could not tell which tenant the request is for (the ACS counterpart of AADSTS90019): the token "
        "endpoint URL and the client_id carry no usable tenant (realm).",
        "Check the AuthServer's realm and token endpoint (`Get-AuthServer | fl Name,Realm,TokenIssuingEndpoint`) "
        "and `Get-AuthConfig | fl Realm`; the endpoint must be https://accounts.accesscontrol.windows.net/<tenant "
        "id>/tokens/OAuth/2.",
    ),
)

KEY_NOT_FOUND_CODES = frozenset({"AADSTS700027", "AADSTS50012", "ACS50012"})
"""Codes that mean the certificate that signed the client assertion is not registered on the service principal."""

KNOWN_TOKEN_ERRORS: Mapping[str, KnownTokenError] = MappingProxyType({k.code.upper(): k for k in _KNOWN})

_CODE = re.compile(r"\b(AADSTS|ACS)([0-9]{5,8})\b", re.IGNORECASE)
_THUMBPRINT = re.compile(r"Thumbprint of key used by client:\s*'([0-9A-Fa-f]{40})'")
MAX_CODES = 8


def error_codes(text: str) -> list[str]:
    """The AADSTS/ACS codes a message names, in order, each once (upper-case ``AADSTS700027``)."""
    out: list[str] = []
    for match in _CODE.finditer(text):
        code = match.group(1).upper() + match.group(2)
        if code not in out:
            out.append(code)
            if len(out) >= MAX_CODES:
                break
    return out


def thumbprint_in(text: str) -> str | None:
    """The thumbprint an Entra/ACS message says the client used ("Thumbprint of key used by client: 'X'")."""
    match = _THUMBPRINT.search(text)
    return match.group(1).upper() if match else None
