"""Network failures said in words: what requests/urllib3/msal/pypsrp wrap (``HTTPSConnectionPool(host=..., port=443):
Max retries exceeded with url: ... NewConnectionError(<urllib3.connection...>)``) reduced to its cause and what to do.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from inspector.text import safe


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, urllib3's ``reason``, exceptions among ``args``."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < 32:
        item = pending.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for inner in (item.__cause__, item.__context__, getattr(item, "reason", None)):
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending.extend(arg for arg in item.args if isinstance(arg, BaseException))


def explain_network_error(exc: BaseException, where: str) -> str | None:
    """Why reaching ``where`` (a URL or host) failed, in words, or ``None`` when the failure is not the network's."""
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    for item in chain:
        if isinstance(item, socket.gaierror):
            return f"the name in {safe(where, 200)} does not resolve (DNS): check the spelling and the DNS server"
        if isinstance(item, ConnectionRefusedError):
            return (
                f"nothing accepts connections at {safe(where, 200)} (connection refused): "
                "check the port and that the service runs"
            )
        if isinstance(item, ssl.SSLCertVerificationError):
            return (
                f"the TLS certificate of {safe(where, 200)} is not trusted ({safe(item.verify_message, 120)}): "
                "give the issuing CA with --ca-bundle"
            )
        if isinstance(item, ssl.SSLError):
            return f"the TLS handshake with {safe(where, 200)} failed ({safe(item.reason or item, 120)})"
        if isinstance(item, ConnectionResetError):
            return f"{safe(where, 200)} closed the connection (reset): a proxy or firewall in the path?"
        if isinstance(item, (TimeoutError, socket.timeout)):
            return f"{safe(where, 200)} did not answer in time: check the network path, a proxy or a firewall"
    if names & {"ConnectTimeout", "ReadTimeout", "Timeout", "ConnectTimeoutError", "ReadTimeoutError"}:
        return f"{safe(where, 200)} did not answer in time: check the network path, a proxy or a firewall"
    if names & {"ProxyError"}:
        return f"the HTTP proxy refused or failed the connection to {safe(where, 200)}: check HTTPS_PROXY/NO_PROXY"
    if names & {"ConnectionError", "NewConnectionError", "MaxRetryError"}:
        return f"no connection could be made to {safe(where, 200)}: check the address, the port and the network path"
    return None
