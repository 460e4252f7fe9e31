"""Decoding of the JWTs that cross the wire in ``Authorization: Bearer`` headers. Nothing here verifies anything.

The Microsoft S2S shapes (reference §1): an unsigned outer token (``alg: none``, empty third segment) whose
``actortoken`` claim holds the RS256-signed actor token; an app-only call sends the signed actor token alone.
Every function is total: hostile input yields a :class:`TokenProblem`, never an exception, and sizes are capped
before any decoding work is done.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pybase64

from inspector.frozen import pickled_by_constructor

MAX_TOKEN_LENGTH = 256 * 1024
"""Longer bearer values are not decoded (real S2S tokens are a few KiB)."""
MAX_JSON_DEPTH = 32

TokenKind = Literal["s2s-user", "s2s-app", "jwt", "empty", "opaque", "client-assertion"]
"""``client-assertion``: the JWT a token request authenticates with (``client_assertion`` or ``assertion``)."""

_B64URL = re.compile(r"[A-Za-z0-9_\-]*={0,2}")
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_INTEGER_TEXT = re.compile(r"[ \t]*-?[0-9]{1,19}[ \t]*")
"""A numeric time claim as text: ASCII digits only (``str.isdigit`` also accepts ``"²"``, which ``int`` refuses)."""
_PRINCIPAL = re.compile(rf"^/?(?P<principal>{_GUID})(?:/(?P<host>[^@]*))?@(?P<realm>[^@]*)$")


class TokenProblem(Exception):
    """Why a value is not a decodable JWT (the message is safe to show: it never quotes the token)."""


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Jwt:
    """One compact JWS as it crossed the wire: its decoded header and claims, and its original segments."""

    header: Final[dict[str, Any]]
    claims: Final[dict[str, Any]]
    signing_input: Final[bytes]
    """``segment0 + "." + segment1`` exactly as sent: what the signature covers (never re-encoded)."""
    signature: Final[bytes]
    signature_segment: Final[str]
    payload_problem: Final[str | None]
    """Why the payload is not a JSON object (then ``claims`` is empty): still a JWS whose signature can be
    checked (RFC 7520 section 4.1 signs plain text), but not a token with claims."""

    def __init__(
        self,
        header: dict[str, Any],
        claims: dict[str, Any],
        signing_input: bytes,
        signature: bytes,
        signature_segment: str,
        payload_problem: str | None = None,
    ) -> None:
        self.header = header
        self.claims = claims
        self.signing_input = signing_input
        self.signature = signature
        self.signature_segment = signature_segment
        self.payload_problem = payload_problem

    @property
    def alg(self) -> str:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else repr(alg)

    @property
    def is_unsigned(self) -> bool:
        return self.alg.lower() == "none"

    def claim_str(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if isinstance(value, str) else None


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Principal:
    """``<principal>[/<host>]@<realm>`` as used in ``iss``, ``aud`` and ``nameid``."""

    principal: Final[str]
    host: Final[str | None]
    realm: Final[str]

    def __init__(self, principal: str, host: str | None, realm: str) -> None:
        self.principal = principal
        self.host = host
        self.realm = realm

    @classmethod
    def parse(cls, value: object) -> Principal | None:
        if not isinstance(value, str):
            return None
        # Cached: the claims of every token name the same few principals (iss, aud, nameid). Long values are not
        # kept, so hostile claims cannot fill the cache with megabytes.
        return _parse_principal_cached(value) if len(value) <= 512 else _parse_principal(value)


def _parse_principal(value: str) -> Principal | None:
    match = _PRINCIPAL.match(value.strip())
    if match is None:
        return None
    return Principal(match["principal"].lower(), match["host"] or None, match["realm"])


_parse_principal_cached = functools.lru_cache(maxsize=4096)(_parse_principal)


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class DecodedBearer:
    """What a bearer value turned out to be. ``outer`` is the token as sent, ``actor`` the signed one inside."""

    kind: Final[TokenKind]
    outer: Final[Jwt | None]
    actor: Final[Jwt | None]
    problem: Final[str | None]
    """Set when the value looked like a JWT but could not be decoded (the ``token-malformed`` finding)."""
    actor_problem: Final[str | None]
    """Set when the outer token decoded but its ``actortoken`` did not."""
    jws: Final[Jwt | None]
    """A value that is a JWS but not a JWT (its payload is not a JSON object; ``problem`` says so): not a token
    with claims (``outer`` stays ``None``), but its signature can still be judged."""

    def __init__(
        self,
        kind: TokenKind,
        outer: Jwt | None = None,
        actor: Jwt | None = None,
        problem: str | None = None,
        actor_problem: str | None = None,
        jws: Jwt | None = None,
    ) -> None:
        self.kind = kind
        self.outer = outer
        self.actor = actor
        self.problem = problem
        self.actor_problem = actor_problem
        self.jws = jws

    @property
    def signed(self) -> Jwt | None:
        """The token whose signature vouches for the call: the actor, or the token itself when it has none."""
        if self.actor is not None:
            return self.actor
        return self.outer


def b64url_decode(segment: str) -> bytes:
    """Strict base64url: padding optional, no other characters; length % 4 == 1 is impossible and rejected."""
    if "=" not in segment and segment.isascii():
        # The common case (JWT segments carry no padding), decoded by pybase64's SIMD decoder: ~4x the standard
        # library's on a 1.7 KB outer payload, the largest part of a cold token's decode. With ``altchars`` it still
        # takes the standard alphabet's '+' and '/' (deprecated there), which base64url does not: those go on to the
        # checks below, as does anything else it refuses; they accept and reject exactly as before and name the reason.
        raw = segment.encode("ascii")
        if b"+" not in raw and b"/" not in raw:
            # altchars and validate given by position: pybase64's keyword parsing costs more than a signature's decoding
            try:
                return pybase64.b64decode(raw + b"=" * (-len(raw) % 4), b"-_", True)
            except binascii.Error:
                pass
    if not _B64URL.fullmatch(segment):
        raise TokenProblem("a segment holds characters outside base64url")
    body = segment.rstrip("=")
    if len(body) % 4 == 1:
        raise TokenProblem("a segment has an impossible base64url length")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenProblem("a segment is not valid base64url") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _depth_ok(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"  # the only white space JSON allows (json.decoder.WHITESPACE)


_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]  # set by __init__
"""The decoder's C scanner: what ``raw_decode`` calls, without its Python frame."""


