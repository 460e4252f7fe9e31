"""Builders with fixed defaults for tests: exchanges at a fixed clock, between fixed endpoints."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from inspector.lab.tokens import LAB_HOST, LAB_REALM
from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, Provenance

CLOCK = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
HOST = LAB_HOST
REALM = LAB_REALM
BEARER_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    f'trusted_issuers="00000001-0000-0000-c000-000000000000@{REALM}", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.windows.net/common/oauth2/authorize"'
)

_counter = iter(range(1, 1_000_000))


def exchange(
    authorization: str | None = None,
    *,
    status: int | None = 200,
    response_headers: tuple[tuple[str, str], ...] = (),
    host: str = HOST,
    target: str = "/EWS/Exchange.asmx",
    client: str = "10.0.0.7",
    at: datetime = CLOCK,
    after: float = 0,
    exchange_id: str | None = None,
) -> HttpExchange:
    headers = [("Host", host)]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    n = next(_counter)
    return HttpExchange(
        id=exchange_id or f"t:{n}",
        request=HttpRequest("POST", target, headers=tuple(headers)),
        response=HttpResponse(status, headers=response_headers) if status is not None else None,
        time=at + timedelta(seconds=after),
        provenance=Provenance(kind="lab", source="test"),
        client=Endpoint(client, 50000 + n % 10000),
        server=Endpoint("10.0.0.9", 443),
        scheme="https",
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def unsigned_jwt(claims: dict[str, object], header: dict[str, object] | None = None, signature: bytes = b"") -> str:
    def seg(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{seg(header or {'alg': 'none', 'typ': 'JWT'})}.{seg(claims)}.{sig}"
