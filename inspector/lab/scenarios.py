"""Lab traffic: the token kit's scenarios rendered as EWS exchanges between Skype for Business Online and Exchange,
plus the challenges, the Basic fallback and the NTLM handshake that surround OAuth in real estates.

Every exchange comes with the set of catalogue rules the analyzer must report for it, under the assumptions stated
in ``inspector.lab.tokens`` (auth certificate and ACS metadata trusted, expected issuer 00000004, ``--realm``).
Three clients keep the rules that follow a client apart: the S2S caller (Bearer only), a client that falls back to
Basic, and a client of a virtual directory that offers only Negotiate/NTLM. Nothing is sent anywhere: the
addresses are data.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

from inspector.lab import ntlm
from inspector.lab.certs import ACS_PRINCIPAL, EXCHANGE_PRINCIPAL
from inspector.lab.diagnostics import accepted, rejection, ssl_offloading
from inspector.lab.tokens import SFB_PRINCIPAL, Minted, TokenKit
from inspector.model import Endpoint, Headers, HttpExchange, HttpRequest, HttpResponse, Provenance
from inspector.policy import EWS_PATH
from inspector.rules import RuleId

SERVER = Endpoint("10.0.0.9", 443)
S2S_CLIENT = Endpoint("10.0.0.10", 50110)
BASIC_CLIENT = Endpoint("10.0.0.20", 50120)
NTLM_CLIENT = Endpoint("10.0.0.30", 50130)

"""Where Exchange serves its auth metadata document (the lab server too)."""
AUTHORIZATION_URI = "https://login.windows.net/common/oauth2/authorize"
ASSERTED_TYPES = "app_asserted_user_v1 service_asserted_app_v1"
BASIC_USER = "CONTOSO\\svc-sfb"
BASIC_PASSWORD = "Lab-Passw0rd!"  # noqa: S105  (a lab credential; it exists to be found by basic-credentials)

_STEP = timedelta(seconds=2)
_SERVER_TIME = timedelta(milliseconds=35)

USER_AGENT = "ExchangeServicesClient/15.20.8000.000"
SOAP_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
    '<soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>'
    "<soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"
    '<m:FolderIds><t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>{mailbox}'
    "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder></soap:Body>"
    "</soap:Envelope>"
)
"""The EWS call Skype for Business Online makes (GetFolder on the user's calendar); ``{mailbox}`` is filled in."""
SOAP_RESPONSE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
    '<m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success">'
    "<m:ResponseCode>NoError</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages>"
    "</m:GetFolderResponse></s:Body></s:Envelope>"
)
"""Exchange's answer to it when the token is accepted."""


@dataclass(frozen=True, slots=True)
class _Step:
    client: Endpoint
    authorization: str | None
    status: int
    response_headers: Headers
    expects: tuple[RuleId, ...]


def bearer_challenge(kit: TokenKit, *, error: bool = False) -> str:
    """Exchange's Bearer challenge (reference §3.1), trusting ACS and Skype for Business for the kit's realm."""
    issuers = f"{ACS_PRINCIPAL}@{kit.realm},{SFB_PRINCIPAL}@{kit.realm}"
    value = (
        f'Bearer client_id="{EXCHANGE_PRINCIPAL}", trusted_issuers="{issuers}", token_types="{ASSERTED_TYPES}", '
        f'authorization_uri="{AUTHORIZATION_URI}"'
    )
    return value + ', error="invalid_token"' if error else value


def basic_challenge(kit: TokenKit) -> str:
    return f'Basic realm="{kit.host}"'


def _rejection(kit: TokenKit, diagnostics: str, *, offer_basic: bool = False) -> Headers:
    headers: list[tuple[str, str]] = [("WWW-Authenticate", bearer_challenge(kit, error=True))]
    if offer_basic:
        headers.append(("WWW-Authenticate", basic_challenge(kit)))
    headers.append(("x-ms-diagnostics", diagnostics))
    return tuple(headers)


def _token_step(kit: TokenKit, minted: Minted) -> _Step:
    authorization = f"Bearer {minted.value}"
    if accepted(minted.expects):
        return _Step(S2S_CLIENT, authorization, 200, (), minted.expects)
    claims = minted.outer_claims or {}
    diagnostics = rejection(minted.expects, iss=claims.get("iss", ""), realm=kit.realm, aud=claims.get("aud", ""))
    return _Step(S2S_CLIENT, authorization, 401, _rejection(kit, diagnostics), (*minted.expects, "bearer-rejected"))


