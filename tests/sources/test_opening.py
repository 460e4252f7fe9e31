"""Compressed inputs recognised by magic, decompressed in chunks, concatenated members, cuts and damage."""

from __future__ import annotations

import gzip
import io
import lzma

import pytest
import zstandard

from inspector.model import InputError
from inspector.sources.opening import Truncated, compression_of, decompressed_chunks


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
