"""Many inputs, one timeline: what the rules that span exchanges need when a capture is split into files.

Ring buffers (``tcpdump -C/-G``, ``dumpcap -b``) and captures taken at once on several servers are one story told
in several files: a Bearer challenge at the end of one file and the Basic retry at the start of the next is one
fallback. A :class:`Timeline` reads inputs as one: the frames of all captures merged by timestamp into one table of
connections (a TCP connection continuing into the next file is reassembled whole, see
:class:`~inspector.sources.pcap.reader.CaptureTimeline`), and the exchanges of HAR, .mitm and .saz inputs merged
into the same capture-time order. The caller feeds the items to ONE analyzer, without ``new_input`` between files.

Ids stay per file (``<label>:<n>`` of the file where the request was read) and so do the notices about a file.
"""

from __future__ import annotations

import heapq
import itertools
import os
import pickle
import struct
import time
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from inspector.model import HttpExchange, InputError, SourceItem
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import read_input
from inspector.sources.naming import exchange_id, input_labels
from inspector.sources.opening import needs_spool, spooled
from inspector.sources.pcap.ordering import OrderedOutput, OrderKey
from inspector.sources.pcap.packets import Segment
from inspector.sources.pcap.reader import (
    CaptureFile,
    CaptureProgress,
    CaptureTimeline,
    FileTail,
    KeepSegment,
    merge_tails,
    tail_notices,
)
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.timeorder import in_judged_order

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimelineInput:
    """One input of a timeline (picklable): where it is, its kind (``None``: detected when read, or unknown), and
    its label (the name in ids and ``source``, :func:`inspector.sources.naming.input_labels`)."""

    path: Path
    kind: InputKind | None
    label: str


def timeline_inputs(inputs: Sequence[tuple[Path, InputKind | None]]) -> list[TimelineInput]:
    """The inputs a user named (as ``collect_inputs`` found them), labelled for one run."""
    labels = input_labels([path for path, _ in inputs])
    return [TimelineInput(path, kind, label) for (path, kind), label in zip(inputs, labels, strict=True)]


Damage = Callable[[TimelineInput, InputError, int], None]
"""Told of an input that could not be read, or not to its end, with the exchanges read from it before."""


