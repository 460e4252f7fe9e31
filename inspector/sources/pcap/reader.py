"""Read the HTTP/1.x exchanges in a pcap or pcapng capture, with the notices the capture deserves.

The file is memory-mapped and its records sliced in place; frames go through link, IP and tunnel decoding to
TCP, each direction of a connection is reassembled and parsed as HTTP by content (any port), and requests are
paired with responses. Memory stays flat in the size of the file: pages already read are dropped from the
mapping, and every per-connection buffer and table is bounded.

Damage (a truncated or corrupt record) raises ``InputError`` only after everything before it was output,
including what the reassembler held when the damage was reached.
"""

from __future__ import annotations

import heapq
import itertools
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from inspector.frozen import pickled_by_constructor
from inspector.model import InputError, Notice, SourceItem
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.connections import CaptureStats, ConnectionTable, Key
from inspector.sources.pcap.files import (
    TLS_SECRETS,
    UNKNOWN_LINKTYPE,
    CaptureFormatError,
    Record,
    capture_format,
    iter_records,
)
from inspector.sources.pcap.ip import Defragmenter
from inspector.sources.pcap.ordering import OrderedOutput, OrderKey
from inspector.sources.pcap.packets import PacketDecoder, Segment
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.pcap.tls.tracker import TlsCounts, TlsTracker

PROGRESS_EVERY = 1 << 16
"""Packets between progress reports and housekeeping (idle connections, dropped pages)."""
REAP_EVERY = 1 << 12
"""Packets between closing connections that were reset and went quiet, and releasing pages already read."""
DROP_PAGES_EVERY: Final = 4 << 20
"""Bytes of the mapping read before their pages are released (at most this plus 4096 frames stay mapped)."""
MAX_FRAME_READ = 1 << 20
"""Frames are read up to this length, as if captured with this snap length: segmentation offload shows segments
of up to 64 KiB (BIG TCP some hundreds), while a record may claim 256 MiB. The TCP bytes beyond it are missing to
reassembly, so the exchanges they would carry are reported as a capture gap; the rest of the record is never
touched, so it costs no memory."""
MEMORY_BUDGET: Final = 256 << 20
"""Bytes that out-of-order segments and oversized header blocks of all connections may hold together."""


@dataclass(frozen=True, slots=True)
class CaptureProgress:
    bytes_read: int
    total_bytes: int
    packets: int
    exchanges: int


