"""Results as plain JSON-ready data, redacted by default. Every output format starts from here.

Redaction (DESIGN.md "Secrets stay secret"): JWT headers and claims are shown, signatures are dropped and nested
``actortoken`` strings are replaced by a marker (the actor is shown decoded beside the outer token), Basic shows the
user only, NTLM the user/domain/workstation only, cookies never. ``show_secrets`` is the one way to opt out.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder as _C_MAKE_ENCODER  # type: ignore[attr-defined]  # None without the C speedups
from json.encoder import encode_basestring_ascii
from typing import Any

from inspector.analyze import ExchangeResult
from inspector.http_auth import Credentials, NtlmMessage, scheme_word
from inspector.jsonable import json_native
from inspector.model import HttpExchange, Provenance, TlsInfo
from inspector.redact import REDACTED, redact_header_value, redact_target
from inspector.rules import CATALOGUE, Finding
from inspector.tally import Totals
from inspector.token_checks import TokenReport
from inspector.token_requests import TokenRequestReport, is_secret_field
from inspector.tokens import Jwt, iso, numeric_time

_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
_TIME_CLAIMS = ("nbf", "exp", "iat")


def utc_iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # exchanges' times already are; others are converted
        moment = moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


_ACTOR_CLAIMS = ("actortoken", "actort")
# A signed compact JWS anywhere in a claim: two base64url segments starting like a JSON object, and a signature.
_SIGNED_JWT = re.compile(r"\b(eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+)\.[A-Za-z0-9_\-]{8,}={0,2}")


def _unsigned_copy(value: Any, depth: int = 0) -> Any:
    """A claim value with the signature of every signed JWT inside it dropped (a token carried in a claim is as
    usable as one in a header)."""
    if isinstance(value, str):
        return _SIGNED_JWT.sub(rf"\1.{REDACTED}", value) if "eyJ" in value else value
    if depth > 64:
        return value
    if isinstance(value, dict):
        return {k: _unsigned_copy(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsigned_copy(v, depth + 1) for v in value]
    return value


def jwt_data(jwt: Jwt, *, show_secrets: bool) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for name, value in jwt.claims.items():
        if show_secrets:
            claims[name] = value
        elif name in _ACTOR_CLAIMS:
            claims[name] = "[actor token: shown decoded as 'actor']"
        else:
            # Any other spelling (``ActorToken``) is not decoded as the actor, but its signature is still a secret.
            claims[name] = _unsigned_copy(value)
    data: dict[str, Any] = {"header": jwt.header, "claims": claims}
    times = {n: iso(t) for n in _TIME_CLAIMS if (t := numeric_time(jwt.claims.get(n))) is not None}
    if times:
        data["times_utc"] = times
    if show_secrets:
        data["signature"] = jwt.signature_segment
    return data


def token_data(report: TokenReport, *, show_secrets: bool) -> dict[str, Any]:
    decoded = report.decoded
    data: dict[str, Any] = {
        "kind": report.kind,
        "issuer": report.issuer,
        "realm": report.realm,
        "audience": report.audience,
        "signature": report.signature,
        "key": report.key.label() if report.key else None,
        "outer": jwt_data(decoded.outer, show_secrets=show_secrets) if decoded.outer else None,
        "actor": jwt_data(decoded.actor, show_secrets=show_secrets) if decoded.actor else None,
    }
    if decoded.problem or decoded.actor_problem:
        data["problem"] = decoded.problem or decoded.actor_problem
    return data


def token_request_data(report: TokenRequestReport, *, show_secrets: bool) -> dict[str, Any]:
    """A token request and its answer: the form with secret fields redacted, the client assertion decoded (kind
    ``client-assertion``, signature dropped), the access token of a success decoded, the error of a failure."""
    form = [[name, value if show_secrets or not is_secret_field(name) else REDACTED] for name, value in report.form]
    return {
        "endpoint": report.endpoint,
        "grant_type": report.grant_type,
        "client_id": report.client_id,
        "resource": report.resource,
        "form": form,
        "client_assertion": token_data(report.assertion, show_secrets=show_secrets) if report.assertion else None,
        "access_token": token_data(report.access_token, show_secrets=show_secrets) if report.access_token else None,
        "error": report.error,
        "error_description": report.error_description,
        "codes": list(report.codes),
        "thumbprint": report.thumbprint,
    }


def ntlm_data(message: NtlmMessage) -> dict[str, Any]:
    return {
        "type": message.message_type,
        "domain": message.domain,
        "user": message.user,
        "workstation": message.workstation,
        "target": message.target_name,
        "version": message.ntlm_version,
        "anonymous": message.anonymous,
    }


def auth_data(
    scheme: str | None,
    user: str | None,
    credentials: Credentials | None,
    token: TokenReport | None,
    *,
    show_secrets: bool,
    token_value: Any = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"scheme": scheme, "user": user, "token": None}
    if token is not None:
        data["token"] = token_value if token_value is not None else token_data(token, show_secrets=show_secrets)
    if credentials is not None:
        if credentials.ntlm is not None:
            data["ntlm"] = ntlm_data(credentials.ntlm)
        if credentials.negotiate_mechanism is not None:
            data["mechanism"] = credentials.negotiate_mechanism
        if show_secrets:
            data["credentials"] = credentials.credentials
            if credentials.basic_password is not None:
                data["password"] = credentials.basic_password
    return data


def provenance_data(provenance: Provenance) -> dict[str, Any]:
    """The provenance's known parts only (runs for every exchange, so no intermediate dict)."""
    data: dict[str, Any] = {"kind": provenance.kind}
    if provenance.entry is not None:
        data["entry"] = provenance.entry
    if provenance.flow_id is not None:
        data["flow_id"] = provenance.flow_id
    if provenance.connection is not None:
        data["connection"] = provenance.connection
    if provenance.request_frames:
        data["request_frames"] = list(provenance.request_frames)
    if provenance.response_frames:
        data["response_frames"] = list(provenance.response_frames)
    return data


