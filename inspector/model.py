"""The data every part of the tool shares: HTTP exchanges as captured, and what sources notice about their input.

Header names and values are kept as ``str`` decoded from the wire bytes as ISO-8859-1 (latin-1), so every byte
survives the round trip and nothing on the wire can make decoding fail. Headers stay an ordered tuple of
``(name, value)`` pairs in wire casing, duplicates kept: the analyzer must see what was sent, not a normalised map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Literal

from inspector.frozen import pickled_by_constructor
from inspector.jsonable import json_native
from inspector.rules import RuleId

Headers = tuple[tuple[str, str], ...]

SourceKind = Literal["har", "mitm", "pcap", "live", "token", "lab", "saz"]

BODY_KEEP_LIMIT = 64 * 1024
"""The most of a body any source keeps (rules read a bounded prefix: token requests, SOAP/JSON errors; nothing needs
more), so a huge body in a capture costs this much memory, not its size."""


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Endpoint:
    """One side of a connection. ``host`` is an IP address for captures, a name where only that is known."""

    host: Final[str]
    port: Final[int | None]

    def __init__(self, host: str, port: int | None = None) -> None:
        self.host = host
        self.port = port

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        if ":" in self.host:  # IPv6 literal
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Provenance:
    """Where an exchange was read from, precisely enough to find it again in the original file or tool."""

    kind: Final[SourceKind]
    source: Final[str]
    """The file name (or ``live``, ``token``) the exchange came from."""
    entry: Final[int | None]
    """HAR entry index, or the position of the flow in a .mitm file (0-based)."""
    flow_id: Final[str | None]
    """mitmproxy flow id."""
    connection: Final[str | None]
    """Capture connection, e.g. ``10.0.0.5:51123 -> 10.0.0.9:443``."""
    request_frames: Final[tuple[int, ...]]
    """1-based frame numbers (as Wireshark counts them) that carried the request head."""
    response_frames: Final[tuple[int, ...]]

    def __init__(
        self,
        kind: SourceKind,
        source: str,
        entry: int | None = None,
        flow_id: str | None = None,
        connection: str | None = None,
        request_frames: tuple[int, ...] = (),
        response_frames: tuple[int, ...] = (),
    ) -> None:
        self.kind = kind
        self.source = source
        self.entry = entry
        self.flow_id = flow_id
        self.connection = connection
        self.request_frames = request_frames
        self.response_frames = response_frames

    def describe(self) -> str:
        parts = [self.source]
        if self.entry is not None:
            parts.append(f"entry {self.entry}")
        if self.flow_id:
            parts.append(f"flow {self.flow_id}")
        if self.connection:
            parts.append(self.connection)
        if self.request_frames:
            parts.append(f"frame {self.request_frames[0]}")
        return ", ".join(parts)


def header_values(headers: Headers, name: str) -> Iterator[str]:
    """Every value of header ``name`` (case-insensitive), in wire order."""
    wanted = name.lower()
    size = len(wanted)
    for key, value in headers:
        # Comparing lengths first skips the lower-casing of nearly every header (this runs per exchange).
        if len(key) == size and key.lower() == wanted:
            yield value


def first_header(headers: Headers, name: str) -> str | None:
    wanted = name.lower()
    size = len(wanted)
    for key, value in headers:
        if len(key) == size and key.lower() == wanted:
            return value
    return None


class _HeaderLookup:
    """Case-insensitive reads over a message's wire-order ``headers``."""

    __slots__ = ()
    if TYPE_CHECKING:  # each message's own (Final) field; a class-level property would shadow it at run time

        @property
        def headers(self) -> Headers: ...

    def header(self, name: str) -> str | None:
        return first_header(self.headers, name)

    def header_all(self, name: str) -> list[str]:
        wanted = name.lower()
        size = len(wanted)  # as in header_values, without a generator per call (this runs per exchange)
        return [value for key, value in self.headers if len(key) == size and key.lower() == wanted]


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class HttpRequest(_HeaderLookup):
    method: Final[str]
    target: Final[str]
    """The request target exactly as sent (origin form ``/ews/exchange.asmx?x=1``, or absolute form via a proxy)."""
    version: Final[str]
    headers: Final[Headers]
    body: Final[bytes | None]
    """Only kept where a rule needs it; ``None`` when not captured or not kept."""

    def __init__(
        self,
        method: str,
        target: str,
        version: str = "HTTP/1.1",
        headers: Headers = (),
        body: bytes | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class HttpResponse(_HeaderLookup):
    status: Final[int]
    reason: Final[str]
    version: Final[str]
    headers: Final[Headers]
    body: Final[bytes | None]

    def __init__(
        self,
        status: int,
        reason: str = "",
        version: str = "HTTP/1.1",
        headers: Headers = (),
        body: bytes | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.body = body


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class TlsInfo:
    """The TLS session an exchange was decrypted from (captures read with keys)."""

    version: Final[str]
    cipher: Final[str]
    sni: Final[str | None]
    alpn: Final[str | None]
    decrypted_with: Final[str]
    """``keylog`` (a key log file), ``dsb`` (the capture's Decryption Secrets Block) or ``server-key``."""

    def __init__(self, version: str, cipher: str, sni: str | None, alpn: str | None, decrypted_with: str) -> None:
        self.version = version
        self.cipher = cipher
        self.sni = sni
        self.alpn = alpn
        self.decrypted_with = decrypted_with


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class HttpExchange:
    """One request and, where it was seen, its response."""

    id: Final[str]
    """Unique within one run, stable for the same input (e.g. ``har:3``, ``pcap:12``); findings point at it."""
    request: Final[HttpRequest]
    response: Final[HttpResponse | None]
    time: Final[datetime | None]
    """When the request was captured (tz-aware UTC). Token times are judged against this, never the wall clock.
    ``None`` when the source does not say (a HAR entry whose ``startedDateTime`` is unusable): unknown beats wrong,
    so the time-dependent checks (token and certificate times, the rules that compare exchanges over time) are not
    made for it, and every other check is."""
    provenance: Final[Provenance]
    client: Final[Endpoint | None]
    server: Final[Endpoint | None]
    scheme: Final[str]
    """``http`` or ``https``: what the client spoke (HAR/mitm know it; a pcap with readable HTTP is ``http``)."""
    response_time: Final[datetime | None]
    tls: Final[TlsInfo | None]
    """Set when the exchange was read from decrypted TLS."""

    def __init__(
        self,
        id: str,
        request: HttpRequest,
        response: HttpResponse | None,
        time: datetime | None,
        provenance: Provenance,
        client: Endpoint | None = None,
        server: Endpoint | None = None,
        scheme: str = "http",
        response_time: datetime | None = None,
        tls: TlsInfo | None = None,
    ) -> None:
        self.id = id
        self.request = request
        self.response = response
        self.time = time
        self.provenance = provenance
        self.client = client
        self.server = server
        self.scheme = scheme
        self.response_time = response_time
        self.tls = tls

    @property
    def host(self) -> str | None:
        """The Host the client sent (what a token's audience must name), falling back to an absolute target."""
        host = self.request.header("host")
        if host:
            return host.strip()
        target = self.request.target
        if "://" in target:
            rest = target.split("://", 1)[1]
            return rest.split("/", 1)[0] or None
        return None


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class Notice:
    """Something a source noticed about its input that is not an exchange, reported as a finding of rule ``rule``.

    Sources use catalogue rule IDs (``capture-gap``, ``capture-encrypted``, ``http-malformed``...) so that the
    rule catalogue stays the one place that names and explains everything the tool reports.
    """

    rule: Final[RuleId]
    message: Final[str]
    source: Final[str]
    exchange_id: Final[str | None]
    evidence: Final[dict[str, object]]
    """Made JSON-native on creation (it becomes a finding's evidence)."""

    def __init__(
        self,
        rule: RuleId,
        message: str,
        source: str,
        exchange_id: str | None = None,
        evidence: dict[str, object] | None = None,
    ) -> None:
        self.rule = rule
        self.message = message
        self.source = source
        self.exchange_id = exchange_id
        self.evidence = json_native(evidence) if evidence else {}


class InputError(Exception):
    """An input that cannot be read (exit code 3). The message says what, where and what next.

    Raised by a source after it has yielded everything it could read before the damage, so nothing is lost.
    """


@dataclass(frozen=True, slots=True)
class UnreadInput:
    """An input that was not read, or not to its end: part of the report, so a reader can tell it is partial."""

    file: str
    reason: str
    exchanges_read: int | None = None
    """Exchanges read from it before the failure; ``None`` for a file skipped without reading (not an input)."""

    def data(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self.file, "reason": self.reason}
        if self.exchanges_read is not None:
            out["exchanges_read"] = self.exchanges_read
        return out


class ConfigError(Exception):
    """A usage or configuration error (exit code 2): a certificate that does not load, a bad option value."""


SourceItem = HttpExchange | Notice


for _cls in (Endpoint, Provenance, HttpRequest, HttpResponse, TlsInfo, HttpExchange, Notice, UnreadInput):
    pickled_by_constructor(_cls)
