"""TCP connections of a capture: both directions reassembled, parsed as HTTP/1.x and paired into exchanges.

The client is the side that sends a request line (the SYN need not have been captured). Responses are paired
with requests on TCP evidence (``Connection._pair``): in order while nothing was lost or skipped, and after a gap,
a skipped stream start or a malformed message, with the last request the server had received when it answered
(its acknowledgement number says how far that was). A response the evidence cannot place is not paired.

The table of connections is bounded: closed connections leave it at once, idle ones after ``IDLE_US`` of capture
time, and beyond ``MAX_CONNECTIONS`` the least recently active go first.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from inspector.bodies import kept_prefix, wants_body
from inspector.model import Endpoint, Notice, TlsInfo
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http1 import REQUEST, GapEffect, Http1Parser, MessageHead
from inspector.sources.pcap.http_heads import spaced_names_reason
from inspector.sources.pcap.ordering import OrderedOutput, PendingExchange
from inspector.sources.pcap.packets import Segment
from inspector.sources.pcap.tcp import HALF, MASK, TcpStream
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.pcap.tls.session import TlsSession
from inspector.sources.pcap.tls.start import StreamStart
from inspector.sources.pcap.tls.tracker import TlsTracker

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10

IDLE_US: Final = 15 * 60 * 1_000_000
MAX_CONNECTIONS = 20_000
RESET_LINGER_US: Final = 5 * 1_000_000
"""A reset connection is closed once quiet this long: data after a RST (which the peer may have ignored, as
an injected or stale reset is) is still read."""
CLOSED_LINGER_US: Final = 30 * 1_000_000
"""Packets of a closed connection seen this long after it closed (retransmissions) are dropped."""
MAX_CLOSED: Final = 8_192
MAX_UNANSWERED: Final = 256
MALFORMED_PER_DIRECTION: Final = 3

Key = tuple[bytes, bytes, int, int]
Half = tuple["Connection", int, TcpStream, TcpStream]
"""One direction of a connection: the connection, the side, its stream and the peer's stream."""


