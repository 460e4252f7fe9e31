"""exchange.*: the partner application, its linked account and roles, the auth servers and EWS, from the bundle."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from inspector.verifyoauth.context import Request
from tests.verifyoauth.conftest import check_map

SFB = "00000004-0000-0ff1-ce00-000000000000"
NEW_PARTNER_APP = (
    "New-PartnerApplication -Name SfBOnline -ApplicationIdentifier 00000004-0000-0ff1-ce00-000000000000 "
    "-Enabled $True -LinkedAccount $user.Identity"
)


def _app(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in bundle["PartnerApplications"] if a["ApplicationIdentifier"] == SFB)


def _account(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in bundle["LinkedAccounts"] if "SfBOnline" in a["Identity"])


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
