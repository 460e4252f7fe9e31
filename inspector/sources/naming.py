"""What an input is called in a report: the one place that names inputs and the exchanges read from them.

Every source (pcap, HAR, .mitm, .saz, whatever comes next) takes the ``label`` made here and builds its exchange ids
with :func:`exchange_id`, so ids and ``source`` identify the file whatever its kind, and two ``trace.har`` files in
different folders stay apart: the label is the file's path relative to the common parent of everything read in the
run (just the file name when one file is read).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

STDIN = "-"
STDIN_LABEL = "stdin"


def exchange_id(label: str, number: int) -> str:
    """The id of the ``number``-th (from 1) exchange, entry or flow of the input called ``label``."""
    return f"{label}:{number}"


def _is_file(path: Path) -> bool:
    return str(path) != STDIN and path.is_file()


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def input_labels(paths: list[Path]) -> list[str]:
    """A label per path (same order): relative to the common parent, ``/``-separated, unique for distinct files.

    Standard input is ``stdin``; a pipe or device (``<(zcat ...)``) keeps the name it was given.
    """
    files = [p for p in paths if _is_file(p)]
    resolved = [_resolved(p) for p in files]
    parent: Path | None = None
    if resolved:
        try:
            common = Path(os.path.commonpath([str(r) for r in resolved]))
        except ValueError:  # different drives on Windows
            common = None
        if common is not None:
            parent = common.parent if len(set(resolved)) == 1 else common
    labels: list[str] = []
    for path in paths:
        if str(path) == STDIN:
            labels.append(STDIN_LABEL)
            continue
        if not _is_file(path):
            labels.append(str(path))
            continue
        full = _resolved(path)
        if parent is not None:
            try:
                labels.append(PurePosixPath(*full.relative_to(parent).parts).as_posix())
                continue
            except ValueError:
                pass
        labels.append(full.as_posix())
    return labels


def same_file_key(path: Path) -> tuple[int, int] | str:
    """What makes two names the same file (device and inode where the system has them), so it is read once."""
    if str(path) == STDIN:
        return STDIN
    try:
        st = path.stat()
    except OSError:
        return str(_resolved(path))
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return str(_resolved(path))
