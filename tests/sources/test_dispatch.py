"""From the paths a user names to readers: kinds from content, folders walked, unreadable inputs said so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inspector.model import HttpExchange, InputError
from inspector.sources.dispatch import expand_inputs, read_input
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"


def test_kinds_come_from_content_and_folders_keep_only_readable_inputs(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "lab.har", tmp_path / "capture.bin")  # a HAR whatever its name
    (tmp_path / "notes.txt").write_text("not a capture")
    nested = tmp_path / "more"
    nested.mkdir()
    shutil.copy(SAMPLES / "lab.pcapng", nested / "a.pcapng")
    assert expand_inputs([tmp_path]) == [(tmp_path / "capture.bin", "har"), (nested / "a.pcapng", "pcap")]
    named = tmp_path / "notes.txt"
    assert expand_inputs([named, tmp_path / "missing"]) == [(named, None), (tmp_path / "missing", None)]


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng"])
def test_each_kind_is_read_by_its_reader(name: str) -> None:
    [(path, kind)] = expand_inputs([SAMPLES / name])
    items = list(read_input(path, kind))
    assert sum(isinstance(item, HttpExchange) for item in items) > 20


def test_what_cannot_be_read_says_why(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_input(tmp_path / "missing", None)
    with pytest.raises(InputError, match="not a regular file"):
        read_input(tmp_path, None)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(InputError, match="detected from the content, not the name"):
        read_input(other, None)
