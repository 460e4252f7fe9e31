"""Real lab traffic captured on loopback by tcpdump while it happens, then read back by the capture reader and
analysed: the findings per scenario must match what the live server decided."""

from __future__ import annotations

import collections
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.client import SCENARIO_HEADER, drive
from inspector.lab.folder import LabDir
from inspector.lab.server import LabServer
from inspector.model import HttpExchange
from inspector.sources.pcap import read_capture
from tests.lab_live.expectations import HEALTHY, expected_rules

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def _tcpdump() -> str:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not on PATH (install it to capture live loopback traffic)")
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("capturing on the loopback interface needs root")
    return tcpdump


@pytest.fixture
def capturing(lab_server: LabServer, tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """tcpdump writing the lab server's traffic on ``lo`` to a file, once it says it is listening."""
    tcpdump = _tcpdump()
    path = tmp_path / "loopback.pcap"
    port = lab_server.address[1]
    # --immediate-mode: without it, packets still in a half-filled kernel buffer block are lost when tcpdump is
    # stopped a moment after the traffic; -U: write each packet at once; -Z root: keep the rights to write where
    # pytest made the folder.
    # -B: a 16 MiB kernel buffer, so a busy machine does not drop packets before tcpdump reads them.
    command = [tcpdump, "-i", "lo", "-w", str(path), "-U", "--immediate-mode", "-B", "16384", "-n", "-Z", "root"]
    command += ["tcp", "port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_listening(process)
        yield path, process
    finally:
        _stop(process)


def _wait_listening(process: subprocess.Popen[bytes]) -> None:
    assert process.stderr is not None
    said = b""
    deadline = time.monotonic() + START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while b"listening on lo" not in said:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(
                    f"tcpdump did not start listening within {START_TIMEOUT} s: {said.decode(errors='replace')}"
                )
            if selector.select(timeout=remaining):
                chunk = os.read(process.stderr.fileno(), 4096)
                if not chunk:
                    _stop(process)
                    pytest.skip(
                        f"tcpdump cannot capture here (exit {process.returncode}): {said.decode(errors='replace')}"
                    )
                said += chunk


def _settle(path: Path) -> None:
    """Wait until tcpdump has written what it received: the file stops growing (stopping it at once loses the
    packets it has not read yet)."""
    deadline = time.monotonic() + STOP_TIMEOUT
    size = -1
    while time.monotonic() < deadline:
        now = path.stat().st_size if path.exists() else 0
        if now == size:
            return
        size = now
        time.sleep(0.3)


def _stop(process: subprocess.Popen[bytes]) -> str:
    """Stop tcpdump; what it said last (its packet counts, "dropped by kernel" among them)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # tcpdump flushes and closes the file on SIGINT
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    said = ""
    if process.stderr is not None:
        if not process.stderr.closed:
            said = process.stderr.read().decode(errors="replace")[-500:]
        process.stderr.close()
    return said


def test_live_loopback_capture_is_analysed_as_the_server_decided(
    lab_dir: LabDir, lab_server: LabServer, capturing: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    path, process = capturing
    results = list(drive(lab_dir, target=lab_server.url, now=datetime.now(UTC)))
    _settle(path)
    said = _stop(process)
    assert process.returncode == 0, f"tcpdump exited with {process.returncode}: {said}"
    dropped = re.search(r"(\d+) packets? dropped by kernel", said)
    if dropped and int(dropped.group(1)):
        pytest.skip(f"the kernel dropped packets before tcpdump read them, so the capture is incomplete: {said}")

    # The reader sees every request the client sent, in order, with the server's answer.
    exchanges = [item for item in read_capture(path) if isinstance(item, HttpExchange)]
    got = [e.request.header(SCENARIO_HEADER) for e in exchanges]
    assert got == [r.step.scenario for r in results], f"tcpdump said: {said}"
    assert [e.response.status if e.response else None for e in exchanges] == [r.status for r in results]
    assert {r.step.scenario for r in results if r.status == 200} >= HEALTHY

    # analyze on the file: each exchange raises exactly what the server's decision implies.
    result = CliRunner().invoke(
        main,
        ["analyze", str(path), *lab_dir.trust_arguments(), "--format", "json", "--quiet"],
        catch_exceptions=False,
    )
    document = json.loads(result.stdout)
    rules: dict[str, set[str]] = collections.defaultdict(set)
    severities: dict[str, set[str]] = collections.defaultdict(set)
    run_level = []
    for finding in document["findings"]:
        if finding["exchange"] is None:
            run_level.append(finding)
            continue
        rules[finding["exchange"]].add(finding["rule"])
        severities[finding["exchange"]].add(finding["severity"])
    # The only capture-wide findings: the trust inventory sees the server's challenge refuse the issuers of the
    # lab's wrong-principal and wrong-realm tokens.
    assert {f["rule"] for f in run_level} == {"issuer-not-trusted-by-server"}, run_level
    for finding in run_level:
        assert rules[finding["evidence"]["first_exchange"]] & {"issuer-unexpected", "realm-mismatch"}, finding
    ids = [exchange["id"] for exchange in document["exchanges"]]
    assert len(ids) == len(results)
    for exchange_id, item, expected in zip(ids, results, expected_rules(results), strict=True):
        assert rules[exchange_id] == expected, (item.step.scenario, item.status)
        if item.step.scenario in HEALTHY:
            assert "error" not in severities[exchange_id], item.step.scenario
