"""The lab over TLS, captured on loopback by tcpdump while it happens, then decrypted with the key log the driver
wrote: every scenario comes out of the encrypted capture with the findings its plaintext twin raises."""

from __future__ import annotations

import collections
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.client import SCENARIO_HEADER, drive
from inspector.lab.server import LabDir, LabServer, ServerOptions
from inspector.model import HttpExchange
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.keylog import load_keylogs
from tests.lab_live.expectations import expected_rules
from tests.lab_live.test_loopback_capture import _settle, _stop, _tcpdump, _wait_listening


@pytest.fixture
def tls_lab_server(lab_dir: LabDir) -> Iterator[LabServer]:
    with LabServer(lab_dir, tls=True, options=ServerOptions(offer_basic=True, offer_ntlm=True)) as server:
        yield server


def test_the_lab_over_tls_decrypts_to_what_the_server_decided(
    lab_dir: LabDir, tls_lab_server: LabServer, tmp_path: Path
) -> None:
    tcpdump = _tcpdump()
    path = tmp_path / "tls-loopback.pcap"
    keylog = tmp_path / "keys.log"
    port = tls_lab_server.address[1]
    command = [tcpdump, "-i", "lo", "-w", str(path), "-U", "--immediate-mode", "-B", "16384", "-n", "-Z", "root"]
    process = subprocess.Popen(
        [*command, "tcp", "port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_listening(process)
        assert tls_lab_server.url.startswith("https://")
        results = list(drive(lab_dir, target=tls_lab_server.url, now=datetime.now(UTC), keylog=keylog, insecure=True))
        _settle(path)
    finally:
        said = _stop(process)
    dropped = re.search(r"(\d+) packets? dropped by kernel", said)
    if dropped and int(dropped.group(1)):
        pytest.skip(f"the kernel dropped packets before tcpdump read them, so the capture is incomplete: {said}")

    # Without keys: nothing readable, and the notice names every client random whose key is missing.
    items = list(read_capture(path))
    assert not any(isinstance(item, HttpExchange) for item in items)
    # With the driver's key log: every request, in order, with the server's answer.
    exchanges = [item for item in read_capture(path, keylog=load_keylogs([keylog])) if isinstance(item, HttpExchange)]
    assert [e.request.header(SCENARIO_HEADER) for e in exchanges] == [r.step.scenario for r in results]
    assert [e.response.status if e.response else None for e in exchanges] == [r.status for r in results]
    assert all(e.tls is not None and e.tls.decrypted_with == "keylog" for e in exchanges)

    result = CliRunner().invoke(
        main,
        ["analyze", str(path), "--keylog", str(keylog), *lab_dir.trust_arguments(), "--format", "json", "--quiet"],
        catch_exceptions=False,
    )
    document = json.loads(result.stdout)
    rules: dict[str, set[str]] = collections.defaultdict(set)
    for finding in document["findings"]:
        if finding["exchange"] is not None:
            rules[finding["exchange"]].add(finding["rule"])
        else:
            assert finding["rule"].startswith("tls-") is False, finding
    ids = [exchange["id"] for exchange in document["exchanges"]]
    assert len(ids) == len(results)
    for exchange_id, item, expected in zip(ids, results, expected_rules(results), strict=True):
        assert rules[exchange_id] == expected, (item.step.scenario, item.status)
