"""Exchanges and notices leave the reader in a stable order: by the frame where each request was complete (or the
event noticed), as far as a bounded window allows. An exchange waits while an earlier request is still unanswered, but
never behind more than ``window`` finished ones; ids are given in the order of output."""

from __future__ import annotations

import heapq
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Final

from inspector.model import (
    Endpoint,
    HttpExchange,
    HttpRequest,
    HttpResponse,
    Notice,
    Provenance,
    SourceItem,
    TlsInfo,
)
from inspector.rules import RuleId
from inspector.sources.naming import exchange_id as make_exchange_id
from inspector.sources.pcap.http1 import MessageHead

HELD_BODY_BYTES: Final = 64 << 20
"""Kept bodies waiting for output beyond this are output at once, out of order if need be."""
NOTICES_PER_RULE: Final = 100
"""Notices of one rule listed one by one per capture; the rest are counted in one summary."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_US: Final = int((datetime(1, 1, 2, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000
_MAX_US: Final = int((datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH).total_seconds()) * 1_000_000


_FAST_US: Final = (1 << 32) * 1_000_000

OrderKey = tuple[int, int]
"""``(frame, serial)``: the frame of the timeline being read when an exchange's request was complete or a notice
was given, then the order seen."""


def capture_time(ts_us: int) -> datetime:
    """A capture timestamp as an aware UTC datetime (clamped to what ``datetime`` can hold)."""
    if 0 <= ts_us < _FAST_US:
        # Below 2**32 s a double holds the time to well under half a microsecond: rounding gives it exactly.
        return datetime.fromtimestamp(ts_us / 1_000_000, UTC)
    return _EPOCH + timedelta(microseconds=min(max(ts_us, _MIN_US), _MAX_US))


class PendingExchange:
    """A request seen on the wire, waiting for its response and for its turn to be output."""

    __slots__ = (
        "client",
        "connection",
        "finished",
        "id",
        "key",
        "notes",
        "origin",
        "request",
        "request_body",
        "response",
        "response_body",
        "server",
        "tls",
    )

    def __init__(self, request: MessageHead, connection: str, client: Endpoint, server: Endpoint) -> None:
        self.request = request
        self.connection = connection
        self.client = client
        self.server = server
        self.key = (0, 0)
        self.request_body: bytes | None = None
        self.response: MessageHead | None = None
        self.response_body: bytes | None = None
        self.notes: list[Notice] = []
        self.finished = False
        """Handed to the output: nothing may be added to it any more."""
        self.id: str | None = None
        """Set when the exchange is output; later notices about it carry it."""
        self.tls: TlsInfo | None = None
        """The TLS session it was decrypted from, if any."""
        self.origin = ("", "")
        """``(stem, source)`` of the file whose frames began it (set by ``OrderedOutput.register``)."""


class OrderedOutput:
    def __init__(self, stem: str, source: str, window: int = 1024) -> None:
        self._stem = stem
        self._source = source
        self._numbered: dict[str, int] = {}
        """Exchanges output per stem: several files of one timeline number their own (``stem:n``)."""
        self._begun: dict[str, int] = {}
        self._window = window
        self._unfinished: list[tuple[int, int]] = []
        self._finished_keys: set[tuple[int, int]] = set()
        self.ready: list[tuple[tuple[int, int], PendingExchange | Notice]] = []
        """Finished exchanges and notices, by key, not yet output (a heap)."""
        self.dirty = False
        """Something was finished since the last ``release``."""
        self._serial = 0
        self._held = 0
        self._per_rule: dict[tuple[str, RuleId], int] = {}
        self.items: list[SourceItem] = []
        """Output ready to be yielded, in order."""
        self.keys: list[OrderKey] | None = None
        """When a list (a shard of a timeline, :mod:`inspector.timeline`), the order key of each item of ``items``,
        so that shards read in parallel can be merged into the order one reader gives."""
        self.cap = NOTICES_PER_RULE
        """Notices of one rule listed per file (a shard lists all: the merge counts)."""
        self._key: OrderKey = (0, 0)
        self.now = 0
        """The frame being read (set by the reader): nothing is keyed before it."""
        self.exchanges = 0
        """Exchanges output, of every file."""

    def switch(self, stem: str, source: str) -> None:
        """The file being read changed (one timeline over several files): what begins now is named after it."""
        self._stem, self._source = stem, source

    def exchanges_of(self, stem: str) -> int:
        """Exchanges read so far whose request began in the file ``stem`` (each is output, at once or when its
        connection closes)."""
        return self._begun.get(stem, 0)

    def register(self, pending: PendingExchange) -> None:
        pending.origin = (self._stem, self._source)
        self._begun[self._stem] = self._begun.get(self._stem, 0) + 1
        self._serial += 1
        # Keyed by the frame being read when the request is complete, not by its first frame: keys then only grow
        # as the capture is read, so what is output is in key order, and shards of a timeline read apart merge by
        # key into exactly this order (a head in several segments would otherwise key before exchanges of other
        # connections already output, in an order that depends on which connections are read together).
        pending.key = (max(self.now, *pending.request.frames), self._serial)
        heapq.heappush(self._unfinished, pending.key)

    def finish(self, pending: PendingExchange) -> None:
        pending.finished = True
        if pending.request_body is not None or pending.response_body is not None:
            self._held += _body_size(pending)
        self._finished_keys.add(pending.key)
        heapq.heappush(self.ready, (pending.key, pending))
        self.dirty = True

    def notice(self, frame: int, notice: Notice) -> None:
        self._serial += 1
        heapq.heappush(self.ready, ((max(frame, self.now), self._serial), notice))
        self.dirty = True

    def release(self, everything: bool = False) -> None:
        """Move what may be output now to ``items``."""
        self.dirty = False
        ready, unfinished, finished = self.ready, self._unfinished, self._finished_keys
        while ready:
            while unfinished and unfinished[0] in finished:
                finished.discard(heapq.heappop(unfinished))
            if (
                not everything
                and unfinished
                and unfinished[0] < ready[0][0]
                and len(ready) <= self._window
                and self._held <= HELD_BODY_BYTES
            ):
                return
            self._key, item = heapq.heappop(ready)
            if isinstance(item, Notice):
                self._emit_notice(item)
            else:
                self._emit_exchange(item)

    def summaries(self, source: str | None = None) -> list[Notice]:
        """One notice per rule whose notices were too many to list (in the file ``source``; default: every file
        read, in the order they were first read)."""
        out = []
        for (where, rule), count in self._per_rule.items():
            extra = count - NOTICES_PER_RULE
            if extra > 0 and (source is None or where == source):
                out.append(
                    Notice(
                        rule=rule,
                        message=f"{extra} more {rule} notices in this capture are not listed one by one",
                        source=where,
                        evidence={"not_listed": extra},
                    )
                )
        return out

    def admit(self, notice: Notice) -> bool:
        """Whether ``notice`` is listed (counted either way, for ``summaries``)."""
        return self._admit(notice)

    def _admit(self, notice: Notice) -> bool:
        key = (notice.source, notice.rule)
        count = self._per_rule.get(key, 0) + 1
        self._per_rule[key] = count
        return count <= self.cap

    def _emit_notice(self, notice: Notice) -> None:
        if self._admit(notice):
            self.items.append(notice)
            if self.keys is not None:
                self.keys.append(self._key)

    def _emit_exchange(self, pending: PendingExchange) -> None:
        self.exchanges += 1
        stem, source = pending.origin
        number = self._numbered[stem] = self._numbered.get(stem, 0) + 1
        exchange_id = make_exchange_id(stem, number)
        pending.id = exchange_id
        head = pending.request
        request = head.message
        assert isinstance(request, HttpRequest)
        if pending.request_body is not None:
            self._held -= len(pending.request_body)
            request = HttpRequest(
                request.method, request.target, request.version, request.headers, pending.request_body
            )
        response: HttpResponse | None = None
        response_frames: tuple[int, ...] = ()
        response_time = None
        answer = pending.response
        if answer is not None:
            message = answer.message
            assert isinstance(message, HttpResponse)
            response = message
            if pending.response_body is not None:
                self._held -= len(pending.response_body)
                response = HttpResponse(
                    response.status, response.reason, response.version, response.headers, pending.response_body
                )
            response_frames = answer.frames
            response_time = capture_time(answer.ts)
        self.items.append(
            HttpExchange(
                exchange_id,
                request,
                response,
                capture_time(head.ts),
                Provenance("pcap", source, None, None, pending.connection, head.frames, response_frames),
                pending.client,
                pending.server,
                "http" if pending.tls is None else "https",
                response_time,
                pending.tls,
            )
        )
        if self.keys is not None:
            self.keys.append(self._key)
        if pending.notes:
            for note in pending.notes:
                self._emit_notice(replace(note, exchange_id=exchange_id))
            pending.notes.clear()


def _body_size(pending: PendingExchange) -> int:
    return len(pending.request_body or b"") + len(pending.response_body or b"")


def stopped_notice(
    out: OrderedOutput, source: str, rule: RuleId, what: str, connection: str, direction: str, frame: int, reason: str
) -> None:
    """A direction of ``connection`` that cannot be read further: one notice saying where and why, the same for
    malformed TLS and malformed HTTP/2 (``what``)."""
    out.notice(
        frame,
        Notice(
            rule=rule,
            message=f"Malformed {what} in {connection} ({direction}) at frame {frame}: {reason}; "
            "this direction is not read further",
            source=source,
            evidence={"connection": connection, "direction": direction, "frame": frame, "reason": reason},
        ),
    )
