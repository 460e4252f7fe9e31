"""Wire text made inert before it reaches a person: one definition shared by every renderer, log line and message.

Text from captures, tokens, files and remote services can carry terminal escapes, bidi overrides and line breaks;
:func:`safe` escapes them and caps the length. It lives here, not in a renderer, so that the addon, the remote
access code and the error messages use it without loading rich.
"""

from __future__ import annotations

import re

# Control and bidi characters; lone surrogates (from JSON ``\ud800`` escapes), which no encoder can write; and
# U+FFFE/U+FFFF, which XML (verify-oauth's JUnit) cannot carry.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(value: object, limit: int = 200) -> str:
    """Wire text made inert for a terminal: control and bidi characters and lone surrogates escaped, length
    capped."""
    text = _UNSAFE.sub(_escape, str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: object, limit: int = 200) -> str:
    """A value quoted for a message as people write it: ``"CONTOSO\\svc-sfb"`` shows one backslash (a Python
    repr would double it), ``None`` is "(none)"; made inert like :func:`safe`."""
    if value is None:
        return "(none)"
    return f'"{safe(value, limit)}"'


def sent_to(host: str | None) -> str:
    """``to mail.contoso.com``, or what is known when the request named no host (never "to ?")."""
    return f"to {safe(host, 120)}" if host else "(the request named no Host)"
