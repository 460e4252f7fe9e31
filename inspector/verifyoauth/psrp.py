"""``--psrp``: the export script's read-only cmdlets, run live through Exchange's remote PowerShell (pypsrp).

Exchange's ``/PowerShell`` endpoint (configuration ``Microsoft.Exchange``) runs in no-language mode: only cmdlets with
parameters, no script blocks. So every call here is one cmdlet (``add_cmdlet`` + ``add_parameter``), following the
plan in ``collect.py``; the answers (deserialized objects) are flattened to the bundle's shape and read by the same
code as a bundle file. The session is opened by a factory that tests replace with a fake speaking the same surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inspector.model import ConfigError
from inspector.remote.errors import SourceError
from inspector.remote.psjson import as_text, ci_get, ci_has
from inspector.remote.psrp import PowerShellFactory, PsrpSettings, SessionOpener, open_pypsrp, plain
from inspector.text import safe
from inspector.verifyoauth import collect
from inspector.verifyoauth.bundle import ExchangeConfig, parse_bundle


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