def header_list(headers: tuple[tuple[str, str], ...], *, show_secrets: bool) -> list[list[str]]:
    if show_secrets:
        return [[name, value] for name, value in headers]
    out = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in _SECRET_HEADERS:
            # only a scheme word parse_authorization recognises as one: a bare API key is no scheme (scheme_word)
            scheme = scheme_word(value) if lowered.endswith("authorization") else ""
            out.append([name, f"{scheme} {REDACTED}".strip()])
        else:
            out.append([name, redact_header_value(value)])
    return out


class Placeholder:
    """A random string that holds a place in a value encoded whole, so that a text made once (a token's, a header
    list's) is put there afterwards; random, so no wire text can spell it."""

    def __init__(self, what: str) -> None:
        self.value = f"oauth-inspector-{what}-{secrets.token_hex(16)}"
        self.text = dump_json(self.value)
        """How the value reads in the encoded text."""

    def split(self, encoded: str) -> tuple[str, str] | None:
        """The text before and after the placeholder's one place in ``encoded``; ``None`` when it is not there
        exactly once (which cannot happen: the value is random; the caller then encodes the whole again)."""
        before, found, after = encoded.partition(self.text)
        return (before, after) if found and self.text not in after else None

    def put(self, encoded: str, text: str) -> str | None:
        """``encoded`` with ``text`` in the placeholder's one place, or ``None`` (see :meth:`split`)."""
        parts = self.split(encoded)
        return None if parts is None else parts[0] + text + parts[1]


