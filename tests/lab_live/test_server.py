"""``lab serve`` and ``lab drive`` over real loopback sockets: what Exchange would answer, and staying up."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.http_auth import bearer_challenge_info, parse_ms_diagnostics, parse_www_authenticate
from inspector.lab.client import Exchanged, drive
from inspector.lab.folder import AUTH_CERT_FILE, LabDir
from inspector.lab.responder import ServerOptions
from inspector.lab.server import LabServer
from inspector.policy import EWS_PATH, METADATA_PATH
from inspector.trust import parse_metadata
from tests.lab.kit import ACCEPTED, DIAGNOSTIC_CODES


def _play(lab_dir: LabDir, url: str, *scenarios: str, **kwargs: object) -> list[Exchanged]:
    return list(drive(lab_dir, target=url, scenarios=scenarios or ("all",), now=datetime.now(UTC), **kwargs))  # type: ignore[arg-type]


def _by_scenario(results: list[Exchanged]) -> dict[str, list[Exchanged]]:
    out: dict[str, list[Exchanged]] = {}
    for item in results:
        out.setdefault(item.step.scenario, []).append(item)
    return out


def _diagnostic_code(item: Exchanged) -> int | None:
    values = item.header_all("x-ms-diagnostics")
    return parse_ms_diagnostics(values[0]).code if values else None


# --- answers ---------------------------------------------------------------------------------------------------


def test_every_scenario_gets_exchanges_answer(lab_dir: LabDir, lab_server: LabServer, server_log: list[str]) -> None:
    results = _by_scenario(_play(lab_dir, lab_server.url))
    assert results["metadata"][0].status == 200
    probe = results["probe"][0]
    assert probe.status == 401
    challenges = parse_www_authenticate(probe.header_all("WWW-Authenticate"))
    assert [c.scheme for c in challenges] == ["bearer", "basic", "negotiate", "ntlm"]
    info = bearer_challenge_info(challenges[0])
    assert info.client_id == "00000002-0000-0ff1-ce00-000000000000"
    assert any(lab_dir.realm in issuer for issuer in info.trusted_issuers)
    assert challenges[0].param("authorization_uri")
    for name, code in DIAGNOSTIC_CODES.items():
        item = results[name][0]
        assert (item.status, _diagnostic_code(item)) == (401, code), name
        assert (
            bearer_challenge_info(parse_www_authenticate(item.header_all("WWW-Authenticate"))[0]).error
            == "invalid_token"
        )
    for name in ACCEPTED:
        assert results[name][0].status == 200, name
        assert b"NoError" in results[name][0].body
    assert [r.status for r in results["basic-fallback"]] == [401, 200]
    assert [r.status for r in results["ntlm"]] == [401, 401, 200]
    assert results["ntlm"][1].header_all("WWW-Authenticate")[0].startswith("NTLM TlRMTVNTUAAC")
    tokens = results["token-requests"]  # the token-endpoint double answers as Entra does
    assert [r.status for r in tokens] == [200, 401, 401]
    assert b'"access_token"' in tokens[0].body
    renewed = lab_dir.kit(datetime.now(UTC)).rogue_cert.thumbprint.encode()
    assert b"AADSTS700027" in tokens[1].body and renewed in tokens[1].body
    assert b"AADSTS7000215" in tokens[2].body
    others = {"metadata", "probe", "basic-fallback", "ntlm", "token-requests"}
    assert set(DIAGNOSTIC_CODES) | ACCEPTED | others == set(results)
    # Four clients (the S2S caller, the Basic and NTLM clients, Exchange asking for tokens), four source addresses:
    # a proxy in between can tell them apart.
    assert {line.split()[0] for line in server_log} == {"127.0.0.10", "127.0.0.20", "127.0.0.30", "127.0.0.40"}
    assert not any("Lab-Passw0rd" in line or "eyJ" in line for line in server_log)


def test_without_basic_or_ntlm_offered_the_fallbacks_are_refused(lab_dir: LabDir) -> None:
    with LabServer(lab_dir) as server:
        results = _by_scenario(_play(lab_dir, server.url, "basic-fallback", "ntlm", "healthy-user"))
    assert [r.status for r in results["basic-fallback"]] == [401, 401]
    assert [r.status for r in results["ntlm"]] == [401, 401, 401]
    schemes = [c.scheme for c in parse_www_authenticate(results["ntlm"][1].header_all("WWW-Authenticate"))]
    assert schemes == ["bearer"]
    assert results["healthy-user"][0].status == 200


@pytest.mark.parametrize(("fault", "code"), [("ssl-offloading", 2000003), ("stale-metadata", 2000000)])
def test_faults_refuse_healthy_tokens(lab_dir: LabDir, fault: str, code: int) -> None:
    with LabServer(lab_dir, options=ServerOptions(faults=frozenset({fault}))) as server:
        (item,) = _play(lab_dir, server.url, "healthy-user")
    assert (item.status, _diagnostic_code(item)) == (401, code)
    if fault == "ssl-offloading":
        assert "Expected 'https://mail.contoso.com'" in item.header_all("x-ms-diagnostics")[0]


def test_absolute_form_requests_as_a_forward_proxy_sends_them(lab_dir: LabDir, lab_server: LabServer) -> None:
    # The lab server stands in for a proxy here: the client sends it what it would send one.
    results = _play(lab_dir, lab_server.url, "metadata", "healthy-user", proxy=lab_server.url)
    assert [r.status for r in results] == [200, 200]


def test_the_metadata_document_publishes_the_auth_certificate(lab_dir: LabDir, lab_server: LabServer) -> None:
    with urllib.request.urlopen(lab_server.url + METADATA_PATH, timeout=10) as response:  # noqa: S310  (loopback)
        body = response.read()
    keys = parse_metadata(body, "metadata")
    assert [k.x5t for k in keys] == [lab_dir.auth_cert.x5t]


def test_https_with_the_lab_certificate_and_sni(lab_dir: LabDir) -> None:
    with LabServer(lab_dir, tls=True) as server:
        assert server.url.startswith("https://")
        results = _by_scenario(_play(lab_dir, server.url, "healthy-user", "expired"))
        assert results["healthy-user"][0].status == 200
        assert results["expired"][0].status == 401
        # Plain HTTP to the HTTPS port: the connection fails, the server stays up.
        with socket.create_connection(server.address, timeout=5) as plain:
            plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            with contextlib.suppress(ConnectionResetError):
                assert not plain.recv(100).startswith(b"HTTP/")
        assert _play(lab_dir, server.url, "app-only")[0].status == 200


def test_keep_alive_and_concurrent_clients(lab_dir: LabDir, lab_server: LabServer) -> None:
    token = lab_dir.kit(datetime.now(UTC)).healthy_user().value
    host, port = lab_server.address

    def call(connection: http.client.HTTPConnection) -> int:
        connection.request(
            "POST", EWS_PATH, body=b"<x/>", headers={"Host": lab_dir.host, "Authorization": f"Bearer {token}"}
        )
        response = connection.getresponse()
        response.read()
        return response.status

    single = http.client.HTTPConnection(host, port, timeout=10)
    statuses = [call(single)]
    sock = single.sock
    statuses += [call(single) for _ in range(4)]
    assert single.sock is sock  # one connection for all five
    single.close()
    failures: list[BaseException] = []

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        try:
            statuses.extend(call(connection) for _ in range(10))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    idle = socket.create_connection((host, port), timeout=5)  # a client that never speaks must not block others
    try:
        threads = [threading.Thread(target=client) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        idle.close()
    assert not failures
    assert statuses == [200] * (5 + 16 * 10)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (f"POST {EWS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n".encode(), 413),
        (f"POST {EWS_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode(), 411),
        (b"GET /owa/ HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (f"POST {EWS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode(), 413),
    ],
)
def test_bad_requests_get_an_answer_and_the_server_stays_up(
    lab_dir: LabDir, lab_server: LabServer, request_bytes: bytes, status: int
) -> None:
    with socket.create_connection(lab_server.address, timeout=10) as raw:
        raw.sendall(request_bytes)
        answer = raw.recv(4096)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()) or answer.startswith(f"HTTP/1.0 {status} ".encode())
    assert _play(lab_dir, lab_server.url, "healthy-user")[0].status == 200


# --- the commands -----------------------------------------------------------------------------------------------


def test_lab_drive_prints_what_the_server_said(lab_dir: LabDir, lab_server: LabServer) -> None:
    result = CliRunner().invoke(
        main, ["lab", "drive", "--target", lab_server.url, "--cert-dir", str(lab_dir.path), "--format", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    expired = next(line for line in lines if line["scenario"] == "expired")
    assert expired["status"] == 401
    assert expired["expects"] == ["token-expired"]
    assert "2000001" in expired["said"]
    table = CliRunner().invoke(
        main, ["lab", "drive", "--target", lab_server.url, "--cert-dir", str(lab_dir.path), "--scenario", "probe"]
    )
    assert table.exit_code == 0
    assert re.search(
        r"probe\s+127\.0\.0\.10\s+401 Unauthorized; challenge: Bearer, Basic, Negotiate, NTLM", table.output
    )


def test_lab_drive_explains_what_is_wrong(lab_dir: LabDir, tmp_path: Path) -> None:
    unknown = CliRunner().invoke(
        main, ["lab", "drive", "--target", "http://127.0.0.1:9", "--cert-dir", str(lab_dir.path), "--scenario", "nope"]
    )
    assert unknown.exit_code == 2
    assert "unknown scenario nope" in unknown.output
    empty = CliRunner().invoke(main, ["lab", "drive", "--target", "http://127.0.0.1:9", "--cert-dir", str(tmp_path)])
    assert empty.exit_code == 2
    assert "not a lab folder" in empty.output
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = CliRunner().invoke(
        main, ["lab", "drive", "--target", f"http://127.0.0.1:{port}", "--cert-dir", str(lab_dir.path)]
    )
    assert refused.exit_code == 3
    assert "no answer" in refused.output


def test_lab_serve_prints_its_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from inspector.cli import run; run()", "lab", "serve", "--listen-port", "0"]
    command += ["--cert-dir", str(tmp_path / "lab"), "--offer-basic"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert match, first
        with urllib.request.urlopen(match.group(1) + METADATA_PATH, timeout=10) as response:  # noqa: S310
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) in (0, 130)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert (tmp_path / "lab" / AUTH_CERT_FILE).is_file()


def test_lab_serve_stops_cleanly_on_ctrl_c_while_still_printing_its_banner(tmp_path: Path) -> None:
    # A loaded machine may deliver Ctrl-C between the "listening" line and the rest of the banner.
    command = [sys.executable, "-c", "from inspector.cli import run; run()", "lab", "serve", "--listen-port", "0"]
    command += ["--cert-dir", str(tmp_path / "lab")]
    for _ in range(3):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        assert "listening on" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) in (0, 130), process.stdout.read()
        process.stdout.close()
