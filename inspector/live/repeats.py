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
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal

from mitmproxy import http

from inspector.analyze import Analyzer, ExchangeResult
from inspector.bodies import wants_body
from inspector.body_errors import raw_answer_has_error
from inspector.frozen import field_values
from inspector.lru import LruCache
from inspector.model import Endpoint, Headers, HttpExchange
from inspector.report.serialize import EncodedExchange, head_text, utc_iso
from inspector.sources.mitmflows import endpoint_of, moment_or_none
from inspector.tally import Totals
from inspector.token_checks import TokenAssessment

REMEMBERED = 256
"""Distinct clean exchanges kept (token, URL and status): a proxy's steady traffic is a handful of them."""
MAX_ADDRESSES = 4096
MAX_CACHED_HOST = 64
MAX_CONTENT_TYPES = 64
MAX_ANSWER = 8192
"""Longest answer body remembered with a clean exchange (``_Clean.answer``): 2 MiB for all of them at most."""

Key = tuple[bytes, tuple[bytes, ...], bytes, bytes, bytes, bytes, bytes, int]
_Answer = tuple[bytes | None, bytes | None, bytes]


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
    answer: _Answer | None
    """Its Content-Type, Content-Encoding and body as received, when the body is short: a repeat answered with the
    same bytes (and status, by the key) holds no error either, so its body is not read again."""


@dataclass(frozen=True, slots=True)
class Repeat:
    line: str
    metadata: dict[str, Any]
    comment: str
    observed: ExchangeResult
    """What the trust inventory observes of this flow (``Inventory.observe``), as the full path would give it."""


_SPACE = (b" ", b"\t")


def flow_key(f: http.HTTPFlow) -> Key | None:
    """What decides a clean flow's judgement besides its time and its body, read from the raw headers; ``None`` when
    the flow is not a candidate (no single Authorization, no response, a 401, a challenge or diagnostics in the
    answer). Its body is read only once it matches a remembered exchange (``RepeatedFlows.publish``): an error
    inside it (EWS answers 200 with one) sends it to the full path."""
    response = f.response
    if response is None:
        return None
    answer = response.data
    if answer.status_code == 401:
        return None
    for name, _ in answer.headers.fields:
        # www-authenticate and x-ms-diagnostics are both 16 characters: the length test skips nearly every header
        if len(name) == 16 and name.lower() in (b"www-authenticate", b"x-ms-diagnostics"):
            return None
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


def _body_headers(answer: http.ResponseData) -> tuple[bytes | None, bytes | None]:
    """The first Content-Type and Content-Encoding, raw: what the body-error check reads of the head."""
    content_type: bytes | None = None
    coding: bytes | None = None
    for name, value in answer.headers.fields:
        size = len(name)
        if size == 12 and content_type is None and name.lower() == b"content-type":
            content_type = value
        elif size == 16 and coding is None and name.lower() == b"content-encoding":
            coding = value
    return content_type, coding


def _error_in(status: int, content_type: bytes | None, coding: bytes | None, raw: bytes | None) -> bool:
    """Whether the answer's body holds an error the full path reports: ``body_errors.raw_answer_has_error`` given
    the only two headers it reads rather than the whole head decoded, and a Content-Type whose kind it does not
    read settled once per distinct value."""
    if content_type is None:
        return False
    readable = _READABLE.get(content_type)
    if readable is None:
        readable = wants_body((("Content-Type", content_type.decode("latin-1")),))
        if len(_READABLE) >= MAX_CONTENT_TYPES:
            _READABLE.clear()
        _READABLE[content_type] = readable
    if not readable:
        return False
    headers: Headers = (("Content-Type", content_type.decode("latin-1")),)
    if coding is not None:
        headers += (("Content-Encoding", coding.decode("latin-1")),)
    return raw_answer_has_error(status, headers, raw)


_READABLE: dict[bytes, bool] = {}
"""Raw Content-Type values, and whether the body-error check reads bodies of their kind (XML and JSON)."""


