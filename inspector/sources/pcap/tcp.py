"""Reassembly of one direction of a TCP connection, by sequence number (modulo 2**32).

Segments in order are passed on at once; early ones wait in a bounded store until the hole before them is
filled. Retransmissions, exact or overlapping, are passed on once (the first copy wins). A hole is declared a
gap, never filled with invented bytes, when the peer acknowledged bytes the capture does not have, when the
store is full, or when the stream is flushed.
"""

from __future__ import annotations

from bisect import insort
from typing import Final, Protocol

from inspector.sources.pcap.budget import MemoryBudget

MASK: Final = 0xFFFFFFFF
HALF: Final = 0x80000000
MAX_STORED_BYTES: Final = 2 << 20
MAX_STORED_SEGMENTS: Final = 2048


class StreamConsumer(Protocol):
    ignore: bool
    """When set, reassembly stops: the consumer wants no more bytes (the stream is not HTTP)."""

    def data(self, data: bytes, frame: int, ts: int, ack: int) -> None: ...

    def gap(self, seq: int, size: int, frame: int) -> None: ...


class TcpStream:
    __slots__ = (
        "_base",
        "_budget",
        "_counter",
        "_stored_bytes",
        "acked",
        "consumer",
        "fin_seq",
        "finished",
        "first_ack",
        "isn",
        "next_seq",
        "stored",
    )

    def __init__(self, consumer: StreamConsumer, budget: MemoryBudget) -> None:
        self.consumer = consumer
        self.next_seq: int | None = None
        """Sequence number of the next byte to pass on; ``None`` until the SYN or the first data is seen."""
        self.isn: int | None = None
        """The initial sequence number, when the SYN was captured."""
        self.acked: int | None = None
        """The highest acknowledgement from the peer beyond ``next_seq``: bytes it has that the capture lacks."""
        self.first_ack: int | None = None
        """The peer's first acknowledgement seen before any of this stream's data (its start not captured): the
        stream's bytes from there on were sent while the capture ran, so any the capture lacks are a gap."""
        self.fin_seq: int | None = None
        self.finished = False
        """Every byte up to the FIN has been passed on."""
        self.stored: list[tuple[int, int, bytes, int, int, int]] = []
        """Early segments waiting for the hole before them: (offset from ``_base``, arrival, payload, frame,
        timestamp, ack), in sequence order."""
        self._stored_bytes = 0
        self._base = 0
        self._counter = 0
        self._budget = budget

    def syn(self, seq: int) -> None:
        if self.next_seq is None:
            self.isn = seq
            self.next_seq = (seq + 1) & MASK

    def segment(self, seq: int, payload: bytes, frame: int, ts: int, ack: int) -> None:
        expected = self.next_seq
        if expected is None:  # the connection's start was not captured: begin where the capture begins
            expected = self.next_seq = seq
            first_ack = self.first_ack
            if first_ack is not None:
                missing = (seq - first_ack) & MASK
                if 0 < missing < HALF:  # the peer acknowledged less than this: the bytes between were lost
                    self.consumer.gap(first_ack, missing, frame)
        ahead = (seq - expected) & MASK
        if ahead == 0:
            self.next_seq = (seq + len(payload)) & MASK
            self.consumer.data(payload, frame, ts, ack)
            if self.stored:
                self._drain(frame)
        elif ahead < HALF:
            self._store(seq, payload, frame, ts, ack)
            self._drain(frame)
        else:
            behind = MASK + 1 - ahead
            if behind < len(payload):  # overlaps the end of what was passed on: pass on only the new part
                self.next_seq = (seq + len(payload)) & MASK
                self.consumer.data(payload[behind:], frame, ts, ack)
                if self.stored:
                    self._drain(frame)
        if self.fin_seq is not None:
            self._check_fin(frame)

    def peer_ack(self, ack: int, frame: int) -> None:
        """The peer acknowledged every byte before ``ack``."""
        expected = self.next_seq
        if expected is None:
            if self.first_ack is None:
                self.first_ack = ack
            return
        ahead = (ack - expected) & MASK
        if ahead == 0 or ahead >= HALF:
            return
        acked = self.acked
        if acked is None or ((ack - acked) & MASK) < HALF:
            self.acked = ack
        if self.stored:
            self._drain(frame)
        if self.fin_seq is not None:
            self._check_fin(frame)

    def fin(self, seq: int, frame: int) -> None:
        """A FIN at ``seq`` (after the segment's data)."""
        if self.fin_seq is None:
            self.fin_seq = seq & MASK
            if self.next_seq is None or self.consumer.ignore:
                self.next_seq = self.fin_seq
            self._check_fin(frame)

    def flush(self, frame: int) -> None:
        """The stream ends: pass on everything stored, declaring the holes as gaps; then report bytes the peer
        acknowledged that were never captured."""
        while self.stored:
            self._gap_to_first(frame)
            self._drain(frame)
        expected = self.next_seq
        acked = self.acked
        if expected is not None and acked is not None and not self.consumer.ignore:
            missing = (acked - expected) & MASK
            if 0 < missing < HALF:
                self.next_seq = acked
                self.consumer.gap(expected, missing, frame)
        self.acked = None

    def _check_fin(self, frame: int) -> None:
        if self.finished or self.stored:
            return
        expected, fin_seq = self.next_seq, self.fin_seq
        assert expected is not None
        assert fin_seq is not None
        missing = (fin_seq - expected) & MASK
        if missing:
            # Data before the FIN was not captured; once the peer acknowledged it, it will not come.
            acked = self.acked
            if missing >= HALF or acked is None or ((acked - fin_seq) & MASK) >= HALF:
                return
            self.consumer.gap(expected, missing, frame)
        self.finished = True
        # The FIN takes a sequence number: the peer's acknowledgement of it is not missing data.
        self.next_seq = (fin_seq + 1) & MASK
        self.acked = None

    def _store(self, seq: int, payload: bytes, frame: int, ts: int, ack: int) -> None:
        """Keep an early segment until the hole before it is filled; when there is no room, give up on holes
        (reporting them as gaps) rather than hold more memory or drop bytes silently."""
        if self.consumer.ignore:
            return
        size = len(payload)
        while (
            len(self.stored) >= MAX_STORED_SEGMENTS
            or self._stored_bytes + size > MAX_STORED_BYTES
            or not self._budget.take(size)
        ):
            if not self.stored:
                # Nothing to let go of: this segment cannot wait either.
                expected = self.next_seq
                assert expected is not None
                ahead = (seq - expected) & MASK
                if ahead and ahead < HALF:
                    self.next_seq = seq
                    self.consumer.gap(expected, ahead, frame)
                self.segment(seq, payload, frame, ts, ack)
                return
            self._gap_to_first(frame)
            self._drain(frame)
            ahead = (seq - (self.next_seq or 0)) & MASK
            if not ahead or ahead >= HALF:  # what was stored reached it: it is in order (or old) now
                self.segment(seq, payload, frame, ts, ack)
                return
        if not self.stored:
            assert self.next_seq is not None
            self._base = self.next_seq
        self._counter += 1
        insort(self.stored, ((seq - self._base) & MASK, self._counter, payload, frame, ts, ack))
        self._stored_bytes += size

    def _drain(self, frame: int) -> None:
        """Pass on stored segments that are now in order; declare holes the peer has acknowledged."""
        stored = self.stored
        while stored:
            expected = self.next_seq
            assert expected is not None
            key, _, payload, seg_frame, ts, ack = stored[0]
            seq = (self._base + key) & MASK
            ahead = (seq - expected) & MASK
            if ahead and ahead < HALF:
                acked = self.acked
                if acked is None:
                    return
                confirmed = (acked - expected) & MASK
                if not confirmed or confirmed >= HALF:
                    return
                # The peer has bytes the capture missed: they will not come again.
                size = min(ahead, confirmed)
                self.next_seq = (expected + size) & MASK
                self.consumer.gap(expected, size, frame)
                continue
            del stored[0]
            self._stored_bytes -= len(payload)
            self._budget.give(len(payload))
            skip = 0 if not ahead else MASK + 1 - ahead
            if skip < len(payload):
                self.next_seq = (seq + len(payload)) & MASK
                self.consumer.data(payload[skip:] if skip else payload, seg_frame, ts, ack)
        acked = self.acked
        if acked is not None and self.next_seq is not None and ((acked - self.next_seq) & MASK) >= HALF:
            self.acked = None

    def _gap_to_first(self, frame: int) -> None:
        expected = self.next_seq
        assert expected is not None
        assert self.stored
        seq = (self._base + self.stored[0][0]) & MASK
        ahead = (seq - expected) & MASK
        if ahead and ahead < HALF:
            self.next_seq = seq
            self.consumer.gap(expected, ahead, frame)

    def release(self) -> None:
        """Drop whatever is stored (the connection is gone) and return its memory to the budget."""
        self._budget.give(self._stored_bytes)
        self.stored.clear()
        self._stored_bytes = 0