def _loads(text: str) -> Any:
    """``json.loads(text)`` step by step, as the standard library does it, without its per-call dispatch."""
    if text.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM")
    try:
        value, end = _SCAN(text, len(text) - len(text.lstrip(_SPACE)))
    except StopIteration as exc:  # raw_decode's JSONDecodeError, a ValueError, for the same input
        raise ValueError("Expecting value") from exc
    if end != len(text.rstrip(_SPACE)):  # a JSON value never ends in space: anything after it but space is extra
        raise ValueError("Extra data")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokenProblem(f"the {what} is not UTF-8") from exc
    try:
        value = _loads(text)
    except RecursionError as exc:
        raise TokenProblem(f"the {what} JSON is nested too deeply") from exc
    except ValueError as exc:
        raise TokenProblem(f"the {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise TokenProblem(f"the {what} is JSON but not an object")
    # Nesting deeper than the limit needs more opening brackets than the limit; most tokens have a handful, so the
    # walk is only needed when the count (strings included, so it can only overestimate) says it might be. A flat
    # object (the usual S2S claims) has one brace, first: ``find`` (memchr) says so faster than ``count`` would.
    if (
        (raw.find(b"{", 1) >= 0 or raw.find(b"[") >= 0)
        and raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH
        and not _depth_ok(value)
    ):
        raise TokenProblem(f"the {what} JSON is nested too deeply")
    return value


MAX_CACHED_HEADER = 512
"""Header segments up to this length are decoded once: every token of one signer carries the same header."""


@functools.lru_cache(maxsize=256)
def _cached_header(segment: str) -> dict[str, Any]:
    return _json_object(b64url_decode(segment), "header")


def _header(segment: str) -> dict[str, Any]:
    return dict(_cached_header(segment))  # a copy: a caller may change its token's header, not every token's


def decode_jwt(value: str, *, any_payload: bool = False) -> Jwt:
    """Decode one compact JWS (three segments; the third may be empty) without verifying it. With
    ``any_payload`` a payload that is not a JSON object is kept as a ``payload_problem`` instead of refused."""
    if len(value) > MAX_TOKEN_LENGTH:
        raise TokenProblem(f"the token is {len(value)} characters long, over the {MAX_TOKEN_LENGTH} limit")
    # The two dots found with ``find`` (memchr) rather than ``split``, which walks every character of a long token.
    first = value.find(".")
    second = value.find(".", first + 1) if first >= 0 else -1
    if second < 0 or value.find(".", second + 1) >= 0:
        raise TokenProblem(f"a JWT has 3 dot-separated segments, this value has {value.count('.') + 1}")
    head_segment, signature_segment = value[:first], value[second + 1 :]
    header = (
        _header(head_segment)
        if len(head_segment) <= MAX_CACHED_HEADER
        else _json_object(b64url_decode(head_segment), "header")
    )
    payload = b64url_decode(value[first + 1 : second])  # base64url always: only a payload that is not JSON may be kept
    payload_problem = None
    try:
        claims = _json_object(payload, "payload")
    except TokenProblem as exc:
        if not any_payload:
            raise
        claims, payload_problem = {}, str(exc)
    signature = b64url_decode(signature_segment) if signature_segment else b""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenProblem("the header has no string 'alg'")
    if not signature_segment and alg.lower() != "none":
        raise TokenProblem(f"the signature segment is empty but the header says alg {alg}")
    # Both segments decoded as base64url, so the text up to the second dot is ASCII.
    return Jwt(header, claims, value[:second].encode("ascii"), signature, signature_segment, payload_problem)


def _looks_like_jwt(value: str) -> bool:
    """A JWT attempt: its first segment decodes to something that starts like a JSON object."""
    first = value.find(".")  # the length of the first segment, without splitting a long token
    if first < 0:
        first = len(value)
    if not first or first > MAX_TOKEN_LENGTH:
        return False
    head = value[:8]
    if first >= 8 and head.startswith("eyJ") and head.isascii() and head.isalnum():
        return True  # base64url of '{"' and six more letters or digits: decodes, and starts like an object
    try:
        return b64url_decode(value[:8]).lstrip()[:1] == b"{" if first >= 8 else False
    except TokenProblem:
        return False


def decode_bearer(value: str) -> DecodedBearer:
    """Classify and decode a bearer credential (the text after ``Bearer``)."""
    value = value.strip()
    if not value:
        return DecodedBearer(kind="empty")
    if not _looks_like_jwt(value):
        return DecodedBearer(kind="opaque")
    try:
        outer = decode_jwt(value, any_payload=True)
    except TokenProblem as exc:
        return DecodedBearer(kind="jwt", problem=str(exc))
    if outer.payload_problem is not None:  # a JWS, not a JWT: its signature is still judged
        return DecodedBearer(kind="jwt", problem=outer.payload_problem, jws=outer)
    raw_actor = outer.claims.get("actortoken", outer.claims.get("actort"))
    if raw_actor is not None:
        if not isinstance(raw_actor, str):
            return DecodedBearer(kind="s2s-user", outer=outer, actor_problem="the actortoken claim is not a string")
        try:
            actor = decode_jwt(raw_actor.strip())
        except TokenProblem as exc:
            return DecodedBearer(kind="s2s-user", outer=outer, actor_problem=str(exc))
        if "actortoken" in actor.claims or "actort" in actor.claims:
            # Nesting is capped at one level: an actor that carries another actor is not an S2S shape.
            return DecodedBearer(
                kind="s2s-user", outer=outer, actor=actor, actor_problem="the actor token nests another actor token"
            )
        return DecodedBearer("s2s-user", outer, actor)
    if Principal.parse(outer.claims.get("iss")) is not None:
        return DecodedBearer(kind="s2s-app", outer=outer)
    return DecodedBearer(kind="jwt", outer=outer)


def numeric_time(value: object) -> int | None:
    """``nbf``/``exp``/``iat`` as Unix seconds: numbers or numeric strings (S2S tokens use both)."""
    if type(value) is str:
        # The usual S2S spelling, plain ASCII digits ("1793611740"), without the pattern; anything else (signs,
        # blanks, other digits) goes through it below.
        if 0 < len(value) <= 19 and value.isdigit() and value.isascii():
            return int(value)
    elif type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and abs(value) < 1e15 else None
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return None


def time_of(seconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def iso(seconds: int) -> str:
    moment = time_of(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else str(seconds)


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (Jwt, Principal, DecodedBearer):
    pickled_by_constructor(_cls)
