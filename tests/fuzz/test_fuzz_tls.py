"""Hostile TLS in captures: garbage records, truncated or lying handshakes, huge length claims, wrong keys. The
reader must end with clear notices (never an exception other than ``InputError``, never a hang, never an exchange
invented from bytes that did not open)."""

from __future__ import annotations

import struct
import tempfile
from contextlib import suppress
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.model import HttpExchange, InputError, Notice
from inspector.rules import CATALOGUE
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.handshake import (
    HandshakeBuffer,
    HandshakeError,
    parse_certificates,
    parse_client_hello,
    parse_server_hello,
)
from inspector.sources.pcap.tls.keylog import KeyLog
from tests.sources.pcap.capture_builder import (
    Conversation,
    Interface,
    capture,
    frames_of,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def record(kind: int, body: bytes, *, version: int = 0x0303, length: int | None = None) -> bytes:
    return struct.pack("!BHH", kind, version, len(body) if length is None else length) + body


def handshake(kind: int, body: bytes, *, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return bytes([kind]) + size.to_bytes(3, "big") + body


def client_hello(random: bytes, extensions: bytes = b"") -> bytes:
    body = b"\x03\x03" + random + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00"
    return handshake(1, body + len(extensions).to_bytes(2, "big") + extensions)


def server_hello(suite: int = 0xC02F) -> bytes:
    return handshake(2, b"\x03\x03" + bytes(range(32)) + b"\x00" + suite.to_bytes(2, "big") + b"\x00")


def read_stream(client: bytes, server: bytes, keylog: KeyLog | None = None, mss: int = 700) -> list[object]:
    conv = Conversation(server=("10.0.0.2", 443)).handshake()
    if client:
        conv.send(True, client, mss=mss)
    if server:
        conv.send(False, server, mss=mss)
    conv.close()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.pcap"
        path.write_bytes(capture(conv))
        items: list[object] = []
        with suppress(InputError):
            items.extend(read_capture(path, keylog=keylog))
    for item in items:
        if isinstance(item, Notice):
            assert item.rule in CATALOGUE, item.rule
    return items


@FUZZ
@given(st.binary(min_size=3, max_size=3000), st.binary(max_size=3000), st.integers(1, 1460))
def test_garbage_after_a_record_header_is_survived(client: bytes, server: bytes, mss: int) -> None:
    items = read_stream(b"\x16\x03\x01" + client, server, mss=mss)
    assert not any(isinstance(item, HttpExchange) for item in items)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=400), st.none() | st.integers(0, 0xFFFF)
        ),
        max_size=12,
    )
)
def test_records_with_any_type_and_lying_lengths(records: list[tuple[int, int, bytes, int | None]]) -> None:
    stream = b"".join(record(kind, body, version=version, length=length) for kind, version, body, length in records)
    read_stream(record(22, client_hello(bytes(32))) + stream, stream)


@FUZZ
@given(st.binary(max_size=600), st.integers(0, 0xFFFFFF), st.integers(0, 255))
def test_truncated_and_lying_handshake_messages(body: bytes, claimed: int, kind: int) -> None:
    message = handshake(kind, body, length=claimed)
    items = read_stream(record(22, message), record(22, server_hello()) + record(22, message))
    for item in items:
        if isinstance(item, Notice) and item.rule == "tls-malformed":
            assert "frame" in item.evidence


@FUZZ
@given(st.binary(min_size=48, max_size=48), st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=6))
def test_wrong_keys_are_reported_and_nothing_is_invented(master: bytes, sealed: list[bytes]) -> None:
    random = bytes(range(100, 132))
    keys = KeyLog()
    keys.add_text(f"CLIENT_RANDOM {random.hex()} {master.hex()}\n".encode(), "keylog", "fuzz.log")
    client = record(22, client_hello(random)) + record(20, b"\x01") + b"".join(record(23, s) for s in sealed)
    server = record(22, server_hello()) + record(20, b"\x01") + record(22, bytes(40))
    items = read_stream(client, server, keys)
    assert not any(isinstance(item, HttpExchange) for item in items)
    rules = [item.rule for item in items if isinstance(item, Notice)]
    assert "tls-decrypt-failed" in rules
    assert "capture-encrypted" in rules


