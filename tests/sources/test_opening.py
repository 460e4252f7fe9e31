"""Compressed inputs recognised by magic, decompressed in chunks, concatenated members, cuts and damage."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import tempfile
from pathlib import Path

import pytest
import zstandard

from inspector.model import ConfigError, InputError
from inspector.sources.opening import Truncated, compression_of, decompressed_chunks, parse_size, spooled


def test_magic_numbers_decide() -> None:
    assert compression_of(gzip.compress(b"x")) == "gzip"
    assert compression_of(lzma.compress(b"x")) == "xz"
    assert compression_of(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert compression_of(b"\xd4\xc3\xb2\xa1") is None


def test_concatenated_members_are_one_stream_and_trailing_junk_is_ignored() -> None:
    data = gzip.compress(b"first ") + gzip.compress(b"second") + b"\x00\x00"
    assert b"".join(decompressed_chunks(io.BytesIO(data), "gzip")) == b"first second"


def test_a_cut_stream_gives_what_came_before_then_says_so() -> None:
    data = gzip.compress(bytes(range(256)) * 400)
    got = bytearray()
    chunks = decompressed_chunks(io.BytesIO(data[: len(data) // 2]), "gzip")
    with pytest.raises(Truncated):
        got.extend(b"".join(chunks))
    assert got == b""  # join raised: read chunk by chunk to see what came before the cut
    chunks = decompressed_chunks(io.BytesIO(data[: len(data) // 2]), "gzip")
    before = bytearray()
    while True:
        try:
            before += next(chunks)
        except Truncated:
            break
    assert before and bytes(range(256)) * 2 in bytes(before)


def test_damage_is_an_input_error() -> None:
    with pytest.raises(InputError, match="xz-compressed but damaged"):
        list(decompressed_chunks(io.BytesIO(b"\xfd7zXZ\x00" + b"\xff" * 40), "xz"))


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_a_bomb_comes_out_in_bounded_chunks(kind: str) -> None:
    plain = bytes(64 << 20)  # 64 MiB of zeros: a few KiB compressed
    packed = {
        "gzip": gzip.compress,
        "xz": lzma.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[kind](plain)
    sizes = [len(chunk) for chunk in decompressed_chunks(io.BytesIO(packed), kind)]  # type: ignore[arg-type]
    assert sum(sizes) == len(plain)
    assert max(sizes) <= 4 << 20


def test_sizes_are_read_in_binary_units() -> None:
    assert [parse_size(t) for t in ("1024", "500M", "16G", "2GiB", "1 kb", "1T")] == [
        1024,
        500 << 20,
        16 << 30,
        2 << 30,
        1 << 10,
        1 << 40,
    ]
    for bad in ("", "0", "-1", "1.5G", "12 parsecs", "9" * 20):
        with pytest.raises(ConfigError, match="is not a size"):
            parse_size(bad)


def test_the_spool_stops_at_its_limit_and_says_so(tmp_path: Path) -> None:
    packed = tmp_path / "zeros.gz"
    packed.write_bytes(gzip.compress(bytes(8 << 20), compresslevel=1))  # 8 MiB inside a few KiB
    with spooled(packed, "zeros.gz", limit=3 << 20) as spool:
        assert spool.path.stat().st_size == 3 << 20
        assert spool.cut is not None and "over the spool limit of 3 MiB" in spool.cut and "--spool-limit" in spool.cut
    assert not spool.path.exists()  # removed after reading
    with spooled(packed, "zeros.gz", limit=16 << 20) as spool:  # the close case: under the limit, read whole
        assert (spool.path.stat().st_size, spool.cut) == (8 << 20, None)


def test_the_spool_keeps_the_disk_from_filling(tmp_path: Path) -> None:
    """The free-space floor, against this machine's real file system: asking to keep more free than it has stops
    the copy before its first byte; the default floor lets a small input through."""
    plain = tmp_path / "capture.pcap.gz"
    plain.write_bytes(gzip.compress(b"\xd4\xc3\xb2\xa1" + bytes(1 << 20)))
    stats = os.statvfs(tempfile.gettempdir())
    with spooled(plain, "capture.pcap.gz", keep_free=stats.f_bavail * stats.f_frsize + (1 << 30)) as spool:
        assert spool.path.stat().st_size == 0
        assert spool.cut is not None and "less than" in spool.cut and "TMPDIR" in spool.cut
    with spooled(plain, "capture.pcap.gz") as spool:
        assert spool.cut is None and spool.path.stat().st_size == 4 + (1 << 20)


@pytest.mark.parametrize("flipped", [-8, -1])  # the CRC, and the length (ISIZE)
def test_a_damaged_gzip_trailer_loses_nothing_before_it(flipped: int) -> None:
    """Found by review: the last step's output was dropped with the error (flows 10-23 of lab.mitm lost)."""
    content = os.urandom(40_000) * 4
    damaged = bytearray(gzip.compress(content))
    damaged[flipped] ^= 0xFF
    given: list[bytes] = []
    with pytest.raises(InputError, match="damaged"):
        given.extend(decompressed_chunks(io.BytesIO(bytes(damaged)), "gzip"))  # keeps what came before the error
    assert b"".join(given) == content


def test_a_damaged_compressed_input_is_analysed_whole_and_reported(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.corpus import REPO

    damaged = bytearray(gzip.compress((REPO / "captures" / "lab" / "lab.mitm").read_bytes()))
    damaged[-1] ^= 0xFF
    path = tmp_path / "lab.mitm.gz"
    path.write_bytes(bytes(damaged))
    command = [sys.executable, "-m", "inspector", "analyze", str(path), "--format", "json", "-q"]
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    assert len(document["exchanges"]) == 23  # every flow, though the trailer's check failed
    assert "gzip-compressed but damaged" in document["errors"][0]["reason"]
