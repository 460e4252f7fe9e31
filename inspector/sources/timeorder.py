"""Items of one input in capture-time order, as far as a bounded window allows.

A HAR merged from two browser sessions, or exported unsorted, lists entries out of time order; the rules that
span exchanges (a refused OAuth attempt, then Basic) must see them in the order they happened. Exchanges are
held in a heap of at most ``REORDER_WINDOW`` and released earliest first; equal times keep their input order
(stable). A notice keeps its place just after the exchange that preceded it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from inspector.model import HttpExchange, InputError, SourceItem
from inspector.sources.detect import InputKind

REORDER_WINDOW = 4096
"""Exchanges held back at most: an entry listed more than this many places after a later one stays late."""

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def in_capture_time_order(items: Iterable[SourceItem], window: int = REORDER_WINDOW) -> Iterator[SourceItem]:
    heap: list[tuple[datetime, int, SourceItem]] = []
    previous = _EARLIEST
    try:
        for serial, item in enumerate(items):
            if isinstance(item, HttpExchange) and item.time is not None:
                at = previous = item.time
            else:
                at = previous  # just after the item before it (its serial is larger): a notice, or an unknown time
            heapq.heappush(heap, (at, serial, item))
            if len(heap) > window:
                yield heapq.heappop(heap)[2]
    except InputError:
        # The input broke off (damage, a spool limit): what was read before it is still reported, then the error.
        while heap:
            yield heapq.heappop(heap)[2]
        raise
    while heap:
        yield heapq.heappop(heap)[2]


def in_judged_order(items: Iterator[SourceItem], kind: InputKind | None) -> Iterator[SourceItem]:
    """An input's items in the order the rules judge them: HAR and flow files may list entries out of time order
    (merged, unsorted) and are reordered; a capture's exchanges already leave the reader in the order their
    requests were complete (reordering them would only hold memory)."""
    return items if kind == "pcap" else in_capture_time_order(items)
