"""Turn the paths a user names into source items, choosing the reader from each file's content."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from inspector.model import InputError, SourceItem
from inspector.sources.detect import InputKind, detect_kind
from inspector.sources.pcap.reader import CaptureProgress, read_capture
from inspector.sources.pcap.tls.keylog import KeyLog

MAX_FOLDER_FILES = 100_000


def expand_inputs(paths: list[Path]) -> list[tuple[Path, InputKind | None]]:
    """Files as given (kind detected, ``None`` when unknown) and, for folders, every readable input inside.

    Files named explicitly are kept even when their kind is unknown, so the user hears why they were not read;
    files inside folders are kept only when they are captures, HAR or flow files.
    """
    out: list[tuple[Path, InputKind | None]] = []
    for path in paths:
        if path.is_dir():
            found = 0
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(folder) / name
                    kind = detect_kind(candidate)
                    if kind is not None:
                        out.append((candidate, kind))
                        found += 1
                        if found >= MAX_FOLDER_FILES:
                            return out
        else:
            out.append((path, detect_kind(path) if path.is_file() else None))
    return out


def read_input(
    path: Path,
    kind: InputKind | None,
    *,
    keep_bodies: bool = False,
    progress: Callable[[CaptureProgress], None] | None = None,
    keylog: KeyLog | None = None,
) -> Iterator[SourceItem]:
    """The items of one input; ``keylog`` decrypts TLS in captures (other kinds are already plaintext)."""
    if not path.exists():
        raise InputError(f"Cannot read {path}: no such file")
    if not path.is_file():
        raise InputError(f"Cannot read {path}: not a regular file")
    if kind == "pcap":
        return read_capture(path, progress=progress, keep_bodies=keep_bodies, keylog=keylog)
    if kind == "har":
        from inspector.sources.har import read_har

        return read_har(path, keep_bodies=keep_bodies)
    if kind == "mitm":
        # mitmproxy is a heavy import: paid only when a flow file is read.
        from inspector.sources.mitmflows import read_flows

        return read_flows(path, keep_bodies=keep_bodies)
    if kind == "saz":
        from inspector.sources.saz import read_saz

        return read_saz(path)
    raise InputError(
        f"Cannot read {path}: its content is not a pcap/pcapng capture, a HAR file, a mitmproxy flow file or a "
        "Fiddler session archive (.saz) "
        "(the kind is detected from the content, not the name)"
    )
