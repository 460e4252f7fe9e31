"""Incremental HTTP/1.x parser for one direction of a reassembled TCP stream.

Bytes go in as reassembly delivers them (``data``), ranges the capture missed are announced (``gap``) and so is
the end of the stream (``finish``). Message heads and ends come out through an ``HttpSink``. The parser finds
HTTP by content, on any port: a request line or a status line at the start of the stream. A stream that starts
with anything else is ignored cheaply (TLS is reported to the sink first); one whose start was not captured,
or that lost bytes, is scanned for the next request or status line (``resync``).

The head grammar (start lines, header fields, body framing) is in ``http_heads``; the search for the next
message after lost or skipped bytes in ``http_resync``; this module is the state machine between them.

Every buffer is bounded: a header block by ``HEAD_LIMIT`` (beyond ``FREE_HEAD`` it draws on the shared memory
budget), lines of the chunked coding by ``LINE_LIMIT``, the resync window by ``MAX_LINE``, kept bodies by
``BODY_LIMIT``. Where a limit is hit the message is reported malformed and the direction is skipped or resynced.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final, Literal, Protocol

from inspector.model import Headers, HttpRequest, HttpResponse
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.http_heads import (
    REQUEST,
    REQUEST_LINE,
    RESPONSE,
    STATUS_LINE,
    body_framing,
    crlf_fields,
    head_end,
    parse_head,
)
from inspector.sources.pcap.http_resync import MAX_LINE, find_message_start

__all__ = [
    "BODY_LIMIT",
    "FREE_HEAD",
    "HEAD_LIMIT",
    "MAX_LINE",
    "REQUEST",
    "RESPONSE",
    "GapEffect",
    "Http1Parser",
    "HttpSink",
    "MessageHead",
]

HEAD_LIMIT: Final = 1 << 20
FREE_HEAD: Final = 64 << 10
LINE_LIMIT: Final = 4 << 10
TRAILER_LIMIT: Final = 64 << 10
BODY_LIMIT: Final = 1 << 20
MAX_HEAD_FRAMES: Final = 256

GapEffect = Literal["body", "message", "head", "between", "resync"]
"""What a gap did to the message in progress: only its body lost bytes (framing kept), the rest of the message
was lost, a partial head was lost, it fell between messages, or it fell while already searching for one."""

# Parser states, and the lines of the chunked coding. ``Final``: a compiled build reads them as constants, not as
# module attributes looked up on every test of the state.
_HEAD: Final = 0
_BODY: Final = 1
_LINE: Final = 2
_TO_CLOSE: Final = 3
_RESYNC: Final = 4
_OPAQUE: Final = 5
_CHUNK_SIZE: Final = 0
_CHUNK_END: Final = 1
_TRAILER: Final = 2

# Could the first bytes of a stream still become a request or status line?
_PLAUSIBLE_START: Final = re.compile(rb"HTTP/|[A-Z][A-Z0-9_-]{0,31}(?: |\Z)")
_CHUNK_SIZE_RE: Final = re.compile(rb"[ \t]*([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?")


class MessageHead:
    """A parsed request or response head and where it was on the wire.

    A plain class rather than a ``NamedTuple``: a compiled build makes one per head natively, where a named
    tuple's constructor is Python code."""

    __slots__ = ("ack", "bad_lines", "end", "frames", "message", "method", "spaced_names", "start", "status", "ts")

    def __init__(
        self,
        message: HttpRequest | HttpResponse,
        method: str,
        status: int,
        frames: tuple[int, ...],
        ts: int,
        ack: int,
        end: int,
        bad_lines: int,
        start: int = 0,
        spaced_names: tuple[str, ...] = (),
    ) -> None:
        self.message = message
        """The start line and headers (bodies are added when the exchange is output)."""
        self.method = method
        """The request method (empty for a response)."""
        self.status = status
        """The response status (0 for a request)."""
        self.frames = frames
        """Frames that carried the head, first one first."""
        self.ts = ts
        """Capture time of the first frame, microseconds since the epoch."""
        self.ack = ack
        """TCP acknowledgement number of the first frame (``-1`` when it had none): how much of the other direction
        the sender had received, which pairs a response with its request after a gap."""
        self.end = end
        """Stream offset just after the head."""
        self.bad_lines = bad_lines
        """Header lines without a colon, skipped."""
        self.start = start
        """Stream offset of the head's first byte (more than 0 for a stream's first message: bytes were skipped)."""
        self.spaced_names = spaced_names
        """Header names that had whitespace before their colon (kept, without it; servers must reject such lines)."""


