"""``analyze --follow`` on a real ring buffer: tcpdump rotates its file every second (``-G 1``) while the lab's
client talks to the lab server on loopback, and a real oauth-inspector process follows the folder; stopped (tcpdump
first, then the follower), its report equals ``analyze`` over the finished folder and holds every exchange sent."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspector.lab.client import drive
from inspector.lab.folder import LabDir
from inspector.lab.server import LabServer
from tests.lab_live.test_loopback_capture import _stop, _tcpdump, _wait_listening

ROUNDS = 3


def _settled(folder: Path) -> None:
    """Wait until tcpdump has written what it received: the folder stops growing."""
    size = -1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = sum(p.stat().st_size for p in folder.iterdir())
        if now == size:
            return
        size = now
        time.sleep(0.3)


def test_follow_reads_a_tcpdump_ring_as_analyze_reads_the_finished_folder(
    lab_dir: LabDir, lab_server: LabServer, tmp_path: Path
) -> None:
    tcpdump = _tcpdump()
    ring = tmp_path / "ring"
    ring.mkdir()
    port = lab_server.address[1]
    command = [tcpdump, "-i", "lo", "-w", str(ring / "exch-%s.pcap"), "-G", "1", "-U", "--immediate-mode"]
    command += ["-B", "16384", "-n", "-Z", "root", "tcp", "port", str(port)]
    capture = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    out = tmp_path / "follow.jsonl"
    trust = lab_dir.trust_arguments()
    follower = [sys.executable, "-m", "inspector", "analyze", "--follow", str(ring), *trust, "-o", str(out)]
    follow = subprocess.Popen(
        [*follower, "--follow-interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_listening(capture)
        sent = []
        for _ in range(ROUNDS):  # a pause of more than a second between rounds: tcpdump starts a new file
            sent += list(drive(lab_dir, target=lab_server.url, now=datetime.now(UTC)))
            time.sleep(1.2)
        _settled(ring)
    finally:
        said = _stop(capture)
        follow.send_signal(signal.SIGINT)
        _, err = follow.communicate(timeout=120)
    dropped = re.search(r"(\d+) packets? dropped by kernel", said)
    if dropped and int(dropped.group(1)):
        pytest.skip(f"the kernel dropped packets before tcpdump read them, so the capture is incomplete: {said}")
    files = sorted(ring.iterdir())
    assert len(files) >= ROUNDS, files  # a real ring: the conversation is spread over several files
    together = subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", str(ring), *trust, "--format", "jsonl"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert follow.returncode == together.returncode, err
    assert out.read_text(encoding="utf-8") == together.stdout
    lines = [json.loads(line) for line in together.stdout.splitlines()]
    assert len([line for line in lines if line["type"] == "exchange"]) == len(sent)
