"""One header grammar for every line-end style; heads with bodies in the same segment; resync in linear work."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.model import InputError
from inspector.sources.pcap import http1, read_capture
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http1 import Http1Parser, _crlf_fields, _request_line_start, parse_head
from tests.corpus import corpus_dir
from tests.sources.pcap.capture_builder import capture
from tests.sources.pcap.test_http1 import Recorder, parse
from tests.sources.pcap.test_reader import OK, conversation, read

SPACED = "GET /ews HTTP/1.1{eol}Host: mail.contoso.com{eol}Authorization : Bearer abc{eol}{eol}"


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_whitespace_before_a_colon_is_read_alike_with_either_line_end(eol: str) -> None:
    events = parse([SPACED.format(eol=eol).encode()]).events
    request = events[0]
    assert request[0] == "request"
    assert request[4] == (("Host", "mail.contoso.com"), ("Authorization", "Bearer abc"))


def test_the_fast_path_declines_what_it_would_read_differently() -> None:
    assert _crlf_fields(SPACED.format(eol="\r\n")) is None
    start, fields = parse_head(SPACED.format(eol="\r\n"))
    assert start == "GET /ews HTTP/1.1"
    assert fields.spaced_names == ("Authorization",)
    # A CR before the CR LF is part of the value under both.
    text = "GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n"
    plain = _crlf_fields(text)
    assert plain is not None
    assert plain[1] == parse_head(text)[1].headers == (("X-A", "a\r"),)


_HEADS: list[str] = []


def _corpus_heads() -> list[str]:
    """Every head text the capture reader parsed in the shared corpus and the lab capture."""
    if _HEADS:
        return _HEADS
    original = http1._crlf_fields
    seen: list[str] = []

    def recording(text: str) -> object:
        seen.append(text)
        return original(text)

    http1._crlf_fields = recording  # type: ignore[assignment]
    try:
        corpus = corpus_dir()
        paths = sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng")) if corpus else []
        for path in [*paths, Path(__file__).parents[3] / "captures/lab/lab.pcapng"]:
            with contextlib.suppress(InputError):  # damaged files: their heads up to the damage still count
                for _ in read_capture(path):
                    pass
    finally:
        http1._crlf_fields = original  # type: ignore[assignment]
    _HEADS.extend(seen)
    return _HEADS


def test_both_parsers_agree_on_every_corpus_head() -> None:
    heads = _corpus_heads()
    assert len(heads) > 300
    plain = 0
    for text in heads:
        fast = _crlf_fields(text)
        if fast is None:
            continue
        plain += 1
        start, full = parse_head(text)
        assert (fast[0], fast[1]) == (start, full.headers), text
        assert full.bad_lines == 0
        assert full.spaced_names == ()
    assert plain > 300


def test_a_bare_lf_head_with_its_body_in_the_same_segment_is_found() -> None:
    data = b"POST /ews HTTP/1.1\nHost: x\nAuthorization: Basic dTpw\nContent-Length: 4\n\nbody"
    events = parse([data]).events
    assert events[0][:3] == ("request", "POST", "/ews")
    assert ("Authorization", "Basic dTpw") in events[0][4]  # type: ignore[operator]
    assert events[1] == ("end", b"body", True)


class CountingBuffer(bytearray):
    """A parser buffer that counts the bytes its searches examine: the parser's work, without a clock."""

    examined = 0

    def find(self, sub: object, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        lo = start or 0
        hi = len(self) if end is None else end
        found = super().find(sub, lo, hi)  # type: ignore[call-overload]
        CountingBuffer.examined += (found if found >= 0 else hi) - lo
        return found  # type: ignore[no-any-return]

    def rfind(self, sub: object, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        lo = start or 0
        hi = len(self) if end is None else end
        found = super().rfind(sub, lo, hi)  # type: ignore[call-overload]
        CountingBuffer.examined += hi - (found if found >= 0 else lo)
        return found  # type: ignore[no-any-return]


def _resync_work(line: bytes) -> int:
    recorder = Recorder()
    parser = Http1Parser(recorder, 0, midstream=True, keep_bodies=False, budget=MemoryBudget(1 << 30))
    parser._buf = CountingBuffer()
    CountingBuffer.examined = 0
    for start in range(0, len(line), 1460):
        parser.data(line[start : start + 1460], 1, 0, -1)
    return CountingBuffer.examined


@pytest.mark.parametrize(
    "unit",
    [b"x HTTP/1.1 ", b"HTTP/1.1 200 ", b"a HTTP/1.0"],
    ids=["request-like", "status-like", "dense"],
)
def test_resync_work_grows_linearly_with_a_line_full_of_versions(unit: bytes) -> None:
    # A stream whose start was not captured, one line of ~14 KiB made of " HTTP/1." hits and ended by a stray
    # CR: each hit used to re-scan the line (84 KB took 5 s). The bytes the searches examine are counted.
    line = unit * (14_000 // len(unit)) + b"\rX\n"
    work = _resync_work(line)
    assert work <= 8 * len(line), work


_REFERENCE_TAIL = re.compile(rb"([A-Z][A-Z0-9_-]{0,31}) (\S+) (HTTP/1\.[01])\r?\n\Z")


_PIECES = ["G", "ET", "A", "x", "-", "_", "1", " ", "\t", "/", "P-OST", "HTTP/1.1"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_the_request_line_tail_matches_the_regular_expression_it_replaced(parts: list[str]) -> None:
    buf = bytearray(("".join(parts) + " HTTP/1.1\r\n").encode())
    version = len(buf) - len(b"HTTP/1.1\r\n")
    expected = _REFERENCE_TAIL.search(buf, 0, len(buf))
    assert _request_line_start(buf, 0, version) == (expected.start() if expected else -1)


def test_a_resynced_request_is_found_after_body_bytes_on_its_line() -> None:
    events = parse([b"tail of a body...OKGET /ews HTTP/1.1\r\nHost: x\r\n\r\n"], midstream=True).events
    request = next(e for e in events if e[0] == "request")
    assert request[1:3] == ("GET", "/ews")


def test_whitespace_before_a_colon_is_reported_and_the_field_still_judged(tmp_path: Path) -> None:
    spaced = SPACED.format(eol="\r\n").encode()
    exchanges, notices, _ = read(capture(conversation(spaced, OK)), tmp_path)
    (exchange,) = exchanges
    assert exchange.request.header("authorization") == "Bearer abc"
    (notice,) = notices
    assert notice.rule == "http-malformed"
    assert notice.exchange_id == exchange.id
    assert notice.evidence["spaced_header_names"] == ["Authorization"]
    assert "request-smuggling" in notice.message
    # The same request without the space: nothing to report.
    _, clean, _ = read(capture(conversation(spaced.replace(b" :", b":"), OK)), tmp_path, "clean.pcap")
    assert clean == []
