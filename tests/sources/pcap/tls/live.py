"""Real TLS on 127.0.0.1, captured by tcpdump while it happens: a small HTTP/1.1 server on Python's ``ssl``,
clients on Python's ``ssl`` and ``openssl s_client``, and tshark reading the same capture with the same keys.

Everything here skips (saying why) where tcpdump, root, openssl or tshark is missing.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.lab_live.test_loopback_capture import _settle, _stop, _tcpdump, _wait_listening

OP_NO_ENCRYPT_THEN_MAC = 1 << 19
"""OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC (Python's ``ssl`` has no name for it)."""
TOKEN = "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ0bHMtdGVzdCJ9."


@dataclass(frozen=True, slots=True)
class ServerCert:
    cert: Path
    key: Path


_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(folder: Path, names: list[str], *, not_before: datetime, not_after: datetime, tag: str) -> ServerCert:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(_KEY, hashes.SHA256())
    )
    cert = folder / f"{tag}-cert.pem"
    key = folder / f"{tag}-key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ServerCert(cert, key)


def valid_cert(folder: Path, names: list[str] | None = None) -> ServerCert:
    now = datetime.now(UTC)
    return make_cert(
        folder, names or ["localhost"], not_before=now - timedelta(days=1), not_after=now + timedelta(days=30), tag="ok"
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        size = int(self.headers.get("X-Answer-Size") or 0)
        body = (f"ok {self.path}\n".encode() + b"x" * size)[: max(size, 1) + 64]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002 - the base class's signature
        return


@contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 behind ``context``; yields its port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    original = httpd.get_request

    def get_request() -> tuple[socket.socket, object]:
        conn, address = original()
        conn.settimeout(10)
        return conn, address

    httpd.get_request = get_request  # type: ignore[method-assign]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def server_context(cert: ServerCert, *, ciphers: str | None = None, tls13: bool = True) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert.cert, cert.key)
    if ciphers:
        context.set_ciphers(ciphers)
    if not tls13:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_context(
    keylog: Path, *, ciphers: str | None = None, version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.keylog_filename = str(keylog)
    if ciphers:
        context.set_ciphers(ciphers)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


@dataclass
class Request:
    method: str = "GET"
    target: str = "/"
    body: bytes = b""
    answer_size: int = 0
    pieces: int = 1
    """Writes the request is sent in (each write is at least one TLS record)."""


@dataclass
class Client:
    port: int
    context: ssl.SSLContext
    sni: str = "localhost"
    mss: int | None = None
    """TCP maximum segment size: small values split records across segments."""
    cork: bool = False
    """Hold the writes of one request back until all are made: several records in one segment."""
    sessions: list[ssl.SSLSession] = field(default_factory=list)

    def run(self, requests: list[Request], *, resume: bool = False) -> list[int]:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.mss:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, self.mss)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", self.port))
        session = self.sessions[-1] if resume and self.sessions else None
        statuses = []
        with self.context.wrap_socket(raw, server_hostname=self.sni, session=session) as tls:
            for index, request in enumerate(requests):
                head = (
                    f"{request.method} {request.target} HTTP/1.1\r\nHost: {self.sni}:{self.port}\r\n"
                    f"Authorization: {TOKEN}{index}\r\nX-Answer-Size: {request.answer_size}\r\n"
                    f"Content-Length: {len(request.body)}\r\n\r\n"
                ).encode()
                data = head + request.body
                if self.cork:
                    tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                step = max(1, -(-len(data) // request.pieces))
                for start in range(0, len(data), step):
                    tls.sendall(data[start : start + step])
                if self.cork:
                    tls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
                response = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
                response.begin()
                response.read()
                statuses.append(response.status)
            if tls.session is not None:
                self.sessions.append(tls.session)
        return statuses


@contextmanager
def capture(folder: Path, port: int, *others: int) -> Iterator[Path]:
    """tcpdump on ``lo`` for ``port`` (and ``others``) while the block runs; the file once tcpdump has written
    everything."""
    tcpdump = _tcpdump()
    path = folder / f"tls-{port}.pcap"
    command = [tcpdump, "-i", "lo", "-w", str(path), "-U", "--immediate-mode", "-B", "16384", "-n", "-Z", "root"]
    command += ["tcp", "port", str(port)]
    for other in others:
        command += ["or", "tcp", "port", str(other)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_listening(process)
        yield path
        _settle(path)
    finally:
        said = _stop(process)
    dropped = re.search(r"(\d+) packets? dropped by kernel", said)
    if dropped and int(dropped.group(1)):
        pytest.skip(f"the kernel dropped packets, so the capture is incomplete: {said}")


def openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        pytest.skip("openssl is not on PATH")
    return found


def s_client(port: int, keylog: Path, args: list[str], lines: list[bytes]) -> str:
    """``openssl s_client`` sending ``lines`` one at a time (a line ``k`` asks it for a TLS 1.3
    KeyUpdate, ``K`` for one both ways); stdin stays open until the last line was sent: its end closes the
    connection."""
    command = [openssl(), "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost"]
    command += ["-keylogfile", str(keylog), *args]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdin is not None
    time.sleep(0.5)
    try:
        for line in lines:
            process.stdin.write(line)
            process.stdin.flush()
            time.sleep(0.4)
    except BrokenPipeError:
        pass  # s_client ended early: what it said tells why
    with suppress(BrokenPipeError):
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    assert process.stdout is not None
    with process.stdout:
        return process.stdout.read().decode(errors="replace")


TSHARK_TLS = ("-o", "tcp.reassemble_out_of_order:TRUE", "-o", "tcp.try_heuristic_first:TRUE")
"""tshark's options for these captures. The servers listen on random ports, and tshark picks a dissector by the lower
port of a connection first: a client port that happens to be registered (44818 is EtherNet/IP) made it read the
whole connection as that protocol and find no HTTP (a flaky failure); trying the heuristics (TLS among them) first
reads the bytes for what they are, as this reader does."""


def tshark() -> str:
    found = shutil.which("tshark")
    if found is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    return found


def tshark_http(path: Path, keylog: Path | None) -> list[tuple[str, ...]]:
    """HTTP messages as tshark decrypts them: requests as (method, target, header lines...), responses as
    (status, header lines...)."""
    command = [tshark(), "-n", "-r", str(path), *TSHARK_TLS]
    if keylog is not None:
        command += ["-o", f"tls.keylog_file:{keylog}"]
    command += ["-Y", "http", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x01"]
    command += ["-e", "http.request.method", "-e", "http.request.uri", "-e", "http.response.code"]
    command += ["-e", "http.request.line", "-e", "http.response.line"]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    messages: list[tuple[str, ...]] = []
    for row in output.splitlines():
        method, uri, code, request_lines, response_lines = (row.split("\t") + [""] * 5)[:5]
        for i, m in enumerate(method.split("\x01") if method else []):
            lines = request_lines.split("\x01") if request_lines else []
            messages.append(("request", m, uri.split("\x01")[i], *lines))
        for c in code.split("\x01") if code else []:
            lines = response_lines.split("\x01") if response_lines else []
            messages.append(("response", c, *lines))
    return messages


def _serve_h2(connection: ssl.SSLSocket) -> None:
    import h2.config
    import h2.connection
    import h2.events

    h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    h2conn.initiate_connection()
    connection.sendall(h2conn.data_to_send())
    while True:
        data = connection.recv(65536)
        if not data:
            return
        for event in h2conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers).get(b":path", b"/").decode()
                body = f"ok {path}\n".encode()
                h2conn.send_headers(
                    event.stream_id, [(":status", "200"), ("content-length", str(len(body)))], end_stream=False
                )
                h2conn.send_data(event.stream_id, body, end_stream=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                connection.sendall(h2conn.data_to_send())
                return
        connection.sendall(h2conn.data_to_send())


@contextmanager
def h2_server(context: ssl.SSLContext) -> Iterator[int]:
    """An HTTP/2 server (the ``h2`` library) behind ``context`` with ALPN ``h2``, one connection at a time."""
    context.set_alpn_protocols(["h2"])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(10)
            try:
                with context.wrap_socket(raw, server_side=True) as connection:
                    _serve_h2(connection)
            except (OSError, ssl.SSLError):
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
