"""A loopback WSMan endpoint that refuses the credentials, as Exchange's ``/PowerShell`` does for a wrong password:
it answers the first request with ``401`` offering Negotiate and NTLM, answers the client's NTLM NEGOTIATE with a
real CHALLENGE, and answers the AUTHENTICATE with a final ``401``. It records which messages arrived, so a test
can tell the handshake really happened (and that no password crossed the wire)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inspector.lab import ntlm
from tests.doubles.loopback import Loopback


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _refuse(self, *challenges: str) -> None:
        self.send_response(401)
        for challenge in challenges:
            self.send_header("WWW-Authenticate", challenge)
        self.send_header("Content-Length", "0")
        self.send_header("Server", "Microsoft-IIS/10.0")
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append(body)
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        self.server.seen.append(header)
        if not token:
            self._refuse("Negotiate", "NTLM")
            return
        raw = base64.b64decode(token)
        kind = raw[8] if raw.startswith(ntlm.SIGNATURE) else None
        self.server.kinds.append(kind)
        if kind == 1:
            info = ntlm.target_info(
                netbios_domain="FABRIKAM", netbios_computer="EX01", dns_domain="fabrikam.com", moment=datetime.now(UTC)
            )
            challenge = ntlm.challenge(netbios_domain="FABRIKAM", info=info, seed="wsman-refusing")
            self._refuse(f"{scheme} {base64.b64encode(challenge).decode()}")
            return
        self._refuse("Negotiate", "NTLM")  # the AUTHENTICATE did not verify: refused, as for a wrong password


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]
    kinds: list[int | None]
    bodies: list[bytes]


class RefusingWsman(Loopback[_Server]):
    def __init__(self) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.seen, server.kinds, server.bodies = [], [], []
        super().__init__(server)

    @property
    def url(self) -> str:
        return f"{self.base_url}/PowerShell"

    @property
    def kinds(self) -> list[int | None]:
        return self.server.kinds

    @property
    def traffic(self) -> bytes:
        return b"\n".join([h.encode() for h in self.server.seen] + self.server.bodies)