def test_the_largest_length_claims_are_refused_without_reading_them() -> None:
    # A record claiming 65,535 bytes (more than TLS allows) and a handshake message claiming 16 MiB.
    items = read_stream(record(22, b"", length=0xFFFF) + bytes(100), record(22, handshake(11, b"", length=0xFFFFFF)))
    reasons = [
        str(item.evidence["reason"]) for item in items if isinstance(item, Notice) and item.rule == "tls-malformed"
    ]
    assert any("65535" in reason for reason in reasons)
    assert any("16777215" in reason for reason in reasons)


def test_a_secrets_block_claiming_a_gigabyte_is_skipped() -> None:
    conv = Conversation(server=("10.0.0.2", 443)).handshake()
    conv.send(True, record(22, client_hello(bytes(32))))
    conv.close()
    secrets = struct.pack("<II", 0x544C534B, 1 << 30) + b"CLIENT_RANDOM 00 00\n"
    block = struct.pack("<II", 0x0A, 12 + len(secrets)) + secrets + struct.pack("<I", 12 + len(secrets))
    interface = Interface(1)
    data = pcapng_section("<") + pcapng_interface("<", interface) + block
    for frame in frames_of(conv.packets()):
        data += pcapng_packet("<", frame, interface)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dsb.pcapng"
        path.write_bytes(data)
        items = list(read_capture(path))
    assert [item.rule for item in items if isinstance(item, Notice)] == ["capture-encrypted"]


@FUZZ
@given(st.binary(max_size=2000))
def test_handshake_parsers_raise_only_their_own_error(body: bytes) -> None:
    for parse in (parse_client_hello, parse_server_hello):
        with suppress(HandshakeError):
            parse(body)
    for tls13 in (False, True):
        with suppress(HandshakeError):
            parse_certificates(body, tls13=tls13)
    with suppress(HandshakeError):
        list(HandshakeBuffer().feed(body))


@FUZZ
@given(st.binary(max_size=3000))
def test_key_log_text_never_breaks(text: bytes) -> None:
    keys = KeyLog()
    keys.add_text(text, "keylog", "fuzz.log")
    assert all(len(random) == 32 for random in keys.secrets)


class _FakeTable:
    def __init__(self) -> None:
        from inspector.sources.pcap.ordering import OrderedOutput

        self.out = OrderedOutput("fuzz", "fuzz")
        self.source = "fuzz"
        self.keep_bodies = True


class _FakeConnection:
    """The little of a connection the HTTP/2 reader uses (its sink for exchanges and notices)."""

    def __init__(self) -> None:
        from inspector.model import Endpoint

        self.table = _FakeTable()
        self.endpoints = (Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443))

    def label(self) -> str:
        return "10.0.0.1:50000 -> 10.0.0.2:443"

    def direction(self, side: int) -> str:
        return "client-to-server" if side == 0 else "server-to-client"

    def exchange_tls(self) -> None:
        return None


@FUZZ
@given(st.binary(max_size=2000), st.binary(max_size=2000), st.integers(1, 50))
def test_http2_frames_of_any_shape_are_survived(client: bytes, server: bytes, step: int) -> None:
    from inspector.sources.pcap.http2 import PREFACE, Http2Reader

    conn = _FakeConnection()
    reader = Http2Reader(conn, 0)
    stream = PREFACE + client
    for start in range(0, len(stream), step):
        reader.data(0, stream[start : start + step], 1, 0)
    for start in range(0, len(server), step):
        reader.data(1, server[start : start + step], 2, 0)
    reader.close()
    conn.table.out.release(everything=True)
    for item in conn.table.out.items:
        if isinstance(item, Notice):
            assert item.rule == "http-malformed"
