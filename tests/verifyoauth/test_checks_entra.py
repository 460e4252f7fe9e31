"""entra.sp-key: the auth certificate on the service principal, from its keyCredentials and from the wire."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import LabCert
from inspector.lab.outbound import token_exchange
from inspector.lab.token_endpoint import entra_error, entra_token_call
from inspector.lab.writers import write_har
from inspector.verifyoauth.context import Request
from tests.verifyoauth.conftest import NOW, Material, check_map, render

# --- entra.sp-key -------------------------------------------------------------------------------------------------


def test_sp_without_the_certificate(full_request: Callable[..., Request], material: Material) -> None:
    sp = render("sp-graph-select.json", material.next_cert)
    check = check_map(full_request(sp=sp))["entra.sp-key"]
    assert check.status == "FAIL" and "AADSTS50012" in check.reason
    remedy = check.remedy or ""
    assert "Connect-MgGraph -Scopes Application.ReadWrite.All" in remedy
    assert "Update-MgServicePrincipal" in remedy and "Usage='Verify'" in remedy and "$keep" in remedy


def test_sp_key_dates_differ(full_request: Callable[..., Request], healthy_sp: dict[str, Any]) -> None:
    sp = copy.deepcopy(healthy_sp)
    credential = sp["keyCredentials"][0]
    credential["startDateTime"] = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    credential["endDateTime"] = (NOW + timedelta(days=364)).strftime("%Y-%m-%dT%H:%M:%SZ")
    check = check_map(full_request(sp=sp))["entra.sp-key"]
    assert check.status == "WARN" and "dates are not the certificate's" in check.reason
    assert "StartDateTime" in (check.remedy or "")


def test_sp_expired_key_still_listed(
    full_request: Callable[..., Request], material: Material, healthy_sp: dict[str, Any]
) -> None:
    sp = copy.deepcopy(healthy_sp)
    sp["keyCredentials"].append(render("sp-graph-select.json", material.expired)["keyCredentials"][0])
    check = check_map(full_request(sp=sp))["entra.sp-key"]
    assert check.status == "WARN" and "1 expired key(s)" in check.reason
    assert "Remove the expired keys" in (check.remedy or "")


def test_sp_key_with_sign_usage(full_request: Callable[..., Request], healthy_sp: dict[str, Any]) -> None:
    sp = copy.deepcopy(healthy_sp)
    sp["keyCredentials"][0]["usage"] = "Sign"
    check = check_map(full_request(sp=sp))["entra.sp-key"]
    assert check.status == "FAIL" and "usage Sign" in check.reason


@pytest.mark.parametrize("name", ["sp-graph-collection.json", "sp-mg-ps51.json", "sp-mg-credentials-only.json"])
def test_sp_key_matches_without_key_data(full_request: Callable[..., Request], material: Material, name: str) -> None:
    check = check_map(full_request(sp=render(name, material.current)))["entra.sp-key"]
    assert check.status == "PASS", check.reason
    assert "customKeyIdentifier" in check.reason


# --- entra.sp-key from the wire: a token request refused for the auth certificate ---------------------------------


def _token_capture(path: Path, signer: LabCert, code: int) -> Path:
    call = entra_token_call(signer, now=NOW)
    status, body = entra_error(code, now=NOW, thumbprint=signer.thumbprint)
    return write_har([token_exchange(1, call, status, body, NOW, "outbound")], path)


def test_refused_token_request_for_the_auth_certificate_fails_sp_key(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    capture = _token_capture(tmp_path / "outbound.har", material.current, 700027)
    checks = check_map(full_request(captures=(capture,)))
    check = checks["entra.sp-key"]
    assert check.status == "FAIL"
    assert f"auth certificate ({material.current.thumbprint}) is not registered" in check.reason
    assert "AADSTS700027 at outbound.har:1 (outbound.har, entry 0)" in check.reason
    assert "uploaded after the capture" in check.reason  # the Graph data said PASS
    assert check.evidence["graph_verdict"] == "PASS"
    refused = check.evidence["refused"]
    assert isinstance(refused, list) and refused[0]["codes"] == ["AADSTS700027"]
    assert "Update-MgServicePrincipal" in (check.remedy or "")
    assert "00000002-0000-0ff1-ce00-000000000000" in (check.remedy or "")  # the client_id's service principal
    assert checks["traffic.s2s"].status == "FAIL" and "token-request-failed" in checks["traffic.s2s"].reason


def test_refusal_without_graph_data_still_fails(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    capture = _token_capture(tmp_path / "outbound.har", material.current, 50012)
    check = check_map(full_request(captures=(capture,), sp_source=None))["entra.sp-key"]
    assert check.status == "FAIL" and check.evidence["graph_verdict"] == "SKIP"


def test_refusal_for_another_certificate_or_code_leaves_sp_key_alone(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    other = _token_capture(tmp_path / "other.har", material.next_cert, 700027)
    assert check_map(full_request(captures=(other,)))["entra.sp-key"].status == "PASS"
    tenant = _token_capture(tmp_path / "tenant.har", material.current, 90002)
    assert check_map(full_request(captures=(tenant,)))["entra.sp-key"].status == "PASS"
