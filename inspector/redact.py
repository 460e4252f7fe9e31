"""Secrets that travel outside the Authorization header: in a request target's query, and in a URL's userinfo.

``GET /owa/?access_token=…``, an OAuth ``code=`` on a redirect, a SAS ``sig=``, ``http://user:password@host/`` in an
absolute-form target: each is as usable as a token in a header, so every output shows the parameter's name and not
its value (DESIGN.md "Secrets stay secret"). ``--show-secrets`` shows them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"

SECRET_PARAMETERS = frozenset(
    {
        "access_token", "id_token", "refresh_token", "token", "code", "client_secret", "client_assertion",
        "assertion", "password", "passwd", "pwd", "pass", "secret", "sig", "signature", "apikey", "api_key", "key",
        "auth", "authorization", "session", "sessionid", "jsessionid", "phpsessid", "samlresponse", "samlrequest",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature", "x-goog-credential",
        "csrf", "xsrf", "otp", "ticket", "logon_hint_token",
    }
)  # fmt: skip
"""Query parameter names (compared case-insensitively) whose values are credentials."""

_USERINFO = re.compile(r"\A([A-Za-z][A-Za-z0-9+.\-]*://)([^?#]*)@")
"""Up to the last ``@`` before the query: a password with an unencoded ``/`` or ``@`` is still all redacted (a path
with an ``@`` after a ``:`` loses some text to the redaction, never a secret to the output)."""
_PARAMETER = re.compile(r"([?&#])([^=&;#?]*)=([^&;#]*)|(;)([^=&;#?]*)=([^&;#?]*)")
"""A parameter of the query or of the fragment (``#access_token=…`` of OAuth's implicit grant), whose value runs to
the next separator (a ``?`` inside a secret does not end the redaction), or a path parameter (``;jsessionid=…``),
whose value ends where the query begins."""
# A signed JWT as any parameter's value, whatever its name (``?t=eyJ…``).
_SIGNED_JWT = re.compile(r"eyJ[A-Za-z0-9_\-%]*\.[A-Za-z0-9_\-%]+\.[A-Za-z0-9_\-%]+")


def _parameter(match: re.Match[str]) -> str:
    groups = match.groups()
    separator, name, value = groups[:3] if groups[0] is not None else groups[3:]
    named = unquote_plus(name).strip().lower()  # access%5Ftoken is access_token to the server that reads it
    if value and (named in SECRET_PARAMETERS or _SIGNED_JWT.search(value) or _JOSE.search(value)):
        return f"{separator}{name}={REDACTED}"
    return match.group()


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2).partition(":")
    return f"{match.group(1)}{user}:{REDACTED}@" if colon else match.group()


def redact_target(target: str) -> str:
    """``target`` with credential query values and a URL password replaced by ``[redacted]``."""
    if "@" in target:
        target = _USERINFO.sub(_userinfo, target, count=1)
    if "=" not in target:
        return target
    return _PARAMETER.sub(_parameter, target)


_JOSE = re.compile(r"eyJ[A-Za-z0-9_\-%]*(?:\.[A-Za-z0-9_\-%]*){2,4}")
"""A JOSE compact serialisation: a JWS (three segments) or a JWE (five), base64url or percent-encoded."""


def _jose_unusable(match: re.Match[str]) -> str:
    parts = match.group().split(".")
    if len(parts) == 3:  # a JWS: header and claims readable, the signature gone (an unsigned one has none)
        return f"{parts[0]}.{parts[1]}.{REDACTED if parts[2] else ''}"
    return f"{parts[0]}.{REDACTED}"  # a JWE: only its header says anything without the key


def redact_header_value(value: str) -> str:
    """Any header's value with the secrets it may carry removed: credential query values and a URL password (a
    ``Location`` with ``?code=``), and what makes any JWS or JWE in it usable (``Sec-WebSocket-Protocol:
    authorization.bearer.eyJ…``, ``X-…-Token``): the token stays readable where it can be read, never usable."""
    value = redact_target(value)
    if "eyJ" not in value:
        return value
    return _JOSE.sub(_jose_unusable, value)
