"""Lab exchanges as a pcapng capture of real TCP/IP packets, delivered the awkward way networks deliver them.

Each run of consecutive exchanges from one client is one TCP connection to the server (handshake, keep-alive
requests and responses rebuilt as HTTP/1.1 bytes, FIN). The bytes are cut into small and odd-sized segments, with
a cut forced inside a header name and inside the Authorization value; some segments arrive out of order, and a few
are sent again, whole or overlapping their neighbours. The first segment of every message keeps its place and is
stamped with the exchange's ``time`` (``response_time`` for the response), so a reader dates it as the HAR does.
Everything follows from ``seed``: the same exchanges and seed give the same file, byte for byte.

Written with ``struct``: Ethernet, IPv4 and TCP with valid checksums; pcapng with one section, one Ethernet
interface in nanoseconds (``if_tsresol`` 9) and enhanced packet blocks.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
MSS = 1448
LINKTYPE_ETHERNET = 1
TSRESOL_NANOSECONDS = 9
_SEGMENT_SIZES = (1, 2, 3, 5, 7, 11, 13, 29, 64, 97, 150, 211, 333, 536, 777, 1000, MSS)
_PACKET_GAP_US = 40
"""Capture time between consecutive packets of one burst (the first data packet carries the exchange's time)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# -- pcapng framing (shared with the tests' capture builder) ---------------------------------------------------


def pcapng_block(block_type: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", block_type, length) + body + struct.pack(endian + "I", length)


def pcapng_option(code: int, value: bytes, endian: str = "<") -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _section_header() -> bytes:
    options = pcapng_option(4, b"oauth-inspector lab") + pcapng_option(0, b"")  # shb_userappl
    return pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + options)


def _interface() -> bytes:
    options = pcapng_option(2, b"lab0") + pcapng_option(9, bytes([TSRESOL_NANOSECONDS])) + pcapng_option(0, b"")
    return pcapng_block(1, struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + options)


def _enhanced_packet(ts_us: int, frame: bytes) -> bytes:
    ticks = ts_us * 1000
    head = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
    return pcapng_block(6, head + frame)


# -- packets -------------------------------------------------------------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _mac(address: bytes) -> bytes:
    return b"\x02\x00" + address  # locally administered, derived from the IPv4 address


@dataclass
class _Side:
    address: bytes
    port: int
    seq: int
    ident: int = 0


def _frame(src: _Side, dst: _Side, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    header = struct.pack("!HHIIBBHHH", src.port, dst.port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 64240, 0, 0)
    pseudo = src.address + dst.address + struct.pack("!BBH", 0, 6, len(header) + len(payload))
    checksum = _checksum(pseudo + header + payload)
    segment = header[:16] + struct.pack("!H", checksum) + header[18:] + payload
    src.ident = (src.ident + 1) & 0xFFFF
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), src.ident, 0x4000, 64, 6, 0, src.address, dst.address)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return _mac(dst.address) + _mac(src.address) + b"\x08\x00" + ip + segment


# -- HTTP bytes ----------------------------------------------------------------------------------------------


