"""``analyze --follow DIR``: a ring-buffer folder watched by polling, each capture read when it closes.

A capture writer that rotates (``tcpdump -C/-G -w name`` gives name, name1, name2…; ``dumpcap -b`` gives
name_00001_YYYYMMDDhhmmss.pcapng) never says when a file is done, but it only ever writes the newest file of its
ring: a file is *closed* once a newer file of the same ring exists. Files are read in capture-time order (the time
of their first frame), so the ones already in the folder go first; at the stop (Ctrl-C, SIGTERM) the files still
open are read to their current end.

Polling (``os.scandir`` every interval) rather than inotify: it is stdlib on every platform, works on network
shares where inotify sees nothing, and a ring rotates every few seconds at most, so a one-second poll loses nothing.
"""

from __future__ import annotations

import math
import mmap
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inspector.model import InputError, UnreadInput
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import MAX_FOLDER_FILES, first_frame_time, kind_of
from inspector.sources.pcap.files import CaptureFormatError, iter_records

POLL_SECONDS = 1.0

# \Z, not $: $ also matches before a final newline, and a file name may end in one.
_DUMPCAP = re.compile(
    r"^(?P<prefix>.*)_(?P<number>\d{5,})_(?P<stamp>\d{14})(?P<ext>(\.[A-Za-z]+)*)\Z", re.ASCII | re.DOTALL
)
_LONG_DIGITS = re.compile(r"\d{4,}", re.ASCII)
_EXTENSION_END = re.compile(r"\.[A-Za-z]+\Z", re.ASCII)
_TRAILING = re.compile(r"(\d+)\Z", re.ASCII)
NOT_AN_INPUT = "not a pcap/pcapng capture, HAR or mitmproxy flow file (the kind is detected from the content)"


def ring_of(name: str) -> str:
    """The ring a file name belongs to: the name without tcpdump's counter and with its long numbers masked.

    - tcpdump -C: ``trace.pcap``, ``trace.pcap1``, ``trace.pcap12`` (with -W zero-padded, from 0) → ``trace.pcap``;
    - tcpdump -G with strftime: ``trace-20261207T0600.pcap`` → ``trace-#T#.pcap``;
    - dumpcap -b: ``ring_00001_20261207060000.pcapng`` → ``ring_#_#.pcapng``.

    Only runs of four or more digits (dates, times, dumpcap's counter) are masked, so the captures of two servers in
    one folder stay apart: ``exch01.pcap`` and ``exch02.pcap``, or ``ex01_00001_….pcapng`` and
    ``ex02_00001_….pcapng``, are two rings. Taking two rings for one would read a file still being written as
    closed; the other mistake (a ``-G`` name with only ``%H`` in it, each file a ring of its own) only leaves a file
    to be read at the stop.
    """
    counter = _TRAILING.search(name)
    if counter is not None:
        head = name[: counter.start()]
        # tcpdump -C/-W append their counter to the whole name: after an extension (trace.pcap1, w.pcapng00), or
        # unpadded to a bare name (ring1); a zero-padded number ending a bare name is part of it (exch01).
        if _EXTENSION_END.search(head) or not counter[1].startswith("0"):
            name = head
    return _LONG_DIGITS.sub("#", name) or "#"


