"""``--psrp`` at its boundary: a fake implementing the pypsrp surface used (``PowerShell.add_cmdlet``,
``add_parameter``, ``invoke``, ``had_errors``, ``streams.error``) records exactly what would be sent; answers are
real pypsrp deserialized objects. Nothing reaches a network except one refused connection to 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from inspector.remote.errors import SourceError
from inspector.remote.psrp import PowerShellFactory, PsrpSettings
from inspector.verifyoauth.context import Request
from inspector.verifyoauth.psrp import Collector, PsrpSource
from tests.doubles.psrp import CmdletFailure, FakePowerShell, enum, obj
from tests.verifyoauth.conftest import Material, check_map, closed_port

SFB = "00000004-0000-0ff1-ce00-000000000000"
ACCOUNT = "contoso.com/Users/SfBOnline-ApplicationAccount"


def exchange_answers(material: Material) -> dict[tuple[str, tuple[tuple[str, object], ...]], list[Any]]:
    cert = material.current
    return {
        ("Get-OrganizationConfig", ()): [
            obj("Contoso", Name="Contoso", AdminDisplayVersion=obj("Version 15.2 (Build 1544.4)"))
        ],
        ("Get-AuthConfig", ()): [
            obj(
                CurrentCertificateThumbprint=cert.thumbprint,
                NextCertificateThumbprint=None,
                ServiceName="00000002-0000-0ff1-ce00-000000000000",
                Realm="",
            )
        ],
        ("Get-AuthServer", ()): [
            obj(
                "ACS",
                Name="ACS - x",
                IssuerIdentifier="00000001-0000-0000-c000-000000000000",
                Realm="5de110f8-2e0f-4d45-891d-bcf2218e253d",
                Type=enum("MicrosoftACS", 1),
                Enabled=True,
            )
        ],
        ("Get-PartnerApplication", ()): [
            obj(
                "SfBOnline",
                Name="SfBOnline",
                ApplicationIdentifier=SFB,
                Enabled=True,
                LinkedAccount=obj(ACCOUNT),
                CertificateStrings=[],
            )
        ],
        ("Get-WebServicesVirtualDirectory", (("ADPropertiesOnly", None),)): [
            obj(
                Identity="EX01\\EWS (Default Web Site)",
                InternalAuthenticationMethods=[enum("Ntlm", 2), enum("OAuth", 10)],
                OAuthAuthentication=True,
            )
        ],
        ("Get-AutodiscoverVirtualDirectory", (("ADPropertiesOnly", None),)): [
            obj(Identity="EX01\\Autodiscover (Default Web Site)", OAuthAuthentication=True)
        ],
        ("Get-User", (("Identity", ACCOUNT),)): [
            obj(ACCOUNT, Identity=obj(ACCOUNT), RecipientTypeDetails=enum("MailUser", 128))
        ],
        ("Get-Recipient", (("Identity", ACCOUNT),)): [obj(ACCOUNT, HiddenFromAddressListsEnabled=True)],
        ("Get-ManagementRoleAssignment", (("RoleAssignee", ACCOUNT),)): [
            obj(Name="UserApplication-SfBOnline-ApplicationAccount", Role=obj("UserApplication"), Enabled=True),
            obj(Name="ArchiveApplication-SfBOnline-ApplicationAccount", Role=obj("ArchiveApplication"), Enabled=True),
        ],
        ("Get-ExchangeCertificate", (("Thumbprint", cert.thumbprint),)): [
            obj(
                Thumbprint=cert.thumbprint,
                Subject="CN=Microsoft Exchange Server Auth Certificate",
                NotBefore="2026-01-01T00:00:00+00:00",
                NotAfter="2031-01-01T00:00:00+00:00",
                PublicKeySize=2048,
                RawData=cert.der,
            )
        ],
    }


class FakeExchange:
    """Fixed answers per (cmdlet, parameters); cmdlets in ``failing`` are unknown to the session."""

    def __init__(
        self, answers: dict[tuple[str, tuple[tuple[str, object], ...]], list[Any]], failing: set[str] | None = None
    ) -> None:
        self.answers = answers
        self.failing = failing or set()
        self.sent: list[tuple[str, tuple[tuple[str, object], ...]]] = []
        self.settings: PsrpSettings | None = None

    def run(self, cmdlet: str, parameters: tuple[tuple[str, object], ...]) -> list[Any]:
        self.sent.append((cmdlet, parameters))
        if cmdlet in self.failing:
            raise CmdletFailure(f"The term '{cmdlet}' is not recognized")
        return self.answers.get((cmdlet, parameters), [])

    @contextmanager
    def opener(self, settings: PsrpSettings) -> Iterator[PowerShellFactory]:
        self.settings = settings
        yield lambda: FakePowerShell(self)


def test_exact_cmdlets_sent_and_the_result_passes(material: Material, cert_file: Path) -> None:
    fake = FakeExchange(exchange_answers(material))
    source = PsrpSource(PsrpSettings("https://ex01.contoso.com/PowerShell", auth="kerberos"), opener=fake.opener)
    checks = check_map(Request(cert=cert_file, exchange_source=source))
    assert fake.sent == [
        ("Get-OrganizationConfig", ()),
        ("Get-AuthConfig", ()),
        ("Get-AuthServer", ()),
        ("Get-PartnerApplication", ()),
        ("Get-WebServicesVirtualDirectory", (("ADPropertiesOnly", None),)),
        ("Get-AutodiscoverVirtualDirectory", (("ADPropertiesOnly", None),)),
        ("Get-User", (("Identity", ACCOUNT),)),
        ("Get-Recipient", (("Identity", ACCOUNT),)),
        ("Get-ManagementRoleAssignment", (("RoleAssignee", ACCOUNT),)),
        ("Get-ExchangeCertificate", (("Thumbprint", material.current.thumbprint),)),
    ]
    assert all(cmdlet.startswith("Get-") for cmdlet, _ in fake.sent)
    for check_id in (
        "cert.is-current",
        "exchange.partner-app",
        "exchange.app-account",
        "exchange.roles",
        "exchange.auth-server",
        "exchange.oauth-vdirs",
    ):
        assert checks[check_id].status == "PASS", (check_id, checks[check_id].reason)


def test_the_bundle_carries_the_certificate_when_no_cert_is_given(material: Material) -> None:
    fake = FakeExchange(exchange_answers(material))
    source = PsrpSource(PsrpSettings("https://ex01.contoso.com/PowerShell"), opener=fake.opener)
    checks = check_map(Request(exchange_source=source))
    assert checks["cert.readable"].status == "PASS" and "current auth certificate" in checks["cert.readable"].reason
    assert checks["cert.is-current"].status == "PASS"


def test_a_failing_cmdlet_fails_its_check_only(material: Material, cert_file: Path) -> None:
    fake = FakeExchange(exchange_answers(material), failing={"Get-AuthServer", "Get-ManagementRoleAssignment"})
    source = PsrpSource(PsrpSettings("https://ex01.contoso.com/PowerShell"), opener=fake.opener)
    checks = check_map(Request(cert=cert_file, exchange_source=source))
    assert checks["exchange.auth-server"].status == "FAIL"
    assert (
        "Get-AuthServer" in checks["exchange.auth-server"].reason
        and "not recognized" in checks["exchange.auth-server"].reason
    )
    assert checks["exchange.roles"].status == "FAIL" and "role assignments" in checks["exchange.roles"].reason
    assert checks["exchange.partner-app"].status == "PASS"


def test_collector_refuses_anything_but_get() -> None:
    collector = Collector(lambda: FakePowerShell(FakeExchange({})))
    with pytest.raises(AssertionError, match="only reads"):
        collector.run("Set-AuthConfig")


def test_session_failure_is_a_source_error_with_the_offline_path(cert_file: Path) -> None:
    @contextmanager
    def broken(settings: PsrpSettings) -> Iterator[PowerShellFactory]:
        raise ConnectionError("Max retries exceeded with url: /PowerShell")
        yield  # pragma: no cover

    source = PsrpSource(PsrpSettings("https://ex01.contoso.com/PowerShell"), opener=broken)
    checks = check_map(Request(cert=cert_file, exchange_source=source))
    assert checks["exchange.partner-app"].status == "FAIL"
    assert "ConnectionError" in checks["exchange.partner-app"].reason
    assert "export-script" in (checks["exchange.partner-app"].remedy or "")


def test_real_pypsrp_to_a_closed_port_never_leaks_the_password() -> None:
    settings = PsrpSettings(
        f"http://127.0.0.1:{closed_port()}/PowerShell",
        auth="basic",
        username="CONTOSO\\admin",
        password="S3cret-pw!",
        timeout=2,
    )
    assert "S3cret" not in repr(settings)
    with pytest.raises(SourceError) as raised:
        PsrpSource(settings).load()
    assert "127.0.0.1" in str(raised.value) and "S3cret" not in str(raised.value)