class RepeatedFlows:
    def __init__(self, analyzer: Analyzer, totals: Totals, *, size: int = REMEMBERED) -> None:
        self.analyzer = analyzer
        self.totals = totals
        """The run's tally: a repeat published is counted as the full path counts a clean bearer exchange."""
        self._clean: LruCache[Key, _Clean] = LruCache(size)
        self._addresses: dict[int, tuple[object, tuple[Endpoint | None, str | None]]] = {}
        self.published = 0
        """Flows published the short way (for tests and benchmarks)."""

    def remember(
        self, key: Key, result: ExchangeResult, encoded: EncodedExchange, comment: str, answer: http.ResponseData
    ) -> None:
        """Keep a clean bearer exchange the full path just published (``encoded`` as it wrote it; ``answer`` the
        flow's response, whose body is checked here as ``publish`` checks a repeat's)."""
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
        content_type, coding = _body_headers(answer)
        raw = answer.content
        if _error_in(answer.status_code, content_type, coding, raw):
            return  # its error was left out of the report by the filters: a repeat would not be judged for it
        same = (content_type, coding, raw) if raw is not None and len(raw) <= MAX_ANSWER else None
        tail = {name: _copy(value) for name, value in encoded.tail.items()}
        containers = tuple(name for name, value in tail.items() if isinstance(value, dict | list))
        assessment = self.analyzer.assess(auth.credentials.credentials)
        servers = tuple((n.encode("latin-1"), v.encode("latin-1")) for n, v in _servers(response.headers))
        signature = auth.token.signature
        clean = _Clean(assessment, encoded.tail_text, tail, containers, comment, signature, result, servers, same)
        self._clean.put(key, clean)

    def publish(self, f: http.HTTPFlow, key: Key, names: FlowNames) -> Repeat | None:
        """The report line and metadata of a flow that repeats a remembered exchange, or ``None``."""
        clean = self._clean.get(key)
        if clean is None:
            return None
        at = moment_or_none(f.request.timestamp_start)
        if at is None or not clean.assessment.quiet_at(at, self.analyzer.policy.skew):
            return None
        response = f.response
        if response is None:
            return None
        data = response.data
        content_type, coding = _body_headers(data)
        raw = data.content
        if (content_type, coding, raw) != clean.answer and _error_in(data.status_code, content_type, coding, raw):
            return None
        client, client_text = self._endpoint(f.client_conn.peername)
        server, server_text = self._endpoint(f.server_conn.peername or f.server_conn.address)
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
            "client": client_text,
            "server": server_text,
        }
        metadata: dict[str, Any] = {"verdict": "ok", "comment": clean.comment, **head, **clean.tail}
        for name in clean.containers:
            metadata[name] = _copy(metadata[name])
        line = head_text(head) + clean.tail_text
        self.totals.count_exchange("bearer", clean.signature, ())
        self.published += 1
        observed = _observed(clean, data.headers.fields, names.exchange_id, at, client, server)
        return Repeat(line, metadata, clean.comment, observed)

    def _endpoint(self, address: object) -> tuple[Endpoint | None, str | None]:
        """An address as an endpoint and as the report shows it, remembered for the address object: the flows of a
        keep-alive connection share their connections' address tuples.

        Only plain ``(host, port, ...)`` tuples of exact ``str``/``int`` with a short host are remembered: a host
        from a replayed file can be of any length, and odder addresses are made afresh each time."""
        found = self._addresses.get(id(address))
        if found is not None and found[0] is address:
            return found[1]
        endpoint = endpoint_of(address)
        made = (endpoint, str(endpoint) if endpoint else None)
        if _plain(address):
            if len(self._addresses) >= MAX_ADDRESSES:
                self._addresses.clear()
            self._addresses[id(address)] = (address, made)  # the address held: its id is not reused meanwhile
        return made


def _servers(fields: Sequence[tuple[Any, Any]]) -> tuple[tuple[Any, Any], ...]:
    """The X-FEServer/X-BEServer fields of a head (the inventory's servers), raw: compared, not read."""
    return tuple([field for field in fields if len(field[0]) == 10 and field[0].lower() in _SERVER_NAMES])


_SERVER_NAMES = (b"x-feserver", b"x-beserver", "x-feserver", "x-beserver")

# dataclasses.replace for the two objects every repeat remakes, without its walk over their fields on each call:
# every field is read at once and passed by position (tests/live/test_repeats.py holds this to replace()).
_EXCHANGE_FIELDS = [item.name for item in fields(HttpExchange)]
_exchange_values = field_values(HttpExchange)
_ID, _RESPONSE, _TIME, _CLIENT, _SERVER = (
    _EXCHANGE_FIELDS.index(name) for name in ("id", "response", "time", "client", "server")
)
_result_values = field_values(ExchangeResult)
_EXCHANGE = [item.name for item in fields(ExchangeResult)].index("exchange")


def _observed(
    clean: _Clean,
    fields: Sequence[tuple[bytes, bytes]],
    exchange_id: str,
    at: datetime,
    client: Endpoint | None,
    server: Endpoint | None,
) -> ExchangeResult:
    """The remembered result with this flow's id, time and endpoints, and its response headers (``fields``) where
    its X-FEServer/X-BEServer differ (the inventory reads which server answered; the key leaves them out)."""
    result = clean.result
    values = list(_exchange_values(result.exchange))
    response = values[_RESPONSE]
    if response is not None and _servers(fields) != clean.servers:
        headers = tuple([(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields])
        values[_RESPONSE] = replace(response, headers=headers)
    values[_ID], values[_TIME], values[_CLIENT], values[_SERVER] = exchange_id, at, client, server
    parts = list(_result_values(result))
    parts[_EXCHANGE] = HttpExchange(*values)
    return ExchangeResult(*parts)


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
