"""One careful HTTP request against real loopback servers: bodies capped, redirects reported and not followed,
every failure a ProbeError of its kind (never a traceback), the request's own headers as sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inspector.remote.http import USER_AGENT, ProbeError, request

Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def _http_server(answer: Handler) -> Iterator[str]:
    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer(self)

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def _raw_server(reply: bytes | None) -> Iterator[str]:
    """Accepts one connection and sends ``reply`` (or nothing at all, holding the connection open)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            if reply is not None:
                connection.sendall(reply)
            stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _send(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> Handler:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_a_long_body_is_capped_and_said_to_be() -> None:
    with _http_server(_send(200, b"x" * 300_000)) as url:
        result = request(url + "/big", max_body=100_000)
    assert (result.status, len(result.body), result.truncated) == (200, 100_000, True)
    with _http_server(_send(200, b"small")) as url:
        assert request(url).body == b"small"


def test_a_redirect_is_reported_not_followed() -> None:
    with _http_server(_send(302, headers=(("Location", "https://elsewhere.example/"),))) as url:
        result = request(url + "/a")
    assert result.status == 302
    assert result.header("location") == "https://elsewhere.example/"


def test_the_request_names_itself_and_sends_a_length_for_an_empty_post() -> None:
    seen: list[dict[str, str]] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        seen.append({k.lower(): v for k, v in handler.headers.items()})
        _send(200)(handler)

    with _http_server(record) as url:
        request(url, method="POST")
        request(url, headers=(("User-Agent", "mine"),))
    assert seen[0]["user-agent"] == USER_AGENT and seen[0]["content-length"] == "0"
    assert seen[1]["user-agent"] == "mine"


def test_a_refused_connection_says_where() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(ProbeError, match=f"127.0.0.1:{port}: connection refused") as raised:
        request(f"http://127.0.0.1:{port}/")
    assert raised.value.kind == "connect"


def test_a_server_that_does_not_speak_http_or_never_answers() -> None:
    with _raw_server(b"SSH-2.0-OpenSSH_9.6\r\n") as url, pytest.raises(ProbeError) as raised:
        request(url)
    assert raised.value.kind == "protocol"
    with _raw_server(None) as url, pytest.raises(ProbeError) as raised:
        request(url, timeout=0.5)
    assert raised.value.kind == "timeout"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http:///nohost", "http://127.0.0.1:99999/"])
def test_what_is_not_an_http_url_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(ProbeError) as raised:
        request(url)
    assert raised.value.kind == "url"
