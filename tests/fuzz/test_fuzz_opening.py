"""Compressed or piped input of any content: read through, or refused with InputError; never a crash or a hang."""

from __future__ import annotations

import gzip
import lzma
import tempfile
from pathlib import Path

import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.model import ConfigError, InputError
from inspector.sources.dispatch import collect_inputs, read_input
from inspector.sources.opening import parse_size

MAGICS = [b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00"]


def _compressed(data: bytes, kind: int) -> bytes:
    if kind == 0:
        return gzip.compress(data)
    if kind == 1:
        return zstandard.ZstdCompressor().compress(data)
    return lzma.compress(data)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.tuples(st.sampled_from(MAGICS), st.binary(max_size=400)).map(lambda t: t[0] + t[1]),
        st.tuples(st.binary(max_size=400), st.integers(0, 2), st.integers(0, 400)).map(
            lambda t: _compressed(t[0], t[1])[: t[2] or None]
        ),
    )
)
def test_any_compressed_bytes_are_read_or_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.bin"
        path.write_bytes(data)
        try:
            for candidate, kind in collect_inputs([path]).inputs:
                list(read_input(candidate, kind))
        except InputError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\s*[0-9]{1,16}\s*[kKmMgGtTxX]?(i?[bB])?\s*", fullmatch=True)))
def test_spool_limits_parse_or_are_refused_clearly(text: str) -> None:
    """``--spool-limit`` of anything: a positive size, or a ConfigError that names the option."""
    try:
        size = parse_size(text)
    except ConfigError as exc:
        assert "--spool-limit" in str(exc)
    else:
        assert size > 0
