"""The ``keyCredentials`` of a service principal, from whichever shape they were saved in.

Accepted (reference §5.5): Graph REST ``GET /servicePrincipals(appId='…')?$select=keyCredentials`` (a single
object: ``key`` present), a Graph collection ``{"value":[{…}]}`` (``key`` null), ``Get-MgServicePrincipal … |
ConvertTo-Json`` (PascalCase, byte arrays as numbers or base64, ``/Date()/`` dates), the ``KeyCredentials`` array
alone (or one bare credential, as ``ConvertTo-Json`` writes a one-item pipeline), and the old
``Get-MsolServicePrincipalCredential`` output (``Value``, ``StartDate``, ``EndDate``).

A credential is matched to a certificate by the SHA-1 of its ``key`` (decoded twice where the Teams procedure
uploaded the bytes of the base64 text) or, when Graph did not return ``key``, by ``customKeyIdentifier``, which
defaults to the certificate's thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from inspector.remote.errors import SourceError
from inspector.remote.psjson import as_bytes, as_list, as_text, as_time, ci_get, ci_has, decode_text
from inspector.trust import thumbprint_of

MAX_CREDENTIALS = 1000
DATE_TOLERANCE = timedelta(days=1)
"""Start/end dates within a day of the certificate's match (tools show local time; MSOnline rounded)."""
_HEX40 = re.compile(r"^[0-9A-Fa-f]{40}$")
_CREDENTIAL_KEYS = ("keyId", "usage", "customKeyIdentifier", "startDateTime", "endDateTime", "StartDate", "EndDate")


@dataclass(frozen=True, slots=True)
class KeyCredential:
    key_id: str | None
    display_name: str | None
    type: str | None
    usage: str | None
    start: datetime | None
    end: datetime | None
    thumbprints: frozenset[str]
    """Upper-case hex SHA-1 thumbprints this credential names (from ``key`` and/or ``customKeyIdentifier``)."""
    has_key: bool
    """Whether the certificate itself was returned (Graph returns ``key`` only with ``$select`` on one object)."""

    def label(self) -> str:
        name = self.display_name or (f"keyId {self.key_id}" if self.key_id else "a key")
        return f"{name} ({self.start:%Y-%m-%d} to {self.end:%Y-%m-%d})" if self.start and self.end else name


@dataclass(frozen=True, slots=True)
class ServicePrincipalKeys:
    app_id: str | None
    source: str
    credentials: tuple[KeyCredential, ...]


def _certificate_thumbprint(raw: bytes) -> str | None:
    if raw[:1] == b"\x30":
        return thumbprint_of(raw)
    # The 2025 Teams procedure uploads ASCII bytes of the base64 text: decode once more.
    try:
        inner = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return thumbprint_of(inner) if inner[:1] == b"\x30" else None


def _identifier_thumbprints(value: object) -> set[str]:
    found: set[str] = set()
    text = value if isinstance(value, str) else None
    if text and _HEX40.match(text.strip()):
        found.add(text.strip().upper())
    raw = as_bytes(value)
    if raw is not None:
        if len(raw) == 20:
            found.add(raw.hex().upper())
        try:
            decoded = raw.decode("ascii")
        except UnicodeDecodeError:
            decoded = ""
        if _HEX40.match(decoded):
            found.add(decoded.upper())
        # Graph stores the hex thumbprint text as Edm.Binary: the SDK's bytes are its base64 decoding.
        reencoded = base64.b64encode(raw).decode("ascii")
        if _HEX40.match(reencoded):
            found.add(reencoded.upper())
    return found


def _credential(raw: dict[str, Any]) -> KeyCredential:
    key_value = ci_get(raw, "key", "Value")
    key_bytes = as_bytes(key_value)
    thumbprints = _identifier_thumbprints(ci_get(raw, "customKeyIdentifier"))
    certificate = _certificate_thumbprint(key_bytes) if key_bytes else None
    if certificate is not None:
        thumbprints = {certificate}  # the certificate itself outranks a label
    return KeyCredential(
        key_id=as_text(ci_get(raw, "keyId")),
        display_name=as_text(ci_get(raw, "displayName")),
        type=as_text(ci_get(raw, "type")),
        usage=as_text(ci_get(raw, "usage")),
        start=as_time(ci_get(raw, "startDateTime", "StartDate")),
        end=as_time(ci_get(raw, "endDateTime", "EndDate")),
        thumbprints=frozenset(thumbprints),
        has_key=certificate is not None,
    )


def _is_credential(item: object) -> bool:
    return isinstance(item, dict) and ci_has(item, *_CREDENTIAL_KEYS) and not ci_has(item, "keyCredentials")


def _principal_objects(document: object) -> list[dict[str, Any]]:
    if isinstance(document, dict) and ci_has(document, "value") and not ci_has(document, "keyCredentials"):
        return [item for item in as_list(ci_get(document, "value")) if isinstance(item, dict)]
    return [item for item in as_list(document) if isinstance(item, dict)]


def parse_sp_keys(document: object, source: str, *, app_id: str) -> ServicePrincipalKeys:
    """Raises :class:`SourceError` when the document holds no service principal or credentials at all."""
    if isinstance(document, list) and document and all(_is_credential(i) for i in document):
        return ServicePrincipalKeys(None, source, tuple(_credential(i) for i in document[:MAX_CREDENTIALS]))
    if _is_credential(document):
        assert isinstance(document, dict)
        return ServicePrincipalKeys(None, source, (_credential(document),))
    principals = [p for p in _principal_objects(document) if ci_has(p, "keyCredentials")]
    if not principals:
        raise SourceError(
            f"{source} holds no keyCredentials: save `GET /servicePrincipals(appId='{app_id}')?$select=keyCredentials` "
            f"or `Get-MgServicePrincipal -Filter \"AppId eq '{app_id}'\" | ConvertTo-Json -Depth 5`"
        )
    chosen = [p for p in principals if (as_text(ci_get(p, "appId")) or "").lower() == app_id.lower()]
    if not chosen:
        if len(principals) > 1:
            raise SourceError(f"{source} holds {len(principals)} service principals and none has appId {app_id}")
        chosen = principals
    principal = chosen[0]
    credentials = [c for c in as_list(ci_get(principal, "keyCredentials")) if isinstance(c, dict)]
    return ServicePrincipalKeys(
        as_text(ci_get(principal, "appId")),
        source,
        tuple(_credential(c) for c in credentials[:MAX_CREDENTIALS]),
    )


def parse_sp_json(data: bytes, source: str, *, app_id: str) -> ServicePrincipalKeys:
    try:
        document = json.loads(decode_text(data))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source} is not UTF-8 or UTF-16 text") from exc
    except json.JSONDecodeError as exc:
        raise SourceError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise SourceError(f"{source} nests too deeply to be service principal JSON") from exc
    return parse_sp_keys(document, source, app_id=app_id)
