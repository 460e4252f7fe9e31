"""The key-less audit on captures made here by real TLS stacks: which certificate answered, for which name, until
when, over which version; the TLS rules fire on the faulty case and stay quiet on its healthy twin."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.model import Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.facts import TlsFacts
from tests.sources.pcap.tls.live import (
    Client,
    Request,
    ServerCert,
    capture,
    client_context,
    make_cert,
    server_context,
    tls_server,
    valid_cert,
)

TLS_RULES = {"tls-cert-expired", "tls-cert-name-mismatch", "tls-version-legacy"}


def audit(path: Path) -> tuple[list[Notice], list[TlsFacts]]:
    facts: list[TlsFacts] = []
    notices = [item for item in read_capture(path, on_tls=facts.append) if isinstance(item, Notice)]
    return notices, facts


def serve_once(
    folder: Path, cert: ServerCert, *, sni: str = "localhost", version: ssl.TLSVersion | None = None
) -> Path:
    server = server_context(cert, ciphers="DEFAULT:@SECLEVEL=0" if version else None)
    keylog = folder / "client.log"
    client = client_context(keylog, ciphers="DEFAULT:@SECLEVEL=0" if version else None, version=version)
    if version is not None:
        server.minimum_version = version
    with tls_server(server) as port, capture(folder, port) as path:
        Client(port, client, sni=sni).run([Request()])
    return path


def test_a_healthy_tls12_connection_shows_its_certificate_and_raises_nothing(tmp_path: Path) -> None:
    path = serve_once(
        tmp_path,
        valid_cert(tmp_path, ["mail.contoso.com", "autodiscover.contoso.com"]),
        sni="autodiscover.contoso.com",
        version=ssl.TLSVersion.TLSv1_2,
    )
    notices, facts = audit(path)
    assert {n.rule for n in notices} & TLS_RULES == set()
    (only,) = facts
    assert only.sni == "autodiscover.contoso.com"
    assert only.version == "TLS 1.2"
    assert only.offered_versions == ["TLS 1.2"]
    assert only.cipher is not None and only.cipher.startswith("TLS_ECDHE_RSA_WITH_AES")
    assert only.certificates[0].sans == ("mail.contoso.com", "autodiscover.contoso.com")
    assert only.certificates[0].subject == "CN=mail.contoso.com"
    assert only.status == "no-keys"
    (encrypted,) = [n for n in notices if n.rule == "capture-encrypted"]
    assert encrypted.evidence["snis"] == {"autodiscover.contoso.com": 1}


def test_tls13_without_keys_still_shows_sni_versions_and_suite(tmp_path: Path) -> None:
    path = serve_once(tmp_path, valid_cert(tmp_path))
    notices, facts = audit(path)
    (only,) = facts
    assert only.version == "TLS 1.3"
    assert "TLS 1.3" in only.offered_versions and "TLS 1.2" in only.offered_versions
    assert only.certificates == []  # encrypted in TLS 1.3
    assert only.cipher in {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
    assert {n.rule for n in notices} == {"capture-encrypted"}


def test_an_expired_certificate_is_an_error_and_a_valid_one_is_not(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    expired = make_cert(
        tmp_path, ["localhost"], not_before=now - timedelta(days=60), not_after=now - timedelta(days=1), tag="expired"
    )
    notices, _ = audit(serve_once(tmp_path, expired, version=ssl.TLSVersion.TLSv1_2))
    (finding,) = [n for n in notices if n.rule == "tls-cert-expired"]
    assert "expired" in finding.message and finding.evidence["subject"] == "CN=localhost"
    future = make_cert(
        tmp_path, ["localhost"], not_before=now + timedelta(days=2), not_after=now + timedelta(days=90), tag="future"
    )
    notices, _ = audit(serve_once(tmp_path / "..", future, version=ssl.TLSVersion.TLSv1_2))
    assert ["not yet valid" in n.message for n in notices if n.rule == "tls-cert-expired"] == [True]


def test_a_certificate_for_another_name_is_a_mismatch_and_a_wildcard_is_not(tmp_path: Path) -> None:
    wrong = valid_cert(tmp_path, ["intercept.example"])
    notices, _ = audit(serve_once(tmp_path, wrong, sni="mail.contoso.com", version=ssl.TLSVersion.TLSv1_2))
    (finding,) = [n for n in notices if n.rule == "tls-cert-name-mismatch"]
    assert finding.evidence["sni"] == "mail.contoso.com" and finding.evidence["names"] == ["intercept.example"]
    other = tmp_path / "wildcard"
    other.mkdir()
    wildcard = valid_cert(other, ["*.contoso.com"])
    notices, _ = audit(serve_once(other, wildcard, sni="mail.contoso.com", version=ssl.TLSVersion.TLSv1_2))
    assert [n for n in notices if n.rule == "tls-cert-name-mismatch"] == []


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1 is deprecated:DeprecationWarning")
def test_tls10_is_legacy_and_tls12_is_not(tmp_path: Path) -> None:
    notices, facts = audit(serve_once(tmp_path, valid_cert(tmp_path), version=ssl.TLSVersion.TLSv1))
    assert facts[0].version == "TLS 1.0"
    (finding,) = [n for n in notices if n.rule == "tls-version-legacy"]
    assert finding.evidence["version"] == "TLS 1.0"
    other = tmp_path / "modern"
    other.mkdir()
    notices, _ = audit(serve_once(other, valid_cert(other), version=ssl.TLSVersion.TLSv1_2))
    assert [n for n in notices if n.rule == "tls-version-legacy"] == []


def test_the_tls_command_lists_connections_and_findings(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    expired = make_cert(
        tmp_path, ["localhost"], not_before=now - timedelta(days=60), not_after=now - timedelta(days=1), tag="expired"
    )
    path = serve_once(tmp_path, expired, version=ssl.TLSVersion.TLSv1_2)
    result = CliRunner().invoke(main, ["tls", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    (connection,) = document["connections"]
    assert connection["sni"] == "localhost" and connection["version"] == "TLS 1.2"
    assert connection["certificates"][0]["not_after"].startswith((now - timedelta(days=1)).strftime("%Y-%m-%d"))
    assert {f["rule"] for f in document["findings"]} == {"tls-cert-expired", "capture-encrypted"}
    keylog = tmp_path / "client.log"
    table = CliRunner().invoke(
        main, ["tls", str(path), "--keylog", str(keylog), "--fail-on", "never"], env={"COLUMNS": "250"}
    )
    assert table.exit_code == 0, table.output
    assert "decrypted (keylog)" in table.stdout
    assert "tls-cert-expired" in table.stdout
