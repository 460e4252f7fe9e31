"""Reading what PowerShell's ``ConvertTo-Json`` writes, whichever PowerShell wrote it.

Windows PowerShell 5.1 writes dates as ``"/Date(1700000000000)/"`` (sometimes wrapped in an object with ``value``
and ``DateTime`` when the date carried notes), enums as numbers, byte arrays as arrays of numbers, and a one-item
pipeline as a bare object instead of an array; PowerShell 7 writes ISO dates and base64 byte arrays. Objects that
came through Exchange's remoting arrive as their ``ToString`` or as nested objects. Every reader here is total: an
unexpected shape gives ``None``, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

_MS_DATE = re.compile(r"^/Date\((-?\d{1,15})([+-]\d{4})?\)/$")
_TRUE = {"true", "$true", "yes", "1"}
_FALSE = {"false", "$false", "no", "0"}
MAX_LIST = 10_000
"""Longest list taken from a bundle (a real one holds a handful of items per cmdlet)."""


def ci_get(mapping: object, *names: str) -> Any:
    """The first of ``names`` present in ``mapping``, compared case-insensitively; ``None`` otherwise."""
    if not isinstance(mapping, Mapping):
        return None
    lowered = {key.lower(): value for key, value in mapping.items() if isinstance(key, str)}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def ci_has(mapping: object, *names: str) -> bool:
    if not isinstance(mapping, Mapping):
        return False
    keys = {key.lower() for key in mapping if isinstance(key, str)}
    return any(name.lower() in keys for name in names)


def as_list(value: object) -> list[Any]:
    """``ConvertTo-Json`` writes a one-item pipeline as the item itself and an empty one as nothing."""
    if value is None:
        return []
    if isinstance(value, list):
        return value[:MAX_LIST]
    return [value]


def as_text(value: object) -> str | None:
    """A string for identities and enums: strings as they are, numbers as digits, remoted objects by name."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping):
        # A remoted ADObjectId or enum: prefer what ToString would print.
        for name in ("ToString", "DistinguishedName", "Name", "Value", "value", "DisplayName", "Id"):
            inner = ci_get(value, name)
            if isinstance(inner, str) and inner:
                return inner
    return None


def as_texts(value: object) -> list[str]:
    out: list[str] = []
    for item in as_list(value):
        text = as_text(item)
        if text is not None:
            out.append(text)
    return out


MAX_WRAPPING = 8
"""How many ``{"value": …}`` wrappers are unwrapped (PowerShell adds one or two; a crafted bundle a thousand)."""


def _unwrap(value: object, *names: str) -> object:
    """``value`` with its wrapping objects removed, looking inside them by ``names``; iterative and bounded."""
    for _ in range(MAX_WRAPPING):
        if not isinstance(value, Mapping):
            return value
        value = ci_get(value, *names)
    return None if isinstance(value, Mapping) else value


def as_bool(value: object) -> bool | None:
    value = _unwrap(value, "IsPresent", "value")  # a SwitchParameter or a remoted bool
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return None
    return None


def as_time(value: object) -> datetime | None:
    """Tz-aware UTC from ``/Date(ms)/``, ISO 8601 (7 fractional digits too), or an object wrapping either."""
    value = _unwrap(value, "value", "DateTime", "UtcDateTime")
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _MS_DATE.match(text)
    if match is not None:
        try:
            moment = datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return moment
    if not text or len(text) > 64:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # ConvertTo-Json writes local times without an offset; UTC is the least wrong reading (stated in output).
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable moment
        return None


def as_bytes(value: object) -> bytes | None:
    """A byte array as PowerShell 5.1 (numbers) or 7 (base64) writes it."""
    if isinstance(value, list) and value and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
        return bytes(value)
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def same_instant(a: datetime, b: datetime, *, tolerance: timedelta) -> bool:
    return abs(a - b) <= tolerance


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM, as ``> file.json`` in Windows PowerShell 5.1 writes it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")
