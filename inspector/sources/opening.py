"""Inputs that are not plain regular files: standard input, pipes (``<(zcat ...)``), and gzip/zstd/xz-compressed
captures and HARs, recognised by their magic number, never by their name.

The readers work on regular files (the pcap reader maps them into memory and slices frames in place; a .saz is a
zip archive, read by seeking), so such an input is streamed once, in chunks, into a temporary file (decompressed on
the way) that is removed when its reading ends. Memory stays bounded by a chunk. Disk is bounded too: the copy
stops at the spool limit (``--spool-limit``, default 16 GiB) and before the temporary folder's file system would
keep less than 1 GiB (or 5 %) free; what was copied is still analysed, and the input is reported as not read to its
end, saying which bound stopped it and what to do.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Buffer, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from inspector.model import ConfigError, InputError
from inspector.sources.naming import STDIN

Compression = Literal["gzip", "zstd", "xz"]

_MAGICS: tuple[tuple[bytes, Compression], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\xfd7zXZ\x00", "xz"),
)
_CHUNK = 1 << 20
_DECOMPRESSED_CHUNK = 1 << 14
"""Small, so that a stream cut short loses at most this much before the cut (a decompressor's read that meets the
cut raises and drops what it had decompressed)."""


def compression_of(head: bytes) -> Compression | None:
    """The compression whose magic number starts ``head``, if any."""
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return None


def is_stream(path: Path) -> bool:
    """Standard input, a pipe, a character device: read once, from the start, so never sniffed in place."""
    if str(path) == STDIN:
        return True
    try:
        return path.exists() and not path.is_file() and not path.is_dir()
    except OSError:
        return False


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes, /) -> bytes: ...


class Truncated(Exception):
    """The compressed stream ended before its end marker; everything before the cut has been given."""


def _decompressor(kind: Compression) -> _Decompressor:
    """gzip and xz (zstd has its own path: :func:`_zstd_chunks`)."""
    if kind == "gzip":
        return zlib.decompressobj(wbits=31)
    return lzma.LZMADecompressor()


_MIN_STEP, _MAX_STEP = 64, 1 << 16
_OUTPUT_GOAL = 1 << 18
"""Compressed bytes are fed in slices that adapt so each call gives about this much output: a bomb (megabytes from
a few bytes) is fed 64 bytes at a time, so memory stays bounded by a slice's output, not by the ratio."""


def decompressed_chunks(raw: BinaryIO, kind: Compression) -> Iterator[bytes]:
    """The decompressed content of ``raw`` in chunks, across concatenated members/frames (``cat a.gz b.gz``).

    Raises ``Truncated`` after the last chunk when the stream was cut short, ``InputError`` when it is not valid.
    """
    if kind == "zstd":
        yield from _zstd_chunks(raw)
        return
    decompressor = _decompressor(kind)
    pending = b""
    step = _MIN_STEP
    while True:
        if not pending:
            pending = raw.read(_DECOMPRESSED_CHUNK)
        if not pending:
            if not decompressor.eof:
                raise Truncated(f"the {kind} stream ends before its end marker")
            return
        data, pending = pending[:step], pending[step:]
        before = _copy_of(decompressor)
        try:
            out = decompressor.decompress(data)
        except Exception as exc:  # zlib.error, lzma.LZMAError, zstandard.ZstdError: not a valid stream
            if before is not None and (salvaged := _salvaged(before, data)):
                yield salvaged  # what this step held before the damage (a gzip trailer's check, say) is not lost
            raise InputError(f"it is {kind}-compressed but damaged ({_reason(exc)})") from exc
        step = min(step * 2, _MAX_STEP) if len(out) < _OUTPUT_GOAL else max(step // 2, _MIN_STEP)
        if out:
            yield out
        if decompressor.eof:
            rest = decompressor.unused_data + pending or raw.read(_DECOMPRESSED_CHUNK)
            if not rest or compression_of(rest) != kind:
                return  # trailing garbage after the last member is ignored, as gzip -d does
            decompressor = _decompressor(kind)
            pending = rest


def _copy_of(decompressor: _Decompressor) -> _Decompressor | None:
    """A copy of the decompressor's state, where the library offers one (zlib's; lzma's has none)."""
    copy = getattr(decompressor, "copy", None)
    return copy() if callable(copy) else None


def _salvaged(before: _Decompressor, data: bytes) -> bytes:
    """What the longest prefix of ``data`` that decompresses cleanly gives, from the state ``before`` it (a
    damaged stream stays damaged once it is, so the prefixes that fail are the longer ones)."""
    good, bad, out = 0, len(data), b""
    while bad - good > 1:
        middle = (good + bad) // 2
        trial = _copy_of(before)
        assert trial is not None
        try:
            found = trial.decompress(data[:middle])
        except Exception:  # any library error: the damage lies in this prefix
            bad = middle
        else:
            good, out = middle, found
    return out


def _zstd_chunks(raw: BinaryIO) -> Iterator[bytes]:
    """zstd through the zstandard package's stream reader: output in bounded reads whatever the ratio (its
    ``decompressobj`` returns a whole frame at once). It does not report a cut in the last frame; the reader of the
    content does (a pcap's truncated block, a HAR's unfinished document)."""
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)
    try:
        while chunk := reader.read(_OUTPUT_GOAL):
            yield chunk
    except zstandard.ZstdError as exc:
        raise InputError(f"it is zstd-compressed but damaged ({_reason(exc)})") from exc


