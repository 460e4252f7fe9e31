"""Input labels and exchange ids: one builder for every source."""

from __future__ import annotations

import shutil
from pathlib import Path

from inspector.sources.naming import exchange_id, input_labels, same_file_key
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"


def test_labels_are_paths_relative_to_the_common_parent(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / "lab.har", tmp_path / folder / "trace.har")
    assert input_labels([tmp_path / "a" / "trace.har", tmp_path / "b" / "trace.har"]) == ["a/trace.har", "b/trace.har"]
    assert input_labels([tmp_path / "a" / "trace.har"]) == ["trace.har"]
    assert input_labels([Path("-")]) == ["stdin"]
    assert exchange_id("a/trace.har", 3) == "a/trace.har:3"


def test_the_same_file_by_two_names_has_one_key(tmp_path: Path) -> None:
    link = tmp_path / "link.har"
    link.symlink_to(SAMPLES / "lab.har")
    assert same_file_key(link) == same_file_key(SAMPLES / "lab.har") != same_file_key(SAMPLES / "lab.mitm")