def looks_like_capture(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts a pcap or pcapng capture."""
    return capture_format(head) is not None


def read_capture(
    path: Path,
    *,
    progress: Callable[[CaptureProgress], None] | None = None,
    keep_bodies: bool = False,
    keylog: KeyLog | None = None,
    on_tls: Callable[[TlsFacts], None] | None = None,
    label: str | None = None,
) -> Iterator[SourceItem]:
    """Exchanges (in the order their requests were complete) and notices read from the capture at ``path``.

    Bodies are ``None`` unless ``keep_bodies``; kept bodies are cut at 1 MiB. TLS connections are decrypted
    with ``keylog`` and the capture's own Decryption Secrets Blocks; ``on_tls`` hears of every TLS connection
    (decrypted or not) as it closes. Raises ``InputError`` when the
    file cannot be read, or after everything readable was yielded when it is damaged part way.
    """
    return read_captures(
        [CaptureFile(path, label or path.name)],
        progress=progress,
        keep_bodies=keep_bodies,
        keylog=keylog,
        on_tls=on_tls,
    )


@dataclass(frozen=True, slots=True)
class CaptureFile:
    """A capture of a timeline: the regular file to read, and its name in ids and ``source``."""

    path: Path
    label: str
    shown: str | None = None
    """The name in messages, where ``path`` is a temporary copy (a decompressed ring-buffer file)."""


Damaged = Callable[[CaptureFile, InputError, int], None]
"""Told of a file that could not be read, or not to its end, with the number of exchanges read from it."""
KeepSegment = Callable[[Segment], bool]


def read_captures(
    files: Sequence[CaptureFile],
    *,
    progress: Callable[[CaptureProgress], None] | None = None,
    keep_bodies: bool = False,
    keylog: KeyLog | None = None,
    on_tls: Callable[[TlsFacts], None] | None = None,
    on_damage: Damaged | None = None,
    keep: KeepSegment | None = None,
) -> Iterator[SourceItem]:
    """Several captures read as ONE timeline (see :class:`CaptureTimeline`), all given at once. Without
    ``on_damage``, the first file that cannot be read raises ``InputError`` after every item was yielded."""
    errors: list[InputError] = []

    def collect(_file: CaptureFile, error: InputError, _exchanges: int) -> None:
        errors.append(error)

    timeline = CaptureTimeline(
        progress=progress,
        keep_bodies=keep_bodies,
        keylog=keylog,
        on_tls=on_tls,
        on_damage=on_damage or collect,
        keep=keep,
    )
    yield from timeline.read(files)
    yield from timeline.finish()
    if errors:
        raise errors[0]


class CaptureTimeline:
    """Captures read as ONE timeline: the frames of files given together merged by timestamp (each file keeping
    its own order), files given later read after them, all into one table of connections. A connection that
    continues from one file into the next (ring buffers) or crosses captures made at once on several hosts is
    reassembled whole; connections close when idle or at :meth:`finish`.

    Frames are numbered through the timeline, as ``mergecap`` numbers the merged file (one file: its own numbers).
    An exchange's id and ``source`` name the file where its request was read; notices about a file (gaps summary,
    unread link types, encrypted connections) are per file. ``on_damage`` hears of a file that cannot be read (or
    is damaged part way: after what was read of it) and the others are still read. ``keep`` (a shard of the
    connections) drops the TCP segments it refuses before reassembly. ``keyed`` (a shard): every item comes with its
    order key and notices are not capped per rule, so :func:`inspector.timeline.join` can merge shards into what
    one reader gives.
    """

    def __init__(
        self,
        *,
        progress: Callable[[CaptureProgress], None] | None = None,
        keep_bodies: bool = False,
        keylog: KeyLog | None = None,
        on_tls: Callable[[TlsFacts], None] | None = None,
        on_damage: Damaged,
        keep: KeepSegment | None = None,
        keyed: bool = False,
    ) -> None:
        self._progress = progress
        self._keyed = keyed
        self._keep_bodies = keep_bodies
        self._keylog = keylog
        self._on_tls = on_tls
        self._on_damage = on_damage
        self._keep = keep
        self._files: list[_Open] = []
        self._table: ConnectionTable | None = None
        self._tables: list[ConnectionTable] = []
        """The timeline's table first, then the tables of files read apart (:class:`_Views`)."""
        self._out: OrderedOutput | None = None
        self._defragmenter: Defragmenter | None = None
        self._frame = 0
        self._housekeeping = REAP_EVERY
        self._bytes_done = 0
        self._bytes_total = 0
        self._last_ts = 0

    def read(self, files: Sequence[CaptureFile]) -> Iterator[SourceItem]:
        """The items the frames of ``files`` complete (exchanges still open wait for later files or ``finish``)."""
        for _, item in self.read_keyed(files):
            yield item

    def finish(self) -> Iterator[SourceItem]:
        """Close every connection still open and output what remains, then the notices about each file."""
        for _, item in self.finish_keyed():
            yield item
        if self._out is not None:
            yield from tail_notices(self.tails(), self._out.summaries)
        if self._progress is not None and self._out is not None:
            self._progress(CaptureProgress(self._bytes_done, self._bytes_total, self._frame, self._out.exchanges))

    def read_keyed(self, files: Sequence[CaptureFile]) -> Iterator[tuple[OrderKey, SourceItem]]:
        """``read``, each item with its order key (with ``keyed``; else ``(0, 0)``)."""
        opened: list[_Open] = []
        merge = _LazyMerge(files, opened, self._on_damage)
        try:
            if merge.start():
                self._bytes_total += merge.total_size
                yield from self._walk(opened, merge)
        finally:
            merge.close()
        for part in opened:
            self._damaged(part)

    def finish_keyed(self) -> Iterator[tuple[OrderKey, SourceItem]]:
        """Close every connection still open and output what remains, each item with its order key; the notices
        about each file are left to :meth:`tails`."""
        out = self._out
        if out is None:
            return
        for each in self._tables:
            each.close_all(self._frame)
        out.release(everything=True)
        yield from self._take(out)

    def tails(self) -> list[FileTail]:
        """What the end says about each capture read (after ``finish``)."""
        return [
            FileTail(
                part.file.label,
                part.tls.counts() if part.tls is not None else None,
                part.stats.unpaired_responses,
                part.decoder.undecodable,
                dict(part.decoder.unknown_links),
                self._frame,
            )
            for part in self._files
        ]

    def _take(self, out: OrderedOutput) -> Iterator[tuple[OrderKey, SourceItem]]:
        items, out.items = out.items, []
        if out.keys is None:
            return zip(_NO_KEYS, items, strict=False)
        keys, out.keys = out.keys, []
        return zip(keys, items, strict=True)

    def _damaged(self, part: _Open) -> None:
        damage = part.damage
        if damage is None:
            return
        error = InputError(
            f"Cannot read capture {part.shown}: {damage.reason} at offset {damage.offset} (after frame "
            f"{part.last_frame}); the {part.frames} frames before it were analysed; the file is damaged or was "
            "cut short, copy it again"
        )
        assert self._out is not None
        self._on_damage(part.file, error, self._out.exchanges_of(part.file.label))

    def _start(self, first: _Open) -> tuple[ConnectionTable, OrderedOutput]:
        label = first.file.label
        out = self._out = OrderedOutput(label, label)
        if self._keyed:
            out.keys, out.cap = [], 1 << 62
        table = self._table = ConnectionTable(
            out,
            label,
            keep_bodies=self._keep_bodies,
            budget=MemoryBudget(MEMORY_BUDGET),
            keylog=self._keylog,
            on_tls=self._on_tls,
        )
        first.tls, table.stats = table.tls, first.stats
        self._tables.append(table)
        self._defragmenter = first.decoder.defragmenter
        return table, out

    def _walk(self, files: list[_Open], merge: _LazyMerge) -> Iterator[tuple[OrderKey, SourceItem]]:
        """Feed the records of ``files`` (opened by ``merge`` as the timeline reaches them) to the table."""
        table, out = (
            (self._table, self._out) if self._table is not None and self._out is not None else self._start(files[0])
        )
        single = merge.single
        merge.defragmenter = self._defragmenter
        records: Iterator[Walked] = (
            zip(_ZEROS, _ZEROS, files[0].records, strict=False)  # C-level: one file, no merge
            if single
            else merge.records()
        )
        views = None if single else _Views(table, self._private)
        current = files[0]
        self._switch(current)
        at = 0  # the file being read
        entered = self._frame  # the frame before its first, this time
        mapped = current.mapped
        # Methods called on their objects, not bound-method locals: a compiled build calls them natively (a bound
        # method is a Python call that boxes every argument).
        decoder = current.decoder
        keep = self._keep
        progress = self._progress
        frame = self._frame
        housekeeping = self._housekeeping
        ts = self._last_ts
        frame_limit = MAX_FRAME_READ  # a local: read once, not looked up per frame
        try:
            for _, index, (linktype, ts, start, end) in records:
                if index != at:
                    current.frames += frame - entered
                    current.last_frame, entered, at = frame, frame, index
                    current = files[index]
                    mapped, decoder = current.mapped, current.decoder
                    self._switch(current)
                frame += 1
                out.now = frame
                segment = decoder.decode(
                    linktype, mapped, start, end if end - start <= frame_limit else start + frame_limit
                )
                if segment is not None:
                    if keep is None or keep(segment):
                        if views is None:
                            table.segment(segment, frame, ts)
                        else:
                            views.table_for(current, segment).segment(segment, frame, ts)
                        if out.dirty:
                            out.release()
                            if out.items:
                                yield from self._take(out)
                elif linktype == TLS_SECRETS:
                    frame -= 1  # not a frame: Wireshark does not number it
                    table.tls.add_secrets(bytes(mapped[start:end]))
                if frame >= housekeeping:
                    housekeeping += REAP_EVERY
                    current.read_to = end
                    for each in self._tables:
                        each.reap(ts, frame)
                    if end - current.dropped_to > DROP_PAGES_EVERY:
                        current.dropped_to = _drop_pages(mapped, current.dropped_to, start)
                    if not frame % PROGRESS_EVERY:
                        for each in self._tables:
                            each.sweep(ts, frame)
                        if progress is not None:
                            done = self._bytes_done + sum(p.read_to for p in files)
                            progress(CaptureProgress(done, self._bytes_total, frame, out.exchanges))
        except CaptureFormatError as exc:  # one file read alone: its damage ends the walk (merged: see _LazyMerge)
            current.damage = exc
        current.frames += frame - entered
        current.last_frame = frame
        self._frame, self._housekeeping, self._last_ts = frame, housekeeping, ts
        self._bytes_done += sum(part.size for part in files)
        self._files.extend(files)

    def _private(self, part: _Open) -> ConnectionTable:
        """A table for the connections of ``part`` that another file, read at the same time, also holds."""
        assert self._out is not None
        if part.tls is None:
            self._switch(part)
        label = part.file.label
        table = ConnectionTable(
            self._out, label, keep_bodies=self._keep_bodies, budget=self._tables[0].budget, on_tls=self._on_tls
        )
        assert part.tls is not None
        table.stats, table.tls = part.stats, part.tls
        self._tables.append(table)
        return table

    def _switch(self, part: _Open) -> None:
        """The timeline moved to another file: what begins now is counted and named after it."""
        table, out = self._table, self._out
        assert table is not None
        assert out is not None
        label = part.file.label
        out.switch(label, label)
        table.source = label
        table.stats = part.stats
        if part.tls is None:
            # The key log so far (the user's, and secrets blocks of files already read) opens this file's sessions.
            part.tls = TlsTracker(out, label, table.tls.keylog, self._on_tls)
        table.tls = part.tls