class Timeline:
    """Inputs read as one timeline, sequentially, in this process.

    :meth:`read` takes inputs given together (their captures' frames and their exchanges are merged by time) and
    yields what they complete; it may be called again with the next files (``--follow``: a ring-buffer file as it
    closes), and state carries over: connections still open, and whatever the analyzer fed with the items holds.
    :meth:`finish` closes what is still open at the end and yields the rest. An input that cannot be read is told to
    ``on_damage`` (after what was read of it) and the others are read on.
    """

    def __init__(
        self,
        *,
        on_damage: Damage,
        keylog: KeyLog | None = None,
        progress: Callable[[CaptureProgress], None] | None = None,
        keep: KeepSegment | None = None,
        keyed: bool = False,
    ) -> None:
        self._on_damage = on_damage
        self._keylog = keylog
        self._inputs: dict[str, TimelineInput] = {}
        self._cuts: dict[str, str] = {}
        """Why the temporary copy of a compressed capture stopped early (``opening.Spool.cut``), by label."""
        self._captures = CaptureTimeline(
            progress=progress, keylog=keylog, on_damage=self._capture_damaged, keep=keep, keyed=keyed
        )

    def read(self, inputs: Sequence[TimelineInput]) -> Iterator[SourceItem]:
        """The items of ``inputs``, merged in capture-time order, as far as they are complete."""
        yield from self._merged(inputs, finish=False)

    def finish(self) -> Iterator[SourceItem]:
        """What is still open (connections, requests waiting for their answer) and the notices about each capture."""
        yield from self._captures.finish()

    def read_all(self, inputs: Sequence[TimelineInput]) -> Iterator[SourceItem]:
        """``read`` then ``finish``, the end of the captures merged in time with the other inputs' exchanges."""
        yield from self._merged(inputs, finish=True)

    def _merged(self, inputs: Sequence[TimelineInput], *, finish: bool) -> Iterator[SourceItem]:
        for item in inputs:
            self._inputs[item.label] = item
        captures = [item for item in inputs if item.kind == "pcap"]
        others = [item for item in inputs if item.kind != "pcap"]
        with ExitStack() as stack:
            streams: list[Iterator[SourceItem]] = []
            if captures:
                files = self._capture_files(stack, captures)
                stream = self._captures.read(files)
                streams.append(itertools.chain(stream, self._captures.finish()) if finish else stream)
            elif finish:
                streams.append(self._captures.finish())
            streams += [self._other(item) for item in others]
            yield from merge_by_time(streams)

    def captures_keyed(self, inputs: Sequence[TimelineInput]) -> Iterator[tuple[OrderKey, SourceItem]]:
        """A shard's part: the captures among ``inputs`` read to their end, each item with its order key; the
        notices about each file are left to :meth:`tails`."""
        for item in inputs:
            self._inputs[item.label] = item
        with ExitStack() as stack:
            files = self._capture_files(stack, [item for item in inputs if item.kind == "pcap"])
            yield from self._captures.read_keyed(files)
        yield from self._captures.finish_keyed()

    def tails(self) -> list[FileTail]:
        return self._captures.tails()

    def others(self, inputs: Sequence[TimelineInput]) -> list[list[SourceItem]]:
        """The items of the inputs that are not captures, each input's in its own list."""
        for item in inputs:
            self._inputs[item.label] = item
        return [list(self._other(item)) for item in inputs if item.kind != "pcap"]

    def _capture_files(self, stack: ExitStack, captures: Sequence[TimelineInput]) -> list[CaptureFile]:
        files = []
        for item in captures:
            if not needs_spool(item.path):
                files.append(CaptureFile(item.path, item.label))
                continue
            try:  # compressed (tcpdump -z gzip): decompressed to a temporary file first
                spool = stack.enter_context(spooled(item.path, item.label))
            except InputError as exc:
                self._on_damage(item, exc, 0)
                continue
            if spool.cut is not None:
                self._cuts[item.label] = spool.cut
            files.append(CaptureFile(spool.path, item.label, shown=str(item.path)))
        return files

    def _capture_damaged(self, file: CaptureFile, error: InputError, exchanges: int) -> None:
        # a copy stopped at the spool's bound ends mid-record: the bound is the reason, not the "damage"
        cut = self._cuts.pop(file.label, None)
        self._on_damage(self._inputs[file.label], InputError(cut) if cut is not None else error, exchanges)

    def _other(self, item: TimelineInput) -> Iterator[SourceItem]:
        read = 0
        try:
            for entry in in_judged_order(read_input(item.path, item.kind, keylog=self._keylog, label=item.label), None):
                if isinstance(entry, HttpExchange):
                    read += 1
                yield entry
        except InputError as exc:
            self._on_damage(item, exc, read)


def merge_by_time(streams: Sequence[Iterable[SourceItem]]) -> Iterator[SourceItem]:
    """The items of several inputs in one capture-time order: each input keeps its own order, exchanges of
    different inputs go by request time (equal times: the input named first), and a notice stays just after the
    exchange that preceded it in its input."""
    if len(streams) == 1:
        yield from streams[0]
        return
    for _, _, _, item in heapq.merge(*(_timed(index, stream) for index, stream in enumerate(streams))):
        yield item


def _timed(index: int, stream: Iterable[SourceItem]) -> Iterator[tuple[datetime, int, int, SourceItem]]:
    at = _EARLIEST
    for serial, item in enumerate(stream):
        if isinstance(item, HttpExchange) and item.time is not None:
            at = item.time  # an exchange whose time is unknown keeps its place after the one before it
        yield at, index, serial, item


# -- the unit of work of --jobs, --dask and whoever runs parts elsewhere ------------------------------------------


