from __future__ import annotations

from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.remote.graph import GraphSettings
from inspector.remote.options import (
    GRAPH_CERT_PASSWORD_ENV,
    PSRP_PASSWORD_ENV,
    graph_settings,
    psrp_password,
    psrp_settings,
    tls_options,
)


def test_the_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PSRP_PASSWORD_ENV, "from-env")
    assert psrp_password("CONTOSO\\admin") == "from-env"
    assert psrp_password(None) is None  # no user: a Kerberos ticket, no password asked for
    tls = tls_options(insecure=False, ca_bundle=None)
    settings = psrp_settings("https://ex01/PowerShell", "ntlm", "CONTOSO\\admin", tls=tls, timeout=5)
    assert settings.password == "from-env" and "from-env" not in repr(settings)


def test_without_a_terminal_the_password_is_not_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PSRP_PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError, match=PSRP_PASSWORD_ENV):
        psrp_password("CONTOSO\\admin")


def test_a_bad_remoting_url_is_refused_before_anything() -> None:
    with pytest.raises(ConfigError, match="must be a URL"):
        psrp_settings("ftp://ex01", "negotiate", None, tls=tls_options(insecure=False, ca_bundle=None), timeout=5)


def test_tls_options(tmp_path: Path) -> None:
    assert tls_options(insecure=True, ca_bundle=None).verify is False
    with pytest.raises(ConfigError, match="either --ca-bundle or --insecure"):
        tls_options(insecure=True, ca_bundle=tmp_path / "ca.pem")
    with pytest.raises(ConfigError, match="--ca-bundle"):
        tls_options(insecure=False, ca_bundle=tmp_path / "absent.pem")


def _graph(certificate: Path | None) -> GraphSettings:
    return graph_settings(
        tenant="contoso.com",
        cloud="usgov",
        client_id="app",
        certificate=certificate,
        timeout=5.0,
        ca_bundle=None,
        delegated_scope="Application.ReadWrite.All",
    )


def test_graph_settings_read_the_certificate_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GRAPH_CERT_PASSWORD_ENV, "pfx-secret")
    settings = _graph(None)
    assert settings.certificate_password == "pfx-secret" and "pfx-secret" not in repr(settings)
    assert settings.scopes == ["https://graph.microsoft.us/Application.ReadWrite.All"]
    with pytest.raises(ConfigError, match="Cannot read --graph-cert"):
        _graph(tmp_path / "absent.pem")
