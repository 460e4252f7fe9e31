"""The outbound leg in the lab: Exchange-like token requests and answers shaped like Entra's and ACS's.

A test double for a boundary we cannot reach (Entra/ACS), behaving as the service documents: a success is a JSON
object with ``token_type``, ``expires_in``, ``access_token``…; a failure is HTTP 400/401 with ``error``,
``error_description`` ("AADSTS700027: Client assertion failed signature validation. (Reason: The key was not
found., Thumbprint of key used by client: '<hex>', …)"), ``error_codes``, ``timestamp``, ``trace_id``,
``correlation_id`` and ``error_uri``; ACS answers carry ``error`` and ``error_description`` only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from inspector.lab.certs import EXCHANGE_PRINCIPAL, LabCert
from inspector.lab.tokens import LAB_REALM, rs256_token, x5t_header
from inspector.tokens import TokenProblem, b64url_decode, decode_jwt

ENTRA_HOST = "login.microsoftonline.com"
ACS_HOST = "accounts.accesscontrol.windows.net"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class TokenCall:
    """One Exchange-like token request: where it goes and the form it sends."""

    host: str
    path: str
    body: bytes

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}"


def entra_path(realm: str = LAB_REALM) -> str:
    return f"/{realm}/oauth2/token"


def client_assertion(
    signer: LabCert, *, client_id: str, audience: str, now: datetime, lifetime: timedelta = ASSERTION_LIFETIME
) -> str:
    """An RS256 client assertion as Exchange signs it with its auth certificate (``x5t`` in the header)."""
    nbf = int(now.timestamp())
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.UUID(int=nbf)),
        "nbf": nbf,
        "exp": nbf + int(lifetime.total_seconds()),
    }
    return rs256_token(x5t_header(signer), claims, signer)


def entra_token_call(
    signer: LabCert,
    *,
    now: datetime,
    realm: str = LAB_REALM,
    host: str = ENTRA_HOST,
    client_id: str = EXCHANGE_PRINCIPAL,
    resource: str = "https://outlook.office365.com",
    lifetime: timedelta = ASSERTION_LIFETIME,
) -> TokenCall:
    """Exchange asking Entra (v1 endpoint) for an app token with a client assertion."""
    path = entra_path(realm)
    assertion = client_assertion(
        signer, client_id=client_id, audience=f"https://{host}{path}", now=now, lifetime=lifetime
    )
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "resource": resource,
    }
    return TokenCall(host, path, urlencode(form).encode("ascii"))


def acs_token_call(signer: LabCert, *, now: datetime, realm: str = LAB_REALM) -> TokenCall:
    """Exchange asking ACS for a token (``/tokens/OAuth/2``, client id and audience in principal form)."""
    client_id = f"{EXCHANGE_PRINCIPAL}@{realm}"
    assertion = client_assertion(
        signer, client_id=client_id, audience=f"00000001-0000-0000-c000-000000000000/{ACS_HOST}@{realm}", now=now
    )
    form = {
        "grant_type": "http://oauth.net/grant_type/jwt/1.0/bearer",
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "resource": f"00000004-0000-0ff1-ce00-000000000000/lync.contoso.com@{realm}",
    }
    return TokenCall(ACS_HOST, f"/{realm}/tokens/OAuth/2", urlencode(form).encode("ascii"))


def success_answer(issuer_cert: LabCert, *, now: datetime, realm: str = LAB_REALM) -> bytes:
    """Entra's JSON success: an RS256 access token signed by ``issuer_cert`` (the lab's stand-in for Entra)."""
    nbf = int(now.timestamp())
    claims = {
        "aud": "https://outlook.office365.com",
        "iss": f"https://sts.windows.net/{realm}/",
        "appid": EXCHANGE_PRINCIPAL,
        "tid": realm,
        "roles": ["full_access_as_app"],
        "nbf": nbf,
        "iat": nbf,
        "exp": nbf + 3600,
    }
    token = rs256_token(x5t_header(issuer_cert, kid=True), claims, issuer_cert)
    answer = {
        "token_type": "Bearer",
        "expires_in": "3599",
        "ext_expires_in": "3599",
        "expires_on": str(nbf + 3600),
        "not_before": str(nbf),
        "resource": "https://outlook.office365.com",
        "access_token": token,
    }
    return json.dumps(answer).encode("utf-8")


_DESCRIPTIONS = {
    700027: "AADSTS700027: Client assertion failed signature validation. (Reason: The key was not found., "
    "Thumbprint of key used by client: '{thumbprint}', Found key 'Start=01/01/2026 00:00:00, "
    "End=01/01/2027 00:00:00', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
    "configured keys for app Id '{client_id}'.)",
    50012: "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion contains an invalid "
    "signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']",
    7000215: "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
    "client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    700016: "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{realm}'.",
    500011: "AADSTS500011: The resource principal named https://outlook.office365.com was not found in the tenant "
    "named {realm}.",
    90002: "AADSTS90002: Tenant '{realm}' not found.",
    700024: "AADSTS700024: Client assertion is not within its valid time range.",
    50013: "AADSTS50013: Assertion failed signature validation.",
}


def entra_error(
    code: int, *, now: datetime, thumbprint: str = "", client_id: str = EXCHANGE_PRINCIPAL, realm: str = LAB_REALM
) -> tuple[int, bytes]:
    """Entra's answer for AADSTS ``code``: status and JSON body."""
    template = _DESCRIPTIONS[code]
    trace = str(uuid.UUID(int=code))
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    description = template.format(thumbprint=thumbprint, client_id=client_id, realm=realm)
    description += f"\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {stamp}"
    error = "invalid_client" if code in (700027, 50012, 7000215, 700016, 700024) else "invalid_request"
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code] if code != 50012 else [70002, 50012],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": trace,
        "error_uri": f"https://{ENTRA_HOST}/error?code={code}",
    }
    status = 401 if error == "invalid_client" else 400
    return status, json.dumps(body).encode("utf-8")


