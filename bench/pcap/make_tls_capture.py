"""Write a TLS capture for the decryption benchmark, made by real stacks on 127.0.0.1, with its key log, and the
same traffic in clear for the memory comparison.

    sudo uv run python bench/pcap/make_tls_capture.py /tmp/tlsbench --connections 2000 --requests 10

Writes ``tls.pcap`` + ``keys.log`` (Python's ``ssl`` client with ``keylog_filename``; TLS 1.3 and 1.2 connections
alternate) and ``plain.pcap`` (the same requests without TLS), each captured by tcpdump on ``lo``. Needs root and
tcpdump.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TOKEN = "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJiZW5jaCJ9."  # noqa: S105 - an unsigned test token


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'<Envelope><Body ResponseClass="Success"/></Envelope>'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002 - the base class's signature
        return


def _server(context: ssl.SSLContext | None) -> tuple[ThreadingHTTPServer, threading.Thread]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 256
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.contoso.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.contoso.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _connection(port: int, context: ssl.SSLContext | None, index: int, requests: int) -> None:
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait between head and body
    sock: socket.socket = context.wrap_socket(raw, server_hostname="mail.contoso.com") if context else raw
    with sock, sock.makefile("rb") as reader:
        for number in range(requests):
            body = f'<Envelope><Body><GetFolder n="{index}.{number}"/></Body></Envelope>'.encode()
            head = (
                f"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: {TOKEN}\r\n"
                f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sock.sendall(head + body)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)


def _record(path: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        "tcpdump",
        "-i",
        "lo",
        "-w",
        str(path),
        "-U",
        "-B",
        "65536",
        "-n",
        "-Z",
        "root",
        "tcp",
        "port",
        str(port),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    assert process.stderr is not None
    while b"listening" not in process.stderr.readline():
        if process.poll() is not None:
            sys.exit("tcpdump did not start (root and tcpdump are needed)")
    return process


def _run(folder: Path, name: str, tls: bool, connections: int, requests: int) -> None:
    server_context = client_contexts = None
    if tls:
        cert, key = _certificate(folder)
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(cert, key)
        client_contexts = []
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.keylog_filename = str(folder / "keys.log")
            context.maximum_version = version
            client_contexts.append(context)
    httpd, thread = _server(server_context)
    port = httpd.server_address[1]
    capture = folder / f"{name}.pcap"
    tcpdump = _record(capture, port)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(_connection, port, client_contexts[i % 2] if client_contexts else None, i, requests)
            for i in range(connections)
        ]
        for future in futures:
            future.result()
    time.sleep(1.0)
    tcpdump.send_signal(2)
    said = tcpdump.communicate(timeout=30)[1].decode(errors="replace").strip().replace("\n", "; ")
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
    print(
        f"{capture}: {connections} connections x {requests} requests in {time.perf_counter() - started:.1f} s "
        f"({capture.stat().st_size / 1e6:.1f} MB); tcpdump: {said}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=10, help="requests per connection")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    (args.folder / "keys.log").unlink(missing_ok=True)
    _run(args.folder, "tls", True, args.connections, args.requests)
    _run(args.folder, "plain", False, args.connections, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
