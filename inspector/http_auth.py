"""Parsing of ``Authorization``, ``WWW-Authenticate`` and ``x-ms-diagnostics`` header values, sans-IO.

Called on every request of large captures, so the common path (Bearer, Basic) is a couple of C-level string
operations; all patterns are compiled once, character-class runs only (possessive, no backtracking). Nothing
here raises on wire input: problems are reported in the returned values.

Secrets: a ``Credentials`` repr never shows the credentials string or the Basic password.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

from inspector.frozen import pickled_by_constructor
from inspector.ms_diagnostics import KnownDiagnostic, lookup
from inspector.ntlm import (
    NegotiateToken,
    NtlmMessage,
    decode_negotiate,
    decode_ntlm,
)

__all__ = [
    "AuthScheme",
    "BearerChallengeInfo",
    "Challenge",
    "Credentials",
    "Diagnostics",
    "NegotiateToken",
    "NtlmMessage",
    "bearer_challenge_info",
    "decode_negotiate",
    "decode_ntlm",
    "parse_authorization",
    "parse_ms_diagnostics",
    "parse_www_authenticate",
]

AuthScheme = str  # lower-case scheme

# RFC 9110 5.6.2 token characters, and RFC 7235 token68.
_TCHARS = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TCHARS}]++")
_TOKEN_ONLY = re.compile(f"[{_TCHARS}]++\\Z")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]++=*+")
_OWS = re.compile(r"[ \t\r\n]*+")
_SEPARATORS = re.compile(r"[ \t\r\n,]*+")
_QUOTED = re.compile(r'"([^"\\]*+(?:\\.[^"\\]*+)*+)"', re.DOTALL)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)

# Hostile input bounds: real challenges carry a handful of params; anything past these is ignored.
MAX_CHALLENGES = 64
MAX_PARAMS = 128
_MAX_STEPS = 4 * MAX_CHALLENGES  # challenges plus skipped garbage and orphan params, per header value


# --- Authorization -----------------------------------------------------------------------------------------------


@dataclass(init=False, unsafe_hash=True, repr=False)  # a value class: see inspector/frozen.py
class Credentials:
    """One parsed ``Authorization`` (or ``Proxy-Authorization``) header value."""

    scheme: Final[AuthScheme]
    """Lower-cased scheme; ``"bare"`` when the value is a token without a scheme word (e.g. a bare JWT)."""
    raw_scheme: Final[str]
    """The scheme as sent (``"BEARER"``); empty for ``bare`` and empty values."""
    credentials: Final[str]
    """Everything after the scheme, surrounding whitespace stripped (may be ``""``). A secret (not in the repr)."""
    basic_user: Final[str | None]
    basic_password: Final[str | None]
    """A secret (not in the repr): callers redact it."""
    basic_problem: Final[str | None]
    ntlm: Final[NtlmMessage | None]
    """For NTLM, and Negotiate carrying NTLM."""
    negotiate_mechanism: Final[Literal["kerberos", "ntlm", "unknown"] | None]
    digest_user: Final[str | None]
    problem: Final[str | None]
    """Set when the value itself is unusable (empty, undecodable base64, not NTLMSSP, ...)."""

    def __init__(
        self,
        scheme: AuthScheme,
        raw_scheme: str,
        credentials: str,
        basic_user: str | None = None,
        basic_password: str | None = None,
        basic_problem: str | None = None,
        ntlm: NtlmMessage | None = None,
        negotiate_mechanism: Literal["kerberos", "ntlm", "unknown"] | None = None,
        digest_user: str | None = None,
        problem: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.raw_scheme = raw_scheme
        self.credentials = credentials
        self.basic_user = basic_user
        self.basic_password = basic_password
        self.basic_problem = basic_problem
        self.ntlm = ntlm
        self.negotiate_mechanism = negotiate_mechanism
        self.digest_user = digest_user
        self.problem = problem

    def __repr__(self) -> str:
        # Written, not the dataclass's: a Final field cannot be field(repr=False), and the secrets stay out.
        shown = (
            "scheme",
            "raw_scheme",
            "basic_user",
            "basic_problem",
            "ntlm",
            "negotiate_mechanism",
            "digest_user",
            "problem",
        )
        return f"Credentials({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64, tolerating missing padding; ``None`` when it is not base64."""
    if not text.isascii():
        return None
    missing = -len(text) % 4
    if missing == 3:  # one leftover character can never be valid
        return None
    try:
        return base64.b64decode(text + "=" * missing, validate=True)
    except (binascii.Error, ValueError):
        return None


