"""``--psrp``: the export script's read-only cmdlets, run live through Exchange's remote PowerShell (pypsrp).

Exchange's ``/PowerShell`` endpoint (configuration ``Microsoft.Exchange``) runs in no-language mode: only cmdlets with
parameters, no script blocks. So every call here is one cmdlet (``add_cmdlet`` + ``add_parameter``), following the
plan in ``collect.py``; the answers (deserialized objects) are flattened to the bundle's shape and read by the same
code as a bundle file. The session is opened by a factory that tests replace with a fake speaking the same surface.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from inspector.model import ConfigError
from inspector.text import safe
from inspector.verifyoauth import collect
from inspector.verifyoauth.bundle import ExchangeConfig, parse_bundle
from inspector.verifyoauth.http_probe import DEFAULT_TIMEOUT, TlsOptions
from inspector.verifyoauth.model import SourceError
from inspector.verifyoauth.psjson import as_text, ci_get, ci_has

AUTH_METHODS = ("negotiate", "kerberos", "ntlm", "basic", "credssp")
EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
_MAX_DEPTH = 4


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
        return [plain(item, depth + 1) for item in value[: collect.MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in list(value.items())[: collect.MAX_ITEMS]}
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


def _select(value: object, names: tuple[str, ...]) -> dict[str, Any]:
    flat = plain(value)
    if not isinstance(flat, dict):
        return {}
    return {name: ci_get(flat, name) for name in names if ci_has(flat, name)}


class CmdletError(Exception):
    pass


class Collector:
    """Runs the plan with one PowerShell object per cmdlet and builds the bundle dict."""

    def __init__(self, new_powershell: PowerShellFactory) -> None:
        self.new_powershell = new_powershell
        self.sent: list[tuple[str, tuple[tuple[str, object], ...]]] = []

    def run(self, cmdlet: str, parameters: tuple[tuple[str, object], ...] = ()) -> list[Any]:
        if not cmdlet.startswith(collect.READ_ONLY_VERBS):
            raise AssertionError(f"refusing to run {cmdlet}: verify-oauth only reads")
        self.sent.append((cmdlet, parameters))
        shell = self.new_powershell()
        shell.add_cmdlet(cmdlet)
        for name, value in parameters:
            shell.add_parameter(name, value)
        output = shell.invoke()
        if shell.had_errors:
            errors = list(getattr(shell.streams, "error", []) or [])
            message = str(errors[0]) if errors else "the cmdlet reported an error"
            raise CmdletError(safe(message, 500))
        return list(output or [])

    def bundle(self) -> dict[str, Any]:
        data: dict[str, Any] = {"Format": collect.BUNDLE_FORMAT, "FormatVersion": collect.BUNDLE_VERSION}
        errors: list[dict[str, str]] = []
        for query in collect.TOP_LEVEL:
            try:
                items = [_select(item, query.properties) for item in self.run(query.cmdlet, query.parameters)]
            except CmdletError as exc:
                errors.append({"Section": query.section, "Command": query.cmdlet, "Message": str(exc)})
                continue
            data[query.section] = items if query.many else (items[0] if items else None)
        data["LinkedAccounts"] = self._linked_accounts(data.get("PartnerApplications"))
        data["AuthCertificates"] = self._certificates(data.get("AuthConfig"), errors)
        data["Errors"] = errors
        return data

    def _linked_accounts(self, apps: object) -> list[dict[str, Any]]:
        identities: list[str] = []
        for app in apps if isinstance(apps, list) else []:
            identity = as_text(ci_get(app, "LinkedAccount"))
            if identity and identity not in identities:
                identities.append(identity)
        accounts: list[dict[str, Any]] = []
        for identity in identities:
            entry: dict[str, Any] = {"Identity": identity}
            problems: list[str] = []
            for key, cmdlet, parameter, properties, many in (
                ("User", collect.USER_CMDLET, "Identity", collect.USER_PROPERTIES, False),
                ("Recipient", collect.RECIPIENT_CMDLET, "Identity", collect.RECIPIENT_PROPERTIES, False),
                ("RoleAssignments", collect.ROLE_CMDLET, "RoleAssignee", collect.ROLE_PROPERTIES, True),
            ):
                try:
                    items = [_select(i, properties) for i in self.run(cmdlet, ((parameter, identity),))]
                except CmdletError as exc:
                    problems.append(f"{cmdlet}: {exc}")
                    continue
                entry[key] = items if many else (items[0] if items else None)
            entry["Errors"] = problems
            accounts.append(entry)
        return accounts

    def _certificates(self, auth_config: object, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
        certificates: list[dict[str, Any]] = []
        for name in ("CurrentCertificateThumbprint", "NextCertificateThumbprint"):
            thumbprint = as_text(ci_get(auth_config, name))
            if not thumbprint:
                continue
            try:
                found = self.run(collect.CERT_CMDLET, (("Thumbprint", thumbprint),))
            except CmdletError as exc:
                errors.append({"Section": "AuthCertificates", "Command": collect.CERT_CMDLET, "Message": str(exc)})
                continue
            certificates += [_select(item, collect.CERT_PROPERTIES) for item in found[:1]]
        return certificates


@dataclass
class PsrpSource:
    settings: PsrpSettings
    opener: SessionOpener = open_pypsrp
    last_commands: list[tuple[str, tuple[tuple[str, object], ...]]] = field(default_factory=list)

    @property
    def description(self) -> str:
        return f"PowerShell remoting {self.settings.url}"

    def load(self) -> ExchangeConfig:
        self.settings.wsman_arguments()  # a bad URL or auth combination is a usage error, raised before connecting
        try:
            with self.opener(self.settings) as new_powershell:
                collector = Collector(new_powershell)
                try:
                    data = collector.bundle()
                finally:
                    self.last_commands = collector.sent
        except (SourceError, ConfigError, AssertionError):
            raise
        except Exception as exc:  # pypsrp, requests and spnego each raise their own; all mean "no session"
            raise SourceError(
                f"PowerShell remoting to {self.settings.url} failed: {type(exc).__name__}: {safe(exc, 400)}",
                remedy="Check the URL (https://<server>/PowerShell), --psrp-auth and the account (member of "
                "View-Only Organization Management is enough), or use the offline path: run "
                "`verify-oauth export-script` on the Exchange server and pass the bundle with --exchange-config",
            ) from exc
        return parse_bundle(data, f"PowerShell remoting {self.settings.url}")
