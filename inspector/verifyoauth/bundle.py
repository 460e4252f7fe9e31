"""The Exchange configuration the checks read, and the reader of the JSON bundle that carries it.

A bundle is what ``verify-oauth export-script`` writes (or ``--psrp`` collects): one object with a section per
cmdlet (``collect.py``). The reader is tolerant by design: other Exchange versions lack fields (``None`` here, and
the checks say which field was missing), hand-assembled bundles use cmdlet names as keys, and every value may come
in any of PowerShell's ``ConvertTo-Json`` shapes (``psjson``). A section that is absent is ``None`` ("not
carried"); one the collector could not read is named in ``errors`` with the message it got.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inspector.remote.errors import SourceError
from inspector.remote.psjson import as_bool, as_bytes, as_list, as_text, as_texts, as_time, ci_get, ci_has, decode_text

MAX_BUNDLE = 16 * 1024 * 1024


class BundleError(SourceError):
    """The bundle as a whole cannot be used (unreadable, not JSON, not a bundle). The message says what next."""


@dataclass(frozen=True, slots=True)
class AuthConfig:
    current_thumbprint: str | None
    next_thumbprint: str | None
    previous_thumbprint: str | None
    next_effective: datetime | None
    service_name: str | None
    realm: str | None
    has_current_field: bool = True


@dataclass(frozen=True, slots=True)
class AuthServer:
    name: str | None
    issuer_identifier: str | None
    realm: str | None
    type: str | None
    enabled: bool | None
    auth_metadata_url: str | None
    token_issuing_endpoint: str | None


@dataclass(frozen=True, slots=True)
class PartnerApp:
    name: str | None
    application_identifier: str | None
    enabled: bool | None
    linked_account: str | None
    has_linked_account_field: bool
    auth_metadata_url: str | None
    use_auth_server: bool | None


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    name: str | None
    role: str | None
    enabled: bool | None


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    identity: str
    found: bool | None
    """``True`` the user was read, ``False`` the lookup failed (errors say why), ``None`` not looked up."""
    recipient_type: str | None
    hidden: bool | None
    roles: tuple[RoleAssignment, ...] | None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthCertificate:
    thumbprint: str | None
    subject: str | None
    not_before: datetime | None
    not_after: datetime | None
    key_size: int | None
    der: bytes | None
    status: str | None


@dataclass(frozen=True, slots=True)
class VirtualDirectory:
    kind: str
    """``EWS`` or ``Autodiscover``."""
    identity: str | None
    internal_methods: tuple[str, ...] | None
    external_methods: tuple[str, ...] | None
    oauth: bool | None
    basic: bool | None


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    source: str
    version: str | None = None
    auth_config: AuthConfig | None = None
    auth_servers: tuple[AuthServer, ...] | None = None
    partner_apps: tuple[PartnerApp, ...] | None = None
    linked_accounts: tuple[LinkedAccount, ...] | None = None
    certificates: tuple[AuthCertificate, ...] | None = None
    vdirs: tuple[VirtualDirectory, ...] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    """Section -> the message the collector got when it could not read that section."""

    def linked_account(self, identity: str) -> LinkedAccount | None:
        for account in self.linked_accounts or ():
            if same_identity(account.identity, identity):
                return account
        return None

    def certificate(self, thumbprint: str) -> AuthCertificate | None:
        wanted = thumbprint.upper()
        for cert in self.certificates or ():
            if (cert.thumbprint or "").upper() == wanted:
                return cert
        return None


def same_identity(a: str, b: str) -> bool:
    """Exchange prints one account as ``contoso.com/Users/X`` or just ``X``: compare whole, then by last part."""
    a, b = a.strip().lower(), b.strip().lower()
    return a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


# --- sections ----------------------------------------------------------------------------------------------------

_SECTIONS: dict[str, tuple[str, ...]] = {
    "Organization": ("Organization", "Get-OrganizationConfig", "OrganizationConfig"),
    "AuthConfig": ("AuthConfig", "Get-AuthConfig"),
    "AuthServers": ("AuthServers", "AuthServer", "Get-AuthServer"),
    "PartnerApplications": ("PartnerApplications", "PartnerApplication", "Get-PartnerApplication"),
    "LinkedAccounts": ("LinkedAccounts", "LinkedAccount"),
    "AuthCertificates": ("AuthCertificates", "AuthCertificate", "Get-ExchangeCertificate"),
    "WebServicesVirtualDirectories": (
        "WebServicesVirtualDirectories",
        "WebServicesVirtualDirectory",
        "Get-WebServicesVirtualDirectory",
    ),
    "AutodiscoverVirtualDirectories": (
        "AutodiscoverVirtualDirectories",
        "AutodiscoverVirtualDirectory",
        "Get-AutodiscoverVirtualDirectory",
    ),
}


def _objects(value: object) -> list[dict[str, Any]]:
    return [item for item in as_list(value) if isinstance(item, dict)]


def _thumbprint(value: object) -> str | None:
    text = as_text(value)
    if not text:
        return None
    cleaned = "".join(text.split()).replace(":", "").upper()
    return cleaned or None


def _auth_config(value: object) -> AuthConfig | None:
    objects = _objects(value)
    if not objects:
        return None
    raw = objects[0]
    return AuthConfig(
        current_thumbprint=_thumbprint(ci_get(raw, "CurrentCertificateThumbprint")),
        next_thumbprint=_thumbprint(ci_get(raw, "NextCertificateThumbprint")),
        previous_thumbprint=_thumbprint(ci_get(raw, "PreviousCertificateThumbprint")),
        next_effective=as_time(ci_get(raw, "NextCertificateEffectiveDate")),
        service_name=as_text(ci_get(raw, "ServiceName")),
        realm=as_text(ci_get(raw, "Realm")) or None,
        has_current_field=ci_has(raw, "CurrentCertificateThumbprint"),
    )


def _auth_server(raw: dict[str, Any]) -> AuthServer:
    return AuthServer(
        name=as_text(ci_get(raw, "Name", "Identity")),
        issuer_identifier=as_text(ci_get(raw, "IssuerIdentifier")),
        realm=as_text(ci_get(raw, "Realm")) or None,
        type=as_text(ci_get(raw, "Type")),
        enabled=as_bool(ci_get(raw, "Enabled")),
        auth_metadata_url=as_text(ci_get(raw, "AuthMetadataUrl")) or None,
        token_issuing_endpoint=as_text(ci_get(raw, "TokenIssuingEndpoint")) or None,
    )


def _partner_app(raw: dict[str, Any]) -> PartnerApp:
    return PartnerApp(
        name=as_text(ci_get(raw, "Name", "Identity")),
        application_identifier=as_text(ci_get(raw, "ApplicationIdentifier")),
        enabled=as_bool(ci_get(raw, "Enabled")),
        linked_account=as_text(ci_get(raw, "LinkedAccount")) or None,
        has_linked_account_field=ci_has(raw, "LinkedAccount"),
        auth_metadata_url=as_text(ci_get(raw, "AuthMetadataUrl")) or None,
        use_auth_server=as_bool(ci_get(raw, "UseAuthServer")),
    )


def _linked_account(raw: dict[str, Any]) -> LinkedAccount | None:
    identity = as_text(ci_get(raw, "Identity", "LinkedAccount"))
    if not identity:
        return None
    user = ci_get(raw, "User")
    recipient = ci_get(raw, "Recipient")
    errors = tuple(as_texts(ci_get(raw, "Errors")))
    found: bool | None
    if isinstance(user, dict) or isinstance(recipient, dict):
        found = True
    elif ci_has(raw, "User") or errors:
        found = False
    else:
        found = None
    roles_raw = ci_get(raw, "RoleAssignments")
    roles: tuple[RoleAssignment, ...] | None = None
    if ci_has(raw, "RoleAssignments"):
        roles = tuple(
            RoleAssignment(
                name=as_text(ci_get(item, "Name", "Identity")),
                role=as_text(ci_get(item, "Role")),
                enabled=as_bool(ci_get(item, "Enabled")),
            )
            for item in _objects(roles_raw)
        )
    hidden = as_bool(ci_get(recipient, "HiddenFromAddressListsEnabled"))
    if hidden is None:
        hidden = as_bool(ci_get(user, "HiddenFromAddressListsEnabled"))
    recipient_type = as_text(ci_get(recipient, "RecipientTypeDetails")) or as_text(ci_get(user, "RecipientTypeDetails"))
    return LinkedAccount(identity, found, recipient_type, hidden, roles, errors)


def _certificate(raw: dict[str, Any]) -> AuthCertificate:
    size = ci_get(raw, "PublicKeySize", "KeySize")
    return AuthCertificate(
        thumbprint=_thumbprint(ci_get(raw, "Thumbprint")),
        subject=as_text(ci_get(raw, "Subject")),
        not_before=as_time(ci_get(raw, "NotBefore")),
        not_after=as_time(ci_get(raw, "NotAfter")),
        key_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        der=as_bytes(ci_get(raw, "RawData")),
        status=as_text(ci_get(raw, "Status")),
    )


def _methods(value: object, present: bool) -> tuple[str, ...] | None:
    if not present:
        return None
    if isinstance(value, str):  # "Ntlm, WindowsIntegrated, OAuth" (a MultiValuedProperty's ToString)
        return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())
    return tuple(as_texts(value))


def _vdir(raw: dict[str, Any], kind: str) -> VirtualDirectory:
    return VirtualDirectory(
        kind=kind,
        identity=as_text(ci_get(raw, "Identity", "Name")),
        internal_methods=_methods(
            ci_get(raw, "InternalAuthenticationMethods"), ci_has(raw, "InternalAuthenticationMethods")
        ),
        external_methods=_methods(
            ci_get(raw, "ExternalAuthenticationMethods"), ci_has(raw, "ExternalAuthenticationMethods")
        ),
        oauth=as_bool(ci_get(raw, "OAuthAuthentication")),
        basic=as_bool(ci_get(raw, "BasicAuthentication")),
    )


def _errors(value: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in as_list(value):
        if isinstance(item, dict):
            section = as_text(ci_get(item, "Section")) or as_text(ci_get(item, "Command")) or "?"
            message = as_text(ci_get(item, "Message")) or "unknown error"
        elif isinstance(item, str):
            section, _, message = item.partition(":")
            message = message.strip() or item
        else:
            continue
        for canonical, aliases in _SECTIONS.items():
            if section.lower() in (a.lower() for a in aliases):
                section = canonical
        out.setdefault(section, message[:500])
    return out


def parse_bundle(data: object, source: str) -> ExchangeConfig:
    """A bundle already decoded from JSON (or built by the PSRP collector) as :class:`ExchangeConfig`."""
    if not isinstance(data, dict):
        raise BundleError(
            f"{source} is JSON but not a verify-oauth bundle (the top level is a {type(data).__name__}, not an "
            "object): make it with `verify-oauth export-script`"
        )
    sections = {canonical: ci_get(data, *aliases) for canonical, aliases in _SECTIONS.items()}
    present = {canonical for canonical, aliases in _SECTIONS.items() if ci_has(data, *aliases)}
    errors = _errors(ci_get(data, "Errors"))
    if not present and not errors:
        names = ", ".join(_SECTIONS)
        raise BundleError(
            f"{source} holds none of the bundle sections ({names}): make it with `verify-oauth export-script`"
        )

    def many[T](name: str, build: Callable[[dict[str, Any]], T]) -> tuple[T, ...] | None:
        if name not in present:
            return None
        return tuple(build(item) for item in _objects(sections[name]))

    linked: tuple[LinkedAccount, ...] | None = None
    if "LinkedAccounts" in present:
        linked = tuple(a for a in (_linked_account(i) for i in _objects(sections["LinkedAccounts"])) if a is not None)
    vdirs: tuple[VirtualDirectory, ...] | None = None
    ews = many("WebServicesVirtualDirectories", lambda r: _vdir(r, "EWS"))
    autodiscover = many("AutodiscoverVirtualDirectories", lambda r: _vdir(r, "Autodiscover"))
    if ews is not None or autodiscover is not None:
        vdirs = (*(ews or ()), *(autodiscover or ()))
    organization = _objects(sections["Organization"])
    return ExchangeConfig(
        source=source,
        version=as_text(ci_get(organization[0], "AdminDisplayVersion")) if organization else None,
        auth_config=_auth_config(sections["AuthConfig"]) if "AuthConfig" in present else None,
        auth_servers=many("AuthServers", _auth_server),
        partner_apps=many("PartnerApplications", _partner_app),
        linked_accounts=linked,
        certificates=many("AuthCertificates", _certificate),
        vdirs=vdirs,
        errors=errors,
    )


def load_bundle(path: Path) -> ExchangeConfig:
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE:
            raise BundleError(f"{path} is {size} bytes; a verify-oauth bundle is a few KiB")
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"Cannot read the bundle {path}: {exc.strerror or exc}") from exc
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path} is not UTF-8 or UTF-16 text: {exc.reason} at byte {exc.start}") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file ends early: was it truncated? re-run the export script)" if exc.pos >= len(text) - 1 else ""
        raise BundleError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from exc
    except RecursionError as exc:
        raise BundleError(f"{path} nests too deeply to be a verify-oauth bundle") from exc
    return parse_bundle(document, path.name)