class HeaderText:
    """Header lists as the JSON text ``dump_json(header_list(headers, ...))`` writes, each header redacted and
    encoded once while it keeps coming: most of a capture's headers repeat (``Host``, ``User-Agent``, a
    ``WWW-Authenticate`` challenge, whose redaction runs a regex per parameter), and often whole lists do (a client
    repeating a request, a server its answer), which are then found in one lookup.

    Encoding a list item by item gives the text of the list (strictness is per string: a lone surrogate is made
    text in its own string either way). Only short headers and lists are remembered, and each memo is emptied when
    full, so their memory stays small whatever the input."""

    def __init__(self, *, show_secrets: bool, size: int = 4096, longest: int = 512, lists: int = 256) -> None:
        self.show_secrets = show_secrets
        self._size = size
        self._longest = longest
        self._memo: dict[tuple[str, str], str] = {}
        self._lists: dict[tuple[tuple[str, str], ...], str] = {}
        self._lists_size = lists

    def text(self, headers: tuple[tuple[str, str], ...]) -> str:
        whole = self._lists.get(headers)
        if whole is not None:
            return whole
        memo = self._memo
        parts = []
        held = 0
        for pair in headers:
            text = memo.get(pair)
            if text is None:
                text = dump_json(header_list((pair,), show_secrets=self.show_secrets)[0])
                if len(pair[0]) + len(pair[1]) <= self._longest:
                    if len(memo) >= self._size:
                        memo.clear()
                    memo[pair] = text
            held += len(pair[0]) + len(pair[1])
            parts.append(text)
        whole = "[" + ",".join(parts) + "]"
        if held <= 32 * self._longest:  # the list holds its headers: a few of the longest kept at most
            if len(self._lists) >= self._lists_size:
                self._lists.clear()
            self._lists[headers] = whole
        return whole


def exchange_head(exchange: HttpExchange) -> dict[str, Any]:
    """The first part of an exchange's data: what is the flow's own (which exchange, where and when). Two flows
    that repeat one exchange differ only here (``live/repeats.py``)."""
    return {
        "id": exchange.id,
        "source": exchange.provenance.source,
        "provenance": provenance_data(exchange.provenance),
        "time": utc_iso(exchange.time),
        "client": str(exchange.client) if exchange.client else None,
        "server": str(exchange.server) if exchange.server else None,
    }


def exchange_tail(result: ExchangeResult, *, show_secrets: bool, token_value: Any = None) -> dict[str, Any]:
    """The rest of an exchange's data, after :func:`exchange_head`: the request, its authentication and the
    answer's challenges and diagnostics."""
    exchange: HttpExchange = result.exchange
    response = exchange.response
    data: dict[str, Any] = {
        "scheme": exchange.scheme,
        "method": exchange.request.method,
        "host": exchange.host,
        "target": exchange.request.target if show_secrets else redact_target(exchange.request.target),
        "status": response.status if response else None,
        "auth": auth_data(
            result.auth.scheme,
            result.auth.user,
            result.auth.credentials,
            result.auth.token,
            show_secrets=show_secrets,
            token_value=token_value,
        ),
        "challenges": [
            {
                "scheme": c.scheme,
                "params": dict(c.params),
                # NTLM/Negotiate challenge blobs are handshake material, not something a reader needs.
                **({"token68": c.token68 if show_secrets else REDACTED} if c.token68 else {}),
            }
            for c in result.challenges
        ],
        "diagnostics": (
            {
                "code": result.diagnostics.code,
                "reason": result.diagnostics.reason,
                "category": result.diagnostics.category,
                "meaning": result.diagnostics.known.meaning if result.diagnostics.known else None,
            }
            if result.diagnostics
            else None
        ),
        **({"tls": tls_data(exchange.tls)} if exchange.tls is not None else {}),
    }
    if result.token_request is not None:
        data["token_request"] = token_request_data(result.token_request, show_secrets=show_secrets)
    return data


def tls_data(tls: TlsInfo) -> dict[str, Any]:
    """The TLS session a capture's exchange was decrypted from (absent for everything read in clear)."""
    return {
        "version": tls.version,
        "cipher": tls.cipher,
        "sni": tls.sni,
        "alpn": tls.alpn,
        "decrypted_with": tls.decrypted_with,
    }


