"""Microsoft Graph: sign-in and one request at a time, for reading service principals (verify-oauth) and changing
them (provisioning).

Sign-in is msal's: the device-code flow for a person (the code is shown on standard error), or a certificate
credential for automation (``--graph-cert``: PEM with key and certificate, or PFX). Requests go through
``remote.http.request``, so they get the same timeouts and TLS handling. The token lives in memory for one request
and is never printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from inspector.model import ConfigError
from inspector.remote.errors import SourceError
from inspector.remote.http import DEFAULT_TIMEOUT, HttpResult, TlsOptions, request
from inspector.remote.network_errors import explain_network_error
from inspector.remote.psjson import ci_get
from inspector.text import safe
from inspector.trust import thumbprint_of


@dataclass(frozen=True, slots=True)
class Cloud:
    login: str
    graph: str


CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "usgov": Cloud("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    "china": Cloud("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
}
GRAPH_CLI_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
"""Microsoft Graph Command Line Tools, the public client ``Connect-MgGraph`` signs in with."""
DELEGATED_SCOPE = "Application.Read.All"
_PEM_KEY = re.compile(rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
TokenProvider = Callable[[], str]


@dataclass(frozen=True, slots=True)
class GraphSettings:
    tenant: str
    cloud: str = "global"
    client_id: str = GRAPH_CLI_CLIENT_ID
    certificate: Path | None = None
    """PEM (private key and certificate) or PFX: app-only sign-in for automation. ``None``: device code."""
    certificate_password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    ca_bundle: Path | None = None
    delegated_scope: str = DELEGATED_SCOPE
    """The permission a device-code sign-in asks for (provisioning asks for Application.ReadWrite.All)."""

    @property
    def endpoints(self) -> Cloud:
        try:
            return CLOUDS[self.cloud]
        except KeyError:
            raise ConfigError(f"--graph-cloud must be one of {', '.join(CLOUDS)}") from None

    @property
    def authority(self) -> str:
        return f"{self.endpoints.login}/{self.tenant}"

    @property
    def scopes(self) -> list[str]:
        base = self.endpoints.graph
        return [f"{base}/.default"] if self.certificate else [f"{base}/{self.delegated_scope}"]


def certificate_credential(path: Path, password: str | None) -> dict[str, Any]:
    """msal's ``client_credential`` for a PEM (key + certificate: SHA-1 thumbprint, RS256 assertion, which every
    cloud accepts) or a PFX (msal reads it itself)."""
    if path.suffix.lower() in (".pfx", ".p12"):
        if not path.is_file():
            raise ConfigError(f"--graph-cert {path}: no such file")
        credential: dict[str, Any] = {"private_key_pfx_path": str(path)}
        if password:
            credential["passphrase"] = password
        return credential
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read --graph-cert {path}: {exc.strerror or exc}") from exc
    key = _PEM_KEY.search(data)
    if key is None:
        raise ConfigError(
            f"--graph-cert {path} holds no PEM private key (give key and certificate in one PEM, or a PFX)"
        )
    try:
        certificate = x509.load_pem_x509_certificate(data)
        serialization.load_pem_private_key(key.group(), password=password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        # The exception text of a wrong password is safe; the key itself never enters a message.
        raise ConfigError(f"--graph-cert {path}: the certificate or private key cannot be loaded ({exc})") from exc
    thumbprint = thumbprint_of(certificate.public_bytes(serialization.Encoding.DER))
    credential = {"private_key": key.group().decode("ascii"), "thumbprint": thumbprint}
    if password:
        credential["passphrase"] = password
    return credential


def msal_token_provider(
    settings: GraphSettings, *, show: Callable[[str], None], http_client: Any = None
) -> TokenProvider:
    """A provider that signs in with msal when first called. ``http_client`` (msal's own hook) lets tests answer
    the token endpoint without a network."""

    def acquire() -> str:
        import msal

        verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
        options: dict[str, Any] = {"authority": settings.authority, "timeout": settings.timeout, "verify": verify}
        if http_client is not None:
            options["http_client"] = http_client
        try:
            if settings.certificate is not None:
                credential = certificate_credential(settings.certificate, settings.certificate_password)
                app = msal.ConfidentialClientApplication(settings.client_id, client_credential=credential, **options)
                result = app.acquire_token_for_client(scopes=settings.scopes)
            else:
                public = msal.PublicClientApplication(settings.client_id, **options)
                flow = public.initiate_device_flow(scopes=settings.scopes)
                if "user_code" not in flow:
                    raise SourceError(f"Device-code sign-in could not start: {_msal_error(flow)}")
                show(str(flow.get("message") or f"Sign in with code {flow['user_code']}"))
                result = public.acquire_token_by_device_flow(flow)
        except SourceError:
            raise
        except ConfigError as exc:
            raise SourceError(str(exc)) from exc
        except Exception as exc:  # msal raises ValueError for bad authorities, requests errors for the network
            explained = explain_network_error(exc, settings.authority)
            raise SourceError(
                f"Sign-in to {settings.authority} failed: {explained or f'{type(exc).__name__}: {safe(exc, 300)}'}"
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(
                f"Sign-in to {settings.authority} failed: {_msal_error(result)}",
                remedy="Check --graph-tenant, --graph-client-id and that the app or account may read service "
                "principals (Application.Read.All)",
            )
        return token

    return acquire


def _msal_error(result: object) -> str:
    if not isinstance(result, dict):
        return "no answer"
    error = str(result.get("error") or "error")
    description = str(result.get("error_description") or "").splitlines()
    return safe(f"{error}: {description[0]}" if description else error, 300)


def graph_error_detail(body: bytes) -> str:
    """``code: message`` of a Graph error body, escaped; empty when the body is not one."""
    try:
        document = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return ""
    error = ci_get(document, "error")
    code, message = ci_get(error, "code"), ci_get(error, "message")
    parts = [str(p) for p in (code, message) if isinstance(p, str) and p]
    return safe(": ".join(parts), 300)


@dataclass
class GraphClient:
    """What reading a service principal here and changing it in provisioning share: the signed-in token, the
    cloud's endpoint and the request itself (JSON, the settings' timeout and CA bundle)."""

    settings: GraphSettings
    token: TokenProvider
    graph_base: str | None = None
    """Override of the cloud's Graph endpoint (tests point it at a local double)."""
    requests_made: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return (self.graph_base or self.settings.endpoints.graph).rstrip("/")

    def service_principal_url(self, app_id: str) -> str:
        return f"{self.base}/v1.0/servicePrincipals(appId='{quote(app_id, safe='-')}')"

    def send(self, method: str, url: str, body: bytes | None = None) -> HttpResult:
        """One request (a JSON ``body`` if given); :class:`ProbeError` when no answer came. The token is used
        for this request only and never recorded."""
        headers = [("Authorization", f"Bearer {self.token()}"), ("Accept", "application/json")]
        if body is not None:
            headers.append(("Content-Type", "application/json"))
        self.requests_made.append(f"{method} {url}")
        return request(
            url,
            method=method,
            headers=tuple(headers),
            body=body,
            timeout=self.settings.timeout,
            tls=TlsOptions(ca_bundle=self.settings.ca_bundle),
        )
