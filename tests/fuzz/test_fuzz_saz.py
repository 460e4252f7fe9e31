"""Fuzzing the Fiddler archive reader: any zip (or no zip) must give exchanges, notices or InputError, quickly."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.model import HttpExchange, InputError, Notice
from inspector.sources.detect import detect_kind
from inspector.sources.saz import parse_fiddler_time, parse_metadata, read_saz

NAMES = st.one_of(
    st.builds(
        lambda n, kind, ext: f"raw/{n}_{kind}.{ext}",
        st.integers(0, 120),
        st.sampled_from("csmw"),
        st.sampled_from(["txt", "xml"]),
    ),
    st.text(min_size=1, max_size=30),
)
HEADS = st.sampled_from(
    [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /t/oauth2/token HTTP/1.1\r\nHost: login\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\n\r\n",
        b'\xef\xbb\xbf<Session SID="1"><SessionTimers ClientBeginRequest="2020-09-01T13:57:52.2118610-06:00" />',
        b"",
    ]
)
MEMBERS = st.dictionaries(NAMES, st.tuples(HEADS, st.binary(max_size=300)), max_size=12)


def _archive(members: dict[str, tuple[bytes, bytes]]) -> bytes:
    buffer = io.BytesIO()
    written: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (head, tail) in members.items():
            # zipfile cuts a name at NUL ("Ç" and "Ç\x00" are one name) and warns of the duplicate: the archive
            # builder's problem, not the reader's, so such a second member is left out
            stored = zipfile.ZipInfo(name).filename
            if stored in written:
                continue
            written.add(stored)
            archive.writestr(name, head + tail)
    return buffer.getvalue()


def _read(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.saz"
        path.write_bytes(data)
        detect_kind(path)
        try:
            for item in read_saz(path):
                assert isinstance(item, HttpExchange | Notice)
        except InputError:
            pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MEMBERS, st.integers(0, 2000), st.binary(max_size=8))
def test_archives_and_damaged_archives(members: dict[str, tuple[bytes, bytes]], cut: int, flip: bytes) -> None:
    data = _archive(members)
    _read(data)
    if data:
        damaged = bytearray(data[: max(1, len(data) - cut)])
        for offset, value in enumerate(flip):
            damaged[(offset * 7919) % len(damaged)] ^= value
        _read(bytes(damaged))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_metadata_and_times(data: bytes) -> None:
    metadata = parse_metadata(data)
    for value in metadata.timers.values():
        parse_fiddler_time(value)
    parse_fiddler_time(data.decode("latin-1"))
