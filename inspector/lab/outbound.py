"""Lab exchanges of the outbound leg and of errors inside bodies, each with the rules it must raise.

Exchange's token requests to Entra and ACS (healthy, refused with each known code, with a broken assertion), EWS
answers that are HTTP 200 with ``ResponseClass="Error"`` inside, a SOAP fault, and a SharePoint JSON error. Tests
write them through every source (HAR, .mitm, pcap, .saz, the live addon) and expect the same findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

from inspector.lab.certs import LabCert
from inspector.lab.token_endpoint import (
    ENTRA_HOST,
    TokenCall,
    acs_error,
    acs_token_call,
    entra_error,
    entra_token_call,
    success_answer,
)
from inspector.lab.tokens import LAB_HOST, LAB_REALM
from inspector.model import Endpoint, Headers, HttpExchange, HttpRequest, HttpResponse, Provenance
from inspector.policy import EWS_PATH

EXCHANGE_SERVER = Endpoint("10.0.0.9", 50100)
ENTRA_ADDRESS = Endpoint("10.0.1.20", 443)
ACS_ADDRESS = Endpoint("10.0.1.21", 443)
SFB_CLIENT = Endpoint("10.0.0.7", 50200)
EWS_SERVER = Endpoint("10.0.0.9", 443)
SHAREPOINT = Endpoint("10.0.0.12", 443)

EWS_ERROR_TEMPLATE = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
<FreeBusyResponseArray><FreeBusyResponse>
<ResponseMessage ResponseClass="Error"><MessageText>{text}</MessageText><ResponseCode>{code}</ResponseCode>
<DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage>
</FreeBusyResponse></FreeBusyResponseArray></GetUserAvailabilityResponse></s:Body></s:Envelope>"""
EWS_SUCCESS = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>
</m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"""
SOAP_FAULT = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
<faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
<detail xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">
<e:ResponseCode>ErrorServerBusy</e:ResponseCode>
<e:Message>The server cannot service this request right now. Try again later.</e:Message>
</detail></s:Fault></s:Body></s:Envelope>"""
SHAREPOINT_ERROR = (
    '{"error":"invalid_client","error_description":"3000003;reason=\\"Invalid audience Uri '
    "'00000003-0000-0ff1-ce00-000000000000/other.contoso.com@" + LAB_REALM + '\'.\\";category=\\"invalid_client\\""}'
)

SHAREPOINT_CHALLENGE = (
    'Bearer realm="' + LAB_REALM + '",client_id="00000003-0000-0ff1-ce00-000000000000",'
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*"'
)


@dataclass(frozen=True, slots=True)
class OutboundCase:
    name: str
    exchange: HttpExchange
    expects: tuple[str, ...]
    """Rule IDs the analyzer must report (as a set), given the auth certificate as --cert."""


def _headers(host: str, content_type: str, body: bytes, extra: Headers = ()) -> Headers:
    return (
        ("Host", host),
        ("Content-Type", content_type),
        *extra,
        ("Content-Length", str(len(body))),
    )


def _answer(status: int, body: bytes, content_type: str, at: datetime, extra: Headers = ()) -> HttpResponse:
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}
    return HttpResponse(
        status,
        reasons.get(status, ""),
        headers=(
            *extra,
            ("Cache-Control", "no-store, no-cache"),
            ("Content-Type", content_type),
            ("Date", format_datetime(at, usegmt=True)),
            ("Content-Length", str(len(body))),
        ),
        body=body,
    )


def _exchange(
    number: int,
    request: HttpRequest,
    response: HttpResponse,
    at: datetime,
    client: Endpoint,
    server: Endpoint,
    source: str,
) -> HttpExchange:
    return HttpExchange(
        id=f"{source}:{number}",
        request=request,
        response=response,
        time=at,
        provenance=Provenance(kind="lab", source=source),
        client=Endpoint(client.host, (client.port or 50000) + number),
        server=server,
        scheme="https",
        response_time=at + timedelta(milliseconds=120),
    )


_JSON = "application/json; charset=utf-8"
_FORM = "application/x-www-form-urlencoded"
_XML = "text/xml; charset=utf-8"