def exchange_data(
    result: ExchangeResult, *, show_secrets: bool, with_headers: bool = False, token_value: Any = None
) -> dict[str, Any]:
    exchange = result.exchange
    data = exchange_head(exchange)
    data.update(exchange_tail(result, show_secrets=show_secrets, token_value=token_value))
    if with_headers:
        response = exchange.response
        data["request_headers"] = header_list(exchange.request.headers, show_secrets=show_secrets)
        data["response_headers"] = header_list(response.headers, show_secrets=show_secrets) if response else None
    return data


def finding_data(item: Finding) -> dict[str, Any]:
    data = {
        "rule": item.rule,
        "severity": item.severity,
        "title": CATALOGUE[item.rule].title,
        "message": item.message,
        "exchange": item.exchange,
        "evidence": item.evidence,
    }
    if item.suppressed is not None:
        data["suppressed"] = {"reason": item.suppressed}
    return data


class FindingTexts[T]:
    """Texts made once per distinct finding. A token's findings are copies of its assessment's (``judge_use``
    replaces only the exchange), so for every exchange that carries the token only what depends on the exchange
    is new: ``make`` leaves the exchange out (the caller writes it, or the text has none). Keyed by the evidence's
    identity and checked field by field; the oldest dropped past ``size``."""

    def __init__(self, make: Callable[[Finding], T], *, size: int = 512) -> None:
        self._make = make
        self._size = size
        self._cache: OrderedDict[int, tuple[Finding, T]] = OrderedDict()

    def get(self, item: Finding) -> T:
        key = id(item.evidence)
        cached = self._cache.get(key)
        if cached is not None:
            seen, made = cached
            if (
                seen.evidence is item.evidence
                and seen.rule == item.rule
                and seen.message == item.message
                and seen.severity == item.severity
                and seen.suppressed == item.suppressed
            ):
                return made
        made = self._make(item)
        self._cache[key] = (item, made)  # the item holds its evidence: its id is not reused meanwhile
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return made


class FindingEncoder:
    """Findings as the JSON text ``dump_json(finding_data(item))`` writes, the text around the exchange id made once
    per distinct finding (:class:`FindingTexts`): for every exchange that carries a token only the id is encoded,
    the evidence, most of the text, once. Other findings cost one lookup more than before."""

    def __init__(self, *, size: int = 512) -> None:
        self._exchange = Placeholder("exchange")
        self._texts = FindingTexts(self._around_exchange, size=size)

    def _around_exchange(self, item: Finding) -> tuple[str, str] | None:
        # Per string strict (dump_json's careful path is per value), so the parts joined are the text of the whole.
        data = finding_data(item)
        data["exchange"] = self._exchange.value
        return self._exchange.split(dump_json(data))

    def text(self, item: Finding) -> str:
        parts = self._texts.get(item)
        if parts is None:  # cannot happen (the placeholder is random); be exact all the same
            return dump_json(finding_data(item))
        return parts[0] + _dump_str(item.exchange) + parts[1]


def row_finding_text(item: Finding) -> str:
    """A finding as its exchange's own row lists it (the HTML report): without the exchange (the row is the
    exchange) and the title (the catalogue gives it)."""
    data = finding_data(item)
    del data["title"], data["exchange"]
    return dump_json(data)


def _dump_str(value: str | None) -> str:
    """``dump_json(value)`` for a string or None, without an encoder made for one value (an exchange id in every
    finding's text, the strings of every head): the encoder's own string function, and :func:`dump_json` only
    where it could escape a surrogate."""
    if value is None:
        return "null"
    text: str = encode_basestring_ascii(value)
    return text if "\\ud" not in text else dump_json(value)


def summary_data(totals: Totals) -> dict[str, Any]:
    return {
        "exchanges": totals.exchanges,
        "auth_schemes": dict(sorted(totals.schemes.items())),
        "signatures": dict(sorted(totals.signatures.items())),
        "findings": dict(totals.severities),
        "rules": dict(sorted(totals.rules.items())),
        "suppressed": totals.suppressed,
    }