_MAX_SCHEME_LENGTH = 32  # registered schemes are short words ("Negotiate", "SCRAM-SHA-256")


_KNOWN_SCHEMES = frozenset(
    {
        "basic", "bearer", "digest", "negotiate", "ntlm", "kerberos", "hoba", "mutual", "oauth", "dpop", "gnap",
        "scram-sha-1", "scram-sha-256", "vapid", "privatetoken", "concealed", "aws4-hmac-sha256", "sharedkey",
        "sharedkeylite", "msauth1.0", "pop", "token", "apikey", "key", "otp",
    }
)  # fmt: skip
"""Scheme words that may be shown even alone (IANA's registry, and the common vendor ones)."""
_WORD_LIKE = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*(?:[-_.]?[0-9]{1,3}(?:\.[0-9]{1,3})?)?\Z")
"""An unknown scheme word shown as such: letters, with separated parts (``X-Custom-Auth``); a run of mixed
letters and digits is what API keys and base64 look like."""
_MAX_UNKNOWN_SCHEME_LENGTH = 24


def _looks_like_bare_token(word: str, *, alone: bool) -> bool:
    # A JWT always starts with the base64url of '{"' and has dots; '/' or '=' cannot be in a scheme token.
    if len(word) > _MAX_SCHEME_LENGTH or (word.startswith("eyJ") and "." in word) or _TOKEN_ONLY.match(word) is None:
        return True
    if word.lower() in _KNOWN_SCHEMES:
        return False
    # An unknown word alone is a credential without a scheme (an API key, unpadded base64); beside a credential it
    # is shown only when it reads like a word, since the output prints it.
    return alone or len(word) > _MAX_UNKNOWN_SCHEME_LENGTH or _WORD_LIKE.match(word) is None


def scheme_word(value: str) -> str:
    """The scheme word of an ``Authorization`` value as written, ``""`` when it has none (a bare credential):
    ``parse_authorization(value).raw_scheme`` without decoding the credentials."""
    parts = value.split(None, 1)
    if not parts:
        return ""
    rest = parts[1].strip() if len(parts) > 1 else ""
    return "" if _looks_like_bare_token(parts[0], alone=not rest) else parts[0]


def parse_authorization(value: str) -> Credentials:
    """Parse one ``Authorization`` header value. Never raises."""
    text = value.strip()
    if not text:
        return Credentials("", "", "", problem="empty header value")
    parts = text.split(None, 1)
    raw_scheme = parts[0]
    rest = parts[1].strip() if len(parts) > 1 else ""
    if _looks_like_bare_token(raw_scheme, alone=not rest):
        problem = None if not rest else "value does not start with an auth scheme"
        return Credentials("bare", "", text, problem=problem)
    scheme = raw_scheme.lower()
    if scheme == "bearer":  # an empty Bearer is a discovery probe, not a problem
        return Credentials(scheme, raw_scheme, rest)
    if scheme == "basic":
        return _basic(raw_scheme, rest)
    if scheme == "ntlm":
        return _ntlm(raw_scheme, rest)
    if scheme == "negotiate":
        return _negotiate(raw_scheme, rest)
    if scheme == "digest":
        return Credentials(scheme, raw_scheme, rest, digest_user=_digest_user(rest))
    return Credentials(scheme, raw_scheme, rest)