def _address(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


@dataclass(slots=True)
class CaptureStats:
    tls_connections: int = 0
    tls_servers: dict[str, None] | None = None
    unpaired_responses: int = 0


class Connection:
    """Side 0 sent the first packet seen; side 1 is its peer."""

    __deletable__ = ("parsers", "streams")
    """Deleted on close (see :meth:`close`); a compiled build (mypyc) allows ``del`` only of attributes named here."""
    __slots__ = (
        "_label",
        "_malformed",
        "client",
        "client_lost",
        "desync",
        "endpoints",
        "interim",
        "key",
        "last_request",
        "last_ts",
        "parsers",
        "reset_at",
        "responding",
        "streams",
        "table",
        "tls",
        "tls_info",
        "tls_session",
        "unanswered",
    )

    def __init__(self, table: ConnectionTable, src: bytes, dst: bytes, sport: int, dport: int, ts: int) -> None:
        self.table = table
        self.key: Key = (src, dst, sport, dport)
        self.endpoints = (Endpoint(_address(src), sport), Endpoint(_address(dst), dport))
        self.parsers = (
            # Bodies are parsed for keeping; each head decides whether its own is kept (``_keeps``).
            Http1Parser(self, 0, midstream=True, keep_bodies=True, budget=table.budget),
            Http1Parser(self, 1, midstream=True, keep_bodies=True, budget=table.budget),
        )
        # The first bytes of each direction decide between TLS and the HTTP parser (see ``tls.start``).
        self.streams = (TcpStream(StreamStart(self, 0), table.budget), TcpStream(StreamStart(self, 1), table.budget))
        self.client: int | None = None
        self.unanswered: deque[PendingExchange] = deque()
        self.last_request: PendingExchange | None = None
        self.responding: PendingExchange | None = None
        self.interim = False
        self.desync = False
        """Server bytes were lost or skipped: the next response is placed by its acknowledgement alone."""
        self.client_lost = False
        """Client bytes were lost (requests may be missing): a response must acknowledge the whole head of the
        request it is paired with, else it answers a request the capture lacks."""
        self.tls = False
        self.tls_session: TlsSession | None = None
        self.tls_info: TlsInfo | None = None
        """What decrypted exchanges of this connection carry (set once keys opened its records)."""
        self.last_ts = ts
        self.reset_at: int | None = None
        self._malformed = [0, 0]
        self._label: str | None = None

    # -- naming ------------------------------------------------------------------------------------------

    def label(self) -> str:
        """``client -> server`` once the client is known (the first packet's sender -> its peer before)."""
        label = self._label
        if label is None:
            client = self.client or 0
            label = f"{self.endpoints[client]} -> {self.endpoints[1 - client]}"
            if self.client is not None:
                self._label = label
        return label

    def direction(self, side: int) -> str:
        if self.client is None:
            return f"{self.endpoints[side]} -> {self.endpoints[1 - side]}"
        return "client-to-server" if side == self.client else "server-to-client"

    # -- the HTTP sink -------------------------------------------------------------------------------------

    def on_request(self, parser: Http1Parser, head: MessageHead) -> None:
        side = parser.side
        if self.client is None:
            self.client = side
        elif side != self.client:
            self.on_malformed(parser, "a request sent by the server side; the direction is skipped", head.frames[0])
            parser.stop()
            return
        pending = PendingExchange(head, self._label or self.label(), self.endpoints[side], self.endpoints[1 - side])
        if self.tls_session is not None:
            pending.tls = self.exchange_tls()
        self.table.out.register(pending)
        if head.bad_lines or head.spaced_names:
            self._head_notes(pending, side, head)
        if not self._keeps(parser):
            parser.skip_body()
        self.unanswered.append(pending)
        self.last_request = pending
        if len(self.unanswered) > MAX_UNANSWERED:
            self._finish(self.unanswered.popleft())

    def on_response(self, parser: Http1Parser, head: MessageHead) -> str | None:
        side = parser.side
        if self.client is None:
            self.client = 1 - side
        elif side == self.client:
            self.on_malformed(parser, "a response sent by the client side; the direction is skipped", head.frames[0])
            parser.stop()
            return None
        status = head.status
        if status < 200 and status != 101:
            # Interim (100 Continue, 103 Early Hints): the final response is still to come.
            self.interim = True
            return self.unanswered[0].request.method if self.unanswered else None
        if parser.messages == 1 and head.start > 0:
            # The stream's first response follows bytes that were skipped (the tail of an earlier answer):
            # which request it answers is for the acknowledgement number to say.
            self.desync = True
        pending = self._pair(head)
        self.responding = pending
        if pending is None:
            self.table.stats.unpaired_responses += 1
            self.desync = True  # its request may still be parsed later, out of turn
            return None
        pending.response = head
        if head.bad_lines or head.spaced_names:
            self._head_notes(pending, side, head)
        if not self._keeps(parser):
            parser.skip_body()
            self._finish(pending)
        return pending.request.method

    def _head_notes(self, pending: PendingExchange, side: int, head: MessageHead) -> None:
        """What was wrong in a head that was still parsed: lines skipped, whitespace before a colon."""
        frame = head.frames[0]
        if head.bad_lines:
            reason = f"{head.bad_lines} header line(s) without a colon ignored"
            self._note(pending, self._malformed_notice(side, reason, frame), frame)
        if head.spaced_names:
            notice = self._malformed_notice(side, spaced_names_reason(head.spaced_names), frame)
            notice.evidence["spaced_header_names"] = list(dict.fromkeys(head.spaced_names))
            self._note(pending, notice, frame)

    def _keeps(self, parser: Http1Parser) -> bool:
        """``bodies.keeps`` of the head just parsed, asked of the fields that may be its content type alone."""
        return self.table.keep_bodies or wants_body(parser.named, request=parser.role == REQUEST)

    def _kept(self, head: MessageHead, body: bytes) -> bytes | None:
        # Only bodies _keeps accepted at the head reach here: their kind is not checked again.
        return kept_prefix(head.message, body, keep_all=self.table.keep_bodies)

    def on_message_end(self, parser: Http1Parser, body: bytes | None, complete: bool) -> None:
        del complete  # an incomplete body is already ``None``; the gap notice says why
        if parser.role == REQUEST:
            pending = self.last_request
            if pending is not None and not pending.finished:
                head = pending.request
                if parser.frame not in head.frames:  # named by its last frame too, as Wireshark shows it
                    head.frames = (*head.frames, parser.frame)
                if body is not None:
                    pending.request_body = self._kept(pending.request, body)
            return
        if self.interim:
            self.interim = False
            return
        pending, self.responding = self.responding, None
        if pending is not None and not pending.finished:
            if pending.response is not None and body is not None:
                pending.response_body = self._kept(pending.response, body)
            self._finish(pending)

    def on_malformed(self, parser: Http1Parser, reason: str, frame: int) -> None:
        side = parser.side
        self._lost(side)  # a message was skipped: pairing by turn no longer holds
        self._malformed[side] += 1
        if self._malformed[side] <= MALFORMED_PER_DIRECTION:
            self.table.out.notice(frame, self._malformed_notice(side, reason, frame))

    def on_gap(self, parser: Http1Parser, effect: GapEffect, seq: int, size: int, frame: int) -> None:
        if self.client is None:
            return  # nothing here has looked like HTTP: a gap in it breaks no exchange
        side = parser.side
        request_side = side == self.client
        what = "request" if request_side else "response"
        consequence = {
            "body": f"the body of a {what} is incomplete (the messages around it are intact)",
            "message": f"the rest of a {what} was lost; parsing resumed at the next message",
            "head": f"a {what} was lost; parsing resumed at the next message",
            "between": f"whole {what}s may have been lost; parsing resumed at the next message",
            "resync": f"whole {what}s may have been lost; parsing resumed at the next message",
        }[effect]
        start = parser.offset - size
        notice = Notice(
            rule="capture-gap",
            message=(
                f"{size} bytes missing from the capture in {self.label()} ({self.direction(side)}, stream bytes "
                f"{start}-{start + size - 1}, sequence {seq}): {consequence}"
            ),
            source=self.table.source,
            evidence={
                "connection": self.label(),
                "direction": self.direction(side),
                "from_seq": seq,
                "bytes_missing": size,
                "stream_offset": start,
                "frame": frame,
                "effect": effect,
            },
        )
        target: PendingExchange | None
        if effect != "body":
            # Messages may be missing (a gap that ended a message may have taken the next ones with it): pair
            # by acknowledgement number, not by turn alone.
            self._lost(side)
        if effect in ("body", "message"):
            target = self.last_request if request_side else self.responding
        else:
            target = None if request_side or not self.unanswered else self.unanswered[0]
        self._note(target, notice, frame)

    def on_tls(self, parser: Http1Parser) -> None:
        """The HTTP parser met a TLS record where the TLS stage did not (the direction began otherwise): the
        connection is counted as TLS nobody read."""
        if not self.tls:
            self.tls = True
            stats = self.table.stats
            stats.tls_connections += 1
            if stats.tls_servers is None:
                stats.tls_servers = {}
            if len(stats.tls_servers) < 10:
                stats.tls_servers[str(self.endpoints[1 - parser.side])] = None
            if self.tls_session is None:
                self.table.tls.count_unread(str(self.endpoints[1 - parser.side]))
        self.parsers[1 - parser.side].stop()

    def on_tunnel(self, parser: Http1Parser) -> None:
        self.parsers[1 - parser.side].stop()

    # -- TLS -----------------------------------------------------------------------------------------------

    def start_tls(self, side: int, frame: int, ts: int) -> None:
        """A TLS record began this direction: both directions that have not started yet are read as TLS."""
        session = self.tls_session
        if session is None:
            session = self.tls_session = self.table.tls.session(self, frame, ts)
            if not self.tls:
                self.tls = True
                stats = self.table.stats
                stats.tls_connections += 1
                if stats.tls_servers is None:
                    stats.tls_servers = {}
                if len(stats.tls_servers) < 10:
                    stats.tls_servers[str(self.endpoints[1 - side])] = None
        for index, stream in enumerate(self.streams):
            if index == side or isinstance(stream.consumer, StreamStart):
                stream.consumer = session.directions[index]

    def exchange_tls(self) -> TlsInfo | None:
        """What exchanges read from this connection's decrypted TLS carry."""
        info = self.tls_info
        if info is None and self.tls_session is not None:
            facts = self.tls_session.facts
            info = self.tls_info = TlsInfo(
                facts.version or "", facts.cipher or "", facts.sni, facts.alpn, facts.decrypted_with or ""
            )
        return info

    # -- pairing -----------------------------------------------------------------------------------------

    def _lost(self, side: int) -> None:
        """Messages of ``side`` may be missing."""
        if side == self.client:
            self.client_lost = True
        else:
            self.desync = True

    def _pair(self, head: MessageHead) -> PendingExchange | None:
        """The request a response answers, on TCP evidence; ``None`` when the evidence names none.

        In step on the server side (nothing lost or skipped since the last pairing), responses answer requests
        in order, pipelining included (acknowledgements cannot tell pipelined requests apart), unless the
        response's acknowledgement shows the server had not yet received the oldest request: then it answers a
        request the capture does not hold. "Not received" is before the request's first byte; once client bytes
        were lost, before the end of its head (a real stack acknowledges a head before answering it; some
        hand-made captures acknowledge nothing, and are still paired while nothing was lost). Out of step on the
        server side, the response answers the last request whose head the server had received when it began;
        the requests before it had their responses in the lost bytes and keep status unknown."""
        queue = self.unanswered
        if not queue:
            return None
        acked = self._acked(head.ack)
        if not self.desync:
            received = queue[0].request.end if self.client_lost else queue[0].request.start
            if acked is not None and acked < received:
                return None
            return queue.popleft()
        if acked is None:
            return queue.popleft() if len(queue) == 1 else None
        chosen = -1
        for index, pending in enumerate(queue):
            if pending.request.end <= acked:
                chosen = index
        if chosen < 0:
            return None
        for _ in range(chosen):
            self._lost_response(queue.popleft(), head)
        self.desync = False
        return queue.popleft()

    def _lost_response(self, pending: PendingExchange, later: MessageHead) -> None:
        """The server answered a later request: this one's response is in bytes the capture lacks."""
        frame = later.frames[0]
        notice = Notice(
            rule="capture-gap",
            message=(
                f"The response to the request at frame {pending.request.frames[0]} in {self.label()} was not "
                f"captured: the server's response at frame {frame} acknowledges a later request, so this one's "
                "answer was in bytes the capture lacks (its status is unknown)"
            ),
            source=self.table.source,
            evidence={
                "connection": self.label(),
                "direction": "server-to-client",
                "frame": frame,
                "effect": "response-lost",
            },
        )
        if not any(note.rule == "capture-gap" for note in pending.notes):  # one gap notice says it already
            self._note(pending, notice, frame)
        self._finish(pending)

    def _acked(self, ack: int) -> int | None:
        """The client stream offset a server segment's acknowledgement number names (``None`` when unknown)."""
        if ack < 0 or self.client is None:
            return None
        stream = self.streams[self.client]
        if stream.next_seq is None:
            return None
        delta = (ack - stream.next_seq) & MASK
        return self.parsers[self.client].offset + (delta - MASK - 1 if delta >= HALF else delta)

    def _note(self, target: PendingExchange | None, notice: Notice, frame: int) -> None:
        if target is None or target.id is not None:
            if target is not None:
                notice = Notice(notice.rule, notice.message, notice.source, target.id, notice.evidence)
            self.table.out.notice(frame, notice)
        else:
            target.notes.append(notice)

    def _finish(self, pending: PendingExchange) -> None:
        if not pending.finished:
            self.table.out.finish(pending)

    def _malformed_notice(self, side: int, reason: str, frame: int) -> Notice:
        what = "response" if self.client is not None and side != self.client else "request"
        return Notice(
            rule="http-malformed",
            message=f"Malformed HTTP {what} in {self.label()} at frame {frame}: {reason}",
            source=self.table.source,
            evidence={"connection": self.label(), "direction": self.direction(side), "frame": frame, "reason": reason},
        )

    # -- the end -----------------------------------------------------------------------------------------

    def close(self, frame: int) -> None:
        """Flush both directions and output every request still held, answered or not."""
        for stream in self.streams:
            stream.flush(frame)
        order = (self.client, 1 - self.client) if self.client is not None else (0, 1)
        for side in order:
            self.parsers[side].finish(frame)
        if self.tls_session is not None:
            self.tls_session.close(frame)
            self.tls_session = None
        while self.unanswered:
            self._finish(self.unanswered.popleft())
        if self.responding is not None:
            self._finish(self.responding)
            self.responding = None
        for stream in self.streams:
            stream.release()
        # The parsers and streams point back at the connection: drop them, so a closed connection is freed
        # when the table lets go of it rather than when the cycle collector next looks at old objects (with
        # thousands of long TLS connections that wait grew the reader's RSS by a third).
        del self.parsers, self.streams


class ConnectionTable:
    def __init__(
        self,
        out: OrderedOutput,
        source: str,
        *,
        keep_bodies: bool,
        budget: MemoryBudget,
        keylog: KeyLog | None = None,
        on_tls: Callable[[TlsFacts], None] | None = None,
    ) -> None:
        self.out = out
        self.source = source
        self.keep_bodies = keep_bodies
        self.budget = budget
        self.stats = CaptureStats()
        self.tls = TlsTracker(out, source, keylog, on_tls)
        self._halves: dict[Key, Half] = {}
        self._closed: dict[Key, int] = {}
        self._reset: deque[Connection] = deque()

    def __len__(self) -> int:
        return len(self._halves) // 2

    def segment(self, segment: Segment, frame: int, ts: int) -> None:
        src, dst, sport, dport, seq, ack, flags, payload = segment
        key = (src, dst, sport, dport)
        entry = self._halves.get(key)
        if entry is None or flags & SYN:
            entry = self._start(entry, key, flags, seq, frame, ts)
            if entry is None:
                return
        conn, side, stream, peer = entry
        conn.last_ts = ts
        if flags & ACK:
            if ack != peer.next_seq:
                peer.peer_ack(ack, frame)
        else:
            ack = -1
        if flags & SYN:
            if stream.next_seq is None:
                stream.syn(seq)
                conn.parsers[side].midstream = False
            seq = (seq + 1) & MASK
        if payload:
            consumer = stream.consumer
            if consumer.ignore:
                pass
            elif seq == stream.next_seq and not stream.stored and stream.fin_seq is None:
                # In order, nothing waiting: the common case, without a call into reassembly.
                stream.next_seq = (seq + len(payload)) & MASK
                if isinstance(consumer, Http1Parser):  # the common consumer, named: a compiled build calls it natively
                    consumer.data(payload, frame, ts, ack)
                else:
                    consumer.data(payload, frame, ts, ack)
            else:
                stream.segment(seq, payload, frame, ts, ack)
        if flags & (FIN | RST):
            if flags & FIN:
                stream.fin((seq + len(payload)) & MASK, frame)
            if flags & RST:
                if conn.reset_at is None:
                    conn.reset_at = ts
                    self._reset.append(conn)
            elif stream.finished and peer.finished:
                self._close(conn, frame, ts)

    def _start(self, entry: Half | None, key: Key, flags: int, seq: int, frame: int, ts: int) -> Half | None:
        """The connection a packet belongs to when it is new, or a SYN that may open a new one on old ports."""
        if entry is None:
            return self._open(key, flags, ts)
        if flags & ACK:
            return entry
        stream = entry[2]
        if stream.isn == seq or (stream.isn is None and stream.next_seq is None):
            return entry  # a retransmitted SYN, or the first one seen
        # A new connection on the same addresses and ports.
        self._close(entry[0], frame, ts)
        return self._open(key, flags, ts)

    def reap(self, now: int, frame: int) -> None:
        """Close reset connections that stayed quiet for ``RESET_LINGER_US``."""
        reset = self._reset
        while reset and now - reset[0].last_ts > RESET_LINGER_US:
            self._close(reset.popleft(), frame, now)
        if len(reset) > MAX_CONNECTIONS:  # reset but still busy: rare; keep the queue bounded
            self._reset = deque(conn for conn in reset if conn.key in self._halves)

    def sweep(self, now: int, frame: int) -> None:
        """Close connections idle for ``IDLE_US``, then the least recently active beyond ``MAX_CONNECTIONS``;
        forget connections closed longer than ``CLOSED_LINGER_US`` ago."""
        closed = self._closed
        while closed and now - next(iter(closed.values())) > CLOSED_LINGER_US:
            del closed[next(iter(closed))]
        conns = self._connections()
        for conn in conns:
            if now - conn.last_ts > IDLE_US:
                self._close(conn, frame, now)
        excess = len(self) - MAX_CONNECTIONS
        if excess > 0:
            for conn in sorted(self._connections(), key=lambda c: c.last_ts)[:excess]:
                self._close(conn, frame, now)

    def close_all(self, frame: int) -> None:
        for conn in self._connections():
            self._close(conn, frame, None)

    def _connections(self) -> list[Connection]:
        return [half[0] for half in self._halves.values() if half[1] == 0]

    def _open(self, key: Key, flags: int, ts: int) -> Half | None:
        src, dst, sport, dport = key
        reverse = (dst, src, dport, sport)
        closed_at = self._closed.get(key)
        if closed_at is not None:
            if not flags & SYN and ts - closed_at < CLOSED_LINGER_US:
                return None  # a late packet (retransmission, final ACK) of a connection already closed
            self._closed.pop(key, None)
            self._closed.pop(reverse, None)
        if flags & RST:
            return None
        conn = Connection(self, src, dst, sport, dport, ts)
        first, second = conn.streams
        half = (conn, 0, first, second)
        self._halves[key] = half
        self._halves[reverse] = (conn, 1, second, first)
        return half

    def _close(self, conn: Connection, frame: int, ts: int | None) -> None:
        key = conn.key
        src, dst, sport, dport = key
        reverse = (dst, src, dport, sport)
        half = self._halves.get(key)
        if half is None or half[0] is not conn:
            return  # already closed
        del self._halves[key]
        del self._halves[reverse]
        conn.close(frame)
        if ts is not None:
            closed = self._closed
            closed.pop(key, None)  # re-inserted at the end: the table stays in order of closing
            closed.pop(reverse, None)
            closed[key] = closed[reverse] = ts
            while len(closed) > MAX_CLOSED:
                del closed[next(iter(closed))]

    def encrypted_notice(self) -> Notice | None:
        """``capture-encrypted`` for the TLS connections seen, those still open included."""
        still_open = [conn.tls_session for conn in self._connections() if conn.tls_session is not None]
        return self.tls.encrypted_notice(still_open)
