"""Values made JSON-native: what the report's encoder would write, as plain dicts, lists and scalars.

Findings' evidence and decoded tokens are made JSON-native once, where they are created, so every consumer (the
report, a flow's metadata, SARIF) gets plain data without an encode-and-parse round trip, and the report's text is
what it was: :func:`json_native` gives what ``json.loads(json.dumps(value, default=str))`` gives.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SCALARS = frozenset({int, bool, type(None)})
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def strict_text(text: str) -> str:
    """``text`` with lone surrogates (what a JSON ``\\ud800`` escape decodes to) as the text ``\\ud800``, as the
    console shows them: strict JSON parsers refuse an unpaired surrogate, and no encoder can write one."""
    if text.isascii():  # no surrogate is ASCII: nearly every text ends here, without the pattern's walk
        return text
    return _SURROGATE.sub(_escaped, text) if _SURROGATE.search(text) else text


def json_native(value: Any) -> Any:
    """A copy of ``value`` in plain JSON types: tuples become lists, dict keys strings (as the encoder writes
    them), values the encoder would not take their ``str()``, int, float and str subclasses their base type.
    Strict JSON (RFC 8259): ``NaN`` and the infinities become the strings ``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``, lone surrogates text (:func:`strict_text`)."""
    kind = type(value)  # nearly every value is one of these exact types: answered before any isinstance
    if kind is str:
        return strict_text(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {strict_text(k) if type(k) is str else _key(k): json_native(v) for k, v in value.items()}
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return strict_text(value if type(value) is str else str.__str__(value))
    if isinstance(value, int):
        return value if type(value) is int else int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return value if type(value) is float else float(value)
    if isinstance(value, dict):
        return {_key(k): json_native(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_native(item) for item in value]
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return strict_text(key if type(key) is str else str.__str__(key))
    if key is None or isinstance(key, int | float):
        return json.dumps(key)  # None -> "null", True -> "true", 1.5 -> "1.5", as the encoder writes keys
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
