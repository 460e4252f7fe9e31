"""``lab serve``: a local Exchange-like server on loopback, for demos, tests and benchmarks.

``POST /EWS/Exchange.asmx`` demands a bearer token and answers 401 with Exchange's challenge shape (Bearer with
client_id/trusted_issuers/token_types/authorization_uri, plus Basic and Negotiate/NTLM when configured). A token is
judged by the engine itself, with the server's own trust (its auth certificate and the ACS metadata of its realm):
healthy tokens get 200 and a SOAP answer, others 401 with ``error="invalid_token"`` and the ``x-ms-diagnostics``
Exchange would send (reference §3.3). ``GET /autodiscover/metadata/json/1`` serves the Exchange metadata document.

This module is the HTTP server; what it answers is ``responder.py``'s, the certificate folder ``folder.py``'s.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inspector.lab.folder import LabDir
from inspector.lab.responder import Answer, Responder, ServerOptions
from inspector.lab.token_endpoint import is_token_path
from inspector.model import ConfigError, Endpoint, HttpExchange, HttpRequest, Provenance
from inspector.policy import EWS_PATH, METADATA_PATH

MAX_BODY = 1 << 20
IDLE_TIMEOUT = 30.0
"""Seconds a keep-alive connection may stay idle (or a TLS handshake take) before the server drops it."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 overflows when many clients connect at once on a loaded machine
    responder: Responder
    tls: ssl.SSLContext | None
    scheme: str
    log: Callable[[str], None] | None

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ARG002  (socketserver's signature)
        # A client that vanishes or speaks garbage is the client's problem: one line, not a traceback.
        if self.log is not None:
            self.log(f"connection from {client_address[0]} dropped")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: an NTLM handshake needs its connection
    default_request_version = "HTTP/1.1"  # answer even garbage with a status line, as IIS does (not HTTP/0.9)
    timeout = IDLE_TIMEOUT
    wbufsize = -1  # one write per response (flushed by the base class), not a packet per header line
    disable_nagle_algorithm = True
    server: _Server

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request.settimeout(IDLE_TIMEOUT)
            # Handshake here, in the connection's own thread, so a slow client cannot stall the accept loop.
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # The TLS wrapper took over the socket's descriptor; socketserver only closes the original object.
            if isinstance(self.request, ssl.SSLSocket):
                self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server logs its own line per request, without the noise

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._send(Answer(411, "Length Required"), close=True)
            return None
        raw = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw.isdigit() or int(raw) > MAX_BODY:
            self._send(Answer(413, "Request Entity Too Large"), close=True)
            return None
        return self.rfile.read(int(raw))

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        responder = self.server.responder
        target = self.path
        if "://" in target[:10]:  # absolute-form, which servers must accept too (RFC 9112 3.2.2)
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path = target.split("?", 1)[0].lower()
        number = responder.next_id()
        if path == METADATA_PATH and self.command == "GET":
            answer = Answer(200, "OK", (("Content-Type", "application/json; charset=utf-8"),), responder.metadata)
            self._send(answer)
            self._log(answer, "")
            return
        if self.command == "POST" and is_token_path(path):  # the token-endpoint double
            answer = responder.token(path, body, datetime.now(UTC))
            self._send(answer)
            self._log(answer, "token request")
            return
        if path != EWS_PATH.lower():
            self._send(Answer(404, "Not Found", (("Content-Type", "text/plain"),), b"Not Found"))
            return
        exchange = HttpExchange(
            id=f"lab-serve:{number}",
            request=HttpRequest(
                method=self.command, target=self.path, version=self.request_version, headers=tuple(self.headers.items())
            ),
            response=None,
            time=datetime.now(UTC),
            provenance=Provenance(kind="lab", source="lab-serve"),
            client=Endpoint(self.client_address[0], self.client_address[1]),
            scheme=self.server.scheme,
        )
        result = responder.judge(exchange)
        answer = responder.ews(result)
        self._send(answer)
        self._log(answer, result.auth.scheme or "no Authorization")

    def _send(self, answer: Answer, *, close: bool = False) -> None:
        self.send_response_only(answer.status, answer.reason)
        self.send_header("Server", self.version_string())
        self.send_header("request-id", str(uuid.uuid4()))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("X-FEServer", "EXCH01")
        self.send_header("X-Powered-By", "ASP.NET")
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header("Content-Length", str(len(answer.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    def _log(self, answer: Answer, auth: str) -> None:
        log = self.server.log
        if log is None:
            return
        diagnostics = next((v for n, v in answer.headers if n == "x-ms-diagnostics"), "")
        why = f" [{', '.join(answer.rules)}]" if answer.rules else ""
        # Scheme and status only: never the credentials.
        log(
            f"{self.client_address[0]} {self.command} {self.path[:80]} ({auth[:20]}) -> {answer.status}"
            f"{' ' + diagnostics.split(';', 1)[0] if diagnostics else ''}{why}"
        )


@dataclass
class LabServer:
    """The lab server on a background thread: ``with LabServer(lab, ...) as server: server.url``."""

    lab: LabDir
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    options: ServerOptions = field(default_factory=ServerOptions)
    log: Callable[[str], None] | None = None
    _server: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    def start(self) -> str:
        context: ssl.SSLContext | None = None
        if self.tls:
            if self.lab.tls_cert is None or self.lab.tls_key is None:
                raise ConfigError("HTTPS needs the lab's TLS certificate: prepare the folder with tls=True")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.lab.tls_cert, self.lab.tls_key)
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        server.responder = Responder(self.lab, self.options, started=datetime.now(UTC))
        server.tls = context
        server.scheme = "https" if self.tls else "http"
        server.log = self.log
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-serve", daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the lab server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LabServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tools such as mitmdump that cannot be told to pick one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
