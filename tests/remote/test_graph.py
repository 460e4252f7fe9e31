"""Signing in to Microsoft Graph with msal, against a token-endpoint double (msal's own ``http_client`` hook), so no
request leaves the machine: the certificate credential, the device code, and refusals as SourceError."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from inspector.lab.certs import LabCert
from inspector.lab.tokens import TokenKit
from inspector.remote.errors import SourceError
from inspector.remote.graph import GraphClient, GraphSettings, certificate_credential, msal_token_provider

SFB = "00000004-0000-0ff1-ce00-000000000000"
TENANT = "5de110f8-2e0f-4d45-891d-bcf2218e253d"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.graph-test-token.c2ln"


class _Response:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self.text = json.dumps(body)
        self.headers: dict[str, str] = {"Content-Type": "application/json"}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


class TokenEndpointDouble:
    """msal's ``http_client``: answers OpenID discovery, the device-code and the token endpoints."""

    def __init__(self, login: str, token_answer: dict[str, Any]) -> None:
        self.login = login
        self.token_answer = token_answer
        self.posts: list[tuple[str, dict[str, list[str]]]] = []
        self.gets: list[str] = []

    def get(self, url: str, **_: Any) -> _Response:
        self.gets.append(url)
        assert url.startswith(self.login), url
        if "/discovery/instance" in url:  # msal's instance discovery (aliases of the login host)
            host = self.login.removeprefix("https://")
            return _Response(
                200, {"metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]}
            )
        base = f"{self.login}/{TENANT}"
        return _Response(
            200,
            {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{self.login}/{TENANT}/v2.0",
            },
        )

    def post(self, url: str, data: Any = None, **_: Any) -> _Response:
        form = parse_qs(data) if isinstance(data, str) else {k: [v] for k, v in (data or {}).items()}
        self.posts.append((url, form))
        if url.endswith("/devicecode"):
            return _Response(
                200,
                {
                    "device_code": "DEVICE",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": "https://microsoft.com/devicelogin",
                    "expires_in": 900,
                    "interval": 1,
                    "message": "To sign in, use a web browser to open https://microsoft.com/devicelogin "
                    "and enter the code ABCD-EFGH to authenticate.",
                },
            )
        status = 200 if "access_token" in self.token_answer else 400
        return _Response(status, self.token_answer)

    def close(self) -> None:
        pass


def _pem(cert: LabCert, tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_bytes(cert.key_pem + cert.pem)
    return path


@pytest.mark.parametrize(
    ("cloud", "login", "graph_base"),
    [
        ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_certificate_sign_in(lab_kit: TokenKit, tmp_path: Path, cloud: str, login: str, graph_base: str) -> None:
    app_cert = lab_kit.acs_cert
    settings = GraphSettings(tenant=TENANT, cloud=cloud, client_id="app-id-1", certificate=_pem(app_cert, tmp_path))
    double = TokenEndpointDouble(login, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3599})
    shown: list[str] = []
    assert msal_token_provider(settings, show=shown.append, http_client=double)() == TOKEN
    assert shown == []
    ((url, form),) = double.posts
    assert url == f"{login}/{TENANT}/oauth2/v2.0/token"
    assert form["grant_type"] == ["client_credentials"] and form["client_id"] == ["app-id-1"]
    assert form["scope"] == [f"{graph_base}/.default"]
    assertion = form["client_assertion"][0]
    header = jwt.get_unverified_header(assertion)
    digest = hashlib.sha1(app_cert.der, usedforsecurity=False).digest()
    # msal writes x5t with base64 padding; Entra accepts both
    assert header["x5t"].rstrip("=") == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert header["alg"] == "RS256"
    public = app_cert.certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(assertion, public, algorithms=["RS256"], audience=url)
    assert claims["iss"] == claims["sub"] == "app-id-1"
    assert (
        GraphClient(settings, lambda: TOKEN)
        .service_principal_url(SFB)
        .startswith(f"{graph_base}/v1.0/servicePrincipals(")
    )


def test_device_code_sign_in_shows_the_code(lab_kit: TokenKit) -> None:
    settings = GraphSettings(tenant=TENANT)
    double = TokenEndpointDouble(
        "https://login.microsoftonline.com", {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3599}
    )
    shown: list[str] = []
    assert msal_token_provider(settings, show=shown.append, http_client=double)() == TOKEN
    assert shown and "ABCD-EFGH" in shown[0]
    (device_url, device_form), (_, token_form) = double.posts
    assert device_url.endswith(f"/{TENANT}/oauth2/v2.0/devicecode")
    assert "https://graph.microsoft.com/Application.Read.All" in device_form["scope"][0]
    assert token_form["device_code"] == ["DEVICE"]


def test_sign_in_refused_is_a_source_error(lab_kit: TokenKit, tmp_path: Path) -> None:
    settings = GraphSettings(tenant=TENANT, certificate=_pem(lab_kit.acs_cert, tmp_path))
    double = TokenEndpointDouble(
        "https://login.microsoftonline.com",
        {
            "error": "invalid_client",
            "error_description": "AADSTS700027: Client assertion contains an invalid "
            "signature.\r\nTrace ID: 1\r\nCorrelation ID: 2",
        },
    )
    with pytest.raises(SourceError, match="invalid_client: AADSTS700027") as raised:
        msal_token_provider(settings, show=print, http_client=double)()
    assert "Trace ID" not in str(raised.value)


def test_certificate_credential_files(lab_kit: TokenKit, tmp_path: Path) -> None:
    credential = certificate_credential(_pem(lab_kit.acs_cert, tmp_path), None)
    assert credential["thumbprint"] == lab_kit.acs_cert.thumbprint
    assert credential["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    only_cert = tmp_path / "cert.pem"
    only_cert.write_bytes(lab_kit.acs_cert.pem)
    from inspector.model import ConfigError

    with pytest.raises(ConfigError, match="no PEM private key"):
        certificate_credential(only_cert, None)
    with pytest.raises(ConfigError, match="no such file"):
        certificate_credential(tmp_path / "absent.pfx", None)