def peek_decompressed(path: Path, size: int) -> bytes | None:
    """The first ``size`` bytes of a compressed regular file, decompressed (less when it is cut short); ``None``
    when it is not compressed. Raises ``InputError`` when it is compressed but damaged from the start."""
    with path.open("rb") as raw:
        kind = compression_of(raw.read(8))
        if kind is None:
            return None
        raw.seek(0)
        parts: list[bytes] = []
        got = 0
        try:
            for chunk in decompressed_chunks(raw, kind):
                parts.append(chunk)
                got += len(chunk)
                if got >= size:
                    break
        except Truncated:
            pass
        except InputError as exc:
            if not parts:
                raise InputError(f"Cannot read {path}: {exc}") from exc
        if not parts:
            raise InputError(f"Cannot read {path}: it is {kind}-compressed but holds nothing (cut short?)")
        return b"".join(parts)[:size]


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def needs_spool(path: Path) -> bool:
    """Whether ``path`` must be copied (and maybe decompressed) to a regular file before a reader can take it."""
    if is_stream(path):
        return True
    try:
        with path.open("rb") as fo:
            return compression_of(fo.read(8)) is not None
    except OSError:
        return False


SPOOL_LIMIT_ENV = "OAUTH_INSPECTOR_SPOOL_LIMIT"
"""Where ``--spool-limit`` is kept for this process and the ``--jobs`` workers (they inherit the environment)."""
DEFAULT_SPOOL_LIMIT = 16 << 30
KEEP_FREE = 1 << 30
KEEP_FREE_SHARE = 0.05
"""The spool stops before the temporary folder's file system would keep less than this much free, or this share
of its size (whichever is less): filling a disk breaks more than this run."""
_CHECK_DISK_EVERY = 16 * _CHUNK
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``16G``, ``500M``, ``1024``, ``2GiB`` (binary units) as bytes; ``ConfigError`` otherwise."""
    match = re.fullmatch(r"\s*([0-9]{1,15})\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(f"--spool-limit {text[:40]!r} is not a size such as 16G, 500M or 1048576")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def spool_limit() -> int:
    """The spool limit this process was given (``--spool-limit`` sets it), else the default."""
    given = os.environ.get(SPOOL_LIMIT_ENV)
    if not given:
        return DEFAULT_SPOOL_LIMIT
    try:
        return parse_size(given)
    except ConfigError:
        return DEFAULT_SPOOL_LIMIT


def size_text(size: int) -> str:
    for unit, name in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit:
            return f"{size / unit:.3g} {name}"
    return f"{size} bytes"


@dataclass(slots=True)
class Spool:
    """The regular file a stream or compressed input was copied to, and why the copy stopped early, if it did."""

    path: Path
    cut: str | None = None


@contextmanager
def spooled(path: Path, display: str, *, limit: int | None = None, keep_free: int | None = None) -> Iterator[Spool]:
    """A regular, uncompressed file with the content of ``path`` (``-`` is standard input), removed afterwards.

    The temporary file keeps the input's name (without the compression suffix) so messages stay recognisable. The
    copy stops at ``limit`` bytes (default: :func:`spool_limit`) or when the file system would keep less than
    ``keep_free`` bytes free (default: 1 GiB or 5 % of it, whichever is less); ``Spool.cut`` then says so.
    """
    name = Path(display).name or "stdin"
    for suffix in (".gz", ".zst", ".zstd", ".xz"):
        name = name.removesuffix(suffix)
    with tempfile.TemporaryDirectory(prefix="oauth-inspector-input-") as folder:
        target = Path(folder) / (name or "input")
        try:
            raw: BinaryIO = sys.stdin.buffer if str(path) == STDIN else path.open("rb")
        except OSError as exc:
            raise InputError(
                f"Cannot read {display}: {exc.strerror or exc}; check the path and its permissions"
            ) from exc
        bounds = _Bounds(target, display, limit if limit is not None else spool_limit(), keep_free)
        try:
            cut = _copy(raw, target, display, bounds)
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        yield Spool(target, cut)


class _Cut(Exception):
    """The spool reached a bound; the message says which, for the report."""


@dataclass(slots=True)
class _Bounds:
    target: Path
    display: str
    limit: int
    keep_free: int | None
    written: int = 0
    checked: int = 0

    def write(self, out: BinaryIO, data: bytes) -> None:
        room = self.limit - self.written
        if len(data) > room:
            out.write(data[:room])
            self.written = self.limit
            raise _Cut(
                f"Cannot read {self.display} to its end: it is over the spool limit of {size_text(self.limit)} "
                "(standard input, pipes and compressed files are copied, decompressed, to a temporary file first); "
                f"the first {size_text(self.limit)} were analysed; give a larger --spool-limit, or save the input "
                "(decompressed) to a file and name that file"
            )
        if self.written + len(data) - self.checked >= _CHECK_DISK_EVERY or not self.checked:
            self._check_disk(len(data))
        out.write(data)
        self.written += len(data)

    def _check_disk(self, coming: int) -> None:
        self.checked = self.written + coming
        try:
            stats = os.statvfs(self.target.parent)
        except OSError:
            return  # no answer about free space: the limit still bounds the copy
        free = stats.f_bavail * stats.f_frsize
        keep = self.keep_free
        if keep is None:
            keep = min(KEEP_FREE, int(stats.f_blocks * stats.f_frsize * KEEP_FREE_SHARE))
        if free - coming - _CHECK_DISK_EVERY < keep:
            raise _Cut(
                f"Cannot read {self.display} to its end: copying it to a temporary file would leave less than "
                f"{size_text(keep)} free in {self.target.parent.parent} (standard input, pipes and compressed files "
                f"are copied, decompressed, first); the first {size_text(self.written)} were analysed; set TMPDIR "
                "to a folder with more room, or save the input (decompressed) to a file and name that file"
            )


def _copy(raw: BinaryIO, target: Path, display: str, bounds: _Bounds) -> str | None:
    """Copy (decompressing) into ``target``; the reason the copy stopped at a bound, or ``None``."""
    head = raw.read(8)
    kind = compression_of(head)
    with target.open("wb") as out:
        try:
            if kind is None:
                data = head
                while data:
                    bounds.write(out, data)
                    data = raw.read(_CHUNK)
                return None
            try:
                for chunk in decompressed_chunks(_prefixed(head, raw), kind):
                    bounds.write(out, chunk)
            except (Truncated, InputError) as exc:
                # Cut short or damaged part way: what came before is read; a cut is reported by the reader where it
                # finds it, damage as the reason the copy stopped (the reader may find nothing amiss: a damaged
                # gzip trailer after whole content). Damaged from the start: nothing to read.
                if out.tell() == 0:
                    raise InputError(f"Cannot read {display}: {exc}") from exc
                if isinstance(exc, InputError):
                    return f"Cannot read {display} to its end: {exc}; what came before the damage was analysed"
        except _Cut as cut:
            return str(cut)
        except OSError as exc:  # the disk filled all the same (another writer), or the folder went away
            raise InputError(
                f"Cannot read {display}: its temporary copy in {target.parent.parent} could not be written "
                f"({exc.strerror or exc}); set TMPDIR to a folder with more room, or save the input to a file"
            ) from None
    return None


class _Prefixed(io.RawIOBase):
    """A non-seekable stream with its already-read first bytes put back in front (for pipes)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def _prefixed(head: bytes, rest: BinaryIO) -> BinaryIO:
    return io.BufferedReader(_Prefixed(head, rest), _CHUNK)
