"""exchange.metadata and exchange.challenge against the lab server and scripted servers on 127.0.0.1: healthy,
Basic beside Bearer, redirects, wrong answers, an unreachable host, a TLS error, a server that never answers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import exchange_metadata
from inspector.lab.scenarios import bearer_challenge
from inspector.lab.server import LabServer
from inspector.model import ConfigError
from inspector.remote.http import TlsOptions, request
from inspector.verifyoauth.context import Request
from inspector.verifyoauth.http_probe import exchange_base
from inspector.verifyoauth.model import Check
from tests.doubles.loopback import url_of
from tests.verifyoauth.conftest import NOW, Material, check_map, closed_port

EWS = "/EWS/Exchange.asmx"
METADATA = "/autodiscover/metadata/json/1"


def _probes(url: str, cert: Path | None = None, **kw: Any) -> tuple[Check, Check, dict[str, Check]]:
    checks = check_map(Request(cert=cert, exchange_url=url, **kw))
    return checks["exchange.metadata"], checks["exchange.challenge"], checks


def test_lab_server_passes_with_its_certificate(lab_server: LabServer, cert_file: Path) -> None:
    metadata, challenge, _ = _probes(lab_server.url, cert_file)
    assert metadata.status == "PASS" and "lists the certificate" in metadata.reason
    assert challenge.status == "PASS" and "no realm to compare" in challenge.reason


def test_basic_beside_bearer_warns(lab_server_basic: LabServer, cert_file: Path) -> None:
    _, challenge, _ = _probes(lab_server_basic.url, cert_file)
    assert challenge.status == "WARN"
    assert "-BasicAuthentication $false" in (challenge.remedy or "")


def test_metadata_without_the_certificate(lab_server: LabServer, material: Material, tmp_path: Path) -> None:
    from inspector.lab.certs import write_cer

    other = write_cer(tmp_path / "other.cer", material.next_cert)
    metadata, _, _ = _probes(lab_server.url, other)
    assert metadata.status == "FAIL"
    assert material.next_cert.x5t in metadata.reason
    assert "Set-AuthConfig -PublishCertificate" in (metadata.remedy or "")


def test_unreachable_host_fails_both_probes_and_the_rest_runs(cert_file: Path) -> None:
    metadata, challenge, checks = _probes(f"http://127.0.0.1:{closed_port()}", cert_file)
    for check in (metadata, challenge):
        assert check.status == "FAIL" and "connection refused" in check.reason
    assert checks["cert.readable"].status == "PASS"


def test_tls_error_then_ca_bundle_then_insecure(lab_tls_server: LabServer, material: Material, cert_file: Path) -> None:
    assert lab_tls_server.url.startswith("https://127.0.0.1:")
    metadata, challenge, _ = _probes(lab_tls_server.url, cert_file)
    assert metadata.status == challenge.status == "FAIL"
    assert "not trusted" in metadata.reason and "--ca-bundle" in metadata.reason
    trusted = TlsOptions(ca_bundle=material.lab.tls_cert)
    metadata, challenge, _ = _probes(lab_tls_server.url, cert_file, tls=trusted)
    assert metadata.status == challenge.status == "PASS"
    metadata, _, _ = _probes(lab_tls_server.url, cert_file, tls=TlsOptions(verify=False))
    assert metadata.status == "PASS"


def _challenge(value: str) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    return 401, (("WWW-Authenticate", value),), b""


def test_scripted_failures(scripted, material: Material, cert_file: Path) -> None:  # type: ignore[no-untyped-def]
    url = url_of(scripted)
    kit = material.lab.kit(NOW)
    scripted.answers = {
        METADATA: (302, (("Location", "https://sts.contoso.com/adfs/ls/?wa=wsignin1.0"),), b""),
        EWS: _challenge("Negotiate"),
    }
    metadata, challenge, _ = _probes(url, cert_file)
    assert metadata.status == "FAIL" and "not followed" in metadata.reason
    assert "sts.contoso.com" in metadata.reason
    assert challenge.status == "FAIL" and "-OAuthAuthentication $true" in (challenge.remedy or "")

    scripted.answers = {
        METADATA: (200, (), b"<html>login</html>"),
        EWS: (401, (("WWW-Authenticate", bearer_challenge(kit).replace("00000002-", "00000003-", 1)),), b""),
    }
    metadata, challenge, _ = _probes(url, cert_file)
    assert metadata.status == "FAIL" and "not a JSON metadata document" in metadata.reason
    assert challenge.status == "FAIL" and "not Exchange's" in challenge.reason

    flighting = (
        "4000000;reason=\"Flighting is not enabled for domain 'mail.contoso.com'.\";"
        'error_category="oauth_not_available"'
    )
    scripted.answers = {
        METADATA: (200, (), b"x" * (1024 * 1024 + 10)),
        EWS: (401, (("WWW-Authenticate", bearer_challenge(kit, error=True)), ("x-ms-diagnostics", flighting)), b""),
    }
    metadata, challenge, _ = _probes(url, cert_file)
    assert metadata.status == "FAIL" and "more than 1 MiB" in metadata.reason
    assert challenge.status == "FAIL" and "Flighting" in challenge.reason

    foreign = json.dumps(exchange_metadata([kit.auth_cert])).replace("00000002-", "00000003-").encode()
    scripted.answers = {METADATA: (200, (), foreign), EWS: (200, (), b"<soap/>")}
    metadata, challenge, _ = _probes(url, cert_file)
    assert metadata.status == "FAIL" and "not Exchange" in metadata.reason
    assert challenge.status == "FAIL" and "answered 200" in challenge.reason

    scripted.answers = {EWS: _challenge('Bearer client_id="00000002-0000-0ff1-ce00-000000000000"')}
    _, challenge, _ = _probes(url, cert_file)
    assert challenge.status == "WARN" and "no trusted_issuers" in challenge.reason


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield int(listener.getsockname()[1])


def test_a_server_that_never_answers_times_out(silent_port: int) -> None:
    metadata, _, _ = _probes(f"http://127.0.0.1:{silent_port}", None, timeout=1.0)
    assert metadata.status == "FAIL" and "did not answer within 1 s" in metadata.reason


def test_request_does_not_follow_redirects_and_rejects_bad_urls(scripted) -> None:  # type: ignore[no-untyped-def]
    scripted.answers = {"/a": (301, (("Location", "/b"),), b""), "/b": (200, (), b"followed")}
    result = request(url_of(scripted) + "/a")
    assert (result.status, result.header("location"), result.body) == (301, "/b", b"")
    with pytest.raises(Exception, match="not an http"):
        request("ftp://127.0.0.1/")


@pytest.mark.parametrize("bad", ["ftp://mail.contoso.com", "mail.contoso.com", "https://"])
def test_exchange_base_rejects_non_urls(bad: str) -> None:
    with pytest.raises(ConfigError):
        exchange_base(bad)


def test_exchange_base_drops_the_path() -> None:
    assert exchange_base("https://mail.contoso.com/owa/") == "https://mail.contoso.com"
    assert exchange_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
