"""Issue 12 item 13: what a source keeps of a huge input is bounded, whatever the input's size.

Memory itself is measured by ``bench/memory_hostile.py`` (never by a timed or sized unit test); these tests pin the
mechanisms that bound it: bodies cut to ``BODY_KEEP_LIMIT``, a HAR read in chunks with long strings cut, a large
flow read piece by piece, and a frame read no further than ``MAX_FRAME_READ``. Each failed before its fix.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from mitmproxy import io as mitm_io

from inspector.lab.writers import flow_from_exchange
from inspector.model import BODY_KEEP_LIMIT, HttpExchange, Notice
from inspector.sources import json_stream, mitmflows
from inspector.sources.har import STRING_KEEP, read_har
from inspector.sources.mitmflows import read_flows
from inspector.sources.pcap import reader as pcap_reader
from inspector.sources.pcap.reader import read_capture
from tests.builders import exchange
from tests.sources.pcap.capture_builder import ACK, PSH, Conversation, Frame, ethernet, tcp, write_pcap

BIG = 3 << 20


def _har_entry(body: str) -> dict[str, object]:
    return {
        "startedDateTime": "2026-11-02T09:30:00Z",
        "time": 1,
        "request": {
            "method": "POST",
            "url": "https://mail.contoso.com/EWS/Exchange.asmx",
            "headers": [{"name": "Authorization", "value": "Bearer abc"}],
            "postData": {"mimeType": "text/xml", "text": body},
        },
        "response": {"status": 200, "headers": [], "content": {"size": len(body), "text": body}},
    }


def test_har_bodies_keep_at_most_the_limit_and_long_strings_are_cut(tmp_path: Path) -> None:
    path = tmp_path / "big.har"
    body = "é\\" * (BIG // 2)  # escapes and wide characters straddle every cut
    path.write_text(json.dumps({"log": {"entries": [_har_entry(body), _har_entry("small")]}}), encoding="utf-8")
    items = list(read_har(path, keep_bodies=True))
    first, second = items
    assert isinstance(first, HttpExchange) and isinstance(second, HttpExchange)
    assert first.request.body is not None and len(first.request.body) == BODY_KEEP_LIMIT
    assert first.response is not None and first.response.body == body.encode()[:BODY_KEEP_LIMIT]
    assert second.request.body == b"small"
    assert STRING_KEEP < BIG


@pytest.mark.pure_python  # watches the buffer by replacing JsonText.more
def test_a_har_is_read_in_chunks_never_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK", 4096)
    held: list[int] = []
    more = json_stream.JsonText.more

    def watched(self: json_stream.JsonText, keep_from: int | None = None) -> bool:
        result = more(self, keep_from)
        held.append(len(self.buf))
        return result

    monkeypatch.setattr(json_stream.JsonText, "more", watched)
    path = tmp_path / "big.har"
    entries = [_har_entry("x" * (BIG // 8)) for _ in range(8)]
    path.write_text(json.dumps({"log": {"entries": entries}}), encoding="utf-8")
    exchanges = [item for item in read_har(path) if isinstance(item, HttpExchange)]
    assert len(exchanges) == 8
    assert max(held) <= 2 * 4096 + 16  # a chunk and what was left of the one before


def test_a_huge_mitm_body_is_read_piece_by_piece_and_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = flow_from_exchange(exchange("Basic dXNlcjpwdw==", status=200))
    assert flow.response is not None
    flow.response.content = b"b" * BIG
    flow.request.content = b"q" * 100
    path = tmp_path / "big.mitm"
    with path.open("wb") as fo:
        writer = mitm_io.FlowWriter(fo)
        writer.add(flow)
        writer.add(flow_from_exchange(exchange("Bearer x")))
    reads: list[int] = []
    monkeypatch.setattr(mitmflows, "BIG_FLOW_BYTES", 1 << 20)
    monkeypatch.setattr(mitmflows, "BIG_LEAF_BYTES", 64 << 10)
    opened = Path.open

    def watched_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        handle = opened(self, *args, **kwargs)  # type: ignore[call-overload]
        read = handle.read

        def counted(size: int = -1) -> bytes:
            data: bytes = read(size)
            reads.append(len(data))
            return data

        handle.read = counted
        return handle

    monkeypatch.setattr(Path, "open", watched_open)
    items = list(read_flows(path, keep_bodies=True))
    first, second = items
    assert isinstance(first, HttpExchange) and isinstance(second, HttpExchange)
    assert first.response is not None and first.response.body == b"b" * BODY_KEEP_LIMIT
    assert first.request.body == b"q" * 100
    assert max(reads) <= 1 << 20  # never the whole flow at once


def _tso_packet(src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, payload: bytes) -> bytes:
    """IPv4 with a total length of 0, as captures of segmentation offload show segments over 64 KiB."""
    segment = tcp(src[1], dst[1], seq, ack, ACK | PSH, payload)
    address = [bytes(int(part) for part in host.split(".")) for host in (src[0], dst[0])]
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 1, 0x4000, 64, 6, 0, *address) + segment


def test_a_frame_is_read_no_further_than_the_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pcap_reader, "MAX_FRAME_READ", 256 << 10)
    conv = Conversation().handshake()
    request = b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % BIG + b"z" * BIG
    seq = conv.next[True]
    conv.next[True] += len(request)
    big = _tso_packet(conv.client, conv.server, seq, conv.next[False], request)
    conv.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    conv.close()
    packets = conv.packets()
    packets.insert(3, big)
    frames = [Frame(ethernet(packet), 1_717_405_200_000_000 + n * 1000) for n, packet in enumerate(packets)]
    path = tmp_path / "tso.pcap"
    path.write_bytes(write_pcap(frames))
    items = list(read_capture(path))
    exchanges = [i for i in items if isinstance(i, HttpExchange)]
    gaps = [i for i in items if isinstance(i, Notice) and i.rule == "capture-gap"]
    assert [e.request.target for e in exchanges] == ["/EWS/Exchange.asmx"]
    assert gaps, "the bytes beyond the frame limit are missing, and said to be"
