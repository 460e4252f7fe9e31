"""Inputs that are not plain regular files: standard input, pipes (``<(zcat ...)``), and gzip/zstd/xz-compressed
captures and HARs, recognised by their magic number, never by their name.

The readers work on regular files (the pcap reader maps them into memory), so such an input is streamed once, in
chunks, into a temporary file (decompressed on the way) that is removed when its reading ends. Memory stays bounded
by a chunk; disk holds the decompressed size.
"""

from __future__ import annotations

import io
import lzma
import shutil
import sys
import tempfile
import zlib
from collections.abc import Buffer, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from inspector.model import InputError
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
        try:
            out = decompressor.decompress(data)
        except Exception as exc:  # zlib.error, lzma.LZMAError, zstandard.ZstdError: not a valid stream
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


@contextmanager
def spooled(path: Path, display: str) -> Iterator[Path]:
    """A regular, uncompressed file with the content of ``path`` (``-`` is standard input), removed afterwards.

    The temporary file keeps the input's name (without the compression suffix) so messages stay recognisable.
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
        try:
            _copy(raw, target, display)
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        yield target


def _copy(raw: BinaryIO, target: Path, display: str) -> None:
    head = raw.read(8)
    kind = compression_of(head)
    with target.open("wb") as out:
        if kind is None:
            out.write(head)
            shutil.copyfileobj(raw, out, _CHUNK)
            return
        try:
            for chunk in decompressed_chunks(_prefixed(head, raw), kind):
                out.write(chunk)
        except (Truncated, InputError) as exc:
            # Cut short or damaged part way: what came before is read, and the reader reports the cut where it
            # finds it. Damaged from the start: nothing to read.
            if out.tell() == 0:
                raise InputError(f"Cannot read {display}: {exc}") from exc


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
