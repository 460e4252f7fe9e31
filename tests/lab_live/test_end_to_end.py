"""The whole tool live: the lab server, a real mitmdump with the addon in reverse mode in front of it, the lab
client driving every scenario through it, then the report, the saved flows, ``analyze`` and a replay compared.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mitmproxy import http
from mitmproxy.io import FlowReader

from inspector.cli import main
from inspector.lab.client import LAB_CLIENT_SECRET, SCENARIO_HEADER, Exchanged, Step, drive
from inspector.lab.folder import LabDir
from inspector.lab.responder import ServerOptions
from inspector.lab.server import LabServer, free_port
from inspector.live.annotate import MARKS, METADATA_KEY
from inspector.proxy import mitmproxy_command
from tests.lab_live.expectations import HEALTHY, OTHER_STEPS, expected_rules

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
VOLATILE_HEADERS = {"date", "request-id"}
# Each token scenario: the kit's rules, plus bearer-rejected when the server refused it. The other steps, with the
# lab offering Basic and NTLM beside Bearer and each scenario group on its own client address:


def _comparable(item: Exchanged) -> tuple[Any, ...]:
    headers = tuple((k, v) for k, v in item.headers if k.lower() not in VOLATILE_HEADERS)
    body: Any = item.body
    if item.step.scenario == "token-requests":  # tokens and timestamps are minted per request: compare the shape
        answer = json.loads(body)
        body = (sorted(answer), answer.get("error"), answer.get("error_codes"))
        headers = tuple((k, v) for k, v in headers if k.lower() != "content-length")
    return (item.step.scenario, item.status, item.reason, headers, body)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mitmdump exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"mitmdump did not listen on {port} within {START_TIMEOUT} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: mitmproxy runs its done hooks (summary, file closing)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _rules_by_flow(lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        line["provenance"]["flow_id"]: sorted(f["rule"] for f in line["findings"])
        for line in lines
        if line["type"] == "exchange"
    }


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextlib.contextmanager
def _proxy(arguments: list[str], tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``oauth-inspector proxy`` (which becomes mitmdump) on a loopback port, stopped as with Ctrl-C."""
    port = free_port()  # mitmdump cannot be asked to pick a port, so one that was free a moment ago
    log = tmp_path / "mitmdump.log"
    command = [sys.executable, "-c", "from inspector.cli import run; run()", "proxy"]
    command += ["--listen-host", "127.0.0.1", "--listen-port", str(port), *arguments]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    try:
        _wait_for_port(port, process, log)
        yield port, process
    finally:
        _stop(process)