def _basic(raw_scheme: str, rest: str) -> Credentials:
    if not rest:
        return Credentials("basic", raw_scheme, rest, basic_problem="empty", problem="no credentials after Basic")
    decoded = _b64decode(rest)
    if decoded is None:
        return Credentials("basic", raw_scheme, rest, basic_problem="not base64", problem="Basic value is not base64")
    encoding_note = None
    try:
        pair = decoded.decode("utf-8")
    except UnicodeDecodeError:
        pair = decoded.decode("latin-1")
        encoding_note = "not UTF-8 (decoded as latin-1)"
    user, colon, password = pair.partition(":")
    if not colon:
        # Without the separator the decoded text may be a bare secret: show none of it.
        return Credentials(
            "basic", raw_scheme, rest, basic_problem="no ':' separator", problem="Basic value has no ':' separator"
        )
    return Credentials("basic", raw_scheme, rest, basic_user=user, basic_password=password, basic_problem=encoding_note)


def _ntlm(raw_scheme: str, rest: str) -> Credentials:
    if not rest:
        return Credentials("ntlm", raw_scheme, rest, problem="no token after NTLM")
    blob = _b64decode(rest)
    if blob is None:
        return Credentials("ntlm", raw_scheme, rest, problem="NTLM token is not base64")
    message = decode_ntlm(blob)
    if message is None:
        return Credentials("ntlm", raw_scheme, rest, problem="NTLM token is not a readable NTLMSSP message")
    return Credentials("ntlm", raw_scheme, rest, ntlm=message)


def _negotiate(raw_scheme: str, rest: str) -> Credentials:
    if not rest:
        return Credentials("negotiate", raw_scheme, rest, problem="no token after Negotiate")
    blob = _b64decode(rest)
    if blob is None:
        return Credentials("negotiate", raw_scheme, rest, problem="Negotiate token is not base64")
    token = decode_negotiate(blob)
    return Credentials("negotiate", raw_scheme, rest, ntlm=token.ntlm, negotiate_mechanism=token.mechanism)


def _digest_user(rest: str) -> str | None:
    params, _ = _read_params(rest, 0)
    values = dict(reversed(params))  # the first occurrence wins
    if "username" in values:
        return values["username"]
    extended = values.get("username*")  # RFC 7616 3.4.4: charset'language'percent-encoded
    if extended is not None and extended.count("'") >= 2:
        charset, _, encoded = extended.split("'", 2)
        # RFC 8187 allows only these two; never hand a wire-chosen codec name to the codec machinery.
        encoding = "latin-1" if charset.lower() == "iso-8859-1" else "utf-8"
        return unquote(encoded, encoding=encoding, errors="replace")
    return None