class _Views:
    """Which table a segment of a file read at the same time as others goes to.

    A connection continues from one file into another only across a file edge: when the file that fed it last
    has ended (ring buffers, and the files of each host when several hosts' ring buffers are read together). The
    same addresses and ports in two files that are both still being read are two views of one connection (captured
    at both ends) or captures that are not of one network (two runs of a lab): merged, their bytes would collide,
    so the later file's copy is read apart, in a table of its own, as if that file were read alone.
    """

    def __init__(self, main: ConnectionTable, private: Callable[[_Open], ConnectionTable]) -> None:
        self._main = main
        self._make_private = private
        self._owner: dict[Key, _Open] = {}
        self._limit = MAX_OWNERS

    def table_for(self, part: _Open, segment: Segment) -> ConnectionTable:
        src, dst, sport, dport = segment[0], segment[1], segment[2], segment[3]
        key = (src, dst, sport, dport) if (src, sport) <= (dst, dport) else (dst, src, dport, sport)
        if part.private is not None and key in part.private_keys:
            return part.private
        owner = self._owner.get(key)
        if owner is None or owner is part or owner.damage is not None or owner.ended:
            self._owner[key] = part
            if len(self._owner) > self._limit:
                self._owner = {k: v for k, v in self._owner.items() if not v.ended}
                self._limit = max(MAX_OWNERS, 2 * len(self._owner))
            return self._main
        part.private_keys.add(key)
        if part.private is None:
            part.private = self._make_private(part)
        return part.private


