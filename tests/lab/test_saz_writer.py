"""Archives written as Fiddler Classic and (as documented, with assumptions) Fiddler Everywhere write them."""

from __future__ import annotations

import zipfile
from pathlib import Path

from inspector.lab.saz_writer import write_saz
from tests.builders import exchange


def test_classic_layout(tmp_path: Path) -> None:
    path = write_saz([exchange("Bearer x") for _ in range(12)], tmp_path / "c.saz", style="classic")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[0] == "raw/" and "raw/01_c.txt" in names and "raw/12_m.xml" in names
        assert {"[Content_Types].xml", "_index.htm"} <= set(names)
        assert archive.comment.startswith(b"Fiddler (v5.")
        assert archive.read("raw/01_m.xml").startswith(b"\xef\xbb\xbf<?xml")
        assert b'ClientBeginRequest="2026-11-02T03:30:00.0000000-06:00"' in archive.read("raw/01_m.xml")
        assert archive.read("raw/01_c.txt").startswith(b"POST https://mail.contoso.com/EWS/Exchange.asmx HTTP/1.1\r\n")


def test_everywhere_layout(tmp_path: Path) -> None:
    path = write_saz([exchange("Bearer x") for _ in range(12)], tmp_path / "e.saz", style="everywhere")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "raw/1_c.txt" in names and "raw/12_s.txt" in names and "_index.htm" not in names
        assert archive.comment == b""
        metadata = archive.read("raw/1_m.xml")
        assert metadata.startswith(b"<?xml") and b'ClientBeginRequest="2026-11-02T09:30:00.000Z"' in metadata