def head_text(head: dict[str, Any], *, line_type: str | None = "exchange") -> str:
    """An exchange's JSON object from its opening brace to the comma before its tail: ``{"type":"exchange",
    "id":…,"server":…,`` (without ``"type"`` when ``line_type`` is None). The full path and the repeats both write
    their heads with it."""
    return dump_json({"type": line_type, **head} if line_type is not None else head)[:-1] + ","


def exchange_head_text(exchange: HttpExchange, *, line_type: str | None = "exchange") -> str:
    """``head_text(exchange_head(exchange), line_type=line_type)``, written straight from the exchange: the head
    is the part of every exchange's text that is new each time, where a dict and an encoder made for it cost more
    than the text. Strict as :func:`dump_json`: a text that could hold a surrogate, or a value not of its declared
    type (a field a crafted input filled with something else), is made the careful way."""
    provenance = exchange.provenance
    client, server, moment = exchange.client, exchange.server, exchange.time
    try:
        text = "".join(
            (
                '{"id":' if line_type is None else f'{{"type":{encode_basestring_ascii(line_type)},"id":',
                encode_basestring_ascii(exchange.id),
                ',"source":',
                encode_basestring_ascii(provenance.source),
                ',"provenance":',
                _provenance_text(provenance),
                ',"time":',
                encode_basestring_ascii(utc_text(moment)) if moment is not None else "null",
                ',"client":',
                encode_basestring_ascii(str(client)) if client else "null",
                ',"server":',
                encode_basestring_ascii(str(server)) if server else "null",
                ",",
            )
        )
    except TypeError:
        return head_text(exchange_head(exchange), line_type=line_type)
    return text if "\\ud" not in text else head_text(exchange_head(exchange), line_type=line_type)


def _provenance_text(provenance: Provenance) -> str:
    """The text of :func:`provenance_data` for :func:`exchange_head_text` (which checks it for surrogates)."""
    parts = ['{"kind":', encode_basestring_ascii(provenance.kind)]
    if provenance.entry is not None:
        parts += [',"entry":', int.__repr__(provenance.entry)]  # as the encoder writes an int
    if provenance.flow_id is not None:
        parts += [',"flow_id":', encode_basestring_ascii(provenance.flow_id)]
    if provenance.connection is not None:
        parts += [',"connection":', encode_basestring_ascii(provenance.connection)]
    if provenance.request_frames:
        parts += [',"request_frames":[', ",".join(map(int.__repr__, provenance.request_frames)), "]"]
    if provenance.response_frames:
        parts += [',"response_frames":[', ",".join(map(int.__repr__, provenance.response_frames)), "]"]
    parts.append("}")
    return "".join(parts)


def _members(data: dict[str, Any]) -> str:
    """A JSON object's members without its braces (empty for an empty dict)."""
    return dump_json(data)[1:-1]


@dataclass(frozen=True, slots=True)
class EncodedExchange:
    """One exchange serialised: its head and tail as data (the flow's metadata) and as JSON text (the report)."""

    head: dict[str, Any]
    tail: dict[str, Any]
    """Everything after the head; the token as JSON-native data, shared between the uses of a token."""
    head_text: str
    """See :func:`head_text`."""
    tail_text: str
    """The tail's members and the object's closing brace: ``"scheme":…}``."""

    @property
    def line(self) -> str:
        return self.head_text + self.tail_text

    @property
    def data(self) -> dict[str, Any]:
        return {**self.head, **self.tail}


