"""The checks end to end through ``gather`` and ``run_checks``: a healthy setup passes everything, and each check
has a fixture that makes it WARN or FAIL with the right remedy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import LabCert, write_cer
from inspector.lab.outbound import token_exchange
from inspector.lab.server import LabServer
from inspector.lab.token_endpoint import entra_error, entra_token_call
from inspector.lab.writers import write_har
from inspector.verifyoauth.context import Request
from inspector.verifyoauth.model import CHECK_IDS
from inspector.verifyoauth.sources import BundleSource, FileSource
from tests.verifyoauth.captures import write_capture
from tests.verifyoauth.conftest import NOW, Material, check_map, render, write_json

SFB = "00000004-0000-0ff1-ce00-000000000000"
NEW_PARTNER_APP = (
    "New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 "
    "-Enabled $True -LinkedAccount $user.Identity"
)


def _app(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in bundle["PartnerApplications"] if a["ApplicationIdentifier"] == SFB)


def _account(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in bundle["LinkedAccounts"] if "SfBOnline" in a["Identity"])


@pytest.fixture
def full_request(
    material: Material,
    cert_file: Path,
    healthy_bundle: dict[str, Any],
    healthy_sp: dict[str, Any],
    lab_server: LabServer,
    tmp_path: Path,
) -> Callable[..., Request]:
    """A Request with every input, healthy unless a test mutates the bundle or SP JSON it passes."""

    def build(bundle: dict[str, Any] | None = None, sp: dict[str, Any] | None = None, **overrides: Any) -> Request:
        kit = material.lab.kit(NOW)
        fields: dict[str, Any] = {
            "cert": cert_file,
            "exchange_source": BundleSource(write_json(tmp_path / "bundle.json", bundle or healthy_bundle)),
            "sp_source": FileSource(write_json(tmp_path / "sp.json", sp or healthy_sp)),
            "exchange_url": lab_server.url,
            "captures": (write_capture(tmp_path / "s2s.har", kit, [kit.healthy_user(), kit.app_only()]),),
        }
        fields.update(overrides)
        return Request(**fields)

    return build


def test_healthy_setup_passes_every_check(full_request: Callable[..., Request]) -> None:
    checks = check_map(full_request())
    assert list(checks) == list(CHECK_IDS)
    assert {c.id: c.status for c in checks.values()} == dict.fromkeys(CHECK_IDS, "PASS"), {
        c.id: c.reason for c in checks.values() if c.status != "PASS"
    }
    assert all(c.remedy is None for c in checks.values())
    assert "2 of 2 S2S token(s)" in checks["traffic.s2s"].reason


def test_certificate_alone_runs_the_certificate_checks_and_skips_the_rest(cert_file: Path) -> None:
    checks = check_map(Request(cert=cert_file))
    assert [c.id for c in checks.values() if c.status == "PASS"] == ["cert.readable", "cert.validity", "cert.key-size"]
    skipped = {c.id: c.reason for c in checks.values() if c.status == "SKIP"}
    assert "--exchange-config" in skipped["cert.is-current"]
    assert "--exchange-config" in skipped["exchange.partner-app"]
    assert "--exchange https://" in skipped["exchange.metadata"]
    assert "--sp-credentials" in skipped["entra.sp-key"] and "--graph" in skipped["entra.sp-key"]
    assert "--capture" in skipped["traffic.s2s"]


# --- cert.* ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "check_id", "status", "remedy"),
    [
        ("expired", "cert.validity", "FAIL", "Set-AuthConfig -PublishCertificate"),
        ("expiring", "cert.validity", "WARN", "Next-certificate procedure"),
        ("weak", "cert.key-size", "FAIL", "-KeySize 2048"),
    ],
)
def test_certificate_problems(
    material: Material, tmp_path: Path, which: str, check_id: str, status: str, remedy: str
) -> None:
    path = write_cer(tmp_path / "OAuthCert.cer", getattr(material, which))
    check = check_map(Request(cert=path))[check_id]
    assert (check.status, check.id) == (status, check_id)
    assert check.remedy is not None and remedy in check.remedy
    if which == "expiring":
        assert "Set-AuthConfig -NewCertificateThumbprint" in check.remedy
        assert "in 29 days" in check.reason or "in 30 days" in check.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a certificate at all", "not an X.509 certificate"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "holds a private key"),
    ],
)
def test_unreadable_certificate_fails_readable_and_skips_the_others(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(content)
    checks = check_map(Request(cert=path))
    assert checks["cert.readable"].status == "FAIL"
    assert message in checks["cert.readable"].reason
    assert "Export-Certificate" in (checks["cert.readable"].remedy or "")
    assert checks["cert.validity"].status == checks["cert.key-size"].status == "SKIP"
    assert "cert.readable" in checks["cert.validity"].reason


def test_cert_not_current(
    full_request: Callable[..., Request], material: Material, healthy_bundle: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    bundle["AuthConfig"]["CurrentCertificateThumbprint"] = material.next_cert.thumbprint
    bundle["AuthConfig"]["PreviousCertificateThumbprint"] = material.current.thumbprint
    check = check_map(full_request(bundle))["cert.is-current"]
    assert check.status == "FAIL"
    assert "PREVIOUS" in check.reason and material.next_cert.thumbprint in check.reason
    assert "Export-Certificate" in (check.remedy or "")


def test_next_certificate_not_uploaded_warns(
    full_request: Callable[..., Request], material: Material, healthy_bundle: dict[str, Any], healthy_sp: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    bundle["AuthConfig"]["NextCertificateThumbprint"] = material.next_cert.thumbprint
    bundle["AuthConfig"]["NextCertificateEffectiveDate"] = "2030-01-01T00:00:00.0000000Z"
    check = check_map(full_request(bundle))["cert.is-current"]
    assert check.status == "WARN"
    assert "not uploaded" in check.reason and "2030-01-01" in check.reason
    assert "Update-MgServicePrincipal" in (check.remedy or "") and material.next_cert.thumbprint in (check.remedy or "")
    # Once the next certificate is on the service principal too, it passes.
    sp = copy.deepcopy(healthy_sp)
    uploaded = render("sp-graph-select.json", material.next_cert)["keyCredentials"][0]
    sp["keyCredentials"].append(uploaded)
    assert check_map(full_request(bundle, sp))["cert.is-current"].status == "PASS"


# --- exchange.* configuration -----------------------------------------------------------------------------------


def _no_sfb_app(b: dict[str, Any]) -> None:
    b["PartnerApplications"] = [a for a in b["PartnerApplications"] if a["ApplicationIdentifier"] != SFB]


def _duplicate_app(b: dict[str, Any]) -> None:
    b["PartnerApplications"].append({**_app(b), "Name": "SfBLegacy"})


def _remove_archive_role(b: dict[str, Any]) -> None:
    _account(b)["RoleAssignments"] = [r for r in _account(b)["RoleAssignments"] if r["Role"] != "ArchiveApplication"]


def _disable_user_role(b: dict[str, Any]) -> None:
    _account(b)["RoleAssignments"][0]["Enabled"] = False


def _account_missing(b: dict[str, Any]) -> None:
    entry = _account(b)
    del entry["User"], entry["Recipient"], entry["RoleAssignments"]
    entry["Errors"] = [
        "Get-User: The operation couldn't be performed because object "
        "'contoso.com/Users/SfBOnline-ApplicationAccount' couldn't be found on 'DC01.contoso.com'."
    ]


def _only_evosts(b: dict[str, Any]) -> None:
    b["AuthServers"] = [s for s in b["AuthServers"] if s["Type"] != "MicrosoftACS"]


def _acs_disabled(b: dict[str, Any]) -> None:
    b["AuthServers"][0]["Enabled"] = False


def _ews_without_oauth(b: dict[str, Any]) -> None:
    vdir = b["WebServicesVirtualDirectories"][0]
    vdir["OAuthAuthentication"] = False
    vdir["InternalAuthenticationMethods"] = ["Ntlm", "WindowsIntegrated"]


CONFIG_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    ("no partner app", _no_sfb_app, "exchange.partner-app", "FAIL", NEW_PARTNER_APP),
    (
        "disabled",
        lambda b: _app(b).update(Enabled=False),
        "exchange.partner-app",
        "FAIL",
        'Set-PartnerApplication -Identity "SfBOnline" -Enabled $true',
    ),
    (
        "no linked account",
        lambda b: _app(b).update(LinkedAccount=None),
        "exchange.partner-app",
        "FAIL",
        'Set-PartnerApplication -Identity "SfBOnline" -LinkedAccount $user.Identity',
    ),
    ("duplicate", _duplicate_app, "exchange.partner-app", "WARN", "Remove-PartnerApplication"),
    (
        "account missing",
        _account_missing,
        "exchange.app-account",
        "FAIL",
        "New-MailUser -Name SfBOnline-ApplicationAccount",
    ),
    (
        "account visible",
        lambda b: _account(b)["Recipient"].update(HiddenFromAddressListsEnabled=False),
        "exchange.app-account",
        "WARN",
        'Set-MailUser -Identity "contoso.com/Users/SfBOnline-ApplicationAccount" -HiddenFromAddressListsEnabled $True',
    ),
    (
        "role missing",
        _remove_archive_role,
        "exchange.roles",
        "FAIL",
        'New-ManagementRoleAssignment -Role ArchiveApplication -User "contoso.com/Users/SfBOnline-ApplicationAccount"',
    ),
    (
        "role disabled",
        _disable_user_role,
        "exchange.roles",
        "FAIL",
        'Set-ManagementRoleAssignment -Identity "UserApplication-SfBOnline-ApplicationAccount" -Enabled $true',
    ),
    ("no ACS", _only_evosts, "exchange.auth-server", "FAIL", 'New-AuthServer -Name "WindowsAzureACS"'),
    ("ACS disabled", _acs_disabled, "exchange.auth-server", "FAIL", "-Enabled $true"),
    (
        "EWS without OAuth",
        _ews_without_oauth,
        "exchange.oauth-vdirs",
        "FAIL",
        'Set-WebServicesVirtualDirectory -Identity "EX01\\EWS (Default Web Site)" -OAuthAuthentication $true',
    ),
]


@pytest.mark.parametrize(
    ("name", "mutate", "check_id", "status", "remedy"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES]
)
def test_configuration_problems(
    full_request: Callable[..., Request],
    healthy_bundle: dict[str, Any],
    name: str,
    mutate: Callable[[dict[str, Any]], None],
    check_id: str,
    status: str,
    remedy: str,
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    mutate(bundle)
    checks = check_map(full_request(bundle))
    assert checks[check_id].status == status, checks[check_id].reason
    assert remedy in (checks[check_id].remedy or ""), checks[check_id].remedy
    # Only that area is affected: the certificate checks still pass.
    assert checks["cert.validity"].status == "PASS"


def test_auth_server_for_another_tenant(full_request: Callable[..., Request]) -> None:
    other = "00c118a9-2de9-41d3-b39a-81648a7a5e4d"
    checks = check_map(full_request(realms=(other,)))
    check = checks["exchange.auth-server"]
    assert check.status == "FAIL" and "another realm" in check.reason
    assert f"https://accounts.accesscontrol.windows.net/{other}/metadata/json/1" in (check.remedy or "")
    assert "-RefreshAuthMetadata" in (check.remedy or "")
    # The lab's challenge trusts issuers only for its own realm: the challenge check says so too.
    assert checks["exchange.challenge"].status == "FAIL" and other in checks["exchange.challenge"].reason


def test_partner_app_dependent_checks_skip_without_a_linked_account(
    full_request: Callable[..., Request], healthy_bundle: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    _no_sfb_app(bundle)
    checks = check_map(full_request(bundle))
    assert checks["exchange.app-account"].status == checks["exchange.roles"].status == "SKIP"
    assert "exchange.partner-app" in checks["exchange.roles"].reason


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


# --- traffic.s2s --------------------------------------------------------------------------------------------------


def test_traffic_with_a_forged_token_fails_naming_rule_and_exchange(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "forged.har", kit, [kit.healthy_user(), kit.forged_signature()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "FAIL"
    assert "signature-invalid at forged.har:2 (forged.har, entry 1)" in check.reason
    assert (check.remedy or "").startswith("signature-invalid:")


def test_traffic_signed_by_an_unknown_key(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "acs.har", kit, [kit.acs_actor()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "FAIL" and "1 unknown-key" in check.reason
    assert "--metadata" in (check.remedy or "")


def test_traffic_warning_only(full_request: Callable[..., Request], material: Material, tmp_path: Path) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "jku.har", kit, [kit.healthy_user(), kit.dangerous_header()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "WARN" and "dangerous-header" in check.reason


def test_traffic_without_tokens_and_unreadable_capture(full_request: Callable[..., Request], tmp_path: Path) -> None:
    empty = tmp_path / "nothing.har"
    empty.write_text('{"log": {"version": "1.2", "entries": []}}', encoding="utf-8")
    check = check_map(full_request(captures=(empty,)))["traffic.s2s"]
    assert check.status == "FAIL" and "no S2S token" in check.reason
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 7)
    checks = check_map(full_request(captures=(broken,)))
    assert checks["traffic.s2s"].status == "FAIL"
    assert checks["cert.readable"].status == "PASS"


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
