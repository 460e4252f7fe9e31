"""One HTTP request, done carefully: timeouts on connect and on the whole answer, TLS verified by default, redirects
reported rather than followed, bodies capped. Used for Exchange's metadata and challenge probes and for Graph.

Errors come back as :class:`ProbeError` with a kind (``url``, ``connect``, ``timeout``, ``tls``, ``protocol``) and a
message that says what to do, never as a traceback.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from inspector.model import ConfigError, header_values

DEFAULT_TIMEOUT = 15.0
MAX_BODY = 1024 * 1024
_CHUNK = 64 * 1024
USER_AGENT = "verify-oauth (oauth-inspector)"

ProbeErrorKind = Literal["url", "connect", "timeout", "tls", "protocol"]


class ProbeError(Exception):
    def __init__(self, kind: ProbeErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class TlsOptions:
    verify: bool = True
    ca_bundle: Path | None = None

    def context(self) -> ssl.SSLContext:
        if not self.verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            return ssl.create_default_context(cafile=str(self.ca_bundle) if self.ca_bundle else None)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"Cannot use --ca-bundle {self.ca_bundle}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class HttpResult:
    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return next(header_values(self.headers, name), None)

    def header_all(self, name: str) -> list[str]:
        return list(header_values(self.headers, name))


def _tls_message(exc: ssl.SSLError, url: str) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or str(exc)
        return (
            f"TLS certificate of {url} not trusted: {detail}. Give the issuing CA with --ca-bundle FILE "
            "(or --insecure to skip verification for Exchange probes, not recommended)"
        )
    return f"TLS handshake with {url} failed: {exc.reason or exc}"


def request(
    url: str,
    *,
    method: str = "GET",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    tls: TlsOptions | None = None,
    max_body: int = MAX_BODY,
) -> HttpResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeError("url", f"{url} is not an http(s) URL")
    try:
        port = parts.port
    except ValueError as exc:
        raise ProbeError("url", f"{url}: {exc}") from exc
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = (tls or TlsOptions()).context()
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        sent = {name.lower() for name, _ in headers}
        for name, value in headers:
            connection.putheader(name, value)
        if "user-agent" not in sent:
            connection.putheader("User-Agent", USER_AGENT)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        truncated = False
        while True:
            if time.monotonic() > deadline:
                raise ProbeError("timeout", f"{url} did not finish its answer within {timeout:g} s")
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_body:
                chunks.append(chunk[: max_body - (size - len(chunk))])
                truncated = True
                break
            chunks.append(chunk)
        return HttpResult(
            url=url,
            status=response.status,
            reason=response.reason or "",
            headers=tuple((k, v) for k, v in response.getheaders()),
            body=b"".join(chunks),
            truncated=truncated,
        )
    except ssl.SSLError as exc:
        raise ProbeError("tls", _tls_message(exc, url)) from exc
    except TimeoutError as exc:
        raise ProbeError("timeout", f"{url} did not answer within {timeout:g} s") from exc
    except ConnectionRefusedError as exc:
        raise ProbeError(
            "connect",
            f"Cannot connect to {parts.hostname}:{port or _default_port(parts.scheme)}: "
            "connection refused (is the host and port right, and reachable from here?)",
        ) from exc
    except socket.gaierror as exc:
        raise ProbeError("connect", f"Cannot resolve {parts.hostname}: {exc.strerror or exc}") from exc
    except http.client.HTTPException as exc:
        raise ProbeError("protocol", f"{url} did not answer in HTTP: {type(exc).__name__} {exc}".rstrip()) from exc
    except OSError as exc:
        raise ProbeError("connect", f"Cannot connect to {parts.hostname}: {exc.strerror or exc}") from exc
    finally:
        connection.close()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