MAX_OWNERS: Final = 1 << 18
"""Connections remembered with the file that fed them; beyond this, those of files already read are forgotten."""


@dataclass(slots=True)
class _Open:
    file: CaptureFile
    mapped: mmap.mmap
    size: int
    records: Iterator[Record]
    decoder: PacketDecoder
    stats: CaptureStats = field(default_factory=CaptureStats)
    tls: TlsTracker | None = None
    read_to: int = 0
    dropped_to: int = 0
    last_frame: int = 0
    """The timeline's number of its last frame read."""
    frames: int = 0
    """Its frames read."""
    damage: CaptureFormatError | None = None
    ended: bool = False
    private: ConnectionTable | None = None
    """Its connections that another file read at the same time also holds (see :class:`_Views`)."""
    private_keys: set[Key] = field(default_factory=set)

    @property
    def shown(self) -> str:
        return self.file.shown or str(self.file.path)


class _LazyMerge:
    """The records of several captures in timestamp order, each file opened only when the timeline reaches its
    first frame and closed when read: a folder of thousands of ring-buffer files keeps only the files that overlap
    in time open (plus the next one), never thousands of descriptors and mappings. Files are taken in the order
    given, sorted by their first frame; each keeps its own order, and equal times
    go to the file that began first."""

    def __init__(self, files: Sequence[CaptureFile], opened: list[_Open], on_damage: Damaged) -> None:
        if len(files) > 1:
            # By first frame, so that a file is opened before the merge passes its first frame (stable: equal
            # starts keep the order given; a file whose first frame cannot be read goes last and says why then).
            files = sorted(files, key=lambda file: _first_frame(file.path))
        self._files = iter(files)
        self._opened = opened
        self._on_damage = on_damage
        self.single = len(files) == 1
        self._stacks: list[ExitStack | None] = []
        self._next: tuple[int, int, Record] | None = None
        self.total_size = sum(_size(file.path) for file in files)
        self._defragmenter: Defragmenter | None = None

    @property
    def defragmenter(self) -> Defragmenter | None:
        return self._defragmenter

    @defragmenter.setter
    def defragmenter(self, shared: Defragmenter | None) -> None:
        """The timeline's: IP fragments may straddle a file edge too. Files opened from now on use it."""
        self._defragmenter = shared
        if shared is not None:
            for part in self._opened:
                part.decoder.defragmenter = shared

    def start(self) -> bool:
        """Open the first readable file (a single file: without reading it); whether there is one."""
        if self.single:
            return self._open_next() is not None
        self._next = self._peek()
        return bool(self._opened)

    def records(self) -> Iterator[Walked]:
        heap: list[Walked] = []
        while True:
            upcoming = self._next
            if upcoming is not None and (not heap or upcoming[0] < heap[0][0]):
                heapq.heappush(heap, upcoming)
                self._next = self._peek()
                continue
            if not heap:
                return
            walked = heap[0]
            index = walked[1]
            yield walked
            record = self._advance(index)
            if record is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (record[1], index, record))

    def _peek(self) -> tuple[int, int, Record] | None:
        """The first record of the next file that has one (its file opened)."""
        while True:
            index = self._open_next()
            if index is None:
                return None
            record = self._advance(index)
            if record is not None:
                return record[1], index, record

    def _open_next(self) -> int | None:
        for file in self._files:
            stack = ExitStack()
            try:
                part = _open(stack, file)
            except InputError as exc:
                stack.close()
                self._on_damage(file, exc, 0)
                continue
            if self._defragmenter is not None:
                part.decoder.defragmenter = self._defragmenter
            self._opened.append(part)
            self._stacks.append(stack)
            return len(self._opened) - 1
        return None

    def _advance(self, index: int) -> Record | None:
        part = self._opened[index]
        try:
            return next(part.records)
        except StopIteration:
            pass
        except CaptureFormatError as exc:
            part.damage = exc
        part.ended = True
        self._close(index)
        return None

    def _close(self, index: int) -> None:
        stack = self._stacks[index]
        if stack is not None:
            self._stacks[index] = None
            self._opened[index].records = iter(())
            stack.close()

    def close(self) -> None:
        for index in range(len(self._stacks)):
            self._close(index)