def _steps(kit: TokenKit) -> list[_Step]:
    healthy = kit.healthy_user()
    steps = [
        # A discovery probe (empty Bearer) answered with the challenge: normal, nothing to report.
        _Step(S2S_CLIENT, "Bearer", 401, (("WWW-Authenticate", bearer_challenge(kit)),), ()),
        *(_token_step(kit, minted) for minted in kit.scenarios()),
        # A healthy token refused because Exchange sits behind SSL offloading (the HMA doc's failure sample).
        _Step(
            S2S_CLIENT,
            f"Bearer {healthy.value}",
            401,
            _rejection(kit, ssl_offloading(kit.host), offer_basic=True),
            ("bearer-rejected", "basic-offered"),
        ),
    ]
    # Basic fallback: the client tries OAuth (the empty Bearer probe), the challenge offers Bearer and Basic,
    # and the client answers with a password.
    basic = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode("ascii")
    steps += [
        _Step(
            BASIC_CLIENT,
            "Bearer",
            401,
            (("WWW-Authenticate", bearer_challenge(kit)), ("WWW-Authenticate", basic_challenge(kit))),
            ("basic-offered",),
        ),
        _Step(BASIC_CLIENT, f"Basic {basic}", 200, (), ("basic-credentials", "basic-fallback")),
    ]
    # A virtual directory without OAuth: Negotiate/NTLM only, then an NTLM handshake on one connection.
    seed = f"lab-ntlm:{kit.realm}:{kit.now.isoformat()}"
    info = ntlm.target_info(
        netbios_domain="CONTOSO", netbios_computer="EXCH01", dns_domain="contoso.com", moment=kit.now
    )
    nt_response = ntlm.ntlmv2_response(info=info, moment=kit.now, spn=f"HTTP/{kit.host}", seed=seed)
    type1 = ntlm.negotiate()
    type2 = ntlm.challenge(netbios_domain="CONTOSO", info=info, seed=seed)
    type3 = ntlm.authenticate(
        domain="CONTOSO", user="svc-sfb", workstation="SFB-FE01", nt_response=nt_response, seed=seed
    )
    steps += [
        _Step(
            NTLM_CLIENT,
            None,
            401,
            (("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")),
            ("oauth-not-offered",),
        ),
        # A NEGOTIATE message carries no credentials yet (legacy-auth is for the AUTHENTICATE), and the
        # handshake's 401 continues NTLM rather than offering schemes, so it is not oauth-not-offered either.
        _Step(NTLM_CLIENT, f"NTLM {_b64(type1)}", 401, (("WWW-Authenticate", f"NTLM {_b64(type2)}"),), ()),
        _Step(NTLM_CLIENT, f"NTLM {_b64(type3)}", 200, (), ("legacy-auth",)),
    ]
    return steps


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _request_headers(kit: TokenKit, authorization: str | None, body: bytes) -> Headers:
    headers = [
        ("Host", kit.host),
        ("Content-Type", "text/xml; charset=utf-8"),
        ("Accept", "text/xml"),
        ("User-Agent", USER_AGENT),
        ("X-AnchorMailbox", kit.user.upn),
    ]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    headers += [("Content-Length", str(len(body))), ("Connection", "Keep-Alive")]
    return tuple(headers)


def _response(step: _Step, at: datetime, request_id: str) -> HttpResponse:
    body = SOAP_RESPONSE.encode("utf-8") if step.status == 200 else b""
    headers: list[tuple[str, str]] = []
    if step.status == 200:
        headers += [("Cache-Control", "private"), ("Content-Type", "text/xml; charset=utf-8")]
    headers += [("Server", "Microsoft-IIS/10.0"), ("request-id", request_id)]
    headers += list(step.response_headers)
    headers += [
        ("X-FEServer", "EXCH01"),
        ("X-Powered-By", "ASP.NET"),
        ("Date", format_datetime(at, usegmt=True)),
        ("Content-Length", str(len(body))),
    ]
    return HttpResponse(
        status=step.status,
        reason="OK" if step.status == 200 else "Unauthorized",
        headers=tuple(headers),
        body=body,
    )


def lab_exchanges(kit: TokenKit, *, source: str = "lab") -> list[tuple[HttpExchange, tuple[str, ...]]]:
    """Every lab exchange, in capture order, with the rule IDs it is expected to raise (as a set)."""
    body = SOAP_REQUEST.format(mailbox=kit.user.upn).encode("utf-8")
    out: list[tuple[HttpExchange, tuple[str, ...]]] = []
    for number, step in enumerate(_steps(kit), start=1):
        at = kit.now + _STEP * (number - 1)
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab-request:{source}:{number}"))
        exchange = HttpExchange(
            id=f"{source}:{number}",
            request=HttpRequest(
                method="POST",
                target=EWS_PATH,
                headers=_request_headers(kit, step.authorization, body),
                body=body,
            ),
            response=_response(step, at + _SERVER_TIME, request_id),
            time=at,
            provenance=Provenance(kind="lab", source=source, entry=number - 1),
            client=step.client,
            server=SERVER,
            scheme="https",
            response_time=at + _SERVER_TIME,
        )
        out.append((exchange, step.expects))
    return out
