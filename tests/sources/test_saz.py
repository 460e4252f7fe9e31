"""Fiddler session archives: the real corpus archive, archives written as Fiddler Classic and Fiddler Everywhere
write them, chunked and compressed bodies, CONNECT tunnels, and hostile archives."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspector.lab.outbound import EWS_ERROR_TEMPLATE
from inspector.lab.saz_writer import write_saz
from inspector.model import BODY_KEEP_LIMIT, HttpExchange, HttpResponse, InputError, Notice
from inspector.sources.detect import detect_kind
from inspector.sources.dispatch import read_input
from inspector.sources.saz import MAX_MEMBER_READ, parse_fiddler_time, parse_metadata, read_saz
from tests.builders import exchange


def _exchanges(path: Path) -> list[HttpExchange]:
    items = list(read_saz(path))
    assert all(isinstance(i, HttpExchange) for i in items), items
    return [i for i in items if isinstance(i, HttpExchange)]


def test_the_corpus_archive(corpus: Path) -> None:
    path = corpus / "saz" / "fiddler5-saz2jmx-test.saz"
    assert detect_kind(path) == "saz"
    items = _exchanges(path)
    assert len(items) == 14
    plain = [e for e in items if e.request.method == "GET"]
    tunnels = [e for e in items if e.request.method == "CONNECT"]
    assert len(plain) == 3 and len(tunnels) == 11
    assert all(e.response is not None and e.response.status == 200 for e in items)
    assert all(e.response.reason == "Connection Established" for e in tunnels if e.response)
    assert all(e.request.body is None and e.response.body is None for e in tunnels if e.response)
    assert tunnels[0].request.target == "cdn.walkme.com:443" and tunnels[0].scheme == "https"
    # 7-digit fractions with a local offset: 13:57:52.211861-06:00 is 19:57:52.211861Z
    assert items[0].time == datetime(2020, 9, 1, 19, 57, 52, 211861, tzinfo=UTC)
    assert items[0].client is None  # x-clientip is empty in session 1
    assert str(items[0].server) == "50.56.19.116:443"
    assert str(tunnels[0].client) == "127.0.0.1:53008" and str(tunnels[0].server) == "104.86.79.181:443"
    big = next(e for e in plain if e.response and e.response.header("content-length") == "133189")
    assert big.response is not None and big.response.body is not None and len(big.response.body) == BODY_KEEP_LIMIT
    assert all(not any(isinstance(i, Notice) for i in read_saz(path)) for _ in (1,))


@pytest.mark.parametrize("style", ["classic", "everywhere"])
def test_written_as_fiddler_writes_and_read_back(style: str, tmp_path: Path) -> None:
    originals = [
        exchange("Bearer abc", at=datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC), after=n) for n in range(12)
    ]
    path = write_saz(originals, tmp_path / "trace.saz", style=style)  # type: ignore[arg-type]
    assert detect_kind(path) == "saz"
    back = _exchanges(path)
    assert [e.request.header("authorization") for e in back] == ["Bearer abc"] * 12
    assert [e.id for e in back] == [f"trace.saz:{n}" for n in range(1, 13)]
    for original, read in zip(originals, back, strict=True):
        expected = original.time if style == "classic" else original.time.replace(microsecond=123000)
        assert read.time == expected
        assert read.client == original.client and read.server is not None
        assert read.server.host == original.server.host  # type: ignore[union-attr]
        assert read.provenance.kind == "saz"
    names = zipfile.ZipFile(path).namelist()
    assert ("raw/01_c.txt" in names) == (style == "classic")


def test_chunked_and_gzip_bodies_are_decoded_as_sent(tmp_path: Path) -> None:
    error = EWS_ERROR_TEMPLATE.format(text="The remote server returned an error: (401) Unauthorized.", code="X")
    packed = gzip.compress(error.encode())
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(packed[i : i + 100]), packed[i : i + 100]) for i in range(0, len(packed), 100)
    )
    chunked += b"0\r\n\r\n"
    headers = (
        ("Content-Type", "text/xml; charset=utf-8"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
    )
    original = replace(exchange("Bearer abc"), response=HttpResponse(200, "OK", headers=headers, body=chunked))
    (read,) = _exchanges(write_saz([original], tmp_path / "t.saz"))
    assert read.response is not None and read.response.body == error.encode()


def test_fiddler_times() -> None:
    assert parse_fiddler_time("2020-09-01T13:57:52.4163147-06:00") == (
        datetime(2020, 9, 1, 19, 57, 52, 416314, tzinfo=UTC),
        True,
    )
    assert parse_fiddler_time("0001-01-01T00:00:00") == (None, False)
    assert parse_fiddler_time("2020-09-01T13:57:52Z")[0] == datetime(2020, 9, 1, 13, 57, 52, tzinfo=UTC)
    assert parse_fiddler_time("2020-13-41T99:00:00Z") == (None, False)
    assert parse_fiddler_time("yesterday") == (None, False)


def test_metadata_scan_expands_nothing() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><Session SID="7">'
        b'<SessionTimers ClientBeginRequest="&a;" /><SessionFlags><SessionFlag N="x-clientip" V="&a;" />'
        b"</SessionFlags></Session>"
    )
    metadata = parse_metadata(data)
    assert metadata.sid == 7 and metadata.flags["x-clientip"] == "&a;"
    assert metadata.timers["ClientBeginRequest"] == "&a;"


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


META = b'<Session SID="1"><SessionTimers ClientBeginRequest="2026-01-01T10:00:00.0000000+01:00" /></Session>'
REQUEST = b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nContent-Type: text/xml\r\n\r\n"


def test_zip_bomb_members_are_read_bounded(tmp_path: Path) -> None:
    bomb = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n\r\n" + b"<" * (200 * 1024 * 1024)
    path = tmp_path / "bomb.saz"
    path.write_bytes(_zip({"raw/1_c.txt": REQUEST, "raw/1_s.txt": bomb, "raw/1_m.xml": META}))
    assert path.stat().st_size < 1024 * 1024
    (read,) = _exchanges(path)
    assert read.response is not None and read.response.body is not None
    assert len(read.response.body) == BODY_KEEP_LIMIT
    assert MAX_MEMBER_READ < 8 * 1024 * 1024


def test_path_tricks_and_strangers_are_ignored(tmp_path: Path) -> None:
    members = {
        "raw/1_c.txt": REQUEST,
        "raw/1_m.xml": META,
        "../../etc/raw/2_c.txt": REQUEST,
        "/raw/3_c.txt": REQUEST,
        "raw/../raw/4_c.txt": REQUEST,
        "raw/5_c.txt/x": REQUEST,
        "raw/6_w.txt": b"websocket frames",
    }
    path = tmp_path / "tricks.saz"
    path.write_bytes(_zip(members))
    assert [e.id for e in _exchanges(path)] == ["tricks.saz:1"]
    assert not (tmp_path / "etc").exists()


def test_damaged_sessions_are_notices_and_the_rest_is_read(tmp_path: Path) -> None:
    members = {
        "raw/1_c.txt": b"\x00\x01 not http",
        "raw/1_m.xml": META,
        "raw/2_c.txt": REQUEST,
        "raw/2_m.xml": b"<Session/>",
        "raw/3_c.txt": REQUEST,
        "raw/3_s.txt": b"HTTP/1.1 2OO OK\r\n\r\n",
        "raw/3_m.xml": META,
    }
    path = tmp_path / "damaged.saz"
    path.write_bytes(_zip(members))
    items = list(read_saz(path))
    notices = [i for i in items if isinstance(i, Notice)]
    assert [n.exchange_id for n in notices] == ["damaged.saz:1", "damaged.saz:2"]
    assert all(n.rule == "input-malformed" for n in notices)
    # session 2 has no usable time: kept with its time unknown (unknown beats wrong), and its notice says so
    assert "time is unknown" in notices[1].message
    second, third = [i for i in items if isinstance(i, HttpExchange)]
    assert (second.id, second.time) == ("damaged.saz:2", None)
    assert third.response is None  # a status line that is not one is no response


def test_not_a_saz_and_broken_zips(tmp_path: Path) -> None:
    other = tmp_path / "other.zip"
    other.write_bytes(_zip({"word/document.xml": b"<x/>"}))
    assert detect_kind(other) is None
    cut = tmp_path / "cut.saz"
    cut.write_bytes(_zip({"raw/1_c.txt": REQUEST, "raw/1_m.xml": META})[:-30])
    assert detect_kind(cut) is None
    with pytest.raises(InputError, match="zip end record"):
        list(read_saz(cut))
    with pytest.raises(InputError, match="Cannot read"):
        list(read_input(cut, "saz"))


def test_too_many_entries_are_refused_before_listing(tmp_path: Path) -> None:
    path = tmp_path / "many.saz"
    data = bytearray(_zip({"raw/1_c.txt": REQUEST, "raw/1_m.xml": META}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (65535).to_bytes(2, "little") * 2  # entries on disk, total entries
    data[end + 12 : end + 16] = (512 * 1024 * 1024).to_bytes(4, "little")  # a 512 MiB directory
    path.write_bytes(bytes(data))
    assert detect_kind(path) == "saz"  # by its first member's name
    with pytest.raises(InputError, match="more than a session archive holds"):
        list(read_saz(path))


def test_encrypted_member_is_a_notice(tmp_path: Path) -> None:
    data = bytearray(_zip({"raw/1_c.txt": REQUEST, "raw/1_m.xml": META}, compression=zipfile.ZIP_STORED))
    # set the "encrypted" flag bit in the local and central headers of the first member
    data[6] |= 1
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1
    path = tmp_path / "locked.saz"
    path.write_bytes(bytes(data))
    (item,) = list(read_saz(path))
    assert isinstance(item, Notice) and "encrypted" in item.message


def test_times_without_offset_are_read_as_utc_and_said_so(tmp_path: Path) -> None:
    naive = b'<Session SID="1"><SessionTimers ClientBeginRequest="2026-01-01T10:00:00.1234567" /></Session>'
    path = tmp_path / "naive.saz"
    path.write_bytes(_zip({"raw/1_c.txt": REQUEST, "raw/1_m.xml": naive, "raw/2_c.txt": REQUEST, "raw/2_m.xml": META}))
    items = list(read_saz(path))
    exchanges = [i for i in items if isinstance(i, HttpExchange)]
    assert exchanges[0].time == datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert exchanges[1].time == datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)
    (notice,) = [i for i in items if isinstance(i, Notice)]
    assert "1 session(s) have times without a UTC offset" in notice.message


def test_many_damaged_sessions_are_summarised(tmp_path: Path) -> None:
    members = {f"raw/{n}_c.txt": b"garbage" for n in range(1, 131)}
    path = tmp_path / "damaged.saz"
    path.write_bytes(_zip(members))
    items = list(read_saz(path))
    assert len(items) == 101
    assert "30 more damaged sessions were skipped" in items[-1].message  # type: ignore[union-attr]


def test_a_member_with_damaged_deflate_data_is_a_notice_not_a_crash(tmp_path: Path) -> None:
    # Found by tests/fuzz/test_fuzz_saz.py: zipfile lets zlib.error through when a member's deflate stream is bad.

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("raw/1_c.txt", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * 4)
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start] = 0x07  # a deflate block of the reserved type 3: "invalid block type"
    path = tmp_path / "damaged.saz"
    path.write_bytes(bytes(data))
    items = list(read_saz(path))
    assert len(items) == 1 and isinstance(items[0], Notice)
    assert "Skipped session 1 of damaged.saz" in items[0].message