def ring_number(name: str) -> int:
    """The file's counter in its ring: dumpcap's ``_00001_``, tcpdump -C's trailing number (none: 0)."""
    dumpcap = _DUMPCAP.match(name)
    if dumpcap:
        return int(dumpcap["number"])
    trailing = _TRAILING.search(name)
    return int(trailing[1]) if trailing else 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file in the folder at one poll."""

    path: Path
    kind: InputKind
    first_frame: int | None
    """Microseconds of the first frame (captures), ``None`` when it has none yet or is no capture."""
    modified: int = 0
    """Microseconds of its last modification (the file's time when it has no frame)."""

    def order(self) -> tuple[float, int, str]:
        """Position in its ring: capture time, then counter, then name. A capture without frames stands at its
        modification time: just created by its writer, it is the newest; left empty long ago (``tcpdump -G``
        opens its first file before any packet comes), it is not, and must not hold the file being written up as
        closed. Files that are no captures come after the captures, as ``analyze DIR`` orders them."""
        if self.first_frame is not None:
            at = float(self.first_frame)
        else:
            at = float(self.modified) if self.kind == "pcap" else math.inf
        return (at, ring_number(self.path.name), self.path.name)

    @property
    def identity(self) -> tuple[str, int | None]:
        """What marks a file read: its name and first frame (``tcpdump -W`` reuses names when the ring wraps)."""
        return (self.path.name, self.first_frame)


_Looked = tuple[int, int, Candidate | UnreadInput]
"""A file's size and modification time when it was last looked at, and what it was found to be."""


def scan(
    folder: Path, cache: dict[str, _Looked] | None = None, leave_out: frozenset[str] = frozenset()
) -> tuple[list[Candidate], list[UnreadInput]]:
    """The inputs in ``folder`` (not its sub-folders: rings are flat) and the files that are none.

    A file of unknown kind is listed as not an input, but it is looked at again when it changes: a capture just
    created may not have its header yet. ``cache`` keeps what unchanged files were found to be, so a poll of a
    folder of many old files reads none of them again."""
    cache = {} if cache is None else cache
    found: list[Candidate] = []
    others: list[UnreadInput] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise InputError(f"Cannot read folder {folder}: {exc.strerror or exc}") from exc
    for entry in entries:
        if entry.name.startswith(".") or entry.name in leave_out or not entry.is_file():
            continue
        if len(found) >= MAX_FOLDER_FILES:
            others.append(UnreadInput(str(folder), f"more than {MAX_FOLDER_FILES} files; the rest were not read"))
            break
        try:
            stat = entry.stat()
            known = cache.get(entry.name)
            if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
                looked = known[2]
            else:
                looked = _look(Path(entry.path), stat.st_mtime_ns // 1000)
                cache[entry.name] = (stat.st_size, stat.st_mtime_ns, looked)
        except OSError:
            continue  # removed between the listing and the look (a ring deleting its oldest file)
        if isinstance(looked, Candidate):
            found.append(looked)
        else:
            others.append(looked)
    return found, others


def _look(path: Path, modified: int) -> Candidate | UnreadInput:
    try:
        kind = kind_of(path)
    except InputError as exc:
        return UnreadInput(str(path), str(exc))
    except FileNotFoundError:
        raise  # removed since the listing: not there to report
    except OSError as exc:  # no permission, an I/O error: said, and looked at again when it changes
        return UnreadInput(str(path), f"Cannot read {path}: {exc.strerror or exc}")
    if kind is None:
        return UnreadInput(str(path), NOT_AN_INPUT)
    return Candidate(path, kind, first_frame_time(path) if kind == "pcap" else None, modified)


def closed_files(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates that are closed (a newer file of the same ring exists), in capture-time order.

    Files that are not captures (HAR, flows, SAZ) are written whole by their tools: they count as closed."""
    newest: dict[str, tuple[float, int, str]] = {}
    for item in candidates:
        if item.kind == "pcap":
            ring = ring_of(item.path.name)
            newest[ring] = max(newest.get(ring, item.order()), item.order())
    done = [item for item in candidates if item.kind != "pcap" or item.order() < newest[ring_of(item.path.name)]]
    return sorted(done, key=Candidate.order)


def cut_at(path: Path) -> int | None:
    """Where a capture still being written ends in a record its writer had only partly written (tcpdump writes
    through a stdio buffer), or ``None`` when it ends on a whole record (or is no capture we can walk)."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            try:
                for _ in iter_records(mapped):
                    pass
            except CaptureFormatError as exc:
                return exc.offset if exc.reason.startswith("truncated") else None
    except (OSError, ValueError):  # gone, or empty (mmap of nothing)
        return None
    return None


Feed = Callable[[list[tuple[Path, InputKind]]], None]
"""Reads the files that closed since the last look, given together (the timeline keeps its state to the next)."""


@dataclass(slots=True)
class Follower:
    """The polling loop: ``feed`` gets every file once, in order, as it closes (the files that closed between two
    looks together, so the files already in the folder at the start are read as ``analyze DIR`` reads them);
    ``stop`` ends the loop after the files being read, and the files still open are then read to their end."""

    folder: Path
    feed: Feed
    interval: float = POLL_SECONDS
    stop: threading.Event = field(default_factory=threading.Event)
    after_read: Callable[[], None] | None = None
    """Called after each batch of files is read (flush the report)."""
    read: set[tuple[str, int | None]] = field(default_factory=set)
    not_inputs: list[UnreadInput] = field(default_factory=list)
    failed: str | None = None
    """Why the folder could not be read any more, when it could not."""
    copies: dict[Path, Path] = field(default_factory=dict)
    """Whole-record copies of files still open at the stop, and the file each was copied from."""
    _looked: dict[str, _Looked] = field(default_factory=dict)
    _scratch: tempfile.TemporaryDirectory[str] | None = None
    leave_out: frozenset[str] = frozenset()
    """Names of files in the folder that are not part of the ring (the report being written there)."""

    def poll(self, *, final: bool = False) -> int:
        """Read the files closed since the last poll (every file left, when ``final``); how many were read."""
        candidates, self.not_inputs = scan(self.folder, self._looked, self.leave_out)
        fresh = [item for item in candidates if item.identity not in self.read]
        chosen = closed_files(fresh)
        if chosen:
            self._feed(chosen)
        if final:
            still_open = sorted((item for item in fresh if item not in chosen), key=Candidate.order)
            whole = [made for made in map(self._whole_records, still_open) if made is not None]
            if whole:
                self._feed(whole)
            chosen += still_open
        return len(chosen)

    def close(self) -> None:
        """Remove the whole-record copies (after the run has finished reading: a timeline may hold them open)."""
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _feed(self, items: list[Candidate]) -> None:
        self.read.update(item.identity for item in items)
        self.feed([(item.path, item.kind) for item in items])
        if self.after_read is not None:
            self.after_read()

    def _whole_records(self, item: Candidate) -> Candidate | None:
        """An open capture up to its last whole record: the file itself, or a copy of its whole records (its
        writer may be in the middle of one; the file is not damaged, it is not finished); ``None`` when not even
        its file header is whole yet (nothing to read)."""
        cut = cut_at(item.path) if item.kind == "pcap" else None
        if cut is None:
            return item
        if cut == 0:
            return None
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="oauth-inspector-follow-")
        copy = Path(self._scratch.name) / str(len(self.copies)) / item.path.name
        copy.parent.mkdir()
        with item.path.open("rb") as source, copy.open("wb") as target:
            target.write(source.read(cut))
        self.copies[copy] = item.path
        return Candidate(copy, item.kind, item.first_frame, item.modified)

    def original(self, path: Path) -> Path:
        """The file in the folder that ``path`` (given to ``feed``) was read from."""
        return self.copies.get(path, path)

    def run(self) -> None:
        """Poll until ``stop`` is set, then read what is left (call :meth:`close` when the reading is over). A
        folder that cannot be read any more (removed, unmounted) ends the run: :attr:`failed` says why."""
        try:
            while not self.stop.is_set():
                self.poll()
                self.stop.wait(self.interval)
            self.poll(final=True)
        except InputError as exc:
            self.failed = str(exc)
