"""Issue 12 (hostile input, round two), verify-oauth's items: hostile certificates (3), hostile bundles (4) and
strict JSON/JUnit output (6). Each test failed before its fix."""

from __future__ import annotations

import base64
import io
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.remote.psjson import as_bool, as_time
from inspector.verifyoauth import cli as verify_cli
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.report import to_junit, write_json
from tests.hostile import hostile_certificates, strict_json
from tests.verifyoauth.conftest import Material, render
from tests.verifyoauth.conftest import write_json as write_bundle


@pytest.mark.parametrize("name", sorted(hostile_certificates()))
def test_3_verify_oauth_reports_a_hostile_cert_as_unreadable(name: str, tmp_path: Path) -> None:
    cert = tmp_path / f"{name}.cer"
    cert.write_bytes(hostile_certificates()[name])
    result = CliRunner().invoke(verify_cli.main, ["--cert", str(cert), "--format", "json"])
    assert result.exit_code in (1, 2), result.stderr
    if result.exit_code == 1:
        checks = {c["id"]: c for c in strict_json(result.stdout)["checks"]}
        assert checks["cert.readable"]["status"] == "FAIL"


# --- 4. verify-oauth bundles ------------------------------------------------------------------------------------


def test_4_dates_before_the_first_moment_and_deep_wrappers_are_unknown_not_a_crash() -> None:
    assert as_time("0001-01-01T00:00:00+01:00") is None
    deep: Any = "2026-01-01T00:00:00Z"
    for _ in range(1000):
        deep = {"value": deep}
    assert as_time(deep) is None
    assert as_bool(deep) is None
    assert as_time({"value": {"DateTime": "2026-01-01T00:00:00Z"}}) is not None  # the real wrappings still read


def _hostile_bundle(material: Material, tmp_path: Path) -> Path:
    bundle: dict[str, Any] = render("bundle-healthy.json", material.current)
    current = bundle["AuthCertificates"][0]
    current["NotBefore"] = "0001-01-01T00:00:00+01:00"
    current["NotAfter"] = "@DEEP@"
    current["RawData"] = base64.b64encode(hostile_certificates()["unknown-key-algorithm"]).decode()
    bundle["AuthConfig"]["NextCertificateEffectiveDate"] = "@DEEP@"
    # 1,000 wrappers: written as text (json.dumps itself recurses on them)
    deep = '{"value":' * 1000 + '"2026-01-01T00:00:00Z"' + "}" * 1000
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle).replace('"@DEEP@"', deep), encoding="utf-8")
    return path


@pytest.mark.parametrize("output_format", ["table", "json", "junit"])
def test_4_a_hostile_bundle_gives_checks_not_exit_4(
    material: Material, tmp_path: Path, output_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle = _hostile_bundle(material, tmp_path)
    result = CliRunner().invoke(verify_cli.main, ["--exchange-config", str(bundle), "--format", output_format])
    assert result.exit_code in (0, 1), result.stderr
    assert "internal error" not in result.stdout + result.stderr


def test_6_verify_oauth_json_is_strict(material: Material, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bundle: dict[str, Any] = render("bundle-healthy.json", material.current)
    bundle["AuthConfig"]["Realm"] = "\ud800"
    bundle["AuthCertificates"][0]["PublicKeySize"] = 1e400
    path = write_bundle(tmp_path / "bundle.json", bundle)
    result = CliRunner().invoke(verify_cli.main, ["--exchange-config", str(path), "--format", "json"])
    assert result.exit_code in (0, 1), result.stderr
    strict_json(result.stdout)
    result = CliRunner().invoke(verify_cli.main, ["--exchange-config", str(path), "--format", "junit"])
    assert result.exit_code in (0, 1), result.stderr

    ET.fromstring(result.stdout.encode("utf-8"))  # noqa: S314 - our own output


def test_6_the_json_and_junit_writers_are_strict_whatever_the_evidence() -> None:
    check = Check(
        "cert.readable",
        "FAIL",
        "subject CN=\ud800\ufffe",
        remedy="see \udfff",
        evidence={"size": math.nan, "big": math.inf, "name\ud800": ["\ud800", -math.inf]},
    )
    out = io.StringIO()
    write_json([check], out, generated=datetime(2026, 11, 2, tzinfo=UTC), strict=False)
    document = strict_json(out.getvalue())
    assert document["checks"][0]["evidence"]["size"] == "NaN"
    junit = to_junit([check], generated=datetime(2026, 11, 2, tzinfo=UTC), strict=False)
    ET.fromstring(junit.encode("utf-8"))  # noqa: S314 - our own output
