"""``analyze --follow DIR`` end to end: a real oauth-inspector process follows a folder while the test writes ring
files into it one by one (a lab capture split by editcap between a Bearer 401 and the Basic retry), then SIGINT;
the report equals ``analyze`` over the same files given together. Also: a SARIF file stays a valid document while
the run goes on, and the wrong uses are refused with exit 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import load_configuration, main
from inspector.cli_follow import follow_folder
from inspector.report.writers import JsonlWriter
from inspector.selection import build_selection
from inspector.settings import TrustArguments, build_settings
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"
REALM = json.loads((SAMPLES / "expected.json").read_text())["realm"]
TRUST = ["--cert", str(SAMPLES / "OAuthCert.cer"), "--metadata", str(SAMPLES / "acs-metadata.json"), "--realm", REALM]
BASIC_RETRY_FRAME = 466
"""lab.pcapng: frame 458 is a Bearer 401 on a connection, frame 466 the Basic retry on it (tshark shows both)."""


def _ring(tmp_path: Path, packets: int) -> list[Path]:
    if shutil.which("editcap") is None:
        pytest.skip("editcap (wireshark-common) is not installed")
    folder = tmp_path / "made"
    folder.mkdir()
    # dumpcap -b names (ring_00000_<time>.pcapng): editcap -c writes them as a ring buffer would.
    command = ["editcap", "-c", str(packets), str(SAMPLES / "lab.pcapng"), str(folder / "ring.pcapng")]
    subprocess.run(command, check=True)
    return sorted(folder.iterdir())


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def _follow(folder: Path, output: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "inspector", "analyze", "--follow", str(folder), *TRUST, "-o", str(output)]
    return subprocess.Popen(
        [*command, "--follow-interval", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def test_follow_gives_what_analyze_gives_over_the_same_files(tmp_path: Path) -> None:
    parts = _ring(tmp_path, BASIC_RETRY_FRAME - 6)  # the second file starts between the 401 and the retry
    assert len(parts) == 2
    ring = tmp_path / "ring"
    ring.mkdir()
    out = tmp_path / "follow.jsonl"
    process = _follow(ring, out)
    try:
        shutil.copy(parts[0], ring)
        time.sleep(0.5)
        assert _lines(out) == 0  # the only file of the ring is still open: not read yet
        shutil.copy(parts[1], ring)
        _wait_for(lambda: _lines(out) > 0, "the first file's results (flushed when it is read)")
        first = _lines(out)
        assert process.poll() is None
    finally:
        code, err = _stop(process)
    assert code == 1, err  # the lab capture holds errors on purpose: exit as analyze's --fail-on error
    together = tmp_path / "together.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", str(ring), *TRUST, "-o", str(together)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert out.read_text(encoding="utf-8") == together.read_text(encoding="utf-8")
    assert _lines(out) > first  # the open file was read at the stop
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[-1]["type"] == "summary"
    assert lines[-1]["exchanges"] > 20
    # The Bearer 401 closed the first file, the Basic retry opened the second: one timeline sees the fallback.
    exchanges = [line for line in lines if line["type"] == "exchange"]
    fallbacks = [f for line in exchanges for f in line["findings"] if f["rule"] == "basic-fallback"]
    assert fallbacks


def test_a_sarif_report_is_a_valid_document_after_every_file(tmp_path: Path) -> None:
    parts = _ring(tmp_path, 200)
    ring = tmp_path / "ring"
    ring.mkdir()
    out = tmp_path / "report.sarif"
    process = _follow(ring, out)
    seen: list[int] = []
    try:
        for part in parts:
            shutil.copy(part, ring)
            if part is not parts[0]:
                _wait_for(lambda: out.exists() and _results(out) not in (None, *seen), "a new SARIF snapshot")
                seen.append(_results(out) or 0)
    finally:
        code, err = _stop(process)
    assert code == 1, err
    assert len(seen) == len(parts) - 1 and seen == sorted(seen)
    final = json.loads(out.read_text(encoding="utf-8"))
    assert len(final["runs"][0]["results"]) > seen[-1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.sarif")]  # no temporary left


def _results(path: Path) -> int | None:
    """How many results the SARIF file holds now (it must always parse: it is replaced whole)."""
    return len(json.loads(path.read_text(encoding="utf-8"))["runs"][0]["results"])


def test_sigterm_stops_it_too_and_an_empty_folder_is_a_clean_run(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    process = _follow(tmp_path, out)
    _wait_for(out.exists, "the output file")
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[-1])["exchanges"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "b"], "exactly one folder"),
        ([os.devnull], "exactly one folder"),
        (["{folder}", "--dask", "local"], "does not take --dask"),
        (["{folder}", "--separately"], "does not take --separately"),
        # found at the start, not as an internal error after the first file is read (found by review)
        (["{folder}", "-o", "{folder}/missing/report.json"], "/missing does not exist"),
        (["{folder}", "-o", "{folder}/missing/report.jsonl"], "Cannot write"),
    ],
)
def test_follow_takes_one_folder(tmp_path: Path, args: list[str], message: str) -> None:
    given = [a.replace("{folder}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, ["analyze", "--follow", *given], catch_exceptions=False)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_capture_still_being_written_at_the_stop_is_no_error(tmp_path: Path) -> None:
    parts = _ring(tmp_path, 200)
    ring = tmp_path / "ring"
    ring.mkdir()
    out = tmp_path / "follow.jsonl"
    process = _follow(ring, out)
    try:
        shutil.copy(parts[0], ring)
        (ring / parts[1].name).write_bytes(parts[1].read_bytes()[:-30])  # the writer is inside its last record
        _wait_for(lambda: _lines(out) > 0, "the closed file's results")
    finally:
        code, err = _stop(process)
    assert code == 1, err  # findings, not an unreadable input
    kinds = [json.loads(line)["type"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert "error" not in kinds


def test_in_process_a_line_per_look_that_read_files_and_the_stop_reads_the_rest(tmp_path: Path) -> None:
    parts = _ring(tmp_path, 200)
    ring = tmp_path / "ring"
    ring.mkdir()
    for part in parts:
        shutil.copy(part, ring)
    settings = build_settings(TrustArguments(), output_format="jsonl", now=datetime.now(UTC))
    told: list[str] = []
    stop = threading.Event()
    stop.set()  # stopped before the first look: what is there is read, then the report is closed
    code = follow_folder(
        ring,
        settings=settings,
        selection=build_selection(),
        keylog=None,
        configuration=load_configuration(None, None),
        output=tmp_path / "out.jsonl",
        make_writer=lambda out, _sources: JsonlWriter(out, show_secrets=False),
        interval=0.01,
        stop=stop,
        tell=told.append,
    )
    assert code == 1
    closed = ", ".join(p.name for p in parts[:-1])
    assert told[0].startswith(f"read {closed}: ") and told[1].startswith(f"read {parts[-1].name}: ")
    assert told[1].endswith("findings so far") and len(told) == 2
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()[-1])["type"] == "summary"