class ExchangeEncoder:
    """Exchanges as JSON text and data, each distinct token encoded once.

    A token is usually reused for hours, so most exchanges of a capture carry one of a few tokens; encoding its
    claims again for every exchange would dominate the run. Its text is cached and written in its place in the
    ``auth`` object.
    """

    def __init__(self, *, show_secrets: bool, cache_size: int = 512, tails: int = 1024) -> None:
        self.show_secrets = show_secrets
        self._cache: OrderedDict[int, _EncodedToken] = OrderedDict()
        self._cache_size = cache_size
        self._tails = TailTexts(self._tail_text, size=tails)

    def _encoded(self, report: TokenReport) -> _EncodedToken:
        cached = self._cache.get(id(report))
        if cached is not None and cached.report is report:
            self._cache.move_to_end(id(report))
            return cached
        # The text straight from the token's data: dump_json writes the strict text of its JSON-native copy (it
        # falls back to that copy when the fast text is not strict), and the copy is made only when asked for (live).
        made = _EncodedToken(report, dump_json(token_data(report, show_secrets=self.show_secrets)))
        self._cache[id(report)] = made
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return made

    def _token(self, report: TokenReport) -> tuple[str, dict[str, Any]]:
        encoded = self._encoded(report)
        if encoded.data is None:
            encoded.data = json_native(token_data(report, show_secrets=self.show_secrets))
        return encoded.text, encoded.data

    def token_text(self, report: TokenReport) -> str:
        """The token's data as JSON text, encoded once while the token keeps coming."""
        return self._encoded(report).text

    def encode(
        self, result: ExchangeResult, *, line_type: str | None = "exchange", findings: list[Any] | None = None
    ) -> EncodedExchange:
        """The exchange as the report writes it: with a ``"type"`` first unless ``line_type`` is None, and its
        findings (JSON-native, :func:`finding_data`) last when given."""
        head = exchange_head(result.exchange)
        report = result.auth.token
        if report is None:
            tail = exchange_tail(result, show_secrets=self.show_secrets)
            if findings is not None:
                tail["findings"] = findings
            return EncodedExchange(head, tail, head_text(head, line_type=line_type), dump_json(tail)[1:])
        token_text, token = self._token(report)
        tail = exchange_tail(result, show_secrets=self.show_secrets, token_value=token)
        if findings is not None:
            tail["findings"] = findings
        return EncodedExchange(head, tail, head_text(head, line_type=line_type), _tail_text(tail, token_text))

    def line(
        self, result: ExchangeResult, *, line_type: str | None = "exchange", findings: list[Any] | None = None
    ) -> str:
        """``encode(...).line`` for writers that need only the text: the head encoded, the tail's text made once
        while it repeats (:class:`TailTexts`), and the token's JSON-native copy never made."""
        text = exchange_head_text(result.exchange, line_type=line_type) + self._tails.text(result)
        # Strict per value (dump_json), so the findings' text closing the tail's is the text of the whole.
        return text if findings is None else f'{text[:-1]},"findings":{dump_json(findings)}}}'

    def _tail_text(self, result: ExchangeResult) -> str:
        """:attr:`EncodedExchange.tail_text` without the tail's data: the token's cached text in its place."""
        report = result.auth.token
        if report is None:
            return dump_json(exchange_tail(result, show_secrets=self.show_secrets))[1:]
        tail = exchange_tail(result, show_secrets=self.show_secrets, token_value="")
        return _tail_text(tail, self._encoded(report).text)


