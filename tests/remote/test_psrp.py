"""Exchange's remote PowerShell at its boundary: the WSMan arguments a URL and auth give, and deserialized answers
flattened to JSON-like data (real pypsrp objects, built by the PSRP double)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.remote.http import TlsOptions
from inspector.remote.psrp import PsrpSettings, plain
from tests.doubles.psrp import enum, obj


def test_plain_flattens_deserialized_objects() -> None:
    value = obj(
        "x",
        Name="n",
        Type=enum("AzureAD", 5),
        When="2026-04-21T09:30:12.1234567Z",
        Raw=b"\x01\x02",
        Items=[enum("OAuth", 10)],
        Nested=obj(None, Deep=obj(None, Deeper=obj(None, Deepest=obj("bottom")))),
    )
    flat = plain(value)
    assert flat["Type"] == "AzureAD" and flat["Raw"] == base64.b64encode(b"\x01\x02").decode()
    assert flat["Items"] == ["OAuth"] and flat["When"] == "2026-04-21T09:30:12.1234567Z"
    assert flat["Nested"]["Deep"]["Deeper"] == {"Deepest": "bottom"}
    chain = obj("leaf")
    for _ in range(50):
        chain = obj("level", Inner=chain)
    flattened, depth = plain(chain), 0
    while isinstance(flattened, dict):
        flattened, depth = flattened["Inner"], depth + 1
    assert depth == 4 and flattened == "level"  # bounded: deeper objects become their ToString


def test_wsman_arguments() -> None:
    arguments = PsrpSettings(
        "https://ex01.contoso.com/PowerShell", tls=TlsOptions(ca_bundle=Path("ca.pem"))
    ).wsman_arguments()
    assert {k: arguments[k] for k in ("server", "port", "path", "ssl", "auth", "cert_validation")} == {
        "server": "ex01.contoso.com",
        "port": 443,
        "path": "PowerShell",
        "ssl": True,
        "auth": "negotiate",
        "cert_validation": "ca.pem",
    }
    plain_http = PsrpSettings(
        "http://ex01:8080/powershell/", auth="kerberos", tls=TlsOptions(verify=False)
    ).wsman_arguments()
    assert (plain_http["port"], plain_http["path"], plain_http["ssl"], plain_http["cert_validation"]) == (
        8080,
        "powershell",
        False,
        False,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (PsrpSettings("ex01.contoso.com"), "must be a URL"),
        (PsrpSettings("https://ex01/PowerShell", auth="digest"), "--psrp-auth"),
        (PsrpSettings("https://ex01/PowerShell", auth="basic", username="u"), "needs --psrp-user and a password"),
    ],
)
def test_bad_psrp_settings_are_usage_errors(settings: PsrpSettings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings.wsman_arguments()