def _first_frame(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
        for linktype, ts, _start, _end in iter_records(head):
            if linktype >= 0:
                return ts
    except (OSError, CaptureFormatError):
        pass
    return 1 << 62


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _open(stack: ExitStack, file: CaptureFile) -> _Open:
    path, shown = file.path, file.shown or str(file.path)
    try:
        handle = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise InputError(
            f"Cannot read capture {shown}: {exc.strerror or exc}; check the path and its permissions"
        ) from exc
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        raise InputError(f"Cannot read capture {shown}: the file is empty")
    try:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read capture {shown}: it cannot be mapped into memory ({exc})") from exc
    stack.callback(mapped.close)
    try:
        records = iter_records(mapped)
    except CaptureFormatError as exc:
        raise InputError(f"Cannot read capture {shown}: {exc.reason}; only pcap and pcapng captures are read") from None
    _advise(mapped, mmap.MADV_SEQUENTIAL if hasattr(mmap, "MADV_SEQUENTIAL") else None, 0, 0)
    return _Open(file, mapped, size, records, PacketDecoder())


Walked = tuple[int, int, Record]
"""``(ts_us, file index, record)``: a record of one file of the timeline (``ts_us`` only orders the merge)."""
_ZEROS: Final = itertools.repeat(0)


_NO_KEYS: Final = itertools.repeat((0, 0))


@dataclass(frozen=True, slots=True)
class FileTail:
    """What the end of a timeline says about one of its captures (picklable; the tails of shards add up)."""

    label: str
    tls: TlsCounts | None
    unpaired: int
    undecodable: int
    unknown_links: dict[int, int]
    frames: int
    """Frames of the whole timeline."""


def merge_tails(shards: Sequence[Sequence[FileTail]]) -> list[FileTail]:
    """One tail per file from the tails of shards that each read every frame but kept their own connections:
    connection counts add up; frame counts are the same in every shard."""
    out: list[FileTail] = []
    for same in zip(*shards, strict=True):
        first = same[0]
        tls = [tail.tls for tail in same if tail.tls is not None]
        merged = TlsCounts.merged(tls) if tls else None
        out.append(
            FileTail(
                first.label, merged, sum(t.unpaired for t in same), first.undecodable, first.unknown_links, first.frames
            )
        )
    return out


def tail_notices(tails: Sequence[FileTail], summaries: Callable[[str], list[Notice]]) -> Iterator[Notice]:
    """The notices about each capture that only its end can give, file by file."""
    for tail in tails:
        source = tail.label
        if tail.tls is not None:
            encrypted = tail.tls.encrypted_notice(source)
            if encrypted is not None:
                yield encrypted
        yield from summaries(source)
        if tail.unpaired:
            yield _unpaired_notice(source, tail.unpaired)
        if tail.undecodable:
            yield _unread_links_notice(source, tail.undecodable, tail.unknown_links, tail.frames)


def _unpaired_notice(source: str, count: int) -> Notice:
    return Notice(
        rule="capture-gap",
        message=(
            f"{count} HTTP response{'s' if count != 1 else ''} in this capture came without the request they answer "
            "(it was not captured, or travelled on another interface with other addresses); "
            "they are not reported as exchanges"
        ),
        source=source,
        evidence={"unpaired_responses": count},
    )


def _unread_links_notice(source: str, count: int, links: dict[int, int], frames: int) -> Notice:
    named = ", ".join(
        f"{'an interface the file does not describe' if link == UNKNOWN_LINKTYPE else f'link type {link}'} "
        f"({n} frame{'s' if n != 1 else ''})"
        for link, n in sorted(links.items(), key=lambda item: -item[1])
    )
    if count == frames:
        share = f"none of the {count} frames of this capture could be read"
    else:
        share = f"{count} of the {frames} frames of this capture could not be read"
    others = ", and others" if sum(links.values()) < count else ""
    return Notice(
        rule="capture-link-unsupported",
        message=f"{share}: {named}{others}; {_LINKS_HINT}",
        source=source,
        evidence={"frames": count, "of": frames, "link_types": {str(k): v for k, v in links.items()}},
    )


_LINKS_HINT: Final = (
    "this reader decodes Ethernet, Linux cooked (SLL, SLL2), NULL/loopback, raw IP, NFLOG, PPP, Cisco HDLC and "
    "802.11; capture on such an interface (on Linux, `-i any` gives SLL2)"
)


def _drop_pages(mapped: mmap.mmap, done: int, upto: int) -> int:
    """Release the mapping's pages in ``[done, upto)``: read once, they would otherwise count as resident."""
    upto -= upto % mmap.PAGESIZE
    if upto > done:
        _advise(mapped, getattr(mmap, "MADV_DONTNEED", None), done, upto - done)
        return upto
    return done


def _advise(mapped: mmap.mmap, option: int | None, start: int, length: int) -> None:
    if option is None:
        return
    try:
        if length:
            mapped.madvise(option, start, length)
        else:
            mapped.madvise(option)
    except (OSError, ValueError):  # advice is only advice
        return


for _cls in (CaptureProgress, CaptureFile, FileTail):  # they cross processes (--jobs, --separately, Dask)
    pickled_by_constructor(_cls)
