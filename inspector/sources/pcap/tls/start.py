"""The first bytes of a direction decide what reads it: a TLS record header starts a TLS session for the
connection; anything else goes to the HTTP/1.x parser, and this object leaves the path (the TCP stream is
pointed at the parser, so the common case pays for the decision once per direction)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.sources.pcap.tls.session import looks_like_tls

if TYPE_CHECKING:
    from inspector.sources.pcap.connections import Connection


class StreamStart:
    __slots__ = ("_head", "conn", "ignore", "side")

    def __init__(self, conn: Connection, side: int) -> None:
        self.conn = conn
        self.side = side
        self.ignore = False
        self._head = b""

    def data(self, data: bytes, frame: int, ts: int, ack: int) -> None:
        head = self._head + data if self._head else data
        if len(head) < 3 and 20 <= head[0] <= 24:
            self._head = head  # one or two bytes of what may be a record header
            return
        self._head = b""
        conn = self.conn
        if looks_like_tls(head):
            conn.start_tls(self.side, frame, ts)
        else:
            conn.streams[self.side].consumer = conn.parsers[self.side]
        conn.streams[self.side].consumer.data(head, frame, ts, ack)

    def gap(self, seq: int, size: int, frame: int) -> None:
        conn = self.conn
        parser = conn.parsers[self.side]
        conn.streams[self.side].consumer = parser
        if self._head:
            head, self._head = self._head, b""
            parser.data(head, frame, 0, -1)
        parser.gap(seq, size, frame)