_GOLDEN = 2654435761
"""Knuth's multiplicative hash constant: neighbouring ports land in different shards."""


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``: the TCP connections whose 4-tuple hashes there (both directions alike, and
    the same in every process: no salted ``hash``). Every shard walks every frame (cheap) and reassembles, decrypts
    and parses only its own connections (the expensive part)."""

    index: int
    count: int

    def keeps(self, segment: Segment) -> bool:
        src, dst, sport, dport = segment[0], segment[1], segment[2], segment[3]
        mixed = (zlib.crc32(src) ^ zlib.crc32(dst) ^ sport ^ dport) * _GOLDEN >> 16  # symmetric, then spread
        return mixed % self.count == self.index


@dataclass(frozen=True, slots=True)
class PartDamage:
    """An input that could not be read, or not to its end (``exchanges`` read from it by this part)."""

    label: str
    message: str
    exchanges: int


@dataclass(frozen=True, slots=True)
class PartSummary:
    """What one part of a timeline read (picklable, no packets): the items of its connections with their order keys
    (exchanges with ids numbered within the part: :func:`join` numbers them again), what the end says about each
    capture, the items of the other inputs (shard 0 only), and the inputs it could not read."""

    shard: Shard | None
    captures: list[tuple[OrderKey, SourceItem]]
    tails: list[FileTail]
    others: list[list[SourceItem]]
    damages: list[PartDamage]
    spool: str | None = None
    """Where ``captures`` went instead, when the part was read with ``spool`` (a file the joining process reads
    too: one machine); :func:`join` reads it lazily and removes it."""

    def keyed(self) -> Iterator[tuple[OrderKey, SourceItem]]:
        if self.spool is None:
            return iter(self.captures)
        return spooled_items(self.spool, lambda: True)


SPOOL_BATCH = 256
"""Items pickled at once into a part's spool: memory stays bounded by a batch, not by the part. Small, because the
joining process waits for the first batch before it starts and has the last one to itself after the readers end
(2,000 items, the size before, are a seventeenth of the 35,000-exchange bench capture: some 0.2-0.3 s at each end;
a batch's own cost, one pickling call and one write, is tens of µs)."""
_FRAME = struct.Struct("<Q")


def read_part(
    inputs: Sequence[TimelineInput],
    shard: Shard | None = None,
    keylog: KeyLog | None = None,
    spool: str | None = None,
    *,
    others: bool = True,
    paced: bool = False,
) -> PartSummary:
    """Read one part of the timeline of ``inputs``: with ``shard``, only its connections of every capture (and
    the HAR/.mitm/.saz inputs when it is shard 0 and ``others``); without, everything. Runs anywhere the files can
    be read; the result goes back to the process that calls :func:`join`, which feeds ONE analyzer.

    With ``spool`` (a path) the captures' items are written there in batches as they are read, each batch framed
    by its length and the end by an empty frame, so the joining process may read them while this one still
    writes (:func:`spooled_items`); memory stays bounded by a batch in both. ``paced``: a reader is reading it
    meanwhile, so the writing waits while it is ``SPOOL_AHEAD`` behind (a spool read only afterwards is not)."""
    damages: list[PartDamage] = []

    def damaged(item: TimelineInput, exc: InputError, exchanges: int) -> None:
        damages.append(PartDamage(item.label, str(exc), exchanges))

    timeline = Timeline(on_damage=damaged, keylog=keylog, keep=shard.keeps if shard else None, keyed=True)
    captures: list[tuple[OrderKey, SourceItem]] = []
    if spool is None:
        captures = list(timeline.captures_keyed(inputs))
    else:
        _spool_all(spool, timeline.captures_keyed(inputs), paced=paced)
    read_others = others and (shard is None or shard.index == 0)
    return PartSummary(
        shard, captures, timeline.tails(), timeline.others(inputs) if read_others else [], damages, spool
    )


def read_timeline(
    inputs: Sequence[TimelineInput], keylog: KeyLog | None, spool: str, *, paced: bool = True
) -> list[PartDamage]:
    """The first stage of a pipeline (``--jobs 2``): the whole timeline of ``inputs`` read here as one
    :class:`Timeline` gives it (ids final, the other inputs merged in, the captures' notices at the end), and
    spooled to ``spool`` in batches as it is read, for :func:`spooled_timeline` in the process that judges it.
    Returns the inputs it could not read (or not to their end), in the order it met them, as one process reports
    them. ``paced=False`` only where nothing reads the spool meanwhile (it would wait for ever)."""
    damages: list[PartDamage] = []

    def damaged(item: TimelineInput, exc: InputError, exchanges: int) -> None:
        damages.append(PartDamage(item.label, str(exc), exchanges))

    _spool_all(spool, Timeline(on_damage=damaged, keylog=keylog).read_all(inputs), paced=paced)
    return damages


def _spool_all(path: str, entries: Iterator[object], *, paced: bool) -> None:
    """``entries`` pickled to ``path`` in batches of ``SPOOL_BATCH``, each framed by its length, then an empty
    frame: the end (a reader of the spool can tell it from a writer that is still writing). ``paced``: wait while
    the reader is ``SPOOL_AHEAD`` behind, and stop reading ``entries`` once it reads no more."""
    parent = os.getppid()
    written = 0
    with open(path, "wb") as handle:
        batch: list[object] = []
        for entry in entries:
            batch.append(entry)
            if len(batch) >= SPOOL_BATCH:
                written += _write_frame(handle, batch)
                batch = []
                if paced and not _reader_keeps_up(path, written, parent):
                    return  # the reader is gone (the run failed): what is left would be read for nothing
        if batch:
            _write_frame(handle, batch)
        handle.write(_FRAME.pack(0))


def _write_frame(handle: BinaryIO, batch: list[object]) -> int:
    blob = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    handle.write(_FRAME.pack(len(blob)) + blob)
    handle.flush()
    return _FRAME.size + len(blob)


SPOOL_AHEAD = 64 << 20
"""Bytes a paced spool's writer may be ahead of its reader before it waits: a reader faster than the process that
judges (a HAR read faster than it is judged) must not fill the temporary folder, often memory (tmpfs), with the
whole input."""
_MARK = struct.Struct("<q")
_RELEASED = (1 << 63) - 1
"""The reader's mark once it reads no more (the end, or the run failed)."""


def _reader_keeps_up(path: str, written: int, parent: int) -> bool:
    """Wait until the spool's reader is at most ``SPOOL_AHEAD`` behind ``written``: ``True`` then, ``False`` if it
    reads no more (its mark says so, or the process that started this one is gone)."""
    while True:
        read = _read_mark(path)
        if read == _RELEASED or os.getppid() != parent:
            return False
        if written - read <= SPOOL_AHEAD:
            return True
        time.sleep(SPOOL_POLL)


def release_spool(path: str) -> None:
    """Tell the paced writer of the spool at ``path`` that nothing more will be read (the run is over, or failed):
    it stops instead of waiting. The process that started the readers calls this for each spool whatever happened,
    also when its stream of the spool was never started (a failure before the first item)."""
    mark = os.open(path + ".read", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(mark, _MARK.pack(_RELEASED), 0)
    finally:
        os.close(mark)


def _read_mark(path: str) -> int:
    """How far the reader of the spool at ``path`` has read (0 before it starts)."""
    try:
        with open(path + ".read", "rb") as handle:
            data = handle.read(_MARK.size)
    except FileNotFoundError:
        return 0
    return int(_MARK.unpack(data)[0]) if len(data) == _MARK.size else 0


SPOOL_POLL = 0.005
"""Seconds between looks at a spool that its writer has not finished yet."""


def spooled_items(path: str, stopped: Callable[[], bool]) -> Generator[tuple[OrderKey, SourceItem]]:
    """The items of a part's spool with their order keys, read as its writer writes them (``stopped``: the writer
    has ended, so what is missing will not come: the caller then asks it why). The spool is removed once read. How
    far it has read is marked for a paced writer, which the caller releases (:func:`release_spool`) when it is done
    with the spool, early or not."""
    return cast(Generator[tuple[OrderKey, SourceItem]], _spooled(path, stopped))


def spooled_timeline(path: str, stopped: Callable[[], bool]) -> Generator[SourceItem]:
    """The items :func:`read_timeline` spools, in its order, read as they are written (as :func:`spooled_items`)."""
    return cast(Generator[SourceItem], _spooled(path, stopped))


def _spooled(path: str, stopped: Callable[[], bool]) -> Generator[object]:
    while not os.path.exists(path):
        if stopped() and not os.path.exists(path):
            return
        time.sleep(SPOOL_POLL)
    mark = os.open(path + ".read", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with open(path, "rb") as handle:
            while True:
                head = _read_exactly(handle, _FRAME.size, stopped)
                size = _FRAME.unpack(head)[0] if len(head) == _FRAME.size else 0
                if not size:
                    break
                blob = _read_exactly(handle, size, stopped)
                if len(blob) < size:
                    break
                os.pwrite(mark, _MARK.pack(handle.tell()), 0)
                yield from pickle.loads(blob)  # noqa: S301 - our own spool, written by a worker we started
        os.unlink(path)
    finally:
        os.close(mark)


def _read_exactly(handle: BinaryIO, size: int, stopped: Callable[[], bool]) -> bytes:
    chunks: list[bytes] = []
    missing = size
    while missing:
        chunk = handle.read(missing)
        if chunk:
            chunks.append(chunk)
            missing -= len(chunk)
        elif stopped():
            chunk = handle.read(missing)  # written just before the writer ended
            if not chunk:
                break
            chunks.append(chunk)
            missing -= len(chunk)
        else:
            time.sleep(SPOOL_POLL)
    return b"".join(chunks)


def join(parts: Sequence[PartSummary]) -> Iterator[SourceItem]:
    """The items of the parts of one timeline in the order one :class:`Timeline` gives them: the captures' items
    merged by order key (ids numbered per file in that order, notices listed per file and rule as far as the cap
    allows), then what the end says about each capture, all merged in time with the other inputs' exchanges."""
    return join_streams(
        [part.keyed() for part in parts],
        lambda: [part.tails for part in parts],
        [stream for part in parts for stream in part.others],
    )


def join_streams(
    keyed: Sequence[Iterable[tuple[OrderKey, SourceItem]]],
    tails: Callable[[], Sequence[Sequence[FileTail]]],
    others: Sequence[Iterable[SourceItem]],
) -> Iterator[SourceItem]:
    """:func:`join` over the parts' keyed items as they come (spools still being written), the tails asked for
    once every item is out, and the other inputs' items."""
    return merge_by_time([_joined_captures(keyed, tails), *others])


def join_damages(parts: Sequence[PartSummary]) -> list[PartDamage]:
    """Each unreadable input once (every shard reads every capture), with the exchanges all parts read of it."""
    by_label: dict[str, PartDamage] = {}
    for part in parts:
        for damage in part.damages:
            seen = by_label.get(damage.label)
            by_label[damage.label] = (
                damage if seen is None else replace(seen, exchanges=seen.exchanges + damage.exchanges)
            )
    return list(by_label.values())


def _joined_captures(
    keyed: Sequence[Iterable[tuple[OrderKey, SourceItem]]], tails: Callable[[], Sequence[Sequence[FileTail]]]
) -> Iterator[SourceItem]:
    listed = OrderedOutput("", "")  # counts notices per file and rule, and words the summaries, as one reader does
    numbers: dict[str, int] = {}
    ids: dict[tuple[int, str], str] = {}
    """A part's id of each exchange -> the final id, for the notices about it (the most recent ``RENAMED``)."""
    # Equal keys (an exchange and its notes) stay in their part's order; across parts the part named first goes
    # first (the reader breaks such ties, rare, by the order it met them).
    merged = heapq.merge(*(_numbered(shard, items) for shard, items in enumerate(keyed)))
    for _, shard, _, item in merged:
        if isinstance(item, HttpExchange):
            label = item.provenance.source or ""
            number = numbers[label] = numbers.get(label, 0) + 1
            new = exchange_id(label, number)
            if new == item.id:
                yield item
                continue
            ids[(shard, item.id)] = new
            if len(ids) > RENAMED:
                del ids[next(iter(ids))]
            yield replace(item, id=new)
        elif listed.admit(item):
            about = item.exchange_id
            yield item if about is None else replace(item, exchange_id=ids.get((shard, about), about))
    shards = tails()
    yield from tail_notices(merge_tails(shards) if shards else [], listed.summaries)


RENAMED = 1 << 18
"""Renamed exchanges remembered for the notices that name them: such a notice follows its exchange closely (its
connection's gaps and ends), never by this many exchanges."""


def _numbered(
    shard: int, items: Iterable[tuple[OrderKey, SourceItem]]
) -> Iterator[tuple[OrderKey, int, int, SourceItem]]:
    for serial, (key, item) in enumerate(items):
        yield key, shard, serial, item
