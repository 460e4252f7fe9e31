"""The incremental HTTP/1.x parser: message framing, robustness, resync, and independence from segmentation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.model import HttpRequest, HttpResponse
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http1 import HEAD_LIMIT, GapEffect, Http1Parser, MessageHead

Event = tuple[object, ...]


class Recorder:
    """Records what the parser reports; answers responses with the methods of ``requests`` in turn."""

    def __init__(self, requests: list[str] | None = None) -> None:
        self.events: list[Event] = []
        self.methods = list(requests or [])
        self.frames: list[tuple[int, ...]] = []

    def on_request(self, parser: Http1Parser, head: MessageHead) -> None:
        del parser
        message = head.message
        assert isinstance(message, HttpRequest)
        self.frames.append(head.frames)
        self.events.append(("request", message.method, message.target, message.version, message.headers, head.end))

    def on_response(self, parser: Http1Parser, head: MessageHead) -> str | None:
        del parser
        message = head.message
        assert isinstance(message, HttpResponse)
        self.frames.append(head.frames)
        self.events.append(("response", message.status, message.reason, message.headers, head.end))
        if message.status < 200 and message.status != 101:
            return self.methods[0] if self.methods else None
        return self.methods.pop(0) if self.methods else None

    def on_message_end(self, parser: Http1Parser, body: bytes | None, complete: bool) -> None:
        del parser
        self.events.append(("end", body, complete))

    def on_malformed(self, parser: Http1Parser, reason: str, frame: int) -> None:
        del parser, frame
        self.events.append(("malformed", reason))

    def on_gap(self, parser: Http1Parser, effect: GapEffect, seq: int, size: int, frame: int) -> None:
        del parser, seq, frame
        self.events.append(("gap", effect, size))

    def on_tls(self, parser: Http1Parser) -> None:
        del parser
        self.events.append(("tls",))

    def on_tunnel(self, parser: Http1Parser) -> None:
        del parser
        self.events.append(("tunnel",))


def parse(
    chunks: Sequence[bytes | int],
    *,
    requests: list[str] | None = None,
    midstream: bool = False,
    keep_bodies: bool = True,
) -> Recorder:
    """Feed ``chunks`` (bytes, or an int: a gap of that many bytes) as frames 1, 2, ..."""
    recorder = Recorder(requests)
    parser = Http1Parser(recorder, 0, midstream=midstream, keep_bodies=keep_bodies, budget=MemoryBudget(1 << 30))
    for frame, chunk in enumerate(chunks, 1):
        if isinstance(chunk, int):
            parser.gap(0, chunk, frame)
        else:
            parser.data(chunk, frame, frame * 1000, -1)
    parser.finish(len(chunks) + 1)
    return recorder


def kinds(recorder: Recorder) -> list[object]:
    return [event[0] if event[0] != "response" else event[1] for event in recorder.events]


REQUESTS = (
    b"GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail\r\nauthorization: Bearer abc.def.ghi\r\n\r\n"
    b"POST /ews/exchange.asmx HTTP/1.1\r\nHost: mail\r\nCONTENT-LENGTH: 5\r\n\r\nhello"
    b"PUT /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    b"\r\nGET http://proxy.example/abs?q=1 HTTP/1.0\r\nX-Folded: first\r\n  second\r\n\tthird\r\n\r\n"
)

RESPONSES = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="r"\r\nWWW-Authenticate: NTLM\r\n'
    b"Content-Length: 4\r\n\r\nnope"
    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"  # answers HEAD: no body follows
    b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
    b"HTTP/1.1 304 Not Modified\r\n\r\n"
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until the connection closes"
)
RESPONSE_METHODS = ["POST", "HEAD", "GET", "GET", "GET", "GET"]


def test_requests_keep_alive_with_every_body_framing() -> None:
    events = parse([REQUESTS]).events
    # Each head's end is the stream offset where its body (or the next message) starts.
    assert events == [
        (
            "request",
            "GET",
            "/ews/exchange.asmx",
            "HTTP/1.1",
            (("Host", "mail"), ("authorization", "Bearer abc.def.ghi")),
            REQUESTS.index(b"POST"),
        ),
        ("end", b"", True),
        (
            "request",
            "POST",
            "/ews/exchange.asmx",
            "HTTP/1.1",
            (("Host", "mail"), ("CONTENT-LENGTH", "5")),
            REQUESTS.index(b"hello"),
        ),
        ("end", b"hello", True),
        ("request", "PUT", "/x", "HTTP/1.1", (("Transfer-Encoding", "gzip, chunked"),), REQUESTS.index(b"5;ext")),
        ("end", b"hello world", True),
        (
            "request",
            "GET",
            "http://proxy.example/abs?q=1",
            "HTTP/1.0",
            (("X-Folded", "first second third"),),
            len(REQUESTS),
        ),
        ("end", b"", True),
    ]


def test_responses_follow_their_requests_methods_and_statuses() -> None:
    recorder = parse([RESPONSES], requests=RESPONSE_METHODS)
    assert kinds(recorder) == [100, "end", 401, "end", 200, "end", 204, "end", 304, "end", 200, "end", 200, "end"]
    bodies = [event[1] for event in recorder.events if event[0] == "end"]
    assert bodies == [b"", b"nope", b"", b"", b"", b"abc", b"body until the connection closes"]
    challenge_headers = recorder.events[2][3]
    assert isinstance(challenge_headers, tuple)
    assert challenge_headers[:2] == (("WWW-Authenticate", 'Bearer realm="r"'), ("WWW-Authenticate", "NTLM"))


def test_pipelined_requests_in_one_segment_and_one_request_over_many() -> None:
    two = b"GET /bar/ HTTP/1.1\r\nHost: a\r\n\r\nGET /foo/ HTTP/1.1\r\nHost: a\r\n\r\n"
    recorder = parse([two])
    assert [e[2] for e in recorder.events if e[0] == "request"] == ["/bar/", "/foo/"]
    assert recorder.frames == [(1,), (1,)]
    split = parse([two[:10], two[10:25], two[25:40], two[40:]])
    assert split.events == recorder.events
    assert split.frames == [(1, 2, 3), (3, 4)]  # the first head ends in the third segment


def test_bare_lf_line_ends_are_accepted() -> None:
    recorder = parse([b"GET /lf HTTP/1.1\nHost: a\nContent-Length: 2\n\nokGET /next HTTP/1.1\r\n\r\n"])
    assert [e[2] for e in recorder.events if e[0] == "request"] == ["/lf", "/next"]
    assert ("end", b"ok", True) in recorder.events


def test_header_lines_without_a_colon_are_skipped_and_counted() -> None:
    heads: list[MessageHead] = []

    class Heads(Recorder):
        def on_request(self, parser: Http1Parser, head: MessageHead) -> None:
            del parser
            heads.append(head)

    parser = Http1Parser(Heads(), 0, midstream=False, keep_bodies=False, budget=MemoryBudget(1 << 20))
    parser.data(b"GET / HTTP/1.1\r\nHost: a\r\nthis line has no colon\r\nX: 1\r\n\r\n", 1, 0, -1)
    (head,) = heads
    assert head.message.headers == (("Host", "a"), ("X", "1"))
    assert head.bad_lines == 1


def test_tls_is_reported_and_not_parsed() -> None:
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)
    assert parse([hello, b"GET / HTTP/1.1\r\n\r\n"]).events == [("tls",)]
    assert parse([hello[:1], hello[1:2], hello[2:]]).events == [("tls",)]
    midstream_application_data = b"\x17\x03\x03\x00\x20" + bytes(32)
    assert parse([midstream_application_data], midstream=True).events == [("tls",)]


def test_a_stream_that_is_not_http_is_ignored() -> None:
    assert parse([b"SSH-2.0-OpenSSH_9.6\r\n", b"GET / HTTP/1.1\r\n\r\n"]).events == []
    assert parse([b"\x00\x01binary"]).events == []
    assert parse([b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]).events == []


def test_a_stream_captured_from_its_middle_resyncs_to_the_next_message() -> None:
    tail_of_a_body = b"</soap:Envelope>\r\n"
    recorder = parse([tail_of_a_body, b"OKGET /next HTTP/1.1\r\nHost: a\r\n\r\n"], midstream=True)
    assert recorder.events[0][:3] == ("request", "GET", "/next")
    assert recorder.frames == [(2,)]
    response_side = parse([b"xx", b"yy HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], midstream=True, requests=["GET"])
    assert kinds(response_side) == [200, "end"]


def test_a_broken_status_line_is_malformed_and_the_next_message_is_found() -> None:
    stream = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        b"HTTP/1.1 2x0 Broken\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    )
    recorder = parse([stream], requests=["GET", "GET", "GET"])
    assert kinds(recorder) == [200, "end", "malformed", 404, "end"]
    assert parse([stream[i : i + 1] for i in range(len(stream))], requests=["GET"] * 3).events == recorder.events


def test_a_request_line_on_the_response_side_is_malformed() -> None:
    recorder = parse([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n\r\n"], requests=["GET"])
    assert kinds(recorder) == [200, "end", "malformed"]


def test_an_oversized_header_block_is_malformed_and_the_direction_skipped() -> None:
    big = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (HEAD_LIMIT + 10)
    recorder = parse([big[i : i + 65536] for i in range(0, len(big), 65536)] + [b"\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"])
    assert kinds(recorder) == ["malformed"]
    assert "1 MiB" in str(recorder.events[0][1])


def test_a_header_block_refused_by_the_memory_budget_is_skipped() -> None:
    recorder = Recorder()
    parser = Http1Parser(recorder, 0, midstream=False, keep_bodies=False, budget=MemoryBudget(1000))
    parser.data(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 200_000, 1, 0, -1)
    assert kinds(recorder) == ["malformed"]
    assert parser.ignore


def test_invalid_framing_is_malformed() -> None:
    assert kinds(parse([b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"])) == [
        "request",
        "malformed",
        "end",
    ]
    assert kinds(parse([b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"])) == ["request", "malformed", "end"]
    assert "chunk size" in str(parse([b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]).events[1][1])
    # Identical repeated lengths are one length.
    assert parse([b"POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok"]).events[-1] == ("end", b"ok", True)


def test_a_gap_inside_a_body_keeps_the_framing() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    recorder = parse(
        [head + b"abc", 4, b"xyz", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"], requests=["GET", "GET"]
    )
    assert recorder.events[1:3] == [("gap", "body", 4), ("end", None, False)]
    assert kinds(recorder)[-2:] == [404, "end"]


def test_a_gap_inside_a_head_loses_that_message_only() -> None:
    recorder = parse([b"GET /a HTTP/1.1\r\nHo", 5, b"lost tail\r\n\r\nGET /b HTTP/1.1\r\n\r\n"])
    assert [e for e in recorder.events if e[0] != "end"] == [
        ("gap", "head", 5),
        ("request", "GET", "/b", "HTTP/1.1", (), 56),
    ]


def test_switching_protocols_and_connect_end_the_http() -> None:
    upgrade = parse([b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"], requests=["GET"])
    assert kinds(upgrade) == [101, "end", "tunnel"]
    connect = parse([b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01"], requests=["CONNECT"])
    assert kinds(connect) == [200, "end", "tunnel"]


def test_bodies_are_not_kept_unless_asked_and_are_bounded() -> None:
    stream = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    assert parse([stream], keep_bodies=False).events[-1] == ("end", None, True)
    big = b"POST / HTTP/1.1\r\nContent-Length: 3000000\r\n\r\n" + b"b" * 3_000_000
    body = parse([big]).events[-1][1]
    assert isinstance(body, bytes)
    assert len(body) == 1 << 20


def test_the_same_stream_parses_the_same_split_at_every_offset() -> None:
    whole = parse([REQUESTS]).events
    for cut in range(1, len(REQUESTS)):
        assert parse([REQUESTS[:cut], REQUESTS[cut:]]).events == whole, cut
    assert parse([REQUESTS[i : i + 1] for i in range(len(REQUESTS))]).events == whole
    responses = parse([RESPONSES], requests=RESPONSE_METHODS).events
    for cut in range(1, len(RESPONSES)):
        assert parse([RESPONSES[:cut], RESPONSES[cut:]], requests=RESPONSE_METHODS).events == responses, cut


TOKEN = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)


@st.composite
def http_stream(draw: st.DrawFn) -> bytes:
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PROPFIND"]))
        target = "/" + draw(TOKEN)
        headers = [(draw(TOKEN), draw(VALUE)) for _ in range(draw(st.integers(0, 5)))]
        headers = [
            (name, value) for name, value in headers if name.lower() not in ("content-length", "transfer-encoding")
        ]
        lines = [f"{name}: {value}" for name, value in headers]
        if draw(st.booleans()) and lines:
            lines[-1] += "\r\n\t" + draw(TOKEN)  # obs-fold
        body = draw(st.binary(max_size=50))
        framing = draw(st.sampled_from(["none", "length", "chunked"]))
        if framing == "length":
            lines.append(f"Content-Length: {len(body)}")
            payload = body
        elif framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
            payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        else:
            payload = b""
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
        out += head.encode("latin-1") + payload
    return out


@settings(max_examples=150, deadline=None)
@given(stream=http_stream(), cuts=st.lists(st.integers(0, 2000), max_size=20))
def test_parsing_does_not_depend_on_segmentation(stream: bytes, cuts: list[int]) -> None:
    whole = parse([stream]).events
    assert [e[0] for e in whole].count("request") >= 1
    assert all(e[0] in ("request", "end") for e in whole)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks: list[bytes | int] = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    assert parse(chunks).events == whole
    assert parse([stream[i : i + 1] for i in range(len(stream))]).events == whole
