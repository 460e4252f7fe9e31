"""A fallback: a client that tried OAuth on a host (a token or the empty Bearer probe), was refused (401) or got no
answer, and then used Basic, NTLM or Negotiate on the same host within ``FALLBACK_WINDOW``."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from inspector.checks.clients import ClientKey, client_key
from inspector.checks.credentials import LEGACY_SCHEMES
from inspector.http_auth import Credentials
from inspector.model import HttpExchange
from inspector.policy import FALLBACK_WINDOW
from inspector.rules import Finding, RuleId, finding

RULES: tuple[RuleId, ...] = ("basic-fallback",)


@dataclass(slots=True)
class OAuthFailed:
    """A client's attempt at OAuth on a host that was refused (401) or never answered."""

    at: datetime | None
    """``None`` when the attempt's time is unknown: then no later exchange falls in its window."""
    exchange: str
    outcome: str
    """``refused`` or ``unanswered``."""


FailedOAuth = OrderedDict[ClientKey, OAuthFailed]
"""Per client and host, the last failed OAuth attempt (oldest first, bounded by the caller's ``max_state``)."""


def remember_oauth(
    failed: FailedOAuth, exchange: HttpExchange, host: str | None, credentials: Credentials | None, max_state: int
) -> None:
    """Note a refused or unanswered OAuth attempt (an empty ``Bearer`` probe included); an accepted one
    clears the note: the client's OAuth works there."""
    if credentials is None or credentials.scheme not in ("bearer", "bare"):
        return
    key = client_key(exchange, host)
    response = exchange.response
    if response is not None and response.status != 401:
        failed.pop(key, None)
        return
    outcome = "unanswered" if response is None else "refused"
    failed[key] = OAuthFailed(exchange.time, exchange.id, outcome)
    failed.move_to_end(key)
    if len(failed) > max_state:
        failed.popitem(last=False)


def fallback_findings(
    failed: FailedOAuth, exchange: HttpExchange, host: str | None, credentials: Credentials, *, designed: bool
) -> list[Finding]:
    """``basic-fallback`` when this request's Basic/NTLM/Negotiate follows a failed OAuth attempt in the window
    (the attempt is then forgotten: one fallback per failure). ``designed``: Basic is by design on this path."""
    scheme = credentials.scheme
    if (scheme != "basic" and scheme not in LEGACY_SCHEMES) or designed:  # (a starred tuple stops mypyc)
        return []
    key = client_key(exchange, host)
    previous = failed.get(key)
    if previous is None or not _within(previous.at, exchange.time, FALLBACK_WINDOW):
        return []
    del failed[key]
    how = "was refused" if previous.outcome == "refused" else "got no answer"
    return [
        finding(
            "basic-fallback",
            f"Client {key[0]} tried OAuth on {key[1]} ({previous.exchange}), {how}, and then used "
            f"{credentials.raw_scheme} instead of a token",
            exchange.id,
            client=key[0],
            host=key[1],
            oauth_attempt=previous.exchange,
            oauth_outcome=previous.outcome,
            scheme=scheme,
        )
    ]


def _within(earlier: datetime | None, later: datetime | None, seconds: float) -> bool:
    """Whether ``later`` comes at most ``seconds`` after ``earlier``; never when either time is unknown (a rule that
    compares exchanges over time is not applied to an exchange whose time is unknown: unknown beats wrong)."""
    return earlier is not None and later is not None and 0 <= (later - earlier).total_seconds() <= seconds
