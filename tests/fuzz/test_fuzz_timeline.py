"""Many captures, one timeline: the lab capture cut into files at random frames reads as the whole does (ids and
sources aside), whether the parts are read together, one after another, or as shards joined; cut and then damaged,
only the damage callback hears of it (no exception, no hang) and the outputs hold."""

from __future__ import annotations

import itertools
import struct
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import HttpExchange, InputError, Notice, SourceItem
from inspector.sources.pcap.files import iter_records
from inspector.timeline import Shard, Timeline, TimelineInput, join, read_part
from tests.fuzz.harness import CAPTURES, Timed, analyse, assert_outputs_hold, fuzz

_LAB = (CAPTURES / "lab.pcapng").read_bytes()
RECORDS = [(ts, _LAB[start:end]) for linktype, ts, start, end in iter_records(_LAB) if linktype == 1]


def _pcap(records: list[tuple[int, bytes]]) -> bytes:
    """A classic pcap (Ethernet, microseconds) of ``records``."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for ts, frame in records:
        out.append(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)
    return b"".join(out)


def _write(folder: Path, cuts: list[int]) -> list[TimelineInput]:
    bounds = [0, *sorted(cuts), len(RECORDS)]
    inputs = []
    for n, (start, end) in enumerate(itertools.pairwise(bounds)):
        path = folder / f"part{n:03}.pcap"
        path.write_bytes(_pcap(RECORDS[start:end]))
        inputs.append(TimelineInput(path, "pcap", path.name))
    return inputs


def _anonymous(items: list[SourceItem]) -> list[SourceItem]:
    """Items without the names of the files: each exchange is named by its place."""
    places: dict[str, str] = {}
    out: list[SourceItem] = []
    for item in items:
        if isinstance(item, HttpExchange):
            places[item.id] = f"#{len(places)}"
            out.append(replace(item, id=places[item.id], provenance=replace(item.provenance, source="")))
        else:
            about = places.get(item.exchange_id or "", item.exchange_id)
            out.append(replace(item, source="", exchange_id=about))
    return out


def _collect(damage: list[str]) -> Callable[[TimelineInput, InputError, int], None]:
    def damaged(_item: TimelineInput, exc: InputError, _read: int) -> None:
        damage.append(str(exc))

    return damaged


def _read(inputs: list[TimelineInput], damage: list[str]) -> list[SourceItem]:
    return list(Timeline(on_damage=_collect(damage)).read_all(inputs))


@fuzz(40)
@given(st.lists(st.integers(1, len(RECORDS) - 1), max_size=12, unique=True))
def test_cut_anywhere_reads_as_the_whole(cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        whole = _write(Path(folder), [])
        parts_folder = Path(folder) / "parts"
        parts_folder.mkdir()
        parts = _write(parts_folder, cuts)
        damage: list[str] = []
        with Timed():
            expected = _anonymous(_read(whole, damage))
            assert _anonymous(_read(parts, damage)) == expected
            follow = Timeline(on_damage=_collect(damage))
            appended = [item for part in parts for item in follow.read([part])] + list(follow.finish())
            assert _anonymous(appended) == expected
            joined = list(join([read_part(parts, Shard(i, 2)) for i in range(2)]))
            assert joined == _read(parts, damage)
        assert damage == []
        assert sum(isinstance(item, HttpExchange) for item in expected) > 20


@fuzz(40)
@given(
    st.lists(st.integers(1, len(RECORDS) - 1), min_size=1, max_size=6, unique=True),
    st.integers(0, 5),
    st.integers(0, 1 << 20),
    st.binary(min_size=1, max_size=16),
)
def test_cut_and_damaged_parts_never_break_the_run(cuts: list[int], which: int, at: int, junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        parts = _write(Path(folder), cuts)
        target = parts[which % len(parts)].path
        data = bytearray(target.read_bytes())
        offset = at % len(data)
        data[offset : offset + len(junk)] = junk
        target.write_bytes(bytes(data[: max(offset + len(junk), 1)] if at % 3 == 0 else data))
        damage: list[str] = []
        with Timed():
            items = _read(parts, damage)
        assert all(text.startswith("Cannot read capture") for text in damage)
        assert all(isinstance(item, HttpExchange | Notice) for item in items)
        assert_outputs_hold(analyse(items))


def test_a_part_that_is_not_a_capture_is_one_damage_among_the_files() -> None:
    with tempfile.TemporaryDirectory() as folder:
        parts = _write(Path(folder), [100])
        parts[0].path.write_bytes(b"not a capture at all")
        damage: list[tuple[str, str]] = []

        def damaged(item: TimelineInput, exc: InputError, _n: int) -> None:
            damage.append((item.label, str(exc)))

        items = list(Timeline(on_damage=damaged).read_all(parts))
        assert [label for label, _ in damage] == ["part000.pcap"]
        assert any(isinstance(item, HttpExchange) for item in items)
