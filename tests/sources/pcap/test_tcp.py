"""Reassembly of one TCP direction: order, duplicates, overlaps, wrap-around, gaps, limits and the FIN."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.tcp import MASK, MAX_STORED_BYTES, TcpStream


class Collector:
    ignore = False

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def data(self, data: bytes, frame: int, ts: int, ack: int) -> None:
        del frame, ts, ack
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)  # type: ignore[operator]
        else:
            self.events.append(("data", data))

    def gap(self, seq: int, size: int, frame: int) -> None:
        del frame
        self.events.append(("gap", (seq, size)))

    @property
    def bytes(self) -> bytes:
        return b"".join(value for kind, value in self.events if kind == "data")  # type: ignore[misc]


def stream(isn: int | None = 999) -> tuple[TcpStream, Collector]:
    collector = Collector()
    tcp = TcpStream(collector, MemoryBudget(1 << 30))
    if isn is not None:
        tcp.syn(isn)
    return tcp, collector


def finished(tcp: TcpStream) -> bool:
    return tcp.finished


def cut(data: bytes, size: int, base: int) -> list[tuple[int, bytes]]:
    return [((base + i) & MASK, data[i : i + size]) for i in range(0, len(data), size)]


DATA = bytes(range(256)) * 20


def test_in_order() -> None:
    tcp, out = stream()
    for seq, piece in cut(DATA, 100, 1000):
        tcp.segment(seq, piece, 1, 0, -1)
    assert out.events == [("data", DATA)]


def test_out_of_order_and_duplicates_are_passed_on_once_in_order() -> None:
    tcp, out = stream()
    pieces = cut(DATA, 300, 1000)
    for seq, piece in [pieces[2], pieces[0], pieces[0], pieces[3], pieces[1], pieces[2], *pieces[4:]]:
        tcp.segment(seq, piece, 1, 0, -1)
    assert out.events == [("data", DATA)]


def test_overlapping_retransmissions_add_only_new_bytes() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:500], 1, 0, -1)
    tcp.segment(1250, DATA[250:900], 2, 0, -1)  # half old, half new
    tcp.segment(1100, DATA[100:200], 3, 0, -1)  # all old
    assert out.bytes == DATA[:900]


def test_sequence_numbers_wrap_around() -> None:
    isn = MASK - 150
    tcp, out = stream(isn)
    pieces = cut(DATA, 100, isn + 1)
    for seq, piece in reversed(pieces):
        tcp.segment(seq, piece, 1, 0, -1)
    assert out.events == [("data", DATA)]


def test_a_connection_whose_start_was_not_captured_begins_at_the_first_segment() -> None:
    tcp, out = stream(None)
    pieces = cut(DATA, 100, 123456)
    for seq, piece in pieces[3:]:
        tcp.segment(seq, piece, 1, 0, -1)
    assert out.bytes == DATA[300:]


def test_a_hole_the_peer_acknowledged_is_a_gap_and_no_byte_is_invented() -> None:
    tcp, out = stream()
    pieces = cut(DATA, 100, 1000)
    tcp.segment(*pieces[0], 1, 0, -1)
    tcp.segment(*pieces[2], 2, 0, -1)  # pieces[1] is never captured
    assert out.bytes == DATA[:100]  # waits: the segment may still come
    tcp.peer_ack(1300, 3)  # the receiver had it
    assert out.events == [("data", DATA[:100]), ("gap", (1100, 100)), ("data", DATA[200:300])]


def test_a_partial_acknowledgement_declares_only_what_it_covers() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:100], 1, 0, -1)
    tcp.segment(1300, DATA[300:400], 2, 0, -1)
    tcp.peer_ack(1150, 3)
    assert out.events[-1] == ("gap", (1100, 50))
    tcp.segment(1150, DATA[150:300], 4, 0, -1)  # the rest came after all
    assert out.events[-2:] == [("gap", (1100, 50)), ("data", DATA[150:400])]


def test_flush_passes_on_what_was_stored_across_holes() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:100], 1, 0, -1)
    tcp.segment(1200, DATA[200:300], 2, 0, -1)
    tcp.flush(3)
    assert out.events == [("data", DATA[:100]), ("gap", (1100, 100)), ("data", DATA[200:300])]


def test_bytes_acknowledged_but_never_captured_are_a_gap_at_the_end() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:100], 1, 0, -1)
    tcp.peer_ack(1500, 2)
    tcp.flush(3)
    assert out.events == [("data", DATA[:100]), ("gap", (1100, 400))]


def test_the_store_is_bounded() -> None:
    tcp, out = stream()
    budget_before = tcp._budget.used
    # Everything after a hole that never fills, far more than the store holds.
    for seq, piece in cut(DATA * 500, 1400, 2000):
        tcp.segment(seq, piece, 1, 0, -1)
    assert tcp._stored_bytes <= MAX_STORED_BYTES
    assert out.events[0] == ("gap", (1000, 1000))
    tcp.flush(2)
    tcp.release()
    assert tcp._budget.used == budget_before
    assert len(out.bytes) == len(DATA * 500)


def test_the_shared_budget_bounds_all_streams_together() -> None:
    budget = MemoryBudget(10_000)
    streams = []
    for _ in range(10):
        collector = Collector()
        tcp = TcpStream(collector, budget)
        tcp.syn(0)
        tcp.segment(5000, b"x" * 3000, 1, 0, -1)  # a hole before it: stored
        streams.append((tcp, collector))
    assert budget.used <= 10_000
    for tcp, collector in streams:
        tcp.flush(2)
        assert collector.events == [("gap", (1, 4999)), ("data", b"x" * 3000)]


def test_the_fin_ends_the_stream_once_every_byte_before_it_is_in() -> None:
    tcp, _ = stream()
    tcp.segment(1100, DATA[100:200], 2, 0, -1)
    tcp.fin(1200, 2)
    assert not finished(tcp)
    tcp.segment(1000, DATA[:100], 3, 0, -1)
    assert finished(tcp)
    # The peer's acknowledgement of the FIN itself is not missing data.
    tcp.peer_ack(1201, 4)
    tcp.flush(5)
    assert tcp.acked is None


def test_a_fin_after_a_hole_the_peer_acknowledged_finishes_with_a_gap() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:100], 1, 0, -1)
    tcp.fin(1300, 2)
    tcp.peer_ack(1301, 3)
    assert tcp.finished
    assert out.events[-1] == ("gap", (1100, 200))


def test_keepalive_probes_are_ignored() -> None:
    tcp, out = stream()
    tcp.segment(1000, DATA[:100], 1, 0, -1)
    tcp.segment(1099, b"\x00", 2, 0, -1)
    assert out.bytes == DATA[:100]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, bytes, list[tuple[int, bytes]]]:
    data = draw(st.binary(min_size=1, max_size=3000))
    isn = draw(st.sampled_from([0, 1000, MASK - 700, MASK]))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data)), max_size=12))) | {len(data)})
    pieces, start = [], 0
    for stop in cuts:
        if stop > start:
            pieces.append((start, data[start:stop]))
            start = stop
    # Retransmissions: ranges cut differently from the originals, overlapping them.
    for _ in range(draw(st.integers(0, 4))):
        a = draw(st.integers(0, len(data) - 1))
        b = draw(st.integers(a + 1, len(data)))
        pieces.append((a, data[a:b]))
    pieces = draw(st.permutations(pieces))
    return isn, data, [((isn + 1 + offset) & MASK, piece) for offset, piece in pieces]


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_any_order_and_duplication_gives_the_same_bytes(case: tuple[int, bytes, list[tuple[int, bytes]]]) -> None:
    isn, data, segments = case
    tcp, out = stream(isn)
    for frame, (seq, piece) in enumerate(segments, 1):
        tcp.segment(seq, piece, frame, 0, -1)
    tcp.flush(len(segments) + 1)
    assert out.events == [("data", data)]