class HttpSink(Protocol):
    def on_request(self, parser: Http1Parser, head: MessageHead) -> None: ...

    def on_response(self, parser: Http1Parser, head: MessageHead) -> str | None:
        """Pair the response; return the method of the request it answers (``None`` when unknown)."""
        ...

    def on_message_end(self, parser: Http1Parser, body: bytes | None, complete: bool) -> None: ...

    def on_malformed(self, parser: Http1Parser, reason: str, frame: int) -> None: ...

    def on_gap(self, parser: Http1Parser, effect: GapEffect, seq: int, size: int, frame: int) -> None: ...

    def on_tls(self, parser: Http1Parser) -> None: ...

    def on_tunnel(self, parser: Http1Parser) -> None: ...


class Http1Parser:
    """One direction of one connection. ``side`` is opaque to the parser; the sink uses it."""

    __slots__ = (
        "_body",
        "_body_complete",
        "_buf",
        "_buf_start",
        "_chunked",
        "_chunks",
        "_frames",
        "_keep_bodies",
        "_last_nl",
        "_lf_only",
        "_line_kind",
        "_msg_ack",
        "_msg_frame",
        "_msg_start",
        "_msg_ts",
        "_nl_from",
        "_remaining",
        "_reserved",
        "_scan",
        "_term_scan",
        "_trailer_bytes",
        "_verified",
        "budget",
        "frame",
        "ignore",
        "messages",
        "midstream",
        "named",
        "offset",
        "role",
        "side",
        "sink",
        "state",
    )

    def __init__(self, sink: HttpSink, side: int, *, midstream: bool, keep_bodies: bool, budget: MemoryBudget) -> None:
        self.sink = sink
        self.side = side
        self.midstream = midstream
        """True when the stream's start was not captured: then its first bytes need not start a message."""
        self.budget = budget
        self.state = _HEAD
        self.role = 0
        self.messages = 0
        self.offset = 0
        """Stream offset of the next byte (gaps included)."""
        self.frame = 0
        """The frame that carried the latest bytes: where a message that ends now ended."""
        self.ignore = False
        """Set once the direction is not (or no longer) HTTP: reassembly can stop feeding it."""
        self.named: Headers = ()
        """The latest head's fields that the reader looks up by name (``crlf_fields``; every field of a head that
        was not plain), in wire order: the sink reads the content type here rather than in all the headers."""
        self._keep_bodies = keep_bodies
        self._buf = bytearray()
        self._buf_start = 0
        self._scan = 0
        self._nl_from = 0
        self._term_scan = 0
        self._lf_only = False
        self._verified = False
        self._frames: tuple[int, ...] = ()
        """Frames that carried the head being read (a tuple, as the head takes it: most heads have one frame)."""
        self._chunks: deque[tuple[int, int, int, int]] = deque()
        self._last_nl = -1
        self._msg_frame = 0
        self._msg_ts = 0
        self._msg_ack = -1
        self._msg_start = 0
        self._remaining = 0
        self._chunked = False
        self._line_kind = _CHUNK_SIZE
        self._trailer_bytes = 0
        self._body: bytearray | None = None
        self._body_complete = True
        self._reserved = 0

    # -- input -------------------------------------------------------------------------------------------

    def data(self, data: bytes, frame: int, ts: int, ack: int) -> None:
        n = len(data)
        self.frame = frame
        if self.state == _BODY and n < self._remaining:  # the bulk of a body: skipped, or kept whole
            body = self._body
            if body is None:
                self._remaining -= n
                self.offset += n
                return
            if len(body) + n <= BODY_LIMIT:
                body += data
                self._remaining -= n
                self.offset += n
                return
        pos = 0
        while pos < n:
            state = self.state
            if state == _BODY:
                take = self._remaining
                take = min(take, n - pos)
                if self._body is not None:
                    self._keep(data, pos, pos + take)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._body_part_done()
            elif state == _HEAD:
                pos = self._head(data, pos, frame, ts, ack)
            elif state == _LINE:
                pos = self._line(data, pos, frame)
            elif state == _TO_CLOSE:
                if self._body is not None:
                    self._keep(data, pos, n)
                pos = n
            elif state == _RESYNC:
                pos = self._resync(data, pos, frame, ts, ack)
            else:
                break
        self.offset += n

    def gap(self, seq: int, size: int, frame: int) -> None:
        state = self.state
        self.offset += size
        if state == _OPAQUE:
            return
        if (state == _BODY and size <= self._remaining) or state == _TO_CLOSE:
            # Only body bytes are missing: the message's framing, and the next message, are still known.
            # The sink hears of the gap while the message is still the one in progress.
            self._lose_body()
            self.sink.on_gap(self, "body", seq, size, frame)
            if state == _BODY:
                self._remaining -= size
                if not self._remaining:
                    self._body_part_done()
            return
        effect: GapEffect
        if state in (_BODY, _LINE):
            effect = "message"
        elif state == _HEAD:
            effect = "head" if self._buf else "between"
        else:
            effect = "resync"
        self.sink.on_gap(self, effect, seq, size, frame)
        if effect == "message":
            self._lose_body()
            self._end_message(frame)
        self._enter_resync()

    def finish(self, frame: int) -> None:
        """The stream ended (FIN, RST, eviction or the end of the capture)."""
        state = self.state
        if state == _TO_CLOSE:
            self._end_message(frame)
        elif state in (_BODY, _LINE):
            self._lose_body()
            self._end_message(frame)
        self._opaque()

    def stop(self) -> None:
        """Ignore the rest of this direction (the connection became a tunnel, or is not HTTP)."""
        self._opaque()

    # -- heads -------------------------------------------------------------------------------------------

    def _head(self, data: bytes, pos: int, frame: int, ts: int, ack: int) -> int:
        n = len(data)
        buf = self._buf
        if not buf:
            # Blank lines between messages are tolerated (some clients send CRLF after a body).
            while pos < n and data[pos] in b"\r\n":
                pos += 1
            if pos == n:
                return n
            self._msg_frame = frame
            self._msg_ts = ts
            self._msg_ack = ack
            self._msg_start = self.offset + pos
            self._frames = (frame,)
            end = data.find(b"\r\n\r\n", pos)
            if end >= 0:
                if self._whole_head(data, pos, end + 4, frame):
                    return end + 4
                self._term_scan = 0
            else:  # not in these bytes: the search resumes after them
                self._term_scan = max(0, n - pos - 3)
        elif self._frames[-1] != frame and len(self._frames) < MAX_HEAD_FRAMES:
            self._frames = (*self._frames, frame)
        consumed_from = pos
        buf += memoryview(data)[pos:]
        return self._scan_head(n, n - consumed_from, frame)

    def _scan_head(self, n: int, fresh: int, frame: int) -> int:
        """Look for the end of the head in the buffer, whose last ``fresh`` bytes are the tail of the current
        input (of length ``n``); return how far into the input the parser has consumed."""
        buf = self._buf
        if not self._verified:
            verdict = self._verify_start(frame)
            if verdict is None:  # not a message: the state changed to resync or opaque
                if self.state == _RESYNC:
                    return self._resync_scan(n, fresh, frame)
                return n
            if not verdict:
                return n
        if self._lf_only:
            end = head_end(buf, self._term_scan)
        else:
            end = buf.find(b"\r\n\r\n", self._term_scan)
            if end >= 0:
                end += 4
        if end < 0:
            self._term_scan = max(0, len(buf) - 3)
            if len(buf) > FREE_HEAD and not self._reserve(len(buf)):
                self._malformed("header block exceeds 1 MiB or the memory budget; the direction is skipped", frame)
                self._opaque()
            return n
        text = buf[:end].decode("latin-1")
        fields = crlf_fields(text)
        if fields is None:
            # Not plain CRLF: the head may end earlier, at a bare LF LF.
            true_end = head_end(buf, 0)
            if 0 <= true_end < end:
                end = true_end
                text = buf[:end].decode("latin-1")
        rest = len(buf) - end
        self._clear_buf()
        self._verified = False
        if rest > fresh:  # the head ended in bytes buffered earlier: what followed it cannot be replayed
            self._malformed("inconsistent line ends in the header block; scanning for the next message", frame)
            self._enter_resync()
            return n
        if fields is not None:
            self._on_head(fields[0], fields[1], 0, fields[2], self._msg_start + end, frame)
        else:
            start_line, parsed = parse_head(text)
            self._on_head(
                start_line,
                parsed.headers,
                parsed.bad_lines,
                parsed.headers,
                self._msg_start + end,
                frame,
                parsed.spaced_names,
            )
        # What follows the head is the tail of the current input.
        return n - rest

    def _whole_head(self, data: bytes, start: int, stop: int, frame: int) -> bool:
        """Parse a head that is wholly in ``data[start:stop]`` (ending in CRLF CRLF) without buffering it.
        ``False`` when it is not a plain head: the buffered path then decides what it is."""
        if not 0x41 <= data[start] <= 0x5A:
            return False
        line_end = data.find(b"\n", start, stop) + 1
        # A status line starts with "HTTP/", which is no request method (no "/" in one): one match decides.
        if data.startswith(b"HTTP/", start):
            if not STATUS_LINE.fullmatch(data, start, line_end):
                return False
            kind = RESPONSE
        elif REQUEST_LINE.fullmatch(data, start, line_end):
            kind = REQUEST
        else:
            return False
        if self.role and kind != self.role:
            return False
        fields = crlf_fields(data[start:stop].decode("latin-1"))
        if fields is None:
            return False
        self.role = kind
        self._on_head(fields[0], fields[1], 0, fields[2], self.offset + stop, frame)
        return True

    def _verify_start(self, frame: int) -> bool | None:
        """Is the buffer the start of a request or status line? ``False``: not known yet; ``None``: no."""
        buf = self._buf
        first = buf[0]
        if not 0x41 <= first <= 0x5A:  # a request method or "HTTP/" starts with a capital letter
            if self.messages == 0 and not self.role and 0x14 <= first <= 0x17:
                if len(buf) < 3:
                    return False
                if buf[1] == 3 and buf[2] <= 4:  # a TLS record header
                    self._opaque()
                    self.sink.on_tls(self)
                    return None
            self._not_a_message(frame)
            return None
        nl = buf.find(b"\n", self._scan)
        if nl < 0:
            self._scan = len(buf)
            if len(buf) > MAX_LINE or not _PLAUSIBLE_START.match(buf, 0, 40):
                self._not_a_message(frame)
                return None
            return False
        self._scan = 0
        if REQUEST_LINE.fullmatch(buf, 0, nl + 1):
            kind = REQUEST
        elif STATUS_LINE.fullmatch(buf, 0, nl + 1):
            kind = RESPONSE
        else:
            self._not_a_message(frame)
            return None
        if self.role and kind != self.role:
            self._not_a_message(frame)
            return None
        self.role = kind
        self._verified = True
        self._lf_only = buf[nl - 1] != 0x0D
        if self._lf_only:
            # The search so far was for CRLF CRLF: a bare LF LF may lie in bytes it already passed.
            self._term_scan = 0
        return True

    def _not_a_message(self, frame: int) -> None:
        """The buffer does not start a message where one was due."""
        if self.messages == 0 and not self.role and not self.midstream:
            self._opaque()  # a stream that never looked like HTTP: not ours
            return
        if self.messages or self.role:
            what = "status line" if self.role == RESPONSE else "request line"
            self._malformed(f"broken {what}; scanning for the next message", frame)
        # Keep the bytes: the next message may start inside them.
        chunk = (self._msg_start, self._msg_frame, self._msg_ts, self._msg_ack)
        self.state = _RESYNC
        self._verified = False
        self._buf_start = self._msg_start
        self._chunks = deque([chunk])
        self._last_nl = self._buf.rfind(b"\n")
        if self._last_nl >= 0:
            self._last_nl += self._buf_start
        # Skip the first byte: it is the start that was just rejected.
        self._scan = 1
        self._nl_from = 0

    def _on_head(
        self,
        start_line: str,
        headers: Headers,
        bad_lines: int,
        named: Headers,
        end: int,
        frame: int,
        spaced_names: tuple[str, ...] = (),
    ) -> None:
        is_request = self.role == REQUEST
        message: HttpRequest | HttpResponse
        if is_request:
            method, target, version = start_line.split(" ", 2)
            message = HttpRequest(method, target, version, headers)
            status = 0
        else:
            version, _, rest = start_line.partition(" ")
            status = int(rest[:3])
            message = HttpResponse(status, rest[4:], version, headers)
            method = ""
        head = MessageHead(
            message,
            method,
            status,
            self._frames,
            self._msg_ts,
            self._msg_ack,
            end,
            bad_lines,
            self._msg_start,
            spaced_names,
        )
        self.messages += 1
        self._body = bytearray() if self._keep_bodies else None
        self._body_complete = True
        self.named = named
        framing = body_framing(named) if named else None
        if is_request:
            self.sink.on_request(self, head)
            if framing in {"chunked", "chunked-last"}:
                self._start_chunked()
            elif framing is None or framing == "other":
                self._end_message(frame)
            elif isinstance(framing, int):
                self._start_length(framing, frame)
            else:
                self._malformed("conflicting or invalid Content-Length; scanning for the next message", frame)
                self._end_message(frame)
                self._enter_resync()
            return
        request_method = self.sink.on_response(self, head)
        if self.state == _OPAQUE:
            return
        if status == 101 or (request_method == "CONNECT" and 200 <= status < 300):
            # The connection now carries another protocol in both directions.
            self._end_message(frame)
            self.sink.on_tunnel(self)
            self._opaque()
        elif status < 200 or status in (204, 304) or request_method == "HEAD":
            self._end_message(frame)
        elif framing == "chunked-last":
            self._start_chunked()
        elif isinstance(framing, int):
            self._start_length(framing, frame)
        elif framing == "invalid":
            self._malformed("conflicting or invalid Content-Length; scanning for the next message", frame)
            self._end_message(frame)
            self._enter_resync()
        else:  # no length, or a transfer coding other than chunked last: the body ends with the connection
            self.state = _TO_CLOSE

    def _start_length(self, length: int, frame: int) -> None:
        if length:
            self.state = _BODY
            self._chunked = False
            self._remaining = length
        else:
            self._end_message(frame)

    def _start_chunked(self) -> None:
        self.state = _LINE
        self._chunked = True
        self._line_kind = _CHUNK_SIZE
        self._trailer_bytes = 0

    # -- bodies ------------------------------------------------------------------------------------------

    def _keep(self, data: bytes, start: int, stop: int) -> None:
        body = self._body
        assert body is not None
        room = BODY_LIMIT - len(body)
        if room <= 0:
            return
        if not start and stop == len(data) and stop <= room:  # the common case: a whole segment of the body
            body += data
        else:
            body += memoryview(data)[start : min(stop, start + room)]

    def skip_body(self) -> None:
        """Do not keep the body of the message whose head was just reported (the sink does not read it)."""
        self._body = None

    def _lose_body(self) -> None:
        self._body_complete = False
        self._body = None

    def _body_part_done(self) -> None:
        if self._chunked:
            self.state = _LINE
            self._line_kind = _CHUNK_END
        else:
            self._end_message(0)

    def _line(self, data: bytes, pos: int, frame: int) -> int:
        """A line of the chunked coding: a chunk size, the CRLF after a chunk, or a trailer field."""
        n = len(data)
        nl = data.find(b"\n", pos)
        buf = self._buf
        if nl < 0:
            buf += memoryview(data)[pos:]
            if len(buf) > LINE_LIMIT:
                self._clear_buf()
                self._malformed("chunked coding line too long; scanning for the next message", frame)
                self._lose_body()
                self._end_message(frame)
                self._enter_resync()
            return n
        if buf:
            buf += memoryview(data)[pos:nl]
            line = bytes(buf)
            self._clear_buf()
        else:
            line = data[pos:nl]
        pos = nl + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        kind = self._line_kind
        if kind == _CHUNK_SIZE:
            match = _CHUNK_SIZE_RE.fullmatch(line)
            if match is None:
                self._malformed("invalid chunk size; scanning for the next message", frame)
                self._lose_body()
                self._end_message(frame)
                self._enter_resync()
                return pos
            size = int(match.group(1), 16)
            if size:
                self.state = _BODY
                self._remaining = size
            else:
                self._line_kind = _TRAILER
        elif kind == _CHUNK_END:
            if line:
                self._malformed("chunk data not followed by CRLF; scanning for the next message", frame)
                self._lose_body()
                self._end_message(frame)
                self._enter_resync()
                return pos
            self._line_kind = _CHUNK_SIZE
        elif not line:  # the empty line after the trailer fields ends the message
            self._end_message(frame)
        else:
            self._trailer_bytes += len(line)
            if self._trailer_bytes > TRAILER_LIMIT:
                self._malformed("trailer fields too long; scanning for the next message", frame)
                self._lose_body()
                self._end_message(frame)
                self._enter_resync()
        return pos

    def _end_message(self, frame: int) -> None:
        del frame  # the sink knows the frame of the message's head; the end needs none
        body = self._body
        complete = self._body_complete
        self._body = None
        self._body_complete = True
        self.state = _HEAD
        self._verified = False
        self.sink.on_message_end(self, bytes(body) if body is not None and complete else None, complete)

    # -- resync ------------------------------------------------------------------------------------------

    def _enter_resync(self) -> None:
        self._clear_buf()
        self.state = _RESYNC
        self._verified = False
        self._chunks.clear()
        self._last_nl = -1
        self._scan = 0

    def _resync(self, data: bytes, pos: int, frame: int, ts: int, ack: int) -> int:
        n = len(data)
        buf = self._buf
        at = self.offset + pos
        if not buf:
            self._buf_start = at
        self._chunks.append((at, frame, ts, ack))
        nl = data.rfind(b"\n", pos)
        if nl >= 0:
            self._last_nl = at + (nl - pos)
        buf += memoryview(data)[pos:]
        return self._resync_scan(n, n - pos, frame)

    def _resync_scan(self, n: int, fresh: int, frame: int) -> int:
        buf = self._buf
        start, waiting = find_message_start(buf, self._scan, self.role, self._nl_from)
        if start >= 0:
            self._nl_from = 0
            return self._resume_at(start, n, fresh, frame)
        # Keep what a message could still start in: the current line (a request line ends in "HTTP/1.x")
        # and a partial "HTTP/1." at the end.
        self._scan = waiting if waiting >= 0 else max(0, len(buf) - 6)
        # An unfinished line has no newline up to here: the next search for its end resumes here.
        self._nl_from = len(buf) if waiting >= 0 else 0
        keep_from = min(self._scan, max(0, self._last_nl + 1 - self._buf_start))
        keep_from = max(keep_from, len(buf) - MAX_LINE)
        if keep_from > 0:
            del buf[:keep_from]
            self._buf_start += keep_from
            self._scan -= keep_from
            self._nl_from = max(0, self._nl_from - keep_from)
            chunks = self._chunks
            while len(chunks) > 1 and chunks[1][0] <= self._buf_start:
                chunks.popleft()
        return n

    def _resume_at(self, start: int, n: int, fresh: int, frame: int) -> int:
        """A message starts at ``buf[start]``: parse its head from there."""
        at = self._buf_start + start
        first = self._chunks[0]
        later: list[int] = []
        for chunk in self._chunks:
            if chunk[0] <= at:
                first = chunk
            elif len(later) < MAX_HEAD_FRAMES:
                later.append(chunk[1])
        _, self._msg_frame, self._msg_ts, self._msg_ack = first
        self._msg_start = at
        self._frames = tuple(dict.fromkeys([first[1], *later]))
        self._chunks.clear()
        buf = self._buf
        del buf[:start]
        kind = REQUEST if buf[:5] != b"HTTP/" else RESPONSE
        self.role = self.role or kind
        self.state = _HEAD
        self._verified = True
        self._scan = 0
        self._term_scan = 0
        line_end = buf.find(b"\n")
        self._lf_only = line_end > 0 and buf[line_end - 1] != 0x0D
        # The bytes before the start were dropped; those still buffered came from the current input only if
        # they are among its ``fresh`` tail, which ``_scan_head`` accounts for.
        return self._scan_head(n, min(fresh, len(buf)), frame)

    # -- helpers -----------------------------------------------------------------------------------------

    def _reserve(self, size: int) -> bool:
        need = size - FREE_HEAD - self._reserved
        if need <= 0:
            return True
        if size > HEAD_LIMIT:
            return False
        step = max(need, 64 << 10)
        if not self.budget.take(step):
            return False
        self._reserved += step
        return True

    def _clear_buf(self) -> None:
        self._buf.clear()
        self._scan = 0
        self._nl_from = 0
        if self._reserved:
            self.budget.give(self._reserved)
            self._reserved = 0

    def _opaque(self) -> None:
        self._clear_buf()
        self._chunks.clear()
        self._body = None
        self.state = _OPAQUE
        self.ignore = True

    def _malformed(self, reason: str, frame: int) -> None:
        self.sink.on_malformed(self, reason, frame)
