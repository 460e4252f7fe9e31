"""Turn the paths a user names into source items, choosing the reader from each file's content."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from inspector.model import InputError, SourceItem, UnreadInput
from inspector.sources.detect import InputKind, detect_kind, detect_kind_of_head
from inspector.sources.naming import STDIN, same_file_key
from inspector.sources.opening import is_stream, needs_spool, peek_decompressed, spooled
from inspector.sources.pcap.files import CaptureFormatError, iter_records
from inspector.sources.pcap.reader import CaptureProgress, read_capture
from inspector.sources.pcap.tls.keylog import KeyLog

MAX_FOLDER_FILES = 100_000
_SNIFF = 1 << 20
_NOT_AN_INPUT = "not a pcap/pcapng capture, HAR or mitmproxy flow file (the kind is detected from the content)"


@dataclass(slots=True)
class Collected:
    """The inputs to read, in reading order, and every file that was named or found but will not be read."""

    inputs: list[tuple[Path, InputKind | None]] = field(default_factory=list)
    skipped: list[UnreadInput] = field(default_factory=list)


def kind_of(path: Path) -> InputKind | None:
    """The kind of a regular file, looking through gzip/zstd/xz compression; ``None`` when it is none we read."""
    head = peek_decompressed(path, _SNIFF) if needs_spool(path) else None
    return detect_kind_of_head(head) if head is not None else detect_kind(path)


def collect_inputs(paths: list[Path]) -> Collected:
    """Files as given (kind detected, ``None`` when unknown or a stream read later) and, for folders, every
    readable input inside, each folder's captures in capture-time order (ring buffers: ``tcpdump -C/-G``,
    ``dumpcap -b``). The same file named twice is read once. Files inside folders that are not inputs are listed in
    ``skipped`` with why; files named explicitly are kept even when their kind is unknown, so the user hears why."""
    out = Collected()
    seen: set[object] = set()

    def add(path: Path, kind: InputKind | None) -> None:
        key = same_file_key(path)
        if key in seen:
            return
        seen.add(key)
        out.inputs.append((path, kind))

    for path in paths:
        if str(path) != STDIN and path.is_dir():
            if not _collect_folder(path, add, out.skipped):
                break
        elif str(path) == STDIN or is_stream(path):
            add(path, None)
        else:
            try:
                kind = kind_of(path) if path.is_file() else None
            except InputError:
                kind = None  # read_input says why, as this input's error in the report; the others are still read
            add(path, kind)
    return out


def _collect_folder(folder: Path, add: Callable[[Path, InputKind | None], None], skipped: list[UnreadInput]) -> bool:
    found = 0
    for where, dirs, files in os.walk(folder):
        dirs.sort()
        batch: list[tuple[tuple[int, int, str], Path, InputKind]] = []
        for name in sorted(files):
            candidate = Path(where) / name
            try:
                kind = kind_of(candidate)
            except InputError as exc:
                skipped.append(UnreadInput(str(candidate), str(exc)))
                continue
            if kind is None:
                skipped.append(UnreadInput(str(candidate), _NOT_AN_INPUT))
                continue
            batch.append((_capture_order(candidate, kind, name), candidate, kind))
        for _, candidate, kind in sorted(batch):
            add(candidate, kind)
            found += 1
            if found >= MAX_FOLDER_FILES:
                skipped.append(UnreadInput(str(folder), f"more than {MAX_FOLDER_FILES} files; the rest were not read"))
                return False
    return True


def _capture_order(path: Path, kind: InputKind, name: str) -> tuple[int, int, str]:
    """Captures first, by the time of their first frame; then the rest by name."""
    if kind != "pcap":
        return (1, 0, name)
    first = first_frame_time(path)
    return (0, first, name) if first is not None else (1, 0, name)


def first_frame_time(path: Path) -> int | None:
    """Microseconds since the epoch of a capture's first frame, read from its start only."""
    try:
        head = peek_decompressed(path, _SNIFF)
        if head is None:
            with path.open("rb") as fo:
                head = fo.read(_SNIFF)
        for linktype, ts, _start, _end in iter_records(head):
            if linktype >= 0:
                return ts
    except (OSError, InputError, CaptureFormatError):
        return None
    return None


def expand_inputs(paths: list[Path]) -> list[tuple[Path, InputKind | None]]:
    """The inputs of :func:`collect_inputs` (for callers that do not report skipped files)."""
    return collect_inputs(paths).inputs


def read_input(
    path: Path,
    kind: InputKind | None,
    *,
    keep_bodies: bool = False,
    progress: Callable[[CaptureProgress], None] | None = None,
    keylog: KeyLog | None = None,
    label: str | None = None,
) -> Iterator[SourceItem]:
    """The items of one input; ``keylog`` decrypts TLS in captures (other kinds are already plaintext).

    ``label`` names the input in ids and ``source`` (:mod:`inspector.sources.naming`; default: the file name).
    Standard input (``-``), pipes and compressed files are streamed into a temporary file first.
    """
    if str(path) != STDIN and not path.exists():
        raise InputError(f"Cannot read {path}: no such file")
    if needs_spool(path):
        return _read_spooled(path, keep_bodies, progress, keylog, label)
    if not path.is_file():
        raise InputError(f"Cannot read {path}: not a regular file")
    return _read_plain(path, kind, keep_bodies, progress, keylog, label or path.name)


def _read_spooled(
    path: Path,
    keep_bodies: bool,
    progress: Callable[[CaptureProgress], None] | None,
    keylog: KeyLog | None,
    label: str | None,
) -> Iterator[SourceItem]:
    display = "standard input" if str(path) == STDIN else str(path)
    with spooled(path, label or display) as spool:
        plain = spool.path
        try:
            kind = detect_kind(plain)
            yield from _read_plain(plain, kind, keep_bodies, progress, keylog, label or display)
        except InputError as exc:
            # a copy stopped at the spool's bound ends mid-record: the bound is the reason, not the "damage"
            raise InputError(spool.cut or str(exc).replace(str(plain), display)) from None
        if spool.cut is not None:
            raise InputError(spool.cut)


def _read_plain(
    path: Path,
    kind: InputKind | None,
    keep_bodies: bool,
    progress: Callable[[CaptureProgress], None] | None,
    keylog: KeyLog | None,
    label: str,
) -> Iterator[SourceItem]:
    if kind == "pcap":
        return read_capture(path, progress=progress, keep_bodies=keep_bodies, keylog=keylog, label=label)
    if kind == "har":
        from inspector.sources.har import read_har

        return read_har(path, keep_bodies=keep_bodies, label=label)
    if kind == "mitm":
        # mitmproxy is a heavy import: paid only when a flow file is read.
        from inspector.sources.mitmflows import read_flows

        return read_flows(path, keep_bodies=keep_bodies, label=label)
    if kind == "saz":
        from inspector.sources.saz import read_saz

        return read_saz(path, label=label)
    raise InputError(
        f"Cannot read {path}: its content is not a pcap/pcapng capture, a HAR file, a mitmproxy flow file or a "
        "Fiddler session archive (.saz) "
        "(the kind is detected from the content, not the name)"
    )