class TailTexts:
    """A text made from an exchange's tail (:func:`exchange_tail`: the request, its authentication, the answer's
    status, challenges and diagnostics), made once per distinct tail: while every exchange's head differs, a
    capture has few distinct tails. A tail is made of a few values and of objects the analyzer hands out again
    while they repeat (a token's report, parsed credentials, challenges, diagnostics), keyed here by identity:
    each entry holds those objects, so no id in a key is reused while the entry lives. Emptied when full."""

    def __init__(self, make: Callable[[ExchangeResult], str], *, size: int = 1024) -> None:
        self._make = make
        self._size = size
        self._memo: dict[tuple[object, ...], tuple[str, tuple[object, ...]]] = {}

    def text(self, result: ExchangeResult) -> str:
        exchange, auth = result.exchange, result.auth
        request, response = exchange.request, exchange.response
        key = (
            exchange.scheme,
            request.method,
            exchange.host,
            request.target,
            response.status if response is not None else None,
            auth.scheme,
            auth.user,
            id(auth.credentials),
            id(auth.token),
            id(result.challenges),
            id(result.diagnostics),
            id(exchange.tls),
            id(result.token_request),
        )
        try:
            cached = self._memo.get(key)
        except TypeError:  # an unhashable value where text belongs, as a crafted file carries: made each time
            return self._make(result)
        if cached is not None:
            return cached[0]
        text = self._make(result)
        if len(self._memo) >= self._size:
            self._memo.clear()
        held = (auth.credentials, auth.token, result.challenges, result.diagnostics, exchange.tls, result.token_request)
        self._memo[key] = (text, held)
        return text


@dataclass(slots=True)
class _EncodedToken:
    report: TokenReport
    text: str
    data: dict[str, Any] | None = None
    """JSON-native, made on first use (the live addon's flow metadata); the report writers need only the text."""


def _tail_text(tail: dict[str, Any], token_text: str) -> str:
    """The tail's text with the token's cached text in its place (``auth.token``), not encoded again."""
    names = list(tail)
    split = names.index("auth")
    before = {name: tail[name] for name in names[:split]}
    after = {name: tail[name] for name in names[split + 1 :]}
    auth: dict[str, Any] = tail["auth"]
    auth_names = list(auth)
    at = auth_names.index("token")
    auth_before = {name: auth[name] for name in auth_names[:at]}
    auth_after = {name: auth[name] for name in auth_names[at + 1 :]}
    parts = [_members(before), ',"auth":{', _members(auth_before), ',"token":', token_text]
    if auth_after:
        parts += [",", _members(auth_after)]
    parts.append("}")
    if after:
        parts += [",", _members(after)]
    parts.append("}")
    return "".join(parts)


_ENCODER = json.JSONEncoder(ensure_ascii=True, default=str, separators=(",", ":"), allow_nan=False)
"""Made once: ``json.dumps`` with options builds a new encoder per call, and this runs several times per exchange."""


_C_ENCODER: Any = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(None, str, encode_basestring_ascii, None, ":", ",", False, False, False)
)
"""The C encoder that ``_ENCODER.encode`` builds per call, built once: its Python-level setup (``iterencode``'s
closures and checks) is about 4,000 of the 67,000 instructions of encoding an exchange's JSON object, and making
the encoder is as much again for the small values most calls encode. It has no circular-reference markers
(``check_circular=False``), so it keeps no state between calls (a shared markers dict would keep stale marks after
an exception, and is not safe across threads): every value encoded here is built by this tool from parsed JSON and
its own dataclasses and cannot hold itself; nesting too deep raises ``RecursionError`` either way."""


def _c_encode(value: Any) -> str:
    """``_ENCODER.encode(value)`` by :data:`_C_ENCODER`."""
    return "".join(_C_ENCODER(value, 0))


_encode: Callable[[Any], str] = _c_encode if _C_MAKE_ENCODER is not None else _ENCODER.encode


def dump_json(value: Any) -> str:
    """Strict JSON text (RFC 8259, no ``NaN``, no lone surrogate), ASCII only so wire text (escapes, odd bytes
    decoded as latin-1) stays inert in any consumer. The careful walk runs only when the fast encoding is not
    strict."""
    try:
        text = _encode(value)
    except ValueError:  # a non-finite float
        return _encode(json_native(value))
    if "\\ud" in text:  # a surrogate, or a character beyond the BMP: only the walk tells them apart
        return _encode(json_native(value))
    return text


def dumps_strict(value: Any, **options: Any) -> str:
    """``json.dumps`` with ``options`` (indentation, say), strict as :func:`dump_json`."""
    return json.dumps(json_native(value), ensure_ascii=True, allow_nan=False, default=str, **options)
