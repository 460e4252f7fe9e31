"""The one-pass tnetstring parse (``inspector.sources.tnetstring``) on damaged flow files and random bytes: it never
raises, never answers differently from mitmproxy's own reader, and declines whatever it does not read plainly."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from inspector.sources.tnetstring import read_frame
from tests.fuzz.harness import CAPTURES, Timed, fuzz, mutated, seeds
from tests.sources.test_tnetstring import LIMITS, same

LAB = seeds(CAPTURES / "lab.mitm")


def _agrees(data: bytes) -> None:
    with Timed():
        ours = read_frame(data, **LIMITS).value
    if ours is None:
        return
    theirs: Any = tnetstring.loads(data)  # where this reader answers, mitmproxy's must answer the same
    assert same(ours, theirs)


@fuzz(200)
@given(mutated(LAB, max_edits=4))
def test_damaged_flow_files(data: bytes) -> None:
    # The file's first flow as the framing reader cuts it, and the whole file (declined: more than one value).
    colon = data.find(b":", 0, 13)
    prefix = data[:colon]
    if colon > 0 and prefix.isdigit():
        _agrees(data[: colon + 2 + int(prefix)])
    _agrees(data)


@fuzz(200)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _agrees(data)
