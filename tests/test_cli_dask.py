"""``analyze --dask`` as a user runs it: ``--dask local`` (a LocalCluster of worker processes on 127.0.0.1) over
split captures gives the sequential report byte for byte; a scheduler that cannot be reached and Dask not installed
are usage errors (exit 2) that say what to do, never a traceback."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"
REALM = json.loads((SAMPLES / "expected.json").read_text())["realm"]
TRUST = ["--cert", str(SAMPLES / "OAuthCert.cer"), "--metadata", str(SAMPLES / "acs-metadata.json"), "--realm", REALM]


def _analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_dask_local_gives_the_sequential_report(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    if shutil.which("editcap") is None:
        pytest.skip("editcap (wireshark-common) is not installed")
    ring = tmp_path / "ring"
    ring.mkdir()
    subprocess.run(["editcap", "-c", "460", str(SAMPLES / "lab.pcapng"), str(ring / "ring.pcapng")], check=True)
    shutil.copy(SAMPLES / "lab.mitm", ring)
    sequential = _analyze(str(ring), *TRUST, "-o", str(tmp_path / "sequential.sarif"))
    on_dask = _analyze(str(ring), *TRUST, "--dask", "local", "--jobs", "2", "-o", str(tmp_path / "dask.sarif"))
    assert sequential.returncode == on_dask.returncode == 1, on_dask.stderr
    expected = (tmp_path / "sequential.sarif").read_text(encoding="utf-8")
    assert (tmp_path / "dask.sarif").read_text(encoding="utf-8") == expected
    assert len(json.loads(expected)["runs"][0]["results"]) > 5


def test_a_scheduler_that_cannot_be_reached_is_a_usage_error() -> None:
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    done = _analyze(
        str(SAMPLES / "lab.har"),
        "--dask",
        "tcp://127.0.0.1:9",  # discard: nothing listens there
        env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"},
    )
    assert done.returncode == 2, done.stderr
    assert "cannot reach the scheduler" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_extra_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES / "lab.har"), "--dask", "local"])
    assert result.exit_code == 2
    assert "pip install 'oauth-inspector[dask]'" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unknown_url_scheme_is_a_usage_error() -> None:
    pytest.importorskip("fsspec", reason="the dask extra is not installed")
    result = CliRunner().invoke(main, ["analyze", "nosuchscheme://bucket/x.pcap", "--dask", "local"])
    assert result.exit_code == 2
    assert "nosuchscheme://bucket/x.pcap" in result.stderr


def test_the_package_declares_the_dask_extra() -> None:
    metadata = importlib.metadata.metadata("oauth-inspector")
    assert "dask" in (metadata.get_all("Provides-Extra") or [])
    extra = [r.split(";")[0] for r in metadata.get_all("Requires-Dist") or [] if "extra == 'dask'" in r]
    assert sorted(r.split(">")[0] for r in extra) == ["dask[distributed]", "fsspec"]


def test_dask_does_not_take_separately() -> None:
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES / "lab.har"), "--dask", "local", "--separately"])
    assert result.exit_code == 2
    assert "does not take --separately" in result.stderr


def test_standard_input_is_not_for_a_cluster() -> None:
    pytest.importorskip("fsspec", reason="the dask extra is not installed")
    result = CliRunner().invoke(main, ["analyze", "-", "--dask", "local"], input="")
    assert result.exit_code == 2
    assert "not standard input or a pipe" in result.stderr
