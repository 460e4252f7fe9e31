"""The Exchange probes of verify-oauth: its metadata document and its OAuth challenge, fetched with the careful
request of ``remote.http``."""

from __future__ import annotations

from urllib.parse import urlsplit

from inspector.model import ConfigError
from inspector.policy import EWS_PATH, METADATA_PATH
from inspector.remote.http import MAX_BODY, HttpResult, TlsOptions, request


def exchange_base(url: str) -> str:
    """``--exchange`` as a base URL (scheme and host, any path dropped). Raises ConfigError for a bad value."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--exchange {url!r} is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--exchange {url!r} must be an http(s) URL such as https://mail.contoso.com")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def probe_metadata(base: str, *, timeout: float, tls: TlsOptions) -> HttpResult:
    return request(
        base + METADATA_PATH, headers=(("Accept", "application/json"),), timeout=timeout, tls=tls, max_body=MAX_BODY
    )


def probe_challenge(base: str, *, timeout: float, tls: TlsOptions) -> HttpResult:
    """An unauthenticated EWS request carrying an empty ``Bearer`` (Microsoft's own probe, CSS-Exchange
    Test-HMAEAS): Exchange answers it with its OAuth challenge, the discovery a S2S caller starts with."""
    return request(
        base + EWS_PATH,
        method="POST",
        headers=(("Authorization", "Bearer"), ("Content-Type", "text/xml; charset=utf-8")),
        body=b"",
        timeout=timeout,
        tls=tls,
        max_body=64 * 1024,
    )
