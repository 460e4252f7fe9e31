"""The search for the next message after lost or skipped bytes: linear work, and the request-line tail as the
regular expression it replaced."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http1 import Http1Parser
from inspector.sources.pcap.http_resync import request_line_start
from tests.sources.pcap.test_http1 import Recorder, parse


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
    assert request_line_start(buf, 0, version) == (expected.start() if expected else -1)


def test_a_resynced_request_is_found_after_body_bytes_on_its_line() -> None:
    events = parse([b"tail of a body...OKGET /ews HTTP/1.1\r\nHost: x\r\n\r\n"], midstream=True).events
    request = next(e for e in events if e[0] == "request")
    assert request[1:3] == ("GET", "/ews")


def test_an_unfinished_line_of_versions_is_not_searched_again_for_its_end() -> None:
    # bench/growth.py's http1_resync_markers shape: " HTTP/1." repeated with no newline at all. Each segment used to
    # search the whole kept line (16 KiB) for its end again.
    stream = b" HTTP/1." * 8_000
    assert _resync_work(stream) <= 4 * len(stream)