def _head(start_line: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [start_line, *(f"{name}: {value}" for name, value in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def request_bytes(request: HttpRequest) -> bytes:
    return _head(f"{request.method} {request.target} {request.version}", request.headers) + (request.body or b"")


def response_bytes(response: HttpResponse) -> bytes:
    start = f"{response.version} {response.status} {response.reason}".rstrip()
    return _head(start, response.headers) + (response.body or b"")


# -- awkward delivery ----------------------------------------------------------------------------------------


def _forced_cuts(data: bytes) -> set[int]:
    """Offsets a segment must end at: inside the Authorization header's name and in the middle of its value."""
    head_end = data.find(b"\r\n\r\n")
    cuts = set()
    name = data.find(b"\r\nAuthorization: ", 0, head_end)
    if name >= 0:
        cuts.add(name + 2 + 6)  # "Author|ization"
        value_start = name + len(b"\r\nAuthorization: ")
        value_end = data.find(b"\r\n", value_start)
        cuts.add((value_start + value_end) // 2)
    else:
        cuts.add(data.find(b"\r\n") + 5)  # inside the first header's name
    return {cut for cut in cuts if 0 < cut < len(data)}


def _segments(data: bytes, rng: random.Random) -> list[tuple[int, int]]:
    """``(start, end)`` ranges covering ``data`` in order, with odd sizes and the forced cuts."""
    forced = sorted(_forced_cuts(data))
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < len(data):
        end = min(start + rng.choice(_SEGMENT_SIZES), len(data))
        for cut in forced:
            if start < cut < end:
                end = cut
                break
        ranges.append((start, end))
        start = end
    return ranges


def _delivery(ranges: list[tuple[int, int]], rng: random.Random) -> list[tuple[int, int]]:
    """The ranges as the capture sees them: a few swapped pairs, exact and overlapping retransmissions.

    The first range stays first (it dates the message); retransmissions come after what they repeat.
    """
    order = list(ranges)
    for index in range(1, len(order) - 1):
        if rng.random() < 0.15:
            order[index], order[index + 1] = order[index + 1], order[index]
    out = list(order)
    if len(ranges) > 2:
        for _ in range(rng.randint(1, 2)):  # exact retransmissions
            index = rng.randrange(1, len(out))
            out.insert(index + 1, out[index])
        for _ in range(rng.randint(1, 2)):  # a resend spanning the end of one segment and the start of the next
            first = rng.randrange(len(ranges) - 1)
            (start, middle), (_, end) = ranges[first], ranges[first + 1]
            span = (max(start, middle - 17), min(end, middle + 23))
            at = max(out.index(ranges[first]), out.index(ranges[first + 1])) + 1
            out.insert(at, span)
    return out


# -- connections ---------------------------------------------------------------------------------------------


def micros(moment: datetime | None) -> int:
    if moment is None:  # an exchange whose time is unknown (read from a damaged HAR) cannot become packets
        raise ValueError("a capture needs the time of every exchange")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _address(endpoint: Endpoint) -> bytes:
    return ipaddress.IPv4Address(endpoint.host).packed


@dataclass
class _Connection:
    client: _Side
    server: _Side
    packets: list[tuple[int, bytes]] = field(default_factory=list)

    def emit(self, ts_us: int, from_client: bool, seq: int, flags: int, payload: bytes = b"") -> None:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        ack = dst.seq if flags & ACK else 0
        self.packets.append((ts_us, _frame(src, dst, seq, ack, flags, payload)))

    def handshake(self, ts_us: int) -> None:
        self.emit(ts_us - 3 * _PACKET_GAP_US, True, self.client.seq, SYN)
        self.client.seq += 1
        self.emit(ts_us - 2 * _PACKET_GAP_US, False, self.server.seq, SYN | ACK)
        self.server.seq += 1
        self.emit(ts_us - _PACKET_GAP_US, True, self.client.seq, ACK)

    def send(self, ts_us: int, from_client: bool, data: bytes, rng: random.Random) -> int:
        """Send ``data`` awkwardly from ``ts_us``, then the peer's ACK; returns the time after the last packet."""
        sender, peer = (self.client, self.server) if from_client else (self.server, self.client)
        base = sender.seq
        for start, end in _delivery(_segments(data, rng), rng):
            flags = ACK | PSH if end == len(data) else ACK
            self.emit(ts_us, from_client, base + start, flags, data[start:end])
            ts_us += _PACKET_GAP_US
        sender.seq += len(data)
        self.emit(ts_us, not from_client, peer.seq, ACK)
        return ts_us + _PACKET_GAP_US

    def close(self, ts_us: int) -> None:
        self.emit(ts_us, True, self.client.seq, FIN | ACK)
        self.client.seq += 1
        self.emit(ts_us + _PACKET_GAP_US, False, self.server.seq, FIN | ACK)
        self.server.seq += 1
        self.emit(ts_us + 2 * _PACKET_GAP_US, True, self.client.seq, ACK)


def connection_runs(exchanges: Sequence[HttpExchange]) -> list[tuple[Endpoint, Endpoint, list[HttpExchange]]]:
    """Consecutive exchanges between the same client and server: one keep-alive connection each."""
    runs: list[tuple[Endpoint, Endpoint, list[HttpExchange]]] = []
    for exchange in exchanges:
        client, server = exchange.client, exchange.server
        if client is None or server is None:
            raise ValueError(f"exchange {exchange.id} has no client or server endpoint to put on the wire")
        if runs and runs[-1][:2] == (client, server):
            runs[-1][2].append(exchange)
        else:
            runs.append((client, server, [exchange]))
    return runs


def lab_packets(exchanges: Sequence[HttpExchange], *, seed: int = 0) -> list[tuple[int, bytes]]:
    """Ethernet frames with their capture times (microseconds since the epoch), in capture order."""
    rng = random.Random(seed)
    packets: list[tuple[int, bytes]] = []
    connections_of: dict[Endpoint, int] = {}
    for client, server, run in connection_runs(exchanges):
        # A later connection from the same client gets the next port: the old one may still be in TIME_WAIT.
        port = (client.port or 49152) + connections_of.get(client, 0)
        connections_of[client] = connections_of.get(client, 0) + 1
        connection = _Connection(
            _Side(_address(client), port, rng.randrange(1 << 32)),
            _Side(_address(server), server.port or 80, rng.randrange(1 << 32)),
        )
        connection.handshake(micros(run[0].time))
        end = micros(run[0].time)
        for exchange in run:
            end = connection.send(max(micros(exchange.time), end), True, request_bytes(exchange.request), rng)
            if exchange.response is not None:
                answered = micros(exchange.response_time or exchange.time)
                end = connection.send(max(answered, end), False, response_bytes(exchange.response), rng)
        connection.close(end)
        packets.extend(connection.packets)
    packets.sort(key=lambda packet: packet[0])  # stable: packets sent at one instant keep their order
    return packets


def flight_packets(
    client: Endpoint, server: Endpoint, flights: Sequence[tuple[int, bool, bytes]], *, rng: random.Random
) -> list[tuple[int, bytes]]:
    """One TCP connection carrying ``flights`` (capture time, sent by the client, bytes), delivered as awkwardly
    as the HTTP sample's (the TLS sample sends its records this way)."""
    connection = _Connection(
        _Side(_address(client), client.port or 49152, rng.randrange(1 << 32)),
        _Side(_address(server), server.port or 443, rng.randrange(1 << 32)),
    )
    start = flights[0][0] if flights else 0
    connection.handshake(start)
    end = start
    for ts_us, from_client, data in flights:
        end = connection.send(max(ts_us, end), from_client, data, rng)
    connection.close(end)
    return connection.packets


def decryption_secrets_block(keylog: bytes) -> bytes:
    """A pcapng Decryption Secrets Block holding a TLS key log (what ``editcap --inject-secrets tls,…`` writes)."""
    return pcapng_block(0x0000000A, struct.pack("<II", 0x544C534B, len(keylog)) + keylog)


def write_packets_pcapng(packets: Sequence[tuple[int, bytes]], path: Path, *, secrets: bytes = b"") -> Path:
    blocks = [_section_header(), _interface()]
    if secrets:
        blocks.append(decryption_secrets_block(secrets))
    blocks.extend(_enhanced_packet(ts_us, frame) for ts_us, frame in packets)
    path.write_bytes(b"".join(blocks))
    return path


def write_lab_pcapng(exchanges: Sequence[HttpExchange], path: Path, *, seed: int = 0) -> Path:
    blocks = [_section_header(), _interface()]
    blocks.extend(_enhanced_packet(ts_us, frame) for ts_us, frame in lab_packets(exchanges, seed=seed))
    path.write_bytes(b"".join(blocks))
    return path
