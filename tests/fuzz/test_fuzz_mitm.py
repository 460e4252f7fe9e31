"""mitmproxy flow files: mutated lab flows and random bytes through the framing reader and mitmproxy's loader:
only ``InputError`` (exit 3) may come out, every flow read renders to strict JSON and a terminal-safe table."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import InputError, SourceItem
from inspector.sources.mitmflows import read_flows
from tests.fuzz.harness import CAPTURES, Timed, analyse, assert_outputs_hold, fuzz, mutated, seeds

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