def token_exchange(number: int, call: TokenCall, status: int, body: bytes, at: datetime, source: str) -> HttpExchange:
    request = HttpRequest("POST", call.path, headers=_headers(call.host, _FORM, call.body), body=call.body)
    server = ENTRA_ADDRESS if call.host == ENTRA_HOST else ACS_ADDRESS
    return _exchange(number, request, _answer(status, body, _JSON, at), at, EXCHANGE_SERVER, server, source)


def _ews(number: int, body: str, at: datetime, source: str, status: int = 200) -> HttpExchange:
    payload = b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>'
    request = HttpRequest("POST", EWS_PATH, headers=_headers(LAB_HOST, _XML, payload), body=payload)
    answer = _answer(status, body.encode("utf-8"), _XML, at)
    return _exchange(number, request, answer, at, SFB_CLIENT, EWS_SERVER, source)


def outbound_cases(
    auth_cert: LabCert, issuer_cert: LabCert, *, now: datetime, rogue_cert: LabCert, source: str = "outbound"
) -> list[OutboundCase]:
    """Every case at ``now`` (one second apart). ``auth_cert`` is the certificate given to the analyzer,
    ``issuer_cert`` signs Entra's access tokens, ``rogue_cert`` is one nobody trusts."""
    cases: list[OutboundCase] = []

    def at() -> datetime:
        return now + timedelta(seconds=len(cases))

    def add(name: str, make: HttpExchange, *expects: str) -> None:
        cases.append(OutboundCase(name, make, expects))

    def ok(number: int, call: TokenCall) -> HttpExchange:
        return token_exchange(number, call, 200, success_answer(issuer_cert, now=at()), at(), source)

    thumbprint = auth_cert.thumbprint
    add(
        "entra-success",
        token_exchange(
            1, entra_token_call(auth_cert, now=at()), 200, success_answer(issuer_cert, now=at()), at(), source
        ),
    )
    for number, code in enumerate((700027, 50012, 7000215, 700016, 500011, 90002, 700024, 50013), start=2):
        status, body = entra_error(code, now=at(), thumbprint=thumbprint)
        add(
            f"entra-AADSTS{code}",
            token_exchange(number, entra_token_call(auth_cert, now=at()), status, body, at(), source),
            "token-request-failed",
        )
    for number, code in ((10, 50012), (11, 90019)):
        status, body = acs_error(code, now=at())
        add(
            f"acs-ACS{code}",
            token_exchange(number, acs_token_call(auth_cert, now=at()), status, body, at(), source),
            "token-request-failed",
        )
    add(
        "acs-success",
        token_exchange(
            12, acs_token_call(auth_cert, now=at()), 200, success_answer(issuer_cert, now=at()), at(), source
        ),
    )
    add(
        "assertion-unknown-key",
        token_exchange(
            13, entra_token_call(rogue_cert, now=at()), 200, success_answer(issuer_cert, now=at()), at(), source
        ),
        "signing-key-unknown",
    )
    add(
        "assertion-expired",
        token_exchange(
            14,
            entra_token_call(auth_cert, now=at() - timedelta(hours=2)),
            200,
            success_answer(issuer_cert, now=at()),
            at(),
            source,
        ),
        "token-expired",
    )
    add(
        "ews-free-busy-401-inside-200",
        _ews(
            15,
            EWS_ERROR_TEMPLATE.format(
                text="The remote server returned an error: (401) Unauthorized.",
                code="ErrorProxyRequestProcessingFailed",
            ),
            at(),
            source,
        ),
        "response-error-in-body",
    )
    add("ews-fault-server-busy", _ews(16, SOAP_FAULT, at(), source, status=500), "response-error-in-body")
    add("ews-success", _ews(17, EWS_SUCCESS, at(), source))
    sharepoint = HttpRequest(
        "GET",
        "/_api/web",
        headers=(("Host", "sharepoint.contoso.com"), ("Accept", "application/json")),
    )
    add(
        "sharepoint-invalid-audience",
        _exchange(
            18,
            sharepoint,
            _answer(401, SHAREPOINT_ERROR.encode("utf-8"), _JSON, at(), (("WWW-Authenticate", SHAREPOINT_CHALLENGE),)),
            at(),
            SFB_CLIENT,
            SHAREPOINT,
            source,
        ),
        "response-error-in-body",
    )
    return cases
