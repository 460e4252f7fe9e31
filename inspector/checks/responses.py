"""What a server's 401 shows: the schemes it offers (Basic beside Bearer, no Bearer at all) and a refused token with
its decoded ``x-ms-diagnostics``. Offers are reported once per client, host and path, not on every 401."""

from __future__ import annotations

from collections.abc import Callable

from inspector.checks.clients import client_key
from inspector.http_auth import Challenge, Credentials, Diagnostics
from inspector.model import HttpExchange
from inspector.rules import Finding, RuleId, finding

RULES: tuple[RuleId, ...] = ("basic-offered", "oauth-not-offered", "bearer-rejected")

Rejection = Callable[[HttpExchange, tuple[Challenge, ...], Diagnostics | None], Finding]
"""What makes a ``bearer-rejected`` finding: :func:`bearer_rejected` or a cache of it."""
ReportedOnce = set[tuple[str, str, str, str]]
"""(rule, client, host, path) already reported; bounded by the caller's ``max_state``."""


def first_report(reported: ReportedOnce, rule: str, exchange: HttpExchange, host: str | None, max_state: int) -> bool:
    """Whether ``rule`` is new for this client, host and path (and remember it while there is room)."""
    path = exchange.request.target.split("?", 1)[0].lower()
    client, lowered = client_key(exchange, host)
    key = (rule, client, lowered, path)
    if key in reported:
        return False
    if len(reported) < max_state:
        reported.add(key)
    return True


def response_findings(
    exchange: HttpExchange,
    host: str | None,
    credentials: Credentials | None,
    challenges: tuple[Challenge, ...],
    diagnostics: Diagnostics | None,
    *,
    reported: ReportedOnce,
    max_state: int,
    rejected: Rejection | None = None,
) -> list[Finding]:
    """``rejected``: makes the ``bearer-rejected`` finding (:func:`bearer_rejected`, or a cache of it)."""
    response = exchange.response
    assert response is not None
    out: list[Finding] = []
    if response.status != 401:
        return out
    schemes = {c.scheme for c in challenges}
    if "bearer" in schemes:
        if "basic" in schemes and first_report(reported, "basic-offered", exchange, host, max_state):
            out.append(
                finding(
                    "basic-offered",
                    f"{host or 'The server'} offers Basic beside Bearer (reported once per client, host and path)",
                    exchange.id,
                    host=host,
                    schemes=sorted(schemes),
                )
            )
    elif challenges and all(c.token68 for c in challenges):
        pass  # an NTLM/Negotiate handshake continuing (a Type-2 challenge), not an offer of schemes
    elif first_report(reported, "oauth-not-offered", exchange, host, max_state):
        offered = ", ".join(c.raw_scheme for c in challenges) or "no challenge at all"
        out.append(
            finding(
                "oauth-not-offered",
                f"{host or 'The server'} answered 401 offering {offered}, but no Bearer "
                "(reported once per client, host and path)",
                exchange.id,
                host=host,
                schemes=sorted(schemes),
            )
        )
    if credentials is not None and credentials.scheme in ("bearer", "bare") and credentials.credentials:
        out.append((rejected or bearer_rejected)(exchange, challenges, diagnostics))
    return out


def bearer_rejected(
    exchange: HttpExchange, challenges: tuple[Challenge, ...], diagnostics: Diagnostics | None
) -> Finding:
    """A token refused with 401, with what the server said why (``x-ms-diagnostics``, the challenge's ``error``):
    made of the challenges and diagnostics alone, and the exchange's id."""
    evidence: dict[str, object] = {"status": 401}
    reason = ""
    if diagnostics is not None:
        evidence["x-ms-diagnostics"] = {
            "code": diagnostics.code,
            "reason": diagnostics.reason,
            "category": diagnostics.category,
        }
        reason = f": {diagnostics.code} {diagnostics.category or ''} {diagnostics.reason or ''}".rstrip()
        if diagnostics.known is not None:
            evidence["meaning"] = diagnostics.known.meaning
            evidence["likely_cause"] = diagnostics.known.likely_cause
            evidence["remedy"] = diagnostics.known.remedy
    bearer = next((c for c in challenges if c.scheme == "bearer"), None)
    if bearer is not None and bearer.param("error"):
        evidence["error"] = bearer.param("error")
    return finding("bearer-rejected", f"The server refused the bearer token{reason}", exchange.id, **evidence)