def acs_error(code: int, *, now: datetime) -> tuple[int, bytes]:
    """ACS's answer: ``ACS50012: Authentication failed.`` or ``ACS90019: …`` with trace id and timestamp."""
    # ACS90019's wording is documented nowhere we found; the lab uses AADSTS90019's (the same number).
    text = {50012: "Authentication failed.", 90019: "Unable to determine the tenant identifier from the request."}[code]
    trace = str(uuid.UUID(int=code))
    description = f"ACS{code}: {text}\r\nTrace ID: {trace}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}"
    error = "invalid_client" if code == 50012 else "invalid_request"
    return (401 if code == 50012 else 400), json.dumps({"error": error, "error_description": description}).encode()


# --- the double: answers token requests as Entra/ACS would ------------------------------------------------------


def is_token_path(path: str) -> bool:
    """``/<tenant>/oauth2/token``, ``/<tenant>/oauth2/v2.0/token`` or ``/<tenant>/tokens/OAuth/2``."""
    return (
        path.split("?", 1)[0].lower().rstrip("/").endswith(("/oauth2/token", "/oauth2/v2.0/token", "/tokens/oauth/2"))
    )


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    status: int
    body: bytes
    said: str
    """For the server's log line: ``issued`` or the code."""


def answer_token_request(
    path: str, body: bytes, *, registered: Sequence[LabCert], issuer_cert: LabCert, now: datetime
) -> TokenAnswer:
    """Entra's (or, on ``/tokens/OAuth/2``, ACS's) answer to a token request, given the certificates registered on
    the client's service principal: a client secret is refused (AADSTS7000215: the lab application has none), an
    assertion whose RS256 signature no registered certificate verifies is refused naming the thumbprint its
    ``x5t`` gives (AADSTS700027; ACS50012), anything else gets a token."""
    acs = path.split("?", 1)[0].lower().rstrip("/").endswith("/tokens/oauth/2")
    fields = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=64))
    client_id = fields.get("client_id", "")
    if "client_secret" in fields and not acs:
        status, answer = entra_error(7000215, now=now, client_id=client_id)
        return TokenAnswer(status, answer, "AADSTS7000215")
    assertion = fields.get("client_assertion") or fields.get("assertion") or ""
    thumbprint = _verified_by(assertion, registered)
    if thumbprint is None:
        return TokenAnswer(200, success_answer(issuer_cert, now=now), "issued")
    if acs:
        status, answer = acs_error(50012, now=now)
        return TokenAnswer(status, answer, "ACS50012")
    status, answer = entra_error(700027, now=now, thumbprint=thumbprint, client_id=client_id)
    return TokenAnswer(status, answer, "AADSTS700027")


def _verified_by(assertion: str, registered: Sequence[LabCert]) -> str | None:
    """``None`` when a registered certificate verifies the assertion; else the thumbprint its x5t names."""
    try:
        jwt = decode_jwt(assertion)
    except TokenProblem:
        return "0" * 40
    for cert in registered:
        try:
            cert.key.public_key().verify(jwt.signature, jwt.signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        if jwt.alg == "RS256":
            return None
    x5t = jwt.header.get("x5t")
    try:
        digest = b64url_decode(x5t) if isinstance(x5t, str) else b""
    except TokenProblem:
        digest = b""
    return digest.hex().upper() if len(digest) == 20 else "0" * 40
