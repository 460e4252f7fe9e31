"""HTTP/1 heads and streams through the parser's public entry points (``Http1Parser.data``/``gap``/``finish``):
no exception, every head it reports is text, and a stream never hangs. The parser itself is tested with its
module; this harness only keeps hostile streams coming."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http1 import Http1Parser, MessageHead
from inspector.sources.pcap.http_heads import parse_head, trimmed_names
from tests.fuzz.harness import Timed, fuzz

_LINES = st.sampled_from(
    [
        b"GET / HTTP/1.1",
        b"POST /EWS/Exchange.asmx HTTP/1.1",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.0 200 OK",
        b"Host: mail.contoso.com",
        b"Authorization: Basic dXNlcjpwYXNzd29yZA==",
        b"Content-Length: 5",
        b"Content-Length: -1",
        b"Transfer-Encoding: chunked",
        b"WWW-Authenticate: Bearer",
        b" folded",
        b"5",
        b"0",
        b"hello",
        b"",
        b" HTTP/1.",
        b"\x16\x03\x01\x02\x00",
    ]
)
_ENDINGS = st.sampled_from([b"\r\n", b"\n", b"\r"])


class _Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_request(self, parser: Http1Parser, head: MessageHead) -> None:
        self.events.append(head)

    def on_response(self, parser: Http1Parser, head: MessageHead) -> str | None:
        self.events.append(head)
        return None

    def on_message_end(self, parser: Http1Parser, body: bytes | None, complete: bool) -> None:
        self.events.append(("end", complete))

    def on_malformed(self, parser: Http1Parser, reason: str, frame: int) -> None:
        assert isinstance(reason, str)

    def on_gap(self, parser: Http1Parser, effect: object, seq: int, size: int, frame: int) -> None:
        self.events.append(("gap", size))

    def on_tls(self, parser: Http1Parser) -> None:
        self.events.append("tls")

    def on_tunnel(self, parser: Http1Parser) -> None:
        self.events.append("tunnel")


def _stream(lines: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(line + ending for line, ending in lines)


@fuzz(200)
@given(
    st.lists(st.tuples(_LINES, _ENDINGS), max_size=40),
    st.lists(st.integers(1, 64), min_size=1, max_size=8),
    st.booleans(),
    st.booleans(),
)
def test_hostile_streams(lines: list[tuple[bytes, bytes]], cuts: list[int], midstream: bool, gap: bool) -> None:
    data = _stream(lines)
    sink = _Sink()
    parser = Http1Parser(sink, 0, midstream=midstream, keep_bodies=True, budget=MemoryBudget(1 << 20))  # type: ignore[arg-type]
    with Timed():
        at, frame, step = 0, 0, 0
        while at < len(data) and not parser.ignore:
            size = cuts[step % len(cuts)]
            frame += 1
            step += 1
            parser.data(data[at : at + size], frame, frame, -1)
            at += size
            if gap and step == 2:
                parser.gap(at, 10, frame)
                at += 10
        parser.finish(frame + 1)
    for event in sink.events:
        if isinstance(event, MessageHead):
            assert all(isinstance(name, str) and isinstance(value, str) for name, value in event.message.headers)


@fuzz(100)
@given(st.binary(max_size=4096), st.booleans())
def test_random_bytes(data: bytes, midstream: bool) -> None:
    parser = Http1Parser(_Sink(), 1, midstream=midstream, keep_bodies=False, budget=MemoryBudget(1 << 20))  # type: ignore[arg-type]
    with Timed():
        parser.data(data, 1, 1, -1)
        parser.finish(2)


_NAME = st.text(alphabet=st.sampled_from("Aa-: \t\x00\xff"), max_size=12)


@fuzz(300)
@given(st.lists(st.tuples(_NAME, st.text(max_size=8)), max_size=8))
def test_trimmed_names_read_split_fields_as_parse_head_reads_a_head(fields: list[tuple[str, str]]) -> None:
    """Fields a source got already split (HAR, mitmproxy, .saz): names lose the whitespace before their colon, as
    parse_head takes it off, every field is kept in order, and the trimmed names are listed."""
    headers, spaced = trimmed_names(tuple(fields))
    assert len(headers) == len(fields)
    assert [value for _, value in headers] == [value for _, value in fields]
    assert all(name == original.rstrip(" \t") for (name, _), (original, _) in zip(headers, fields, strict=True))
    assert list(spaced) == [n.rstrip(" \t") for n, _ in fields if n[-1:] in (" ", "\t")]
    for name, _ in fields:
        if name and name[0] not in " \t" and ":" not in name and name.rstrip(" \t") and "\n" not in name:
            _, parsed = parse_head(f"GET / HTTP/1.1\r\n{name}: v\r\n\r\n")
            assert [n for n, _ in parsed.headers] == [name.rstrip(" \t")]
