"""Who is talking to whom: the key the cross-exchange families remember a client by."""

from __future__ import annotations

from inspector.hosts import origin_host
from inspector.model import HttpExchange

ClientKey = tuple[str, str]
"""The client address and the host as one origin."""


def client_key(exchange: HttpExchange, host: str | None) -> ClientKey:
    """The client address and the host as one origin: case, a trailing dot and the default port aside."""
    client = exchange.client.host if exchange.client else "?"
    return client, origin_host(host, exchange.scheme)
