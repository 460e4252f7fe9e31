"""The first bytes of a direction choose its reader: a TLS record header (even split over several segments)
starts a TLS session; HTTP split after its first byte still goes to the HTTP parser."""

from __future__ import annotations

from pathlib import Path

from inspector.model import HttpExchange, Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.start import StreamStart
from tests.sources.pcap.capture_builder import Conversation, capture

REQUEST = b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def _read(conv: Conversation, tmp_path: Path) -> tuple[list[object], list[TlsFacts]]:
    path = tmp_path / "start.pcap"
    path.write_bytes(capture(conv))
    facts: list[TlsFacts] = []
    return list(read_capture(path, on_tls=facts.append)), facts


def test_http_cut_after_one_byte_is_still_http(tmp_path: Path) -> None:
    assert StreamStart.__slots__  # the shim the streams start with
    conv = Conversation().handshake()
    conv.send(True, REQUEST[:1], acked=False)
    conv.send(True, REQUEST[1:2], acked=False)
    conv.send(True, REQUEST[2:])
    conv.send(False, RESPONSE)
    conv.close()
    items, facts = _read(conv, tmp_path)
    assert [i.request.target for i in items if isinstance(i, HttpExchange)] == ["/x"]
    assert facts == []


def test_a_record_header_split_over_segments_starts_tls(tmp_path: Path) -> None:
    record = b"\x16\x03\x01\x00\x04\x00\x00\x00\x00"  # a handshake record holding an empty HelloRequest
    conv = Conversation(server=("10.0.0.2", 443)).handshake()
    conv.send(True, record[:1], acked=False)
    conv.send(True, record[1:2], acked=False)
    conv.send(True, record[2:])
    conv.close()
    items, facts = _read(conv, tmp_path)
    assert len(facts) == 1
    assert [i.rule for i in items if isinstance(i, Notice)] == ["capture-encrypted"]
