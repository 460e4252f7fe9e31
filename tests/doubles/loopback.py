"""An HTTP test double's server on 127.0.0.1 (a free port), served from a background thread while a ``with`` lasts."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Self


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


class Loopback[S: ThreadingHTTPServer]:
    def __init__(self, server: S) -> None:
        self.server = server
        # a short poll interval: shutdown waits for the serving loop to notice, once per test
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return url_of(self.server)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
