"""mitmproxy flow files: mutated lab flows and random bytes through the framing reader and mitmproxy's loader:
only ``InputError`` (exit 3) may come out, every flow read renders to strict JSON and a terminal-safe table. A
damaged flow read straight into its parts (``inspector.sources.mitm_state``) is one whose structure ``read_frame``
finds sound, and its exchange is the one mitmproxy's loader gives, wherever that loads it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import InputError, SourceItem
from inspector.sources.mitm_state import read_parts
from inspector.sources.mitmflows import read_flows
from inspector.sources.tnetstring import read_frame
from tests.fuzz.harness import CAPTURES, Timed, analyse, assert_outputs_hold, fuzz, mutated, seeds
from tests.sources.test_mitm_state import LIMITS, direct_exchange, mitmproxys_exchange

LAB = seeds(CAPTURES / "lab.mitm")


def _read(data: bytes) -> list[SourceItem]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.mitm"
        path.write_bytes(data)
        items: list[SourceItem] = []
        with Timed():
            try:
                items.extend(read_flows(path, keep_bodies=True))
            except InputError as exc:
                assert str(exc).startswith(f"Cannot read mitmproxy flow file {path}")
        return items


@fuzz(50)
@given(mutated(LAB, max_edits=6))
def test_mutated_lab_flows(data: bytes) -> None:
    assert_outputs_hold(analyse(_read(data)))


@fuzz(60)
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _read(data)


@fuzz(150)
@given(mutated(LAB, max_edits=3))
def test_a_damaged_flow_read_directly_is_read_as_mitmproxy_reads_it(data: bytes) -> None:
    colon = data.find(b":", 0, 13)
    prefix = data[:colon]
    if colon <= 0 or not prefix.isdigit():
        return
    frame = data[: colon + 2 + int(prefix)]  # the file's first flow, as the framing reader cuts it
    with Timed():
        parts = read_parts(frame, **LIMITS)
    if parts is None:
        return
    assert read_frame(frame, **LIMITS).problem is None
    theirs = mitmproxys_exchange(frame, keep_bodies=True)
    if theirs is not None:  # where it does not, the damage is in a connection's fields (not interpreted, by design)
        assert direct_exchange(frame, keep_bodies=True) == theirs
