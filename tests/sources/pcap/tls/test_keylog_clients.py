"""Key logs written by other real clients: curl (``SSLKEYLOGFILE``) and mitmproxy (``MITMPROXY_SSLKEYLOGFILE``,
both of its legs in reverse mode), decrypted byte for byte as tshark decrypts them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sources.pcap.tls.live import (
    TSHARK_TLS,
    Client,
    Request,
    capture,
    client_context,
    h2_server,
    server_context,
    tls_server,
    tshark,
    valid_cert,
)
from tests.sources.pcap.tls.test_session_live import check_against_tshark, read


def test_curl_keylog(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not on PATH")
    keylog = tmp_path / "curl-keys.log"
    with tls_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port) as path:
        command = [curl, "-sk", "--http1.1", "--resolve", f"localhost:{port}:127.0.0.1"]
        command += ["-H", "Authorization: Bearer from-curl"]
        command += [f"https://localhost:{port}/first", f"https://localhost:{port}/second"]
        result = subprocess.run(
            command, env={**os.environ, "SSLKEYLOGFILE": str(keylog)}, capture_output=True, timeout=30, check=False
        )
    assert result.returncode == 0, result.stderr
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [e.request.target for e in exchanges] == ["/first", "/second"]  # one keep-alive connection
    assert len(facts) == 1 and facts[0].sni == "localhost"
    assert all(e.request.header("authorization") == "Bearer from-curl" for e in exchanges)
    check_against_tshark(path, keylog, exchanges)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_mitmproxy_keylog_decrypts_both_legs(tmp_path: Path) -> None:
    mitmdump = Path(sys.executable).with_name("mitmdump")
    if not mitmdump.exists():
        pytest.skip("mitmdump is not installed in this environment")
    keylog = tmp_path / "mitm-keys.log"
    listen = _free_port()
    with tls_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port, listen) as path:
        command = [str(mitmdump), "-q", "--mode", f"reverse:https://localhost:{port}", "--listen-host", "127.0.0.1"]
        command += ["--listen-port", str(listen), "--ssl-insecure", "--set", f"confdir={tmp_path / 'mitm'}"]
        env = {**os.environ, "MITMPROXY_SSLKEYLOGFILE": str(keylog)}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("mitmdump did not start listening")
                    time.sleep(0.2)
            Client(listen, client_context(tmp_path / "client-keys.log")).run([Request(target="/via-mitmproxy")])
        finally:
            process.terminate()
            process.wait(timeout=20)
            assert process.stderr is not None
            process.stderr.close()
    # Both legs (client -> mitmdump, mitmdump -> server) open with mitmdump's key log alone.
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == [], [(f.status, f.client_random, f.version, f.requests) for f in facts]
    assert [e.request.target for e in exchanges] == ["/via-mitmproxy", "/via-mitmproxy"]
    assert {e.server.port for e in exchanges if e.server} == {listen, port}
    check_against_tshark(path, keylog, exchanges)


def _tshark_h2(path: Path, keylog: Path) -> list[tuple[str, str, str]]:
    command = [tshark(), "-n", "-r", str(path), "-o", f"tls.keylog_file:{keylog}", "-Y", "http2.headers.method"]
    command += [*TSHARK_TLS]
    command += ["-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x01"]
    command += ["-e", "http2.headers.method", "-e", "http2.headers.path", "-e", "http2.headers.authorization"]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout
    rows: list[tuple[str, str, str]] = []
    for line in output.splitlines():
        methods, paths, auths = [*line.split("\t"), "", "", ""][:3]
        rows += zip(methods.split("\x01"), paths.split("\x01"), auths.split("\x01"), strict=True)
    return rows


@pytest.mark.parametrize("version", ["--tlsv1.3", "--tls-max"])
def test_http2_streams_become_exchanges(version: str, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not on PATH")
    keylog = tmp_path / "curl-keys.log"
    limits = ["--tlsv1.3"] if version == "--tlsv1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    with h2_server(server_context(valid_cert(tmp_path))) as port, capture(tmp_path, port) as path:
        command = [curl, "-sk", "--http2", *limits, "--resolve", f"localhost:{port}:127.0.0.1"]
        command += ["-H", "Authorization: Bearer over-h2"]
        command += [f"https://localhost:{port}/one", f"https://localhost:{port}/two", f"https://localhost:{port}/3"]
        result = subprocess.run(
            command, env={**os.environ, "SSLKEYLOGFILE": str(keylog)}, capture_output=True, timeout=30, check=False
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ok /one\nok /two\nok /3\n"
    exchanges, notices, facts = read(path, keylog)
    assert [n.rule for n in notices] == []
    assert [(e.request.method, e.request.target) for e in exchanges] == [
        ("GET", "/one"),
        ("GET", "/two"),
        ("GET", "/3"),
    ]
    assert all(e.response is not None and e.response.status == 200 for e in exchanges)
    assert all(e.request.version == "HTTP/2" and e.host == f"localhost:{port}" for e in exchanges)
    assert all(e.tls is not None and e.tls.alpn == "h2" for e in exchanges)
    assert facts[0].alpn == "h2" and facts[0].requests == 3
    ours = [(e.request.method, e.request.target, e.request.header("authorization") or "") for e in exchanges]
    assert ours == _tshark_h2(path, keylog)
