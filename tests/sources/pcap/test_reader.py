"""The capture reader end to end: exchanges and their provenance, pairing, notices, order, limits, damage."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.model import Endpoint, HttpExchange, InputError, Notice
from inspector.sources.pcap import CaptureProgress, read_capture
from inspector.sources.pcap import connections as connections_module
from inspector.sources.pcap.files import iter_records
from inspector.sources.pcap.packets import MAX_LINKS_NAMED
from tests.sources.pcap.capture_builder import (
    EPOCH_US,
    Conversation,
    Frame,
    Interface,
    Segment,
    capture,
    custom_block,
    frames_of,
    pcapng_section,
    write_pcap,
    write_pcapng,
)

REQUEST = b"GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Bearer eyJ0.eyJ1.c2ln\r\n\r\n"
CHALLENGE = b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="contoso"\r\nContent-Length: 0\r\n\r\n'
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"


def read(
    data: bytes, tmp_path: Path, name: str = "cap.pcap", **options: object
) -> tuple[list[HttpExchange], list[Notice], InputError | None]:
    path = tmp_path / name
    path.write_bytes(data)
    exchanges: list[HttpExchange] = []
    notices: list[Notice] = []
    try:
        for item in read_capture(path, **options):  # type: ignore[arg-type]
            (exchanges if isinstance(item, HttpExchange) else notices).append(item)  # type: ignore[arg-type]
    except InputError as exc:
        return exchanges, notices, exc
    return exchanges, notices, None


def conversation(*messages: bytes, **kwargs: object) -> Conversation:
    """Request/response pairs alternating from the client, on one connection with handshake and close."""
    conv = Conversation(**kwargs).handshake()  # type: ignore[arg-type]
    for index, message in enumerate(messages):
        conv.send(index % 2 == 0, message)
    return conv.close()


def test_an_exchange_with_its_provenance(tmp_path: Path) -> None:
    exchanges, notices, error = read(capture(conversation(REQUEST, CHALLENGE)), tmp_path, "lab-01.pcap")
    assert error is None
    assert notices == []
    (exchange,) = exchanges
    assert exchange.id == "lab-01.pcap:1"
    assert exchange.request.method == "GET"
    assert exchange.request.header("authorization") == "Bearer eyJ0.eyJ1.c2ln"
    assert exchange.request.body is None
    assert exchange.response is not None
    assert exchange.response.status == 401
    assert exchange.response.header_all("WWW-Authenticate") == ['Bearer realm="contoso"']
    assert exchange.client == Endpoint("10.0.0.1", 50000)
    assert exchange.server == Endpoint("10.0.0.2", 80)
    assert exchange.scheme == "http"
    assert exchange.host == "mail.contoso.com"
    provenance = exchange.provenance
    assert provenance.kind == "pcap"
    assert provenance.source == "lab-01.pcap"  # the label (inspector.sources.naming), not the full path
    assert provenance.connection == "10.0.0.1:50000 -> 10.0.0.2:80"
    # Frames: SYN, SYN-ACK, ACK, the request (4), its ACK, the response (6).
    assert provenance.request_frames == (4,)
    assert provenance.response_frames == (6,)
    assert exchange.time == datetime.fromtimestamp((EPOCH_US + 3000) / 1e6, UTC)
    assert exchange.response_time == datetime.fromtimestamp((EPOCH_US + 5000) / 1e6, UTC)


def test_ipv6_connections_are_named_with_brackets(tmp_path: Path) -> None:
    conv = conversation(REQUEST, OK, client=("2001:db8::1", 50000), server=("2001:db8::2", 8080))
    (exchange,), _, _ = read(capture(conv), tmp_path)
    assert exchange.provenance.connection == "[2001:db8::1]:50000 -> [2001:db8::2]:8080"


def test_keep_bodies_keeps_them(tmp_path: Path) -> None:
    post = b"POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
    (exchange,), _, _ = read(capture(conversation(post, OK)), tmp_path, keep_bodies=True)
    assert exchange.request.body == b"body"
    assert exchange.response is not None
    assert exchange.response.body == b"hello world"


def test_segmentation_reordering_and_retransmission_do_not_change_the_exchanges(tmp_path: Path) -> None:
    plain = conversation(REQUEST, CHALLENGE, REQUEST, OK)
    expected, _, _ = read(capture(plain), tmp_path, "a.pcap")
    messy = Conversation().handshake()
    request_segments = messy.send(True, REQUEST, mss=7, acked=False)
    messy.segments[-len(request_segments) :] = list(reversed(request_segments)) + request_segments[2:5]
    messy.send(False, CHALLENGE, mss=11)
    messy.send(True, REQUEST, mss=1)
    ok_segments = messy.send(False, OK, mss=9, acked=False)
    messy.segments.append(ok_segments[0])  # a late retransmission
    got, notices, _ = read(capture(messy.close()), tmp_path, "b.pcap")
    assert notices == []
    assert [(x.request, x.response) for x in got] == [(x.request, x.response) for x in expected]


def test_the_client_is_the_side_that_sends_requests_even_without_the_syn(tmp_path: Path) -> None:
    conv = conversation(REQUEST, CHALLENGE, REQUEST, OK)
    # The capture starts with the server's first response: the handshake and first request were missed.
    segments = [s for s in conv.segments if not (s.flags & 0x02)]
    first_response = next(i for i, s in enumerate(segments) if not s.from_client and s.payload)
    (exchange,), _, _ = read(write_pcap(frames_of(conv.packets(segments[first_response:]))), tmp_path)
    assert exchange.provenance.connection == "10.0.0.1:50000 -> 10.0.0.2:80"
    assert exchange.response is not None
    assert exchange.response.status == 200


def test_output_follows_the_order_requests_began(tmp_path: Path) -> None:
    slow = conversation(REQUEST, OK, client=("10.0.0.1", 50001))
    fast = conversation(REQUEST.replace(b"/ews/", b"/fast/"), CHALLENGE, client=("10.0.0.3", 50002))
    # Interleave: slow's request first, then all of fast, then slow's response.
    slow_packets = slow.packets()
    packets = slow_packets[:4] + fast.packets() + slow_packets[4:]
    exchanges, _, _ = read(write_pcap(frames_of(packets)), tmp_path)
    assert [x.request.target for x in exchanges] == ["/ews/exchange.asmx", "/fast/exchange.asmx"]
    assert [x.id for x in exchanges] == ["cap.pcap:1", "cap.pcap:2"]


def test_heads_and_interim_responses_pair_in_order(tmp_path: Path) -> None:
    conv = Conversation().handshake()
    conv.send(True, b"HEAD /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    conv.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
    conv.send(True, b"ok")
    conv.send(False, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    exchanges, _, _ = read(capture(conv.close()), tmp_path)
    assert [(x.request.method, x.response.status if x.response else None) for x in exchanges] == [
        ("HEAD", 200),
        ("POST", 201),
    ]


@pytest.mark.parametrize("missing", [1, 2], ids=["middle of the body", "end of the body"])
def test_a_lost_segment_is_a_gap_and_parsing_resumes(tmp_path: Path, missing: int) -> None:
    conv = Conversation().handshake()
    conv.send(True, REQUEST)
    lost = conv.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n" + b"x" * 3000)
    conv.send(True, REQUEST.replace(b"GET", b"PUT"))
    conv.send(False, CHALLENGE)
    conv.close()
    conv.segments.remove(lost[missing])  # part of the body was not captured
    exchanges, notices, _ = read(capture(conv), tmp_path)
    assert [(x.request.method, x.response and x.response.status) for x in exchanges] == [("GET", 200), ("PUT", 401)]
    (gap,) = [n for n in notices if n.rule == "capture-gap"]
    assert gap.exchange_id == exchanges[0].id
    assert gap.evidence["connection"] == "10.0.0.1:50000 -> 10.0.0.2:80"
    assert gap.evidence["direction"] == "server-to-client"
    assert gap.evidence["bytes_missing"] == len(lost[missing].payload)
    assert gap.evidence["from_seq"] == lost[missing].seq
    assert "body of a response is incomplete" in gap.message


def test_a_lost_response_does_not_shift_the_pairing(tmp_path: Path) -> None:
    conv = Conversation().handshake()
    conv.send(True, REQUEST)
    lost = conv.send(False, CHALLENGE)
    conv.send(True, REQUEST.replace(b"GET", b"PUT"))
    conv.send(False, OK)
    conv.close()
    conv.segments.remove(lost[0])  # the 401 was never captured; the client's ACKs show it was sent
    exchanges, notices, _ = read(capture(conv), tmp_path)
    assert [(x.request.method, x.response and x.response.status) for x in exchanges] == [("GET", None), ("PUT", 200)]
    assert [n.exchange_id for n in notices if n.rule == "capture-gap"] == [exchanges[0].id]


def test_tls_is_counted_once_per_file(tmp_path: Path) -> None:
    hello = b"\x16\x03\x01\x00\x30" + bytes(48)
    tls = [
        conversation(hello, b"\x16\x03\x03\x00\x10" + bytes(16), client=("10.0.0.9", p), server=("10.0.0.2", 443))
        for p in (40000, 40001)
    ]
    _, notices, _ = read(capture(*tls, conversation(REQUEST, OK)), tmp_path)
    (encrypted,) = notices
    assert encrypted.rule == "capture-encrypted"
    assert encrypted.evidence["tls_connections"] == 2
    assert encrypted.evidence["servers"] == ["10.0.0.2:443"]
    assert "run `oauth-inspector proxy` or capture behind the TLS terminator" in encrypted.message


def test_a_malformed_message_is_reported_with_where_it_was(tmp_path: Path) -> None:
    broken = b"HTTP/1.1 OK\r\n\r\n"
    exchanges, notices, _ = read(capture(conversation(REQUEST, OK, REQUEST, broken)), tmp_path)
    assert len(exchanges) == 2
    (malformed,) = notices
    assert malformed.rule == "http-malformed"
    assert malformed.evidence["connection"] == "10.0.0.1:50000 -> 10.0.0.2:80"
    assert malformed.evidence["frame"] == 10  # SYN, SYN-ACK, ACK, then 4 data frames, each ACKed
    assert "broken status line" in malformed.message


def test_a_new_connection_on_the_same_ports(tmp_path: Path) -> None:
    first = conversation(REQUEST, CHALLENGE)
    second = conversation(REQUEST, OK, client_isn=90000, server_isn=70000)
    exchanges, _, _ = read(capture(first, second), tmp_path)
    assert [x.response and x.response.status for x in exchanges] == [401, 200]


def test_data_after_a_reset_is_still_read(tmp_path: Path) -> None:
    conv = Conversation().handshake()
    conv.segments.append(Segment(True, conv.next[True], conv.next[False], 0x14))  # RST|ACK the server ignored
    conv.send(True, REQUEST)
    conv.send(False, OK)
    (exchange,), _, _ = read(capture(conv), tmp_path)
    assert exchange.response is not None


def test_responses_without_requests_are_counted_in_one_notice(tmp_path: Path) -> None:
    conv = conversation(REQUEST, OK, REQUEST, OK)
    only_server = [s for s in conv.segments if not s.from_client]
    exchanges, notices, _ = read(write_pcap(frames_of(conv.packets(only_server))), tmp_path)
    assert exchanges == []
    (notice,) = notices
    assert notice.rule == "capture-gap"
    assert notice.evidence == {"unpaired_responses": 2}


def test_a_capture_of_an_unsupported_link_type_says_so(tmp_path: Path) -> None:
    frames = frames_of(conversation(REQUEST, OK).packets())
    exchanges, notices, error = read(write_pcap(frames, linktype=147), tmp_path)  # LINKTYPE_USER0
    assert (exchanges, error) == ([], None)
    (notice,) = notices
    assert notice.rule == "capture-link-unsupported"
    assert notice.evidence == {"frames": len(frames), "of": len(frames), "link_types": {"147": len(frames)}}
    assert notice.message.startswith(f"none of the {len(frames)} frames of this capture could be read: link type 147")


def test_unread_frames_are_counted_by_link_type_beside_what_was_read(tmp_path: Path) -> None:
    readable = frames_of(conversation(REQUEST, OK).packets())
    other = [Frame(b"\x00" * 40, EPOCH_US, 1) for _ in range(3)]
    data = bytearray(write_pcapng([*readable, *other], [Interface(), Interface(linktype=147)]))
    (last_block,) = struct.unpack_from("<I", data, len(data) - 4)
    struct.pack_into("<I", data, len(data) - last_block + 8, 9)  # the last frame names interface 9, never described
    exchanges, notices, _ = read(bytes(data), tmp_path, "cap.pcapng")
    assert len(exchanges) == 1
    (notice,) = notices
    assert notice.evidence["link_types"] == {"147": 2, "-1": 1}
    total = len(readable) + 3
    assert notice.message.startswith(
        f"3 of the {total} frames of this capture could not be read: link type 147 (2 frames), "
        "an interface the file does not describe (1 frame)"
    )


def test_link_types_named_are_bounded(tmp_path: Path) -> None:
    interfaces = [Interface(linktype=200 + n) for n in range(MAX_LINKS_NAMED + 4)]
    frames = [Frame(b"\x00" * 20, EPOCH_US, n) for n in range(len(interfaces))]
    _, notices, _ = read(write_pcapng(frames, interfaces), tmp_path, "cap.pcapng")
    (notice,) = notices
    assert notice.evidence["frames"] == len(frames)
    assert len(notice.evidence["link_types"]) == MAX_LINKS_NAMED  # type: ignore[arg-type]
    assert ", and others;" in notice.message


def test_custom_blocks_and_readable_frames_raise_no_link_notice(tmp_path: Path) -> None:
    frames = frames_of(conversation(REQUEST, OK).packets())
    _, notices, _ = read(write_pcapng(frames, extra=custom_block()), tmp_path, "cap.pcapng")
    assert notices == []


@pytest.mark.pure_python  # counts the table's size by replacing ConnectionTable.sweep
def test_idle_and_excess_connections_are_closed_and_their_exchanges_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connections_module, "MAX_CONNECTIONS", 10)
    convs = []
    for port in range(40):  # requests whose responses never come, on connections that never close
        conv = Conversation(client=("10.0.1.1", 40000 + port)).handshake()
        conv.send(True, REQUEST)
        convs.append(conv)
    packets = [packet for conv in convs for packet in conv.packets()]
    table_sizes: list[int] = []
    original = connections_module.ConnectionTable.sweep

    def sweep(self: connections_module.ConnectionTable, now: int, frame: int) -> None:
        original(self, now, frame)
        table_sizes.append(len(self))

    monkeypatch.setattr(connections_module.ConnectionTable, "sweep", sweep)
    monkeypatch.setattr("inspector.sources.pcap.reader.PROGRESS_EVERY", 20)
    monkeypatch.setattr("inspector.sources.pcap.reader.REAP_EVERY", 20)
    exchanges, _, _ = read(write_pcap(frames_of(packets)), tmp_path)
    assert len(exchanges) == 40
    assert table_sizes
    assert max(table_sizes) <= 10


def test_progress_is_reported(tmp_path: Path) -> None:
    data = capture(conversation(REQUEST, OK))
    reports: list[CaptureProgress] = []
    read(data, tmp_path, progress=reports.append)
    assert reports[-1] == CaptureProgress(bytes_read=len(data), total_bytes=len(data), packets=10, exchanges=1)


# -- damage -----------------------------------------------------------------------------------------------


def record_ends(data: bytes) -> list[int]:
    return [end for _, _, _, end in iter_records(data)]


def _full_read(path: Path) -> list[HttpExchange]:
    return [item for item in read_capture(path) if isinstance(item, HttpExchange)]


def test_every_cut_of_a_capture_yields_what_came_before_the_cut(corpus: Path, tmp_path: Path) -> None:
    source = corpus / "pcap/auth/credslayer/http-basic-auth.pcap"
    data = source.read_bytes()
    full = _full_read(source)
    ends = record_ends(data)
    for cut in range(100, len(data), 7919):
        exchanges, _, error = read(data[:cut], tmp_path, "cut.pcap")
        complete_frames = sum(1 for end in ends if end <= cut)
        if cut in ends:
            assert error is None
        else:
            assert error is not None
            assert f"at offset {ends[complete_frames - 1] if complete_frames else 24}" in str(error)
            assert str(tmp_path / "cut.pcap") in str(error)
        got = {(x.provenance.request_frames[0], x.request.target, x.request.headers) for x in exchanges}
        for exchange in full:
            frames = exchange.provenance.request_frames
            if max(frames) <= complete_frames:
                assert (frames[0], exchange.request.target, exchange.request.headers) in got


def test_a_pcapng_cut_mid_block_yields_what_came_before(corpus: Path, tmp_path: Path) -> None:
    data = (corpus / "pcap/auth/ndpi/webdav.pcap").read_bytes()  # pcapng despite its name
    full = _full_read(corpus / "pcap/auth/ndpi/webdav.pcap")
    cut = len(data) * 2 // 3 + 5
    exchanges, _, error = read(data[:cut], tmp_path)
    assert error is not None
    assert "truncated block" in str(error)
    assert 0 < len(exchanges) < len(full)
    assert [x.request.headers for x in exchanges] == [x.request.headers for x in full[: len(exchanges)]]


def _damaged(tail: bytes) -> bytes:
    conv = conversation(REQUEST, OK)
    return write_pcapng(frames_of(conv.packets())) + tail


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (pcapng_section(version=(2, 0)), "unsupported pcapng version 2.0 in section header block at offset"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00garbage-garbage-garbage-", "invalid section header block"),
        (b"\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "invalid block length 0 at offset"),
        (b"\x06\x00\x00\x00\xf0\xff\xff\x7f" + b"\x00" * 24, "block claims 2147483632 bytes at offset"),
    ],
)
def test_damage_after_readable_exchanges(tmp_path: Path, tail: bytes, message: str) -> None:
    exchanges, _, error = read(_damaged(tail), tmp_path, "x.pcapng")
    assert len(exchanges) == 1  # the exchange before the damage is still there
    assert error is not None
    assert str(error).startswith(f"Cannot read capture {tmp_path / 'x.pcapng'}: {message}")


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (b"\x00" * 16, "zero-length record"),
        (b"\x00" * 8 + b"\xff\xff\xff\x7f" + b"\x00" * 4, "record claims 2147483647 bytes"),
    ],
)
def test_zero_length_and_gigantic_records(tmp_path: Path, tail: bytes, message: str) -> None:
    data = capture(conversation(REQUEST, OK)) + tail
    exchanges, _, error = read(data, tmp_path)
    assert len(exchanges) == 1
    assert error is not None
    assert message in str(error)


def test_files_that_are_not_captures(tmp_path: Path) -> None:
    for name, data in (("empty.pcap", b""), ("random.pcap", random.Random(1).randbytes(5000))):
        exchanges, _, error = read(data, tmp_path, name)
        assert exchanges == []
        assert error is not None
        assert str(tmp_path / name) in str(error)
    with pytest.raises(InputError, match="No such file"):
        list(read_capture(tmp_path / "missing.pcap"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=3000))
def test_random_bytes_after_a_valid_start_end_cleanly_or_in_an_input_error(tmp_path: Path, garbage: bytes) -> None:
    for data in (capture(conversation(REQUEST, OK)) + garbage, write_pcapng([Frame(garbage, EPOCH_US)])):
        read(data, tmp_path)  # may raise nothing but InputError (caught in ``read``)
