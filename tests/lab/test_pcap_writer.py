"""The lab pcapng writer: a valid capture of checksummed packets, delivered awkwardly, that the capture reader
turns back into exactly the lab's exchanges (headers, bodies, times, endpoints)."""

from __future__ import annotations

import itertools
import struct
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from inspector.lab.pcap_writer import lab_packets, request_bytes, write_lab_pcapng
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.model import HttpExchange
from inspector.sources.pcap import read_capture

Flow = tuple[bytes, int, bytes, int]


def _exchanges(kit: TokenKit) -> list[HttpExchange]:
    return [exchange for exchange, _ in lab_exchanges(kit, source="lab")]


def _checksum_ok(data: bytes) -> bool:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def _blocks(data: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while offset < len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        assert length % 4 == 0 and struct.unpack_from("<I", data, offset + length - 4)[0] == length
        out.append((block_type, data[offset + 8 : offset + length - 4]))
        offset += length
    return out


def _segments(frames: list[bytes]) -> list[tuple[Flow, int, int, bytes]]:
    """(flow, seq, flags, payload) of every frame, checking the Ethernet, IPv4 and TCP headers on the way."""
    out = []
    for frame in frames:
        assert frame[12:14] == b"\x08\x00"
        ip = frame[14:]
        assert _checksum_ok(ip[:20]) and struct.unpack_from("!H", ip, 2)[0] == len(ip)
        src, dst, tcp = ip[12:16], ip[16:20], ip[20:]
        assert _checksum_ok(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp), "bad TCP checksum"
        sport, dport, seq, _, _, flags = struct.unpack_from("!HHIIBB", tcp)
        out.append(((src, sport, dst, dport), seq, flags, tcp[20:]))
    return out


def test_capture_is_pcapng_with_an_ethernet_interface_in_nanoseconds(kit: TokenKit, tmp_path: Path) -> None:
    data = write_lab_pcapng(_exchanges(kit), tmp_path / "lab.pcapng").read_bytes()
    blocks = _blocks(data)
    assert blocks[0][0] == 0x0A0D0D0A and struct.unpack_from("<I", blocks[0][1])[0] == 0x1A2B3C4D
    assert blocks[1][0] == 1 and struct.unpack_from("<H", blocks[1][1])[0] == 1  # IDB, Ethernet
    assert struct.pack("<HH", 9, 1) + b"\x09" in blocks[1][1]  # if_tsresol = 9 (nanoseconds)
    assert {block_type for block_type, _ in blocks[2:]} == {6}
    first = blocks[2][1]
    high, low = struct.unpack_from("<II", first, 4)
    assert ((high << 32) | low) % 1000 == 0  # microsecond times written in nanoseconds


def test_reader_gets_back_exactly_the_lab_exchanges(kit: TokenKit, tmp_path: Path) -> None:
    exchanges = _exchanges(kit)
    path = write_lab_pcapng(exchanges, tmp_path / "lab.pcapng", seed=11)
    items = list(read_capture(path, keep_bodies=True))
    read = [item for item in items if isinstance(item, HttpExchange)]
    assert len(items) == len(read) == len(exchanges), "no gap, desync or TLS notice expected"
    for original, back in zip(exchanges, read, strict=True):
        # lab:N as the lab names them; read back, named after the file (inspector.sources.naming), in order
        assert back.id == original.id.replace("lab:", "lab.pcapng:")
        assert back.request == original.request
        assert back.response is not None and original.response is not None
        assert back.response.headers == original.response.headers
        assert back.response.status == original.response.status and back.response.reason == original.response.reason
        assert (back.response.body or b"") == original.response.body
        assert (back.time, back.response_time) == (original.time, original.response_time)
        assert (back.client, back.server) == (original.client, original.server)


def test_delivery_is_awkward(kit: TokenKit) -> None:
    exchanges = _exchanges(kit)
    segments = _segments([frame for _, frame in lab_packets(exchanges, seed=0)])
    assert sum(1 for _, _, flags, _ in segments if flags == 0x02) == 3  # one keep-alive connection per client
    assert sum(1 for _, _, flags, _ in segments if flags & 0x01) == 6  # each side sends its FIN
    data = [(flow, seq, payload) for flow, seq, _, payload in segments if payload]
    sizes = Counter(len(payload) for _, _, payload in data)
    assert sizes[1] + sizes[2] + sizes[3] > 10 and any(size % 2 for size in sizes)
    # Out of order: a segment that starts below where an earlier one of its flow ended.
    seen_end: dict[Flow, int] = {}
    ranges: dict[Flow, list[tuple[int, int]]] = {}
    backwards = 0
    for flow, seq, payload in data:
        backwards += seq < seen_end.get(flow, seq)
        seen_end[flow] = max(seen_end.get(flow, 0), seq + len(payload))
        ranges.setdefault(flow, []).append((seq, seq + len(payload)))
    assert backwards > 0
    exact = overlapping = 0
    for spans in ranges.values():
        counts = Counter(spans)
        exact += sum(count - 1 for count in counts.values())
        unique = sorted(counts)
        overlapping += sum(1 for a, b in itertools.pairwise(unique) if a[0] < b[0] < a[1] < b[1])
    assert exact > 0 and overlapping > 0
    # Every Authorization header name and value is cut in the middle.
    payloads = [payload for _, _, payload in data]
    assert any(payload.endswith(b"\r\nAuthor") for payload in payloads)
    assert any(payload.startswith(b"ization: Bearer ") for payload in payloads)


def test_same_seed_same_bytes_other_seed_other_cuts(kit: TokenKit, tmp_path: Path) -> None:
    exchanges = _exchanges(kit)
    one = write_lab_pcapng(exchanges, tmp_path / "a.pcapng", seed=5).read_bytes()
    assert write_lab_pcapng(exchanges, tmp_path / "b.pcapng", seed=5).read_bytes() == one
    assert write_lab_pcapng(exchanges, tmp_path / "c.pcapng", seed=6).read_bytes() != one


def test_request_bytes_are_http_1_1_on_the_wire(kit: TokenKit) -> None:
    request = _exchanges(kit)[1].request
    wire = request_bytes(request)
    head, body = wire.split(b"\r\n\r\n", 1)
    assert head.startswith(b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: ")
    assert body == request.body and f"Content-Length: {len(body)}".encode() in head


def test_exchange_without_endpoints_is_refused(kit: TokenKit) -> None:
    exchange = replace(_exchanges(kit)[0], client=None)
    with pytest.raises(ValueError, match="no client or server"):
        lab_packets([exchange])