# --- WWW-Authenticate --------------------------------------------------------------------------------------------


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Challenge:
    """One RFC 7235 challenge."""

    scheme: Final[AuthScheme]
    raw_scheme: Final[str]
    params: Final[tuple[tuple[str, str], ...]]
    """Auth-param names lower-cased, values unquoted (quoted-pairs unescaped), in order."""
    token68: Final[str | None]

    def __init__(
        self,
        scheme: AuthScheme,
        raw_scheme: str,
        params: tuple[tuple[str, str], ...] = (),
        token68: str | None = None,
    ) -> None:
        self.scheme = scheme
        self.raw_scheme = raw_scheme
        self.params = params
        self.token68 = token68

    def param(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        for key, value in self.params:
            if key == wanted:
                return value
        return None


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a run of ``pattern`` (a starred character class) starting at ``pos`` ends."""
    run = pattern.match(text, pos)
    return pos if run is None else run.end()


def _read_value(text: str, pos: int) -> tuple[str, int]:
    """An auth-param value at ``pos`` (after ``=``): quoted-string, or leniently everything up to a comma."""
    pos = _skip(_OWS, text, pos)
    if pos < len(text) and text[pos] == '"':
        quoted = _QUOTED.match(text, pos)
        if quoted is None:  # unterminated: best effort, the rest of the value
            inner, end = text[pos + 1 :], len(text)
        else:
            inner, end = quoted.group(1), quoted.end()
        if "\\" in inner:
            inner = _QUOTED_PAIR.sub(r"\1", inner)
        return inner, end
    comma = text.find(",", pos)
    end = len(text) if comma < 0 else comma
    return text[pos:end].strip(), end


def _read_params(text: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    """A comma-separated auth-param list from ``pos`` up to the first item that is not ``name=value``."""
    params: list[tuple[str, str]] = []
    while len(params) < MAX_PARAMS:
        start = _skip(_SEPARATORS, text, pos)
        name = _TOKEN.match(text, start)
        if name is None:
            return params, start
        equals = _skip(_OWS, text, name.end())
        if equals >= len(text) or text[equals] != "=":
            return params, start  # a new challenge's scheme
        value, pos = _read_value(text, equals + 1)
        params.append((name.group().lower(), value))
    return params, len(text)


def _parse_challenges(text: str, out: list[Challenge]) -> None:
    pos, end = 0, len(text)
    for _ in range(_MAX_STEPS):
        if len(out) >= MAX_CHALLENGES:
            return
        pos = _skip(_SEPARATORS, text, pos)
        if pos >= end:
            return
        scheme = _TOKEN.match(text, pos)
        if scheme is None:
            # Garbage (or a stray quote): resume at the next comma.
            comma = text.find(",", pos + 1)
            if comma < 0:
                return
            pos = comma
            continue
        raw = scheme.group()
        after = _skip(_OWS, text, scheme.end())
        if after < end and text[after] == "=":
            # An auth-param with no challenge to belong to (e.g. after a token68): skip it.
            _, pos = _read_value(text, after + 1)
            continue
        token68 = None
        params: list[tuple[str, str]] = []
        pos = after
        if after > scheme.end() and after < end and text[after] != ",":
            candidate = _TOKEN68.match(text, after)
            following = _skip(_OWS, text, candidate.end()) if candidate else after
            if candidate is not None and (following >= end or text[following] == ","):
                token68, pos = candidate.group(), following
            else:
                params, pos = _read_params(text, after)
        out.append(Challenge(raw.lower(), raw, tuple(params), token68))


def parse_www_authenticate(values: Iterable[str]) -> list[Challenge]:
    """All challenges of a response, from all its ``WWW-Authenticate`` values in order. Never raises."""
    challenges: list[Challenge] = []
    for value in values:
        if len(challenges) >= MAX_CHALLENGES:
            break
        _parse_challenges(value, challenges)
    return challenges


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class BearerChallengeInfo:
    """The S2S-relevant parameters of a ``Bearer`` challenge (reference §3.1)."""

    client_id: Final[str | None]
    trusted_issuers: Final[tuple[str, ...]]
    token_types: Final[tuple[str, ...]]
    authorization_uri: Final[str | None]
    realm: Final[str | None]
    error: Final[str | None]

    def __init__(
        self,
        client_id: str | None,
        trusted_issuers: tuple[str, ...],
        token_types: tuple[str, ...],
        authorization_uri: str | None,
        realm: str | None,
        error: str | None,
    ) -> None:
        self.client_id = client_id
        self.trusted_issuers = trusted_issuers
        self.token_types = token_types
        self.authorization_uri = authorization_uri
        self.realm = realm
        self.error = error


_S2S_TOKEN_TYPES = ("app_asserted_user_v1", "service_asserted_app_v1")
_LIST_SPLIT = re.compile(r"[\s,]++")


def _split_list(value: str | None) -> list[str]:
    return [item for item in _LIST_SPLIT.split(value) if item] if value else []


def _token_types(value: str | None) -> tuple[str, ...]:
    found: list[str] = []
    for item in _split_list(value):
        # The SfB support article prints the two types glued together; peel known names off the front.
        rest, peeled = item, []
        while rest:
            known = next((t for t in _S2S_TOKEN_TYPES if rest.startswith(t)), None)
            if known is None:
                break
            peeled.append(known)
            rest = rest[len(known) :]
        found.extend(peeled if not rest and len(peeled) > 1 else [item])
    return tuple(dict.fromkeys(found))


def bearer_challenge_info(ch: Challenge) -> BearerChallengeInfo:
    return BearerChallengeInfo(
        client_id=ch.param("client_id"),
        trusted_issuers=tuple(_split_list(ch.param("trusted_issuers"))),
        token_types=_token_types(ch.param("token_types")),
        authorization_uri=ch.param("authorization_uri"),
        realm=ch.param("realm"),
        error=ch.param("error"),
    )


# --- x-ms-diagnostics --------------------------------------------------------------------------------------------


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Diagnostics:
    raw: Final[str]
    code: Final[int | None]
    reason: Final[str | None]
    category: Final[str | None]
    """From ``error_category=`` (Exchange) or ``category=`` (SharePoint)."""
    known: Final[KnownDiagnostic | None]

    def __init__(
        self,
        raw: str,
        code: int | None,
        reason: str | None,
        category: str | None,
        known: KnownDiagnostic | None,
    ) -> None:
        self.raw = raw
        self.code = code
        self.reason = reason
        self.category = category
        self.known = known


def _wire_text(text: str) -> str:
    """Header text read byte for byte (latin-1) that is really UTF-8, decoded as UTF-8 (a reason in French or
    Japanese); anything else unchanged."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


_DIAGNOSTICS_CODE = re.compile(r"[ \t]*+(\d{1,10})(?!\d)[ \t]*+;?")
_DIAGNOSTICS_NAME = re.compile(r"[ \t;]*+([A-Za-z_][A-Za-z0-9_\-]*+)[ \t]*+=[ \t]*+")
_DIAGNOSTICS_QUOTE_END = re.compile(r'"[ \t]*+(?:;|\Z)')
_DIAGNOSTICS_HEADER_NAME = re.compile(r"(?i)[ \t]*+x-ms-diagnostics[ \t]*+[:=]")
_MAX_DIAGNOSTICS_FIELDS = 16


def parse_ms_diagnostics(value: str) -> Diagnostics:
    """Parse an ``x-ms-diagnostics`` value: ``<code>;reason="<text>";error_category="<category>"``. Never raises.

    Reasons are not escaped (they quote with ``'``), so a quoted value ends at a ``"`` followed by ``;`` or the end.
    """
    text = value
    header_name = _DIAGNOSTICS_HEADER_NAME.match(text)  # tolerate a pasted "x-ms-diagnostics: ..." line
    pos = header_name.end() if header_name else 0
    code = None
    match = _DIAGNOSTICS_CODE.match(text, pos)
    if match is not None:
        code, pos = int(match.group(1)), match.end()
    fields: dict[str, str] = {}
    for _ in range(_MAX_DIAGNOSTICS_FIELDS):
        name = _DIAGNOSTICS_NAME.match(text, pos)
        if name is None:  # not "name=": skip this segment
            semicolon = text.find(";", pos)
            if semicolon < 0:
                break
            pos = semicolon + 1
            continue
        pos = name.end()
        if text.startswith('"', pos):
            end = _DIAGNOSTICS_QUOTE_END.search(text, pos + 1)
            stop = len(text) if end is None else end.start()
            item = text[pos + 1 : stop].removesuffix('"')
            pos = len(text) if end is None else end.end()
        else:
            semicolon = text.find(";", pos)
            stop = len(text) if semicolon < 0 else semicolon
            item = text[pos:stop].strip()
            pos = stop
        fields.setdefault(name.group(1).lower(), item)
    reason = fields.get("reason")
    if reason is not None:
        reason = _wire_text(reason)
    category = fields.get("error_category", fields.get("category"))
    return Diagnostics(value, code, reason, category, lookup(code, reason, category))


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (Credentials, Challenge, BearerChallengeInfo, Diagnostics):
    pickled_by_constructor(_cls)
