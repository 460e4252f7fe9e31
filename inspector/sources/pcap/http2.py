"""HTTP/2 read from both directions of a connection (decrypted TLS with ALPN ``h2``): frames cut with
``hyperframe``, header blocks decoded with ``hpack`` (one decoder per direction, as the peers' encoders keep their
own tables), and each stream made into an exchange like any HTTP/1.x one.

Bounded: a frame longer than ``MAX_FRAME`` or a header block longer than ``MAX_HEADER_BLOCK`` stops that direction
as malformed; at most ``MAX_OPEN_STREAMS`` requests wait for their responses. A direction whose header
compression state is lost (a gap, a broken block) cannot be read further and stops, saying so.
"""

from __future__ import annotations

from typing import Protocol

import hpack
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame, RstStreamFrame, SettingsFrame

from inspector.bodies import keeps, kept_prefix
from inspector.model import Endpoint, HttpRequest, HttpResponse, TlsInfo
from inspector.sources.pcap.http1 import MessageHead
from inspector.sources.pcap.ordering import OrderedOutput, PendingExchange, stopped_notice


class Http2Table(Protocol):
    """What the reader asks of its connection's table: where exchanges and notices go."""

    @property
    def out(self) -> OrderedOutput: ...
    @property
    def source(self) -> str: ...
    @property
    def keep_bodies(self) -> bool: ...


class Http2Connection(Protocol):
    """What the reader asks of its capture connection (``connections.Connection``): its table and its names. A
    protocol, not that class: a compiled build checks a parameter's class at run time, and tests feed fakes."""

    @property
    def table(self) -> Http2Table: ...
    @property
    def endpoints(self) -> tuple[Endpoint, Endpoint]: ...
    def label(self) -> str: ...
    def direction(self, side: int) -> str: ...
    def exchange_tls(self) -> TlsInfo | None: ...


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_FRAME = 1 << 20
MAX_HEADER_BLOCK = 1 << 20
MAX_OPEN_STREAMS = 1024
BODY_LIMIT = 1 << 20


class _Stream:
    __slots__ = ("body", "id", "pending", "request_ended")

    def __init__(self, stream_id: int, pending: PendingExchange) -> None:
        self.id = stream_id
        self.pending = pending
        self.body: bytearray | None = None
        self.request_ended = False


class _Direction:
    __slots__ = ("block", "block_end_stream", "block_frame", "block_stream", "buf", "decoder", "preface", "stopped")

    def __init__(self, *, preface: bool) -> None:
        self.buf = bytearray()
        self.decoder = hpack.Decoder()
        self.preface = preface
        self.stopped = False
        self.block: bytearray | None = None
        self.block_stream = 0
        self.block_frame = 0
        self.block_end_stream = False