@pytest.fixture
def proxied(lab_dir: LabDir, lab_server: LabServer, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Reverse mode in front of the lab, with a report and the flows saved."""
    arguments = ["--reverse", lab_server.url, *lab_dir.trust_arguments(), "--report", str(tmp_path / "report.jsonl")]
    with _proxy([*arguments, "--", "-w", str(tmp_path / "flows.mitm")], tmp_path) as running:
        yield running


def test_every_scenario_through_a_real_mitmdump(
    lab_dir: LabDir, lab_server: LabServer, proxied: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, process = proxied
    direct = list(drive(lab_dir, target=lab_server.url, now=datetime.now(UTC)))
    through = list(drive(lab_dir, target=f"http://127.0.0.1:{port}", now=datetime.now(UTC)))
    _stop(process)
    assert process.returncode == 0, (tmp_path / "mitmdump.log").read_text(errors="replace")[-3000:]

    # The proxy changed nothing the client got.
    assert [_comparable(i) for i in through] == [_comparable(i) for i in direct]
    assert {i.step.scenario for i in through if i.status == 200} >= HEALTHY

    # The report: every scenario's expected findings, nothing on healthy traffic, and a summary at the end.
    report = _jsonl((tmp_path / "report.jsonl").read_text())
    exchanges = [line for line in report if line["type"] == "exchange"]
    assert report[-1]["type"] == "summary"
    assert report[-1]["exchanges"] == len(through)
    with (tmp_path / "flows.mitm").open("rb") as saved:
        flows = [f for f in FlowReader(saved).stream() if isinstance(f, http.HTTPFlow)]
    assert [f.request.headers[SCENARIO_HEADER] for f in flows] == [i.step.scenario for i in through]
    assert [line["provenance"]["flow_id"] for line in exchanges] == [f.id for f in flows]
    expected = expected_rules(through)
    got = [{f["rule"] for f in line["findings"]} for line in exchanges]
    assert list(zip([i.step.scenario for i in through], got, strict=True)) == list(
        zip([i.step.scenario for i in through], expected, strict=True)
    )
    for item, line in zip(through, exchanges, strict=True):
        if item.step.scenario in HEALTHY:
            assert line["findings"] == []
            assert line["auth"]["token"]["signature"] == "valid"
        assert line["host"] == (item.step.host or lab_dir.host)  # the Host the client sent, kept through the proxy

    # The saved flows carry their verdicts.
    for flow, rules in zip(flows, got, strict=True):
        if flow.request.headers[SCENARIO_HEADER] == "metadata":  # nothing about authentication: left alone
            assert (flow.metadata, flow.comment, flow.marked) == ({}, "", "")
            continue
        data = flow.metadata[METADATA_KEY]
        assert {f["rule"] for f in data["findings"]} == rules
        severities = {f["severity"] for f in data["findings"]}
        mark = MARKS["error"] if "error" in severities else MARKS["warning"] if severities else ""
        assert flow.marked == mark
        assert flow.comment.startswith(f"oauth-inspector: {data['verdict']}")
    live_rules = _rules_by_flow(report)

    # analyze on the saved file finds the same.
    analyzed = CliRunner().invoke(
        main, ["analyze", str(tmp_path / "flows.mitm"), *lab_dir.trust_arguments(), "--format", "jsonl"]
    )
    assert analyzed.exit_code == 1, analyzed.output  # 1: findings at or above error, as expected
    assert _rules_by_flow(_jsonl(analyzed.stdout)) == live_rules

    # So does a replay of the saved file through the repository's addon script.
    replay = tmp_path / "replay.jsonl"
    command = [*mitmproxy_command("mitmdump"), "-q", "-nr", str(tmp_path / "flows.mitm")]
    command += ["-s", str(REPO / "addons" / "oauth_inspector.py"), "--set", f"oauth_report={replay}"]
    command += [
        "--set",
        f"oauth_cert={lab_dir.trust_arguments()[1]}",
        "--set",
        f"oauth_metadata={lab_dir.trust_arguments()[3]}",
    ]
    command += ["--set", f"oauth_realm={lab_dir.realm}"]
    finished = subprocess.run(command, capture_output=True, timeout=60, cwd=tmp_path, check=False)
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")[-3000:]
    assert _rules_by_flow(_jsonl(replay.read_text())) == live_rules


def test_a_forward_proxy_over_https(lab_dir: LabDir, tmp_path: Path) -> None:
    """Regular (forward) mode: the client tunnels with CONNECT, TLS carries the lab host as SNI, the Host header
    names it too, and the addon judges the tokens in the decrypted traffic."""
    report = tmp_path / "report.jsonl"
    with LabServer(lab_dir, tls=True, options=ServerOptions(offer_basic=True)) as server:
        arguments = [*lab_dir.trust_arguments(), "--report", str(report), "--", "--set", "ssl_insecure=true"]
        with _proxy(arguments, tmp_path) as (port, process):
            results = list(
                drive(
                    lab_dir,
                    target=server.url,
                    proxy=f"http://127.0.0.1:{port}",
                    scenarios=("healthy-user", "expired", "basic-fallback"),
                    now=datetime.now(UTC),
                    insecure=True,  # mitmproxy's own CA signs what the client sees
                )
            )
            _stop(process)
    assert [r.status for r in results] == [200, 401, 401, 200]
    lines = [line for line in _jsonl(report.read_text()) if line["type"] == "exchange"]
    assert [{f["rule"] for f in line["findings"]} for line in lines] == [
        set(),
        {"token-expired", "bearer-rejected", "basic-offered"},  # the S2S client's first 401 offers Basic too
        {"basic-offered"},
        {"basic-credentials", "basic-fallback"},
    ]
    assert {line["host"] for line in lines} == {lab_dir.host}
    assert {line["scheme"] for line in lines} == {"https"}


def test_steps_cover_every_token_scenario(lab_dir: LabDir) -> None:
    """The end-to-end test is only as good as the scenarios driven: all of the kit's, plus the fallbacks."""
    from inspector.lab.client import scenario_steps

    kit = lab_dir.kit(datetime.now(UTC))
    steps: dict[str, list[Step]] = scenario_steps(kit)
    assert {m.name for m in kit.scenarios()} | set(OTHER_STEPS) == set(steps)


def test_repeated_healthy_calls_through_a_real_mitmdump_match_a_full_analysis(
    lab_dir: LabDir, lab_server: LabServer, proxied: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """A session as S2S callers make them: the same healthy tokens again and again, with an expired one between.
    Repeats of a clean exchange are published without judging them again; everything they get must be what a full
    analysis of the saved flows gives (only the naming differs: live ids against the file's)."""
    port, process = proxied
    now = datetime.now(UTC)
    through = []
    for _ in range(4):
        scenarios = (*sorted(HEALTHY), "expired", "healthy-user")
        through += list(drive(lab_dir, target=f"http://127.0.0.1:{port}", scenarios=scenarios, now=now))
    _stop(process)
    assert process.returncode == 0, (tmp_path / "mitmdump.log").read_text(errors="replace")[-3000:]
    assert [i.status for i in through if i.step.scenario in HEALTHY] == [200] * (len(HEALTHY) + 1) * 4

    naming = ("id", "source", "provenance")
    live = [line for line in _jsonl((tmp_path / "report.jsonl").read_text()) if line["type"] == "exchange"]
    analyzed = CliRunner().invoke(
        main, ["analyze", str(tmp_path / "flows.mitm"), *lab_dir.trust_arguments(), "--format", "jsonl"]
    )
    full = [line for line in _jsonl(analyzed.stdout) if line["type"] == "exchange"]
    assert len(live) == len(full) == len(through)

    def unnamed(line: dict[str, Any]) -> dict[str, Any]:
        findings = [{k: v for k, v in f.items() if k != "exchange"} for f in line["findings"]]
        return {k: v for k, v in line.items() if k not in naming} | {"findings": findings}

    for live_line, full_line in zip(live, full, strict=True):
        assert unnamed(live_line) == unnamed(full_line)
        assert live_line["provenance"]["flow_id"] == full_line["provenance"]["flow_id"]
    assert sum(not line["findings"] for line in live) == (len(HEALTHY) + 1) * 4


def test_exchange_token_requests_through_a_forward_proxy(lab_dir: LabDir, tmp_path: Path) -> None:
    """The recipe: `oauth-inspector proxy` as the forward proxy Exchange sends its outbound calls through
    (Set-ExchangeServer -InternetWebProxy), with its CA trusted. Exchange's token requests to the Entra double,
    whose service principal lacks the auth certificate, are judged live and named in the report."""
    report = tmp_path / "report.jsonl"
    options = ServerOptions(faults=frozenset({"sp-key-missing"}))
    with LabServer(lab_dir, tls=True, options=options) as server:
        arguments = [*lab_dir.trust_arguments(), "--report", str(report), "--", "--set", "ssl_insecure=true"]
        with _proxy(arguments, tmp_path) as (port, process):
            results = list(
                drive(
                    lab_dir,
                    target=server.url,
                    proxy=f"http://127.0.0.1:{port}",
                    scenarios=("token-requests",),
                    now=datetime.now(UTC),
                    insecure=True,
                )
            )
            _stop(process)
    assert [r.status for r in results] == [401, 401, 401]
    lines = [line for line in _jsonl(report.read_text()) if line["type"] == "exchange"]
    assert [{f["rule"] for f in line["findings"]} for line in lines] == [
        {"token-request-failed"},
        {"token-request-failed", "signing-key-unknown"},
        {"token-request-failed"},
    ]
    assert {line["host"] for line in lines} == {"login.microsoftonline.com"}
    assert {line["scheme"] for line in lines} == {"https"}
    first = next(f for f in lines[0]["findings"] if f["rule"] == "token-request-failed")
    thumbprint = lab_dir.auth_cert.thumbprint
    assert first["evidence"]["thumbprint"] == thumbprint
    assert first["evidence"]["thumbprint_is"].startswith(f"{thumbprint} is the auth certificate you gave (")
    assert lines[0]["token_request"]["client_assertion"]["kind"] == "client-assertion"
    assert lines[0]["token_request"]["client_assertion"]["signature"] == "valid"
    text = report.read_text()
    assert LAB_CLIENT_SECRET not in text
    for item in results:
        body = item.step.body or b""
        if b"client_assertion=" in body:
            assertion = body.split(b"client_assertion=", 1)[1].split(b"&", 1)[0]
            assert assertion.rsplit(b".", 1)[1][:40].decode() not in text
