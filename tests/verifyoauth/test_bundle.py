"""Reading bundles and service-principal JSON in every shape the reference shows, and the bad ones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inspector.verifyoauth.bundle import BundleError, load_bundle, parse_bundle
from inspector.verifyoauth.context import Request
from inspector.verifyoauth.model import CHECK_IDS
from inspector.verifyoauth.sources import BundleSource, FileSource
from tests.verifyoauth.conftest import DATA, Material, check_map, render, write_json

SFB = "00000004-0000-0ff1-ce00-000000000000"
EXCHANGE_CHECKS = [
    i for i in CHECK_IDS if i.startswith("exchange.") and i not in ("exchange.metadata", "exchange.challenge")
]


def test_healthy_bundle_reads_whole(material: Material) -> None:
    config = parse_bundle(render("bundle-healthy.json", material.current), "bundle.json")
    assert config.version == "Version 15.2 (Build 1544.4)"
    assert config.auth_config is not None and config.auth_config.current_thumbprint == material.current.thumbprint
    assert config.auth_config.next_thumbprint is None
    assert next(s.name for s in config.auth_servers or ()).startswith("ACS - ")
    sfb = config.linked_account("contoso.com/Users/SfBOnline-ApplicationAccount")
    assert (
        sfb is not None
        and sfb.hidden is True
        and {r.role for r in sfb.roles or ()}
        == {
            "UserApplication",
            "ArchiveApplication",
        }
    )
    cert = config.certificate(material.current.thumbprint)
    assert cert is not None and cert.der == material.current.der and cert.key_size == 2048
    assert [(v.kind, v.oauth) for v in config.vdirs or ()] == [("EWS", True), ("Autodiscover", True)]


def test_windows_powershell_raw_bundle_passes_the_configuration_checks(
    material: Material, cert_file: Path, tmp_path: Path
) -> None:
    raw = write_json(tmp_path / "raw.json", render("bundle-ps51-raw.json", material.current))
    config = load_bundle(raw)
    assert config.auth_config is not None and config.auth_config.next_effective == datetime(
        2026, 4, 21, 9, 30, 12, tzinfo=UTC
    )
    assert config.auth_servers is not None and config.auth_servers[0].type == "1"
    checks = check_map(Request(cert=cert_file, exchange_source=BundleSource(raw)))
    for check_id in ("cert.is-current", *EXCHANGE_CHECKS):
        assert checks[check_id].status == "PASS", (check_id, checks[check_id].reason)


def test_bundle_from_another_exchange_version_skips_what_it_lacks(cert_file: Path) -> None:
    checks = check_map(
        Request(
            cert=cert_file,
            realms=("5de110f8-2e0f-4d45-891d-bcf2218e253d",),
            exchange_source=BundleSource(DATA / "bundle-exchange2013.json"),
        )
    )
    statuses = {i: checks[i].status for i in ("cert.is-current", *EXCHANGE_CHECKS)}
    assert statuses == {
        "cert.is-current": "SKIP",
        "exchange.partner-app": "SKIP",
        "exchange.app-account": "SKIP",
        "exchange.roles": "SKIP",
        "exchange.auth-server": "SKIP",
        "exchange.oauth-vdirs": "SKIP",
    }
    assert "CurrentCertificateThumbprint" in checks["cert.is-current"].reason
    assert "LinkedAccount" in checks["exchange.partner-app"].reason
    assert "Realm" in checks["exchange.auth-server"].reason
    assert checks["cert.validity"].status == "PASS"


def test_truncated_bundle_fails_the_exchange_checks_only(cert_file: Path) -> None:
    checks = check_map(Request(cert=cert_file, exchange_source=BundleSource(DATA / "bundle-truncated.json")))
    for check_id in ("cert.is-current", *EXCHANGE_CHECKS):
        assert checks[check_id].status == "FAIL"
        assert "truncated" in checks[check_id].reason
        assert "export-script" in (checks[check_id].remedy or "")
    assert checks["cert.readable"].status == checks["cert.validity"].status == "PASS"


def test_utf16_bundle_as_windows_powershell_redirects_it(material: Material, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(b"\xff\xfe" + json.dumps(render("bundle-healthy.json", material.current)).encode("utf-16-le"))
    assert load_bundle(path).auth_config is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "not a verify-oauth bundle"),
        (b'{"something": "else"}', "holds none of the bundle sections"),
        (b"\xff\x00\xfe garbage", "not UTF-8"),
        (b"[" * 100_000, "nests too deeply"),
    ],
)
def test_unusable_bundles(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_collector_errors_fail_their_check(material: Material, cert_file: Path, tmp_path: Path) -> None:
    bundle: dict[str, Any] = copy.deepcopy(render("bundle-healthy.json", material.current))
    del bundle["AuthServers"]
    bundle["Errors"] = [{"Section": "AuthServers", "Command": "Get-AuthServer", "Message": "Access denied"}]
    checks = check_map(Request(cert=cert_file, exchange_source=BundleSource(write_json(tmp_path / "b.json", bundle))))
    assert checks["exchange.auth-server"].status == "FAIL"
    assert "Get-AuthServer: Access denied" in checks["exchange.auth-server"].reason
    assert "View-Only Organization Management" in (checks["exchange.auth-server"].remedy or "")
    assert checks["exchange.partner-app"].status == "PASS"


# --- service principal JSON ---------------------------------------------------------------------------------------


def test_sp_file_errors_fail_only_entra(cert_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "sp.json"
    path.write_text('{"keyCredentials": [', encoding="utf-8")
    checks = check_map(Request(cert=cert_file, sp_source=FileSource(path)))
    assert checks["entra.sp-key"].status == "FAIL" and "not valid JSON" in checks["entra.sp-key"].reason
    assert checks["cert.readable"].status == "PASS"
    missing = check_map(Request(cert=cert_file, sp_source=FileSource(tmp_path / "absent.json")))
    assert missing["entra.sp-key"].status == "FAIL" and "Cannot read" in missing["entra.sp-key"].reason
