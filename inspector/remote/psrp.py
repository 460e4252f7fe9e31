"""Exchange's remote PowerShell (PSRP, through pypsrp): the session settings, opening a real session, and
deserialized answers as JSON-like data. The session is opened by a factory that tests replace with a fake speaking
the same surface (``PowerShellLike``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from inspector.model import ConfigError
from inspector.remote.http import DEFAULT_TIMEOUT, TlsOptions

AUTH_METHODS = ("negotiate", "kerberos", "ntlm", "basic", "credssp")
EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
_MAX_DEPTH = 4
MAX_ITEMS = 10_000
"""Most objects taken from one answer (a real organisation has a handful per cmdlet)."""


class PowerShellLike(Protocol):
    """The part of ``pypsrp.powershell.PowerShell`` used here."""

    had_errors: bool
    streams: Any

    def add_cmdlet(self, cmdlet: str) -> Any: ...

    def add_parameter(self, parameter_name: str, value: Any = None) -> Any: ...

    def invoke(self) -> list[Any]: ...


PowerShellFactory = Callable[[], PowerShellLike]
SessionOpener = Callable[["PsrpSettings"], AbstractContextManager[PowerShellFactory]]


@dataclass(frozen=True, slots=True)
class PsrpSettings:
    url: str
    auth: str = "negotiate"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    configuration: str = EXCHANGE_CONFIGURATION
    tls: TlsOptions = field(default_factory=TlsOptions)
    timeout: float = DEFAULT_TIMEOUT

    def wsman_arguments(self) -> dict[str, Any]:
        """``pypsrp.wsman.WSMan`` keyword arguments for this URL (e.g. ``https://ex01.contoso.com/PowerShell``)."""
        try:
            parts = urlsplit(self.url)
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"--psrp {self.url!r} is not a URL: {exc}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--psrp {self.url!r} must be a URL such as https://ex01.contoso.com/PowerShell")
        if self.auth not in AUTH_METHODS:
            raise ConfigError(f"--psrp-auth must be one of {', '.join(AUTH_METHODS)}")
        if self.auth in ("basic", "credssp", "ntlm") and not (self.username and self.password):
            raise ConfigError(f"--psrp-auth {self.auth} needs --psrp-user and a password")
        https = parts.scheme == "https"
        cert_validation: bool | str = self.tls.verify
        if self.tls.verify and self.tls.ca_bundle is not None:
            cert_validation = str(self.tls.ca_bundle)
        return {
            "server": parts.hostname,
            "port": port or (443 if https else 80),
            "path": parts.path.strip("/") or "PowerShell",
            "ssl": https,
            "auth": self.auth,
            "username": self.username,
            "password": self.password,
            "cert_validation": cert_validation,
            "connection_timeout": int(self.timeout),
            "read_timeout": int(self.timeout) + 30,
            "operation_timeout": int(self.timeout) + 10,
        }


@contextmanager
def open_pypsrp(settings: PsrpSettings) -> Iterator[PowerShellFactory]:
    """A real session: WSMan + a runspace pool on the Exchange configuration."""
    from pypsrp.powershell import PowerShell, RunspacePool
    from pypsrp.wsman import WSMan

    with (
        WSMan(**settings.wsman_arguments()) as wsman,
        RunspacePool(wsman, configuration_name=settings.configuration) as pool,
    ):
        yield lambda: PowerShell(pool)


def plain(value: object, depth: int = 0) -> Any:
    """A deserialized PowerShell value as JSON-like data: objects with properties become dicts, the rest (enums,
    identities) their ``ToString``; byte arrays base64, as the export script writes them."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item, depth + 1) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    properties = _properties(value)
    if properties:
        return {name: plain(v, depth + 1) for name, v in properties.items()}
    text = getattr(value, "to_string", None)
    return text if isinstance(text, str) else str(value)


def _properties(value: object) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for attribute in ("extended_properties", "adapted_properties"):
        found = getattr(value, attribute, None)
        if isinstance(found, dict):
            merged.update({str(k): v for k, v in found.items()})
    return merged
