"""Write a large synthetic capture of Exchange-style HTTP traffic for benchmarking the capture reader.

Traffic: keep-alive connections carrying S2S OAuth calls (an unsigned outer JWT wrapping an RS256 actor token,
signed by a key whose certificate is written next to the capture), Basic, and NTLM handshakes, with 401
challenges (Bearer and NTLM), bodies of realistic size, MSS segmentation, delayed ACKs, about 1% of data
segments delivered out of order and 1% retransmitted (some overlapping), and a few TLS connections.
Written as a classic pcap with ``struct``, fast: 300,000 packets take a few seconds.

    uv run python bench/pcap/make_capture.py /tmp/bench.pcap --packets 300000

Prints the number of packets, bytes and Authorization headers written (the count every reader must find).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import struct
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

MSS = 1460
REALM = "8cd2d3b5-7b1c-4a36-9f0f-2f6a3d5a9e11"
SFB = "00000004-0000-0ff1-ce00-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
START = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)

_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_RECORD = struct.Struct("<IIII")
_ETH_IP = struct.Struct("!6s6sHBBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_MAC_CLIENT = bytes.fromhex("02000000aa01")
_MAC_SERVER = bytes.fromhex("02000000bb02")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Tokens:
    """A few signed S2S tokens, reused as Exchange caches them: distinct tokens are few, uses are many."""

    bearer: list[str] = field(default_factory=list)
    certificate_der: bytes = b""


def make_tokens(count: int, rng: random.Random) -> Tokens:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Microsoft Exchange Server Auth Certificate")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(rng.getrandbits(64))
        .not_valid_before(START - timedelta(days=30))
        .not_valid_after(START + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    x5t = b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is defined as SHA-1
    tokens = Tokens(certificate_der=der)
    base = int(START.timestamp())
    for index in range(count):
        # Healthy traffic: every token is valid through the capture, and each is used against the host its
        # audience names (a connection to mailN takes a token with index % 4 == N).
        nbf = base - 600 - index * 60
        actor_claims = {
            "aud": f"{EXCHANGE}/mail{index % 4}.contoso.com@{REALM}",
            "iss": f"{SFB}@{REALM}",
            "nbf": str(nbf),
            "exp": str(nbf + 28_800),
            "nameid": f"{SFB}@{REALM}",
            "trustedfordelegation": "true",
            "identityprovider": f"{SFB}@{REALM}",
        }
        header = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "x5t": x5t}).encode())
        payload = b64url(json.dumps(actor_claims).encode())
        signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        actor = f"{header}.{payload}.{b64url(signature)}"
        outer_claims = {
            "aud": actor_claims["aud"],
            "iss": f"{SFB}@{REALM}",
            "nbf": nbf,
            "exp": nbf + 28_800,
            "nameid": f"user{index}@contoso.com",
            "nii": "urn:federation:MicrosoftOnline",
            "smtp": f"user{index}@contoso.com",
            "upn": f"user{index}@contoso.com",
            "actortoken": actor,
        }
        outer = (
            f"{b64url(json.dumps({'typ': 'JWT', 'alg': 'none'}).encode())}.{b64url(json.dumps(outer_claims).encode())}."
        )
        tokens.bearer.append(outer)
    return tokens


def ntlm_negotiate() -> str:
    message = b"NTLMSSP\x00" + struct.pack("<II", 1, 0xE2088297) + b"\x00" * 16
    return "NTLM " + base64.b64encode(message).decode()


def ntlm_challenge(rng: random.Random) -> str:
    target = "CONTOSO".encode("utf-16-le")
    info = struct.pack("<HH", 2, len(target)) + target + b"\x00\x00\x00\x00"
    offset = 48
    message = (
        b"NTLMSSP\x00"
        + struct.pack("<IHHI", 2, len(target), len(target), offset)
        + struct.pack("<I", 0xE28A8215)
        + rng.randbytes(8)
        + b"\x00" * 8
        + struct.pack("<HHI", len(info), len(info), offset + len(target))
        + target
        + info
    )
    return "NTLM " + base64.b64encode(message).decode()


def ntlm_authenticate(user: str, rng: random.Random) -> str:
    domain, name, host = "CONTOSO".encode("utf-16-le"), user.encode("utf-16-le"), "EXCH01".encode("utf-16-le")
    lm, nt = b"\x00" * 24, rng.randbytes(16) + b"\x01\x01" + b"\x00" * 6 + rng.randbytes(40)
    offset = 64
    fields = [lm, nt, domain, name, host, b""]
    header = b"NTLMSSP\x00" + struct.pack("<I", 3)
    payload = b""
    for data in fields:
        header += struct.pack("<HHI", len(data), len(data), offset + len(payload))
        payload += data
    header += struct.pack("<I", 0xE2888215)
    return "NTLM " + base64.b64encode(header + payload).decode()


def soap_body(size: int, rng: random.Random) -> bytes:
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(64))
    text = '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    while len(text) < size - 16:
        text += f"<t:Item>{filler}</t:Item>"
    return (text + "</s:Envelope>")[:size].encode()


class Writer:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("wb")
        self.handle.write(_PCAP_HEADER)
        self.chunks: list[bytes] = []
        self.packets = 0
        self.bytes = len(_PCAP_HEADER)
        self.ip_id = 0

    def packet(
        self,
        ts: float,
        src: tuple[bytes, int],
        dst: tuple[bytes, int],
        seq: int,
        ack: int,
        flags: int,
        payload: bytes = b"",
    ) -> None:
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        client_to_server = dst[1] in (80, 8080, 443, 444)
        macs = (_MAC_SERVER, _MAC_CLIENT) if client_to_server else (_MAC_CLIENT, _MAC_SERVER)
        total = 40 + len(payload)
        frame = (
            _ETH_IP.pack(macs[0], macs[1], 0x0800, 0x45, 0, total, self.ip_id, 0x4000, 128, 6, 0, src[0], dst[0])
            + _TCP.pack(src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
            + payload
        )
        seconds = int(ts)
        self.chunks.append(_RECORD.pack(seconds, int((ts - seconds) * 1_000_000), len(frame), len(frame)))
        self.chunks.append(frame)
        self.packets += 1
        self.bytes += 16 + len(frame)
        if len(self.chunks) > 4096:
            self.flush()

    def flush(self) -> None:
        self.handle.write(b"".join(self.chunks))
        self.chunks.clear()

    def close(self) -> None:
        self.flush()
        self.handle.close()


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01

Packet = tuple[bool, int, bytes, int, int, int | None]
"""(from_client, TCP flags, payload, delay in µs, offset of the payload in its message, bytes acknowledged
in order by a pure ACK of the receiver, or None)."""


class Connection:
    """Generates one TCP connection's packets, a burst at a time."""

    def __init__(self, index: int, rng: random.Random, tokens: Tokens, tls: bool) -> None:
        self.rng = rng
        self.tokens = tokens
        self.tls = tls
        self.client = (bytes([10, 1, (index >> 8) & 0xFF, index & 0xFF]), 49152 + index % 16000)
        self.server = (bytes([10, 2, 0, 1 + index % 8]), 443 if tls else rng.choice((80, 80, 80, 444, 8080)))
        self.host = f"mail{index % 4}.contoso.com"
        self.cseq = rng.getrandbits(32)
        self.sseq = rng.getrandbits(32)
        self.exchanges_left = rng.randint(5, 30)
        self.opened = False
        self.authorizations = 0

    def bursts(self) -> list[list[Packet]]:
        """The next step of the conversation, as bursts of ``Packet``s."""
        if not self.opened:
            self.opened = True
            return [
                [(True, SYN, b"", 0, 0, None), (False, SYN | ACK, b"", 300, 0, None), (True, ACK, b"", 300, 0, None)]
            ]
        if self.exchanges_left <= 0:
            return []
        self.exchanges_left -= 1
        if self.tls:
            return [
                self._data(True, self.rng.randbytes(self.rng.randint(200, 3000)), b"\x17\x03\x03"),
                self._data(False, self.rng.randbytes(self.rng.randint(500, 9000)), b"\x17\x03\x03"),
            ]
        kind = self.rng.random()
        if kind < 0.55:
            return self._bearer()
        if kind < 0.75:
            return self._basic()
        return self._ntlm()

    def close(self) -> list[Packet]:
        return [
            (True, FIN | ACK, b"", 0, 0, None),
            (False, FIN | ACK, b"", 200, 0, None),
            (True, ACK, b"", 200, 0, None),
        ]

    def _request(self, method: str, target: str, authorization: str | None, body: bytes) -> bytes:
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {self.host}",
            "User-Agent: ExchangeServicesClient/15.2",
            "Content-Type: text/xml; charset=utf-8",
            f"Content-Length: {len(body)}",
            f"client-request-id: {self.rng.getrandbits(128):032x}",
        ]
        if authorization is not None:
            lines.insert(2, f"Authorization: {authorization}")
            self.authorizations += 1
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _response(self, status: str, headers: list[str], body: bytes, chunked: bool = False) -> bytes:
        lines = [
            f"HTTP/1.1 {status}",
            "Server: Microsoft-IIS/10.0",
            "X-Powered-By: ASP.NET",
            "Date: Mon, 03 Jun 2024 09:00:00 GMT",
            *headers,
        ]
        if chunked:
            lines.append("Transfer-Encoding: chunked")
            encoded = b""
            for start in range(0, len(body), 4000):
                piece = body[start : start + 4000]
                encoded += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            body = encoded + b"0\r\n\r\n"
        else:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _challenge(self, schemes: list[str]) -> bytes:
        return self._response("401 Unauthorized", [f"WWW-Authenticate: {s}" for s in schemes], b"")

    def _ews(self, authorization: str | None) -> list[list[Packet]]:
        body = soap_body(self.rng.randint(400, 1800), self.rng)
        request = self._request("POST", "/EWS/Exchange.asmx", authorization, body)
        response = self._response(
            "200 OK",
            ["Content-Type: text/xml; charset=utf-8"],
            soap_body(self.rng.randint(600, 9000), self.rng),
            chunked=self.rng.random() < 0.3,
        )
        return [self._data(True, request), self._data(False, response)]

    def _bearer(self) -> list[list[Packet]]:
        out: list[list[Packet]] = []
        if self.rng.random() < 0.2:  # first an anonymous call, challenged
            out.append(self._data(True, self._request("POST", "/EWS/Exchange.asmx", None, b"")))
            out.append(
                self._data(
                    False,
                    self._challenge(
                        [
                            f'Bearer client_id="{EXCHANGE}", trusted_issuers="{SFB}@{REALM}", '
                            'token_types="app_asserted_user_v1 service_asserted_app_v1"',
                            "Negotiate",
                            "NTLM",
                        ]
                    ),
                )
            )
        host_index = int(self.host[4])
        token = self.rng.choice(self.tokens.bearer[host_index::4])
        return out + self._ews(f"Bearer {token}")

    def _basic(self) -> list[list[Packet]]:
        out: list[list[Packet]] = []
        if self.rng.random() < 0.3:
            out.append(self._data(True, self._request("GET", "/autodiscover/autodiscover.xml", None, b"")))
            out.append(self._data(False, self._challenge(['Basic realm="mail.contoso.com"'])))
        user = f"contoso\\svc{self.rng.randint(1, 20)}:Passw0rd!{self.rng.randint(1, 5)}"
        return out + self._ews("Basic " + base64.b64encode(user.encode()).decode())

    def _ntlm(self) -> list[list[Packet]]:
        return [
            self._data(True, self._request("POST", "/EWS/Exchange.asmx", ntlm_negotiate(), b"")),
            self._data(False, self._challenge([ntlm_challenge(self.rng)])),
            *self._ews(ntlm_authenticate(f"user{self.rng.randint(1, 99)}", self.rng)),
        ]

    def _data(self, from_client: bool, data: bytes, record: bytes = b"") -> list[Packet]:
        """Segments of ``data`` (reordered and retransmitted now and then) and the peer's delayed ACKs."""
        if record:
            data = record + struct.pack("!H", len(data)) + data
        rng = self.rng
        segments = [(offset, data[offset : offset + MSS]) for offset in range(0, len(data), MSS)]
        order = list(range(len(segments)))
        if len(order) > 1 and rng.random() < 0.08:  # one adjacent pair swapped in flight
            i = rng.randrange(len(order) - 1)
            order[i], order[i + 1] = order[i + 1], order[i]
        out: list[Packet] = []
        received = [False] * len(segments)
        for count, index in enumerate(order, 1):
            offset, payload = segments[index]
            out.append((from_client, ACK | PSH, payload, 40, offset, None))
            received[index] = True
            if count % 2 == 0 or count == len(order):
                # The receiver acknowledges what it has in order, not what came early.
                prefix = next((i for i, got in enumerate(received) if not got), len(segments))
                upto = segments[prefix - 1][0] + len(segments[prefix - 1][1]) if prefix else 0
                out.append((not from_client, ACK, b"", 60, -1, upto))
        if rng.random() < 0.06:  # a retransmission: a whole segment, or one overlapping the next
            i = rng.randrange(len(segments))
            offset, payload = segments[i]
            if i + 1 < len(segments) and rng.random() < 0.5:
                half = len(payload) // 2
                payload = payload[half:] + segments[i + 1][1][: MSS // 2]
                offset += half
            out.append((from_client, ACK | PSH, payload, 200, offset, None))
        return out

    def emit(self, writer: Writer, ts: float, packets: list[Packet]) -> float:
        base = {True: self.cseq, False: self.sseq}
        sent = {True: 0, False: 0}  # data and SYN/FIN sequence numbers used in this burst, per direction
        for from_client, flags, payload, delay, offset, acked in packets:
            ts += delay / 1_000_000
            other = not from_client
            seq = base[from_client] + (offset if payload else sent[from_client])
            ack = (base[other] + (sent[other] if acked is None else acked)) if flags & ACK else 0
            if payload:
                sent[from_client] = max(sent[from_client], offset + len(payload))
            elif flags & (SYN | FIN):
                sent[from_client] += 1
            src, dst = (self.client, self.server) if from_client else (self.server, self.client)
            writer.packet(ts, src, dst, seq, ack, flags, payload)
        self.cseq = (base[True] + sent[True]) & 0xFFFFFFFF
        self.sseq = (base[False] + sent[False]) & 0xFFFFFFFF
        return ts


def generate(path: Path, packets: int, seed: int, concurrency: int = 48) -> dict[str, int]:
    rng = random.Random(seed)
    tokens = make_tokens(40, rng)
    path.with_suffix(".cer").write_bytes(tokens.certificate_der)
    writer = Writer(path)
    ts = START.timestamp()
    active: list[Connection] = []
    made = 0
    authorizations = 0
    while writer.packets < packets or active:
        while len(active) < concurrency and writer.packets < packets:
            active.append(Connection(made, rng, tokens, tls=rng.random() < 0.03))
            made += 1
        conn = rng.choice(active)
        bursts = conn.bursts() if writer.packets < packets else []
        if not bursts:
            ts = conn.emit(writer, ts, conn.close())
            authorizations += conn.authorizations
            active.remove(conn)
            continue
        for burst in bursts:
            ts = conn.emit(writer, ts, burst)
    writer.close()
    return {
        "packets": writer.packets,
        "bytes": writer.bytes,
        "connections": made,
        "authorization_headers": authorizations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--packets", type=int, default=300_000, help="at least this many packets (default 300000)")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    stats = generate(args.output, args.packets, args.seed)
    json.dump(stats, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
