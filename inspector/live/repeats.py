"""Flows that repeat an exchange already judged clean, published without judging them again.

A healthy S2S session is the same bearer token sent to the same URL over and over, answered the same way. Once such
an exchange has been judged with no finding, another flow with the same token, Host, method, target and status, and
no challenge or diagnostics in its answer, can only differ in what the token's times and its signing certificate say
at the new moment, which is checked here. Such a flow touches none of the analyzer's per-client state (that is kept
for 401 challenges and Basic/NTLM/Negotiate only), so its report line and annotations are the remembered ones with
this flow's own id, provenance, time and endpoints: byte for byte what the full path writes, at a fraction of the
work on a proxy's busiest path. Anything else, and any flow the check is unsure about, takes the full path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from mitmproxy import http

from inspector.analyze import Analyzer, ExchangeResult
from inspector.bodies import wants_body
from inspector.body_errors import raw_answer_has_error
from inspector.lru import LruCache
from inspector.report.serialize import EncodedExchange, head_text, utc_iso
from inspector.sources.mitmflows import endpoint_of, moment_or_none
from inspector.tally import Totals
from inspector.token_checks import TokenAssessment

REMEMBERED = 256
"""Distinct clean exchanges kept (token, URL and status): a proxy's steady traffic is a handful of them."""
MAX_ADDRESSES = 4096
MAX_CACHED_HOST = 64

Key = tuple[bytes, tuple[bytes, ...], bytes, bytes, bytes, bytes, bytes, int]


@dataclass(frozen=True, slots=True)
class FlowNames:
    """What a flow is called in the report: as ``analyze`` names the same flows of a saved file."""

    kind: Literal["live", "mitm"]
    source: str
    exchange_id: str
    entry: int | None


@dataclass(frozen=True, slots=True)
class _Clean:
    assessment: TokenAssessment
    tail_text: str
    """The report line after its head (``serialize.EncodedExchange.tail_text``)."""
    tail: dict[str, Any]
    """The same part as data, for the flow's metadata."""
    containers: tuple[str, ...]
    """The tail's keys whose values are dicts or lists: copied per flow, so each flow's metadata is its own."""
    comment: str
    signature: str | None
    result: ExchangeResult
    """The judged exchange: a repeat is observed by the trust inventory as this one at the repeat's moment, from
    its client, answered by its server."""
    servers: tuple[tuple[Any, Any], ...]
    """The judged exchange's X-FEServer/X-BEServer fields, as bytes (``_servers``)."""


@dataclass(frozen=True, slots=True)
class Repeat:
    line: str
    metadata: dict[str, Any]
    comment: str
    observed: ExchangeResult
    """What the trust inventory observes of this flow (``Inventory.observe``), as the full path would give it."""


_SPACE = (b" ", b"\t")


def flow_key(f: http.HTTPFlow) -> Key | None:
    """What decides a clean flow's judgement besides its time, read from the raw headers; ``None`` when the flow
    is not a candidate (no single Authorization, no response, a 401, a challenge or diagnostics in the answer)."""
    response = f.response
    if response is None:
        return None
    answer = response.data
    if answer.status_code == 401:
        return None
    typed = False
    for name, _ in answer.headers.fields:
        # www-authenticate and x-ms-diagnostics are both 16 characters: the length test skips nearly every header
        size = len(name)
        if size == 16 and name.lower() in (b"www-authenticate", b"x-ms-diagnostics"):
            return None
        if size == 12 and name.lower() == b"content-type":
            typed = True
        if name[-1:] in _SPACE:
            return None  # whitespace before the colon: the full path reads the name trimmed and reports it
    request = f.request.data
    authorization: bytes | None = None
    hosts: list[bytes] = []
    for name, value in request.headers.fields:
        size = len(name)
        if name[-1:] in _SPACE:
            return None
        if size == 13 and name.lower() == b"authorization":
            if authorization is not None:
                return None  # more than one: the full path reports it
            authorization = value
        elif size == 4 and name.lower() == b"host":
            hosts.append(value)
    if authorization is None:
        return None
    if typed and _error_in_body(answer):
        return None  # an error inside the body (EWS answers 200 with one) is judged on the full path
    return (
        authorization,
        tuple(hosts),
        request.method,
        request.authority,
        request.path,
        request.scheme,
        request.http_version,
        answer.status_code,
    )


def _error_in_body(answer: http.ResponseData) -> bool:
    headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in answer.headers.fields)
    return wants_body(headers) and raw_answer_has_error(answer.status_code, headers, answer.content)


