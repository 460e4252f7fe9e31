"""The outbound leg: token requests to Entra/ACS, recognised by shape on any host, and their answers.

Exchange asks for a token with ``POST …/oauth2/token`` (Entra v1), ``…/oauth2/v2.0/token`` (v2) or
``…/tokens/OAuth/2`` (ACS), a form body with ``grant_type=`` and a ``client_assertion`` (or ``assertion``) JWT
signed by its auth certificate. The assertion is judged like an actor token (``token_checks``); the answer is
either a JSON access token (decoded, never verified: the caller's trust covers Exchange, not Entra) or an error
whose AADSTS/ACS codes are explained (``token_errors``). Only the kept body prefix is read (``bodies``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from inspector.bodies import body_text, media_type
from inspector.model import HttpExchange
from inspector.policy import Policy
from inspector.redact import SECRET_PARAMETERS
from inspector.rules import Finding, finding
from inspector.token_checks import TokenReport, judge_client_assertion
from inspector.token_errors import KEY_NOT_FOUND_CODES, KNOWN_TOKEN_ERRORS, MAX_CODES, error_codes, thumbprint_in
from inspector.tokens import TokenProblem, b64url_decode, decode_bearer, decode_jwt
from inspector.trust import Trust
from inspector.verify import Verifier

TOKEN_PATHS = ("/oauth2/token", "/oauth2/v2.0/token", "/tokens/oauth/2")
"""Path endings of the token endpoints (lower-case; Entra v1 and v2, ACS)."""


def is_secret_field(name: str) -> bool:
    """A form field never shown unless ``--show-secrets``: the names ``redact`` hides in query strings (among them
    ``client_assertion``, ``client_secret``, ``assertion``, ``refresh_token``, ``code``, ``password``), any case.
    A client assertion is shown decoded beside, without its signature."""
    return name.strip().lower() in SECRET_PARAMETERS


ASSERTION_FIELDS = ("client_assertion", "assertion")
MAX_FORM_FIELDS = 64
MAX_SHOWN_TEXT = 1024
"""Error descriptions are cut to this in findings (Entra's carry trace ids and timestamps after the message)."""


@dataclass(frozen=True, slots=True)
class TokenRequestReport:
    """What the tool read from one token request and its answer (shown in every output format)."""

    endpoint: str
    """The host and path the request was sent to."""
    grant_type: str | None
    client_id: str | None
    resource: str | None
    """``resource`` (v1, ACS) or ``scope`` (v2)."""
    form: tuple[tuple[str, str], ...]
    """The form fields as sent; secret ones are redacted when shown."""
    assertion: TokenReport | None = None
    access_token: TokenReport | None = None
    """The access token of a successful answer, decoded (claims only; never verified)."""
    error: str | None = None
    error_description: str | None = None
    codes: tuple[str, ...] = ()
    thumbprint: str | None = None
    """The thumbprint the error message says the client used."""
    findings: tuple[Finding, ...] = field(default=(), repr=False)


def _path(target: str) -> str:
    path = target.split("?", 1)[0]
    if "://" in path:  # absolute form, as sent to a forward proxy
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return path.lower().rstrip("/")


def form_fields(body: bytes) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` fields, bounded; a value cut by the body limit stays cut."""
    try:
        return parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than the bound: the first ones
        first = "&".join(body.decode("latin-1").split("&", MAX_FORM_FIELDS)[:MAX_FORM_FIELDS])
        return parse_qsl(first, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)


def token_request_fields(exchange: HttpExchange) -> list[tuple[str, str]] | None:
    """The form fields of ``exchange`` when it is a token request by shape, else ``None``. A POST to a token endpoint
    whose body was not captured (a HAR without postData, a capture gap) is one too, with no fields: its answer is
    still judged."""
    request = exchange.request
    if request.method.upper() != "POST" or not _path(request.target).endswith(TOKEN_PATHS):
        return None
    if request.body is None:
        return []
    kind = media_type(request.headers)
    if kind is not None and kind != "application/x-www-form-urlencoded":
        return None
    fields = form_fields(request.body)
    if not any(name == "grant_type" for name, _ in fields):
        return None
    return fields


def _first(fields: list[tuple[str, str]], *names: str) -> str | None:
    for wanted in names:
        for name, value in fields:
            if name == wanted:
                return value
    return None


def _json_answer(exchange: HttpExchange) -> dict[str, object] | None:
    response = exchange.response
    if response is None or response.body is None:
        return None
    try:
        value = json.loads(body_text(response.body))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def judge_token_request(
    exchange: HttpExchange, fields: list[tuple[str, str]], *, trust: Trust, verifier: Verifier, policy: Policy
) -> TokenRequestReport:
    host = exchange.host
    findings: list[Finding] = []
    client_id = _first(fields, "client_id")
    assertion_report: TokenReport | None = None
    raw_assertion = _first(fields, *ASSERTION_FIELDS)
    if raw_assertion:
        try:
            jwt = decode_jwt(raw_assertion.strip())
        except TokenProblem as exc:
            findings.append(
                finding(
                    "token-malformed", f"The token request's client assertion cannot be decoded: {exc}", exchange.id
                )
            )
        else:
            assertion_report, judged = judge_client_assertion(
                jwt,
                verifier=verifier,
                policy=policy,
                at=exchange.time,
                client_id=client_id,
                endpoint_host=host,
                exchange=exchange.id,
            )
            findings += judged
    answer = _json_answer(exchange)
    access: TokenReport | None = None
    error = description = thumbprint = None
    codes: list[str] = []
    status = exchange.response.status if exchange.response is not None else None
    if answer is not None and isinstance(answer.get("access_token"), str) and "error" not in answer:
        decoded = decode_bearer(str(answer["access_token"]))
        outer = decoded.outer
        aud = outer.claims.get("aud") if outer is not None else None
        access = TokenReport(
            kind=decoded.kind,
            decoded=decoded,
            issuer=outer.claim_str("iss") if outer is not None else None,
            audience=aud if isinstance(aud, str) else None,
        )
    elif status is not None and (status >= 400 or (answer is not None and "error" in answer)):
        error, description, codes = _error_of(answer)
        thumbprint = thumbprint_in(description or "") or _key_thumbprint(codes, assertion_report)
        findings.append(_failed(exchange, status, error, description, codes, thumbprint, trust, assertion_report))
    return TokenRequestReport(
        endpoint=f"{host or '?'}{_path(exchange.request.target)}",
        grant_type=_first(fields, "grant_type"),
        client_id=client_id,
        resource=_first(fields, "resource", "scope"),
        form=tuple(fields),
        assertion=assertion_report,
        access_token=access,
        error=error,
        error_description=description,
        codes=tuple(codes),
        thumbprint=thumbprint,
        findings=tuple(findings),
    )


def _error_of(answer: dict[str, object] | None) -> tuple[str | None, str | None, list[str]]:
    if answer is None:
        return None, None, []
    error = answer.get("error")
    description = answer.get("error_description")
    text = description if isinstance(description, str) else None
    codes = error_codes(text or "")
    # Entra also lists the numbers alone in error_codes; ACS answers carry only the text.
    numbers = answer.get("error_codes")
    if isinstance(numbers, list):
        for number in numbers[:MAX_CODES]:
            if isinstance(number, int) and not isinstance(number, bool) and f"AADSTS{number}" not in codes:
                codes.append(f"AADSTS{number}")
    return (error if isinstance(error, str) else None), (text[:MAX_SHOWN_TEXT] if text else None), codes


def _key_thumbprint(codes: list[str], assertion: TokenReport | None) -> str | None:
    """For a key-not-found error whose message names no thumbprint: the one the assertion's ``x5t`` names."""
    if assertion is None or assertion.decoded.outer is None or not KEY_NOT_FOUND_CODES.intersection(codes):
        return None
    x5t = assertion.decoded.outer.header.get("x5t")
    if not isinstance(x5t, str):
        return None
    try:
        digest = b64url_decode(x5t)
    except TokenProblem:
        return None
    return digest.hex().upper() if len(digest) == 20 else None


def explain_thumbprint(thumbprint: str, trust: Trust) -> str:
    """What the thumbprint an Entra/ACS error names is, against the trust the user gave."""
    for key in trust.keys:
        if key.thumbprint == thumbprint and key.issuer is None:
            until = f", valid until {key.not_after:%Y-%m-%d}" if key.not_after else ""
            return (
                f"{thumbprint} is the auth certificate you gave ({key.source}{until}): it is not registered on the "
                "service principal — upload it (provision step 5)"
            )
    if thumbprint in trust.expected_thumbprints:
        return (
            f"{thumbprint} is an auth certificate thumbprint you gave (--thumbprint): it is not registered on the "
            "service principal — upload that certificate (provision step 5)"
        )
    if trust.keys or trust.expected_thumbprints:
        return (
            f"{thumbprint} is none of the certificates you gave: the server signs with a certificate you did not "
            "export (check `(Get-AuthConfig).CurrentCertificateThumbprint` on every server)"
        )
    return f"{thumbprint} is the certificate the client signed with (give --cert or --thumbprint to match it)"


def _failed(
    exchange: HttpExchange,
    status: int,
    error: str | None,
    description: str | None,
    codes: list[str],
    thumbprint: str | None,
    trust: Trust,
    assertion: TokenReport | None,
) -> Finding:
    known = [KNOWN_TOKEN_ERRORS[c] for c in codes if c in KNOWN_TOKEN_ERRORS]
    headline = known[0].code if known else codes[0] if codes else (error or f"HTTP {status}")
    others = [c for c in codes if c != headline]
    message = f"The token request to {exchange.host or '?'} failed with {headline}"
    if others:
        message += f" (also {', '.join(others)})"
    evidence: dict[str, object] = {
        "status": status,
        "error": error,
        "codes": codes,
        "known": [{"code": k.code, "meaning": k.meaning, "remedy": k.remedy} for k in known],
    }
    if description:
        evidence["error_description"] = description
    # The thumbprint's verdict first: it is the sentence an admin acts on (the console cuts long messages).
    if thumbprint:
        explained = explain_thumbprint(thumbprint, trust)
        evidence["thumbprint"] = thumbprint
        evidence["thumbprint_is"] = explained
        message += f": {explained}."
        if known:
            message += f" {known[0].meaning}"
    elif known:
        message += f": {known[0].meaning} Remedy: {known[0].remedy}"
    if assertion is not None:
        x5t = assertion.decoded.outer.header.get("x5t") if assertion.decoded.outer else None
        if isinstance(x5t, str):
            evidence["assertion_x5t"] = x5t
    return finding("token-request-failed", message, exchange.id, **evidence)