class Http2Reader:
    """Both directions of one HTTP/2 connection; ``client`` is the side that sent the preface."""

    def __init__(self, conn: Http2Connection, client: int) -> None:
        self.conn = conn
        self.client = client
        self.directions = {client: _Direction(preface=True), 1 - client: _Direction(preface=False)}
        self.streams: dict[int, _Stream] = {}
        self.requests = 0

    def data(self, side: int, data: bytes, frame: int, ts: int) -> None:
        direction = self.directions[side]
        if direction.stopped:
            return
        buf = direction.buf
        buf += data
        if direction.preface:
            if len(buf) < len(PREFACE):
                if not PREFACE.startswith(bytes(buf)):
                    self._malformed(side, "the client did not start with the HTTP/2 preface", frame)
                return
            if not buf.startswith(PREFACE):
                self._malformed(side, "the client did not start with the HTTP/2 preface", frame)
                return
            del buf[: len(PREFACE)]
            direction.preface = False
        pos = 0
        while len(buf) - pos >= 9 and not direction.stopped:
            try:
                # Views of copies: a view into ``buf`` itself would forbid resizing it while hyperframe holds it.
                parsed, length = Frame.parse_frame_header(memoryview(bytes(buf[pos : pos + 9])))
            except HyperframeError as exc:
                self._malformed(side, f"a broken frame header ({exc})", frame)
                break
            if length > MAX_FRAME:
                self._malformed(side, f"a frame claiming {length} bytes", frame)
                break
            if len(buf) - pos - 9 < length:
                break
            try:
                parsed.parse_body(memoryview(bytes(buf[pos + 9 : pos + 9 + length])))
            except HyperframeError as exc:
                self._malformed(side, f"a broken {type(parsed).__name__} ({exc})", frame)
                break
            pos += 9 + length
            self._frame(side, direction, parsed, frame, ts)
        del buf[:pos]  # (empty already when the direction stopped)

    def _frame(self, side: int, direction: _Direction, parsed: Frame, frame: int, ts: int) -> None:
        if isinstance(parsed, HeadersFrame):
            direction.block = bytearray(parsed.data)
            direction.block_stream = parsed.stream_id
            direction.block_frame = frame
            direction.block_end_stream = "END_STREAM" in parsed.flags
            if "END_HEADERS" in parsed.flags:
                self._headers(side, direction, ts)
        elif isinstance(parsed, ContinuationFrame):
            if direction.block is None or parsed.stream_id != direction.block_stream:
                self._malformed(side, "a CONTINUATION frame outside a header block", frame)
                return
            direction.block += parsed.data
            if len(direction.block) > MAX_HEADER_BLOCK:
                self._malformed(side, "a header block larger than 1 MiB", frame)
                return
            if "END_HEADERS" in parsed.flags:
                self._headers(side, direction, ts)
        elif isinstance(parsed, DataFrame):
            stream = self.streams.get(parsed.stream_id)
            if stream is not None:
                self._body(side, stream, bytes(parsed.data), "END_STREAM" in parsed.flags)
        elif isinstance(parsed, SettingsFrame) and "ACK" not in parsed.flags:
            size = parsed.settings.get(SettingsFrame.HEADER_TABLE_SIZE)
            if size is not None:
                # The peer's encoder may use a table this large when talking to the side that said so.
                self.directions[1 - side].decoder.max_allowed_table_size = size
        elif isinstance(parsed, RstStreamFrame):
            stream = self.streams.pop(parsed.stream_id, None)
            if stream is not None:
                self._finish(stream)

    def _headers(self, side: int, direction: _Direction, ts: int) -> None:
        block, direction.block = direction.block, None
        assert block is not None
        frame, end_stream = direction.block_frame, direction.block_end_stream
        try:
            fields = [
                (bytes(n).decode("latin-1"), bytes(v).decode("latin-1"))
                for n, v in direction.decoder.decode(bytes(block), raw=True)
            ]
        except (hpack.HPACKError, ValueError) as exc:
            self._malformed(side, f"a header block that does not decode ({exc})", frame)
            return
        stream_id = direction.block_stream
        frames = (frame,)
        pseudo = {name: value for name, value in fields if name.startswith(":")}
        headers = tuple((name, value) for name, value in fields if not name.startswith(":"))
        if side == self.client:
            if stream_id in self.streams:
                return  # trailers
            self._request(stream_id, pseudo, headers, frames, ts, end_stream)
        else:
            self._response(stream_id, pseudo, headers, frames, ts, end_stream)

    def _request(
        self,
        stream_id: int,
        pseudo: dict[str, str],
        headers: tuple[tuple[str, str], ...],
        frames: tuple[int, ...],
        ts: int,
        end_stream: bool,
    ) -> None:
        conn = self.conn
        authority = pseudo.get(":authority")
        if authority is not None and not any(name.lower() == "host" for name, _ in headers):
            headers = (("host", authority), *headers)
        method = pseudo.get(":method", "")
        request = HttpRequest(method, pseudo.get(":path", "*"), "HTTP/2", headers)
        head = MessageHead(request, method, 0, frames, ts, -1, 0, 0)
        client, server = conn.endpoints[self.client], conn.endpoints[1 - self.client]
        pending = PendingExchange(head, conn.label(), client, server)
        pending.tls = conn.exchange_tls()
        conn.table.out.register(pending)
        stream = _Stream(stream_id, pending)
        stream.request_ended = end_stream
        self.streams[stream_id] = stream
        self.requests += 1
        if len(self.streams) > MAX_OPEN_STREAMS:
            oldest = next(iter(self.streams))
            self._finish(self.streams.pop(oldest))

    def _response(
        self,
        stream_id: int,
        pseudo: dict[str, str],
        headers: tuple[tuple[str, str], ...],
        frames: tuple[int, ...],
        ts: int,
        end_stream: bool,
    ) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.pending.response is not None:
            return  # a push, trailers, or the answer to a request the capture missed
        try:
            status = int(pseudo.get(":status", ""))
        except ValueError:
            return
        if status < 200:
            return  # interim: the final response is still to come
        response = HttpResponse(status, "", "HTTP/2", headers)
        stream.pending.response = MessageHead(response, "", status, frames, ts, -1, 0, 0)
        if end_stream or not keeps(response, keep_all=self.conn.table.keep_bodies):
            self.streams.pop(stream_id, None)
            self._finish(stream)
        else:
            stream.body = bytearray()

    def _body(self, side: int, stream: _Stream, data: bytes, end_stream: bool) -> None:
        pending = stream.pending
        if side == self.client:
            if keeps(pending.request.message, keep_all=self.conn.table.keep_bodies):
                kept = pending.request_body or b""
                pending.request_body = (kept + data)[:BODY_LIMIT]
            return
        if stream.body is not None and len(stream.body) < BODY_LIMIT:
            stream.body += data[: BODY_LIMIT - len(stream.body)]
        if end_stream:
            self.streams.pop(stream.id, None)
            self._finish(stream)

    def _finish(self, stream: _Stream) -> None:
        pending = stream.pending
        # Kept bodies are cut to the prefix the rules read (whole with the table's keep_bodies).
        keep_all = self.conn.table.keep_bodies
        if stream.body is not None and pending.response is not None:
            pending.response_body = kept_prefix(pending.response.message, bytes(stream.body), keep_all=keep_all)
        if pending.request_body is not None and not pending.finished:
            pending.request_body = kept_prefix(pending.request.message, pending.request_body, keep_all=keep_all)
        if not pending.finished:
            self.conn.table.out.finish(pending)

    def close(self) -> None:
        for stream in self.streams.values():
            self._finish(stream)
        self.streams.clear()

    def _malformed(self, side: int, reason: str, frame: int) -> None:
        direction = self.directions[side]
        direction.stopped = True
        direction.buf.clear()
        conn = self.conn
        table = conn.table
        stopped_notice(
            table.out, table.source, "http-malformed", "HTTP/2", conn.label(), conn.direction(side), frame, reason
        )