class RepeatedFlows:
    def __init__(self, analyzer: Analyzer, totals: Totals, *, size: int = REMEMBERED) -> None:
        self.analyzer = analyzer
        self.totals = totals
        """The run's tally: a repeat published is counted as the full path counts a clean bearer exchange."""
        self._clean: LruCache[Key, _Clean] = LruCache(size)
        self._addresses: dict[object, str] = {}
        self.published = 0
        """Flows published the short way (for tests and benchmarks)."""

    def remember(self, key: Key, result: ExchangeResult, encoded: EncodedExchange, comment: str) -> None:
        """Keep a clean bearer exchange the full path just published (``encoded`` as it wrote it)."""
        auth, exchange = result.auth, result.exchange
        response = exchange.response
        if (
            result.findings
            or result.challenges
            or result.diagnostics is not None
            or auth.scheme != "bearer"
            or auth.credentials is None
            or auth.token is None
            or response is None
            or response.status == 401
        ):
            return
        provenance = encoded.head["provenance"]
        if type(provenance.get("flow_id")) is not str:
            return  # only flows with a text id are published the short way (see flow_key's caller)
        tail = {name: _copy(value) for name, value in encoded.tail.items()}
        containers = tuple(name for name, value in tail.items() if isinstance(value, dict | list))
        assessment = self.analyzer.assess(auth.credentials.credentials)
        servers = tuple((n.encode("latin-1"), v.encode("latin-1")) for n, v in _servers(response.headers))
        clean = _Clean(assessment, encoded.tail_text, tail, containers, comment, auth.token.signature, result, servers)
        self._clean.put(key, clean)

    def publish(self, f: http.HTTPFlow, key: Key, names: FlowNames) -> Repeat | None:
        """The report line and metadata of a flow that repeats a remembered exchange, or ``None``."""
        clean = self._clean.get(key)
        if clean is None:
            return None
        at = moment_or_none(f.request.timestamp_start)
        if at is None or not clean.assessment.quiet_at(at, self.analyzer.policy.skew):
            return None
        provenance: dict[str, Any] = {"kind": names.kind}
        if names.entry is not None:
            provenance["entry"] = names.entry
        provenance["flow_id"] = f.id
        # The head as serialize.exchange_head makes it for this flow's exchange (the equivalence tests hold them so).
        head = {
            "id": names.exchange_id,
            "source": names.source,
            "provenance": provenance,
            "time": utc_iso(at),
            "client": self._address(f.client_conn.peername),
            "server": self._address(f.server_conn.peername or f.server_conn.address),
        }
        metadata: dict[str, Any] = {"verdict": "ok", "comment": clean.comment, **head, **clean.tail}
        for name in clean.containers:
            metadata[name] = _copy(metadata[name])
        line = head_text(head) + clean.tail_text
        self.totals.count_exchange("bearer", clean.signature, ())
        self.published += 1
        return Repeat(line, metadata, clean.comment, _observed(clean, f, names.exchange_id, at))

    def _address(self, address: object) -> str | None:
        """An address as the report shows it, remembered: a keep-alive connection's flows share theirs.

        Only plain ``(host, port, ...)`` tuples of exact ``str``/``int`` with a short host are remembered: equal
        is not the same (``443.0 == 443``, ``True == 1``), and a host from a replayed file can be of any length."""
        remembered = self._addresses.get(address) if _plain(address) else None
        if remembered is not None:
            return remembered
        endpoint = endpoint_of(address)
        text = str(endpoint) if endpoint else None
        if text is not None and _plain(address):
            if len(self._addresses) >= MAX_ADDRESSES:
                self._addresses.clear()
            self._addresses[address] = text
        return text


def _servers(fields: Sequence[tuple[Any, Any]]) -> tuple[tuple[Any, Any], ...]:
    """The X-FEServer/X-BEServer fields of a head (the inventory's servers), raw: compared, not read."""
    return tuple(field for field in fields if len(field[0]) == 10 and field[0].lower() in _SERVER_NAMES)


_SERVER_NAMES = (b"x-feserver", b"x-beserver", "x-feserver", "x-beserver")


def _observed(clean: _Clean, f: http.HTTPFlow, exchange_id: str, at: datetime) -> ExchangeResult:
    """The remembered result with this flow's id, time and endpoints, and its response headers where its
    X-FEServer/X-BEServer differ (the inventory reads which server answered; the key leaves them out)."""
    result = clean.result
    exchange = result.exchange
    response = exchange.response
    if response is not None and f.response is not None:
        fields = f.response.data.headers.fields
        if _servers(fields) != clean.servers:
            headers = tuple([(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields])
            response = replace(response, headers=headers)
    moved = replace(
        exchange,
        id=exchange_id,
        time=at,
        client=endpoint_of(f.client_conn.peername),
        server=endpoint_of(f.server_conn.peername or f.server_conn.address),
        response=response,
    )
    return replace(result, exchange=moved)


def _plain(address: object) -> bool:
    return (
        type(address) is tuple
        and 2 <= len(address) <= 4
        and type(address[0]) is str
        and len(address[0]) <= MAX_CACHED_HOST
        and all(type(part) is int for part in address[1:])
    )


def _copy(value: Any) -> Any:
    """A fresh outer container per flow, as the full path makes one per flow (nested parts are shared as there:
    the decoded token's data is one read-only dict for all its uses)."""
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value
