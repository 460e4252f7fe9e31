"""NTLM handshakes that begin (Type 1) and never complete (Type 3) within an input: still an attempt at legacy
authentication, reported once at the input's end."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from inspector.checks.clients import ClientKey, client_key
from inspector.http_auth import Credentials
from inspector.model import HttpExchange
from inspector.rules import Finding, RuleId, finding

RULES: tuple[RuleId, ...] = ("legacy-auth",)


@dataclass(slots=True)
class Handshake:
    """An NTLM handshake begun (Type 1) and not yet completed (Type 3) by one client on one host."""

    at: datetime | None
    """``None`` when the Type 1's time is unknown."""
    exchange: str
    scheme: str
    host: str
    answer: int | None = None
    """The status the server answered the Type 1 with (401 carries the Type 2 challenge); ``None``: no answer."""


OpenHandshakes = OrderedDict[ClientKey, Handshake]
"""Per client and host, the handshake begun and not yet completed (oldest first, bounded by ``max_state``)."""


def track_handshake(
    handshakes: OpenHandshakes, exchange: HttpExchange, host: str | None, credentials: Credentials, max_state: int
) -> None:
    """Follow NTLM handshakes per client and host: begun at Type 1, done at Type 3. Not per connection:
    sources other than captures seldom know it, and a client whose handshake completes on one connection
    while another stalls has shown it can finish one (unknown beats a doubtful report)."""
    ntlm = credentials.ntlm
    if ntlm is None:
        return
    key = client_key(exchange, host)
    if ntlm.message_type == 3:
        handshakes.pop(key, None)
    elif ntlm.message_type == 1:
        handshake = handshakes.get(key)
        if handshake is None:
            handshake = Handshake(exchange.time, exchange.id, credentials.raw_scheme or "NTLM", key[1])
            handshakes[key] = handshake
            if len(handshakes) > max_state:  # bounded: the oldest unfinished one is forgotten
                handshakes.popitem(last=False)
        response = exchange.response
        if response is not None and handshake.answer != 401:
            handshake.answer = response.status


def incomplete_handshake(handshake: Handshake) -> Finding:
    if handshake.answer == 401:
        answered = "got the server's Type 2 challenge"
    elif handshake.answer is None:
        answered = "got no answer"
    else:
        answered = f"was answered {handshake.answer} without a Type 2 challenge"
    return finding(
        "legacy-auth",
        f"{handshake.scheme} (ntlm) handshake to {handshake.host} began (Type 1) and {answered}, but did not "
        "complete within the input (no Type 3): the client still attempted legacy authentication",
        handshake.exchange,
        scheme=handshake.scheme.lower(),
        mechanism="ntlm",
        user=None,
        ntlm_version=None,
        handshake="incomplete",
    )
