"""The Host a client addressed, when mitmproxy's reverse mode has already replaced it.

In reverse mode mitmproxy rewrites the ``Host`` header to the upstream's address before any addon hook runs, unless
the option ``keep_host_header`` is on. A token's audience names the host the client addressed, so judging it against
the rewritten header would report every healthy token as ``audience-mismatch``. The client's TLS SNI still names the
host it addressed; without one the host part of the audience check is skipped for that exchange.
"""

from __future__ import annotations

from dataclasses import replace

from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from inspector.model import HttpExchange


def host_rewritten(flow: http.HTTPFlow, *, keep_host_header: bool) -> bool:
    """True when mitmproxy replaced this live flow's Host header with the reverse-proxy upstream's."""
    if keep_host_header or not flow.live:
        return False
    return isinstance(getattr(flow.client_conn, "proxy_mode", None), ReverseMode)


def client_sni(flow: http.HTTPFlow) -> str | None:
    sni = flow.client_conn.sni
    return sni.strip() or None if isinstance(sni, str) else None


def with_client_host(exchange: HttpExchange, sni: str | None) -> HttpExchange:
    """The exchange with its Host header(s) replaced by ``sni`` at the first one's place, or removed without one."""
    headers: list[tuple[str, str]] = []
    placed = False
    for name, value in exchange.request.headers:
        if name.lower() != "host":
            headers.append((name, value))
        elif not placed and sni:
            headers.append((name, sni))
            placed = True
    if sni and not placed:
        headers.insert(0, ("Host", sni))
    return replace(exchange, request=replace(exchange.request, headers=tuple(headers)))
