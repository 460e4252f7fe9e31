"""HAR files: mutated lab exports, hostile JSON entries and raw bytes through the streaming reader: only
``InputError`` (exit 3) may come out, every entry read renders to strict JSON and a terminal-safe table, and no
input hangs (quadratic scanning of unterminated strings was one of issue 12's hangs)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import InputError, SourceItem
from inspector.sources.detect import detect_kind
from inspector.sources.har import read_har
from tests.fuzz.harness import CAPTURES, Timed, analyse, assert_outputs_hold, fuzz, mutated, seeds

LAB = seeds(CAPTURES / "lab.har")
_TEXT = st.text(max_size=20) | st.sampled_from(["\ud800", '\\"' * 50, "\x1b]0;x\x07", "2026-11-02T09:30:00Z"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=12,
)


def _read(data: bytes, *, keep_bodies: bool = False) -> list[SourceItem]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.har"
        path.write_bytes(data)
        items: list[SourceItem] = []
        with Timed():
            detect_kind(path)
            try:
                items.extend(read_har(path, keep_bodies=keep_bodies))
            except InputError as exc:
                assert str(exc).startswith(f"Cannot read HAR file {path}")
        return items


@fuzz(80)
@given(mutated(LAB, max_edits=6), st.booleans())
def test_mutated_lab_export(data: bytes, keep_bodies: bool) -> None:
    assert_outputs_hold(analyse(_read(data, keep_bodies=keep_bodies)))


@st.composite
def _entries(draw: st.DrawFn) -> list[object]:
    out: list[object] = []
    for _ in range(draw(st.integers(0, 3))):
        entry = {
            "startedDateTime": draw(_TEXT),
            "request": {
                "method": draw(st.sampled_from(["GET", "POST", ""]) | _TEXT),
                "url": draw(
                    st.sampled_from(
                        ["https://h/x?access_token=SECRETTOKEN", "http://u:SECRETPW@h/", "/cb?code=SECRETCODE"]
                    )
                    | _TEXT
                ),
                "headers": draw(st.lists(st.fixed_dictionaries({"name": _TEXT, "value": _TEXT}), max_size=3) | _JSON),
            },
            "response": draw(_JSON),
            "_clientIPAddress": draw(_TEXT),
            "serverIPAddress": draw(_TEXT),
        }
        out.append(entry if draw(st.booleans()) else draw(_JSON))
    return out


@fuzz(120)
@given(_entries())
def test_hostile_entries(entries: list[object]) -> None:
    data = json.dumps({"log": {"entries": entries}}).encode("utf-8", "surrogatepass")
    assert_outputs_hold(analyse(_read(data)), secrets=["SECRETTOKEN", "SECRETPW", "SECRETCODE"])


@fuzz(80)
@given(
    st.binary(max_size=600)
    | st.text(max_size=300).map(lambda t: ('{"log": {"entries": [' + t).encode("utf-8", "surrogatepass"))
)
def test_random_text(data: bytes) -> None:
    _read(data)
