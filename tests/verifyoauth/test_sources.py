"""Where the checks' configuration comes from, offline: the export script's bundle and saved service principal JSON;
an unreadable or oversized file is a SourceError with a printable message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from inspector.remote.errors import SourceError
from inspector.verifyoauth.bundle import MAX_BUNDLE
from inspector.verifyoauth.sources import BundleSource, FileSource
from tests.verifyoauth.conftest import Material, write_json

SFB = "00000004-0000-0ff1-ce00-000000000000"


def test_a_bundle_and_a_saved_service_principal_load(
    healthy_bundle: dict[str, Any], healthy_sp: dict[str, Any], material: Material, tmp_path: Path
) -> None:
    bundle = BundleSource(write_json(tmp_path / "bundle.json", healthy_bundle))
    assert bundle.description == "bundle bundle.json"
    assert bundle.load().auth_config is not None
    sp = FileSource(write_json(tmp_path / "sp.json", healthy_sp))
    assert sp.description == "file sp.json"
    keys = sp.load(SFB)
    assert any(material.current.thumbprint.upper() in key.thumbprints for key in keys.credentials)


def test_unreadable_or_oversized_service_principal_json_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="Cannot read --sp-credentials"):
        FileSource(tmp_path / "absent.json").load(SFB)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(MAX_BUNDLE + 1)  # sparse: no 16 MiB written
    assert os.path.getsize(huge) == MAX_BUNDLE + 1
    with pytest.raises(SourceError, match="that is not service principal JSON"):
        FileSource(huge).load(SFB)
