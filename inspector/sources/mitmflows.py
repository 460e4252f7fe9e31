"""Read mitmproxy flow files (``.mitm``/``.flow``, written by ``mitmdump -w``) into ``HttpExchange``s.

A flow file is a sequence of tnetstring dicts, one per flow. This module frames them itself, so that each flow is
bounded in size and every problem can name the flow and its byte offset. A frame of the current format is read
straight into the parts an exchange is made of (``inspector.sources.mitm_state``); any other frame is handed to
mitmproxy's loader to become a flow (a plain frame parsed in one bounded pass by ``inspector.sources.tnetstring``,
any other through ``mitmproxy.io.FlowReader``). Both come to the one mapping, :func:`exchange_from_parts`, which the
live addon's flows come to as well. A flow that frames but does not load becomes an ``input-malformed`` notice; a
file that stops framing (truncated, corrupt) ends with ``InputError`` after the flows before it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from mitmproxy import http
from mitmproxy.flow import Flow
from mitmproxy.io import FlowReader, compat, tnetstring

from inspector.bodies import kept_body
from inspector.model import (
    BODY_KEEP_LIMIT,
    Endpoint,
    Headers,
    HttpExchange,
    HttpRequest,
    HttpResponse,
    InputError,
    Notice,
    Provenance,
    SourceItem,
)
from inspector.rules import RuleId
from inspector.sources.mitm_state import FlowParts, RequestParts, ResponseParts, read_parts
from inspector.sources.naming import exchange_id
from inspector.sources.pcap.http_heads import with_trimmed_names
from inspector.sources.tnetstring import read_frame

MAX_FLOW_BYTES = 1 << 40
"""A single flow larger than this is skipped with a notice (larger flows than ``BIG_FLOW_BYTES`` are read bounded)."""
BIG_FLOW_BYTES = 4 << 20
"""A flow larger than this is read piece by piece, its large byte strings (bodies) cut (``_bounded_frame``)."""
BIG_LEAF_BYTES = 1 << 20
"""A byte string in a large flow longer than this keeps its first ``BODY_KEEP_LIMIT`` bytes."""
MAX_FLOW_VALUES = 100_000
"""A real flow holds a few hundred tnetstring values; millions of tiny ones would cost gigabytes once parsed."""
MAX_FLOW_DEPTH = 32
MAX_BODY_BYTES = BODY_KEEP_LIMIT
MAX_FLOW_NOTICES = 100

_RULE: RuleId = "input-malformed"
_MAX_PREFIX_DIGITS = 12  # as mitmproxy's tnetstring reader allows


class _Damage(Exception):
    """The file stops being a sequence of tnetstrings here; nothing after it can be framed."""


def read_flows(
    path: Path, *, keep_bodies: bool = False, max_flow_bytes: int = MAX_FLOW_BYTES, label: str | None = None
) -> Iterator[SourceItem]:
    """Yield one ``HttpExchange`` per HTTP flow (id ``<label>:<n>``, n = position in the file from 1; the label
    defaults to the file name).

    Other flows (TCP, UDP, DNS) are skipped. Raises ``InputError`` for a file that cannot be read, after yielding
    every flow before the damage.
    """
    try:
        fo = path.open("rb")
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc), "check the path and its permissions") from exc
    with fo:
        if fo.read(8).removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
            raise _fail(path, "it is JSON (a HAR file?), not a mitmproxy flow file", "read it as HAR")
        fo.seek(0)
        yield from _read_frames(fo, path, keep_bodies, max_flow_bytes, label or path.name)


def _fail(path: Path, what: str, what_next: str) -> InputError:
    return InputError(f"Cannot read mitmproxy flow file {path}: {what}; {what_next}")


def _read_frames(fo: BinaryIO, path: Path, keep_bodies: bool, max_flow_bytes: int, label: str) -> Iterator[SourceItem]:
    notices = 0
    suppressed = 0
    position = 0
    while True:
        offset = fo.tell()
        try:
            frame = _next_frame(fo, max_flow_bytes)
        except _Damage as exc:
            yield from _suppressed_summary(label, suppressed)
            raise _fail(
                path,
                f"{exc} in flow {position} at offset {offset} ({position} flows before it were read)",
                "the file is truncated or corrupt; the flows before the damage were analysed",
            ) from None
        if frame is None:
            yield from _suppressed_summary(label, suppressed)
            return
        problem: str | None
        if isinstance(frame, str):
            problem = frame
            item: HttpExchange | None = None
        elif isinstance(frame, int):
            problem = f"the flow is {frame} bytes, over the {max_flow_bytes} byte limit"
            item = None
        else:
            item, problem = _item_from_frame(frame, label, position, keep_bodies)
        if item is not None:
            exchange, noticed = checked(item)
            yield exchange
            yield from noticed
        elif problem is not None and notices >= MAX_FLOW_NOTICES:
            suppressed += 1
        elif problem is not None:
            notices += 1
            yield Notice(
                rule=_RULE,
                message=f"Skipped flow {position} of {label} (offset {offset}): {problem}",
                source=label,
                exchange_id=exchange_id(label, position + 1),
                evidence={"entry": position, "offset": offset, "reason": problem},
            )
        position += 1


def _suppressed_summary(label: str, count: int) -> Iterator[Notice]:
    if count:
        yield Notice(
            rule=_RULE,
            message=f"{count} more flows of {label} could not be read (not listed one by one)",
            source=label,
            evidence={"count": count},
        )


def _next_frame(fo: BinaryIO, max_flow_bytes: int) -> bytes | int | str | None:
    """The next tnetstring as bytes; its size when it is over the limit (and was skipped); why it cannot be read
    (a large flow read bounded, see ``_bounded_frame``); ``None`` at the end."""
    first = fo.read(1)
    if not first:
        return None
    digits = b""
    char = first
    while char.isdigit():
        digits += char
        if len(digits) > _MAX_PREFIX_DIGITS:
            raise _Damage("an absurd length prefix")
        char = fo.read(1)
    if char != b":" or not digits:
        raise _Damage("no tnetstring length prefix")
    length = int(digits)
    if length > max_flow_bytes:
        fo.seek(length, io.SEEK_CUR)
        if not fo.read(1):
            raise _Damage(f"the file ends inside a {length} byte flow")
        return length
    if length > BIG_FLOW_BYTES:
        return _bounded_frame(fo, length)
    data = fo.read(length)
    tag = fo.read(1)
    if len(data) < length or not tag:
        raise _Damage(f"the file ends inside a {length} byte flow")
    return digits + b":" + data + tag


class _Shape(Exception):
    """A flow's tnetstring structure is wrong (the flow is skipped; the file goes on)."""


def _bounded_frame(fo: BinaryIO, length: int) -> bytes | str:
    """A large flow (at the file position, ``length`` bytes) re-encoded with every byte string longer than
    ``BIG_LEAF_BYTES`` cut to ``BODY_KEEP_LIMIT``, read piece by piece: a 200 MB body costs 64 KiB, not three
    copies of itself. Returns the frame, or why the flow cannot be read (the file position is then after it)."""
    start = fo.tell()
    end = start + length
    fo.seek(end)
    tag = fo.read(1)
    if not tag:
        raise _Damage(f"the file ends inside a {length} byte flow")
    fo.seek(start)
    try:
        inner = _bounded_children(fo, end, depth=1, values=[0])
    except _Shape as exc:
        problem = str(exc)
    else:
        fo.seek(end + 1)
        return b"%d:%s%s" % (len(inner), inner, tag)
    fo.seek(end + 1)
    return problem


def _bounded_children(fo: BinaryIO, end: int, *, depth: int, values: list[int]) -> bytes:
    """The tnetstrings between the file position and ``end``, re-encoded (see ``_bounded_frame``)."""
    out: list[bytes] = []
    while (at := fo.tell()) < end:
        head = fo.read(_MAX_PREFIX_DIGITS + 1)
        colon = head.find(b":")
        if colon <= 0 or not head[:colon].isdigit():
            raise _Shape(f"a malformed tnetstring at byte {at} of the file")
        size = int(head[:colon])
        data_start = at + colon + 1
        data_end = data_start + size
        if data_end >= end:
            raise _Shape(f"a tnetstring at byte {at} of the file overruns its container")
        values[0] += 1
        if values[0] > MAX_FLOW_VALUES:
            raise _Shape(f"it holds more than {MAX_FLOW_VALUES} values")
        fo.seek(data_end)
        tag = fo.read(1)
        fo.seek(data_start)
        if tag in (b"}", b"]"):
            if depth >= MAX_FLOW_DEPTH:
                raise _Shape(f"it is nested more than {MAX_FLOW_DEPTH} levels deep")
            inner = _bounded_children(fo, data_end, depth=depth + 1, values=values)
            out.append(b"%d:%s%s" % (len(inner), inner, tag))
        elif tag in (b",", b";") and size > BIG_LEAF_BYTES:
            kept = fo.read(BODY_KEEP_LIMIT)
            if tag == b";":  # text: not cut inside a character
                kept = kept.decode("utf-8", "ignore").encode("utf-8")
            out.append(b"%d:%s%s" % (len(kept), kept, tag))
        else:
            out.append(head[: colon + 1] + fo.read(size) + tag)
        fo.seek(data_end + 1)
    return b"".join(out)


def _item_from_frame(
    frame: bytes, label: str, position: int, keep_bodies: bool
) -> tuple[HttpExchange | None, str | None]:
    """The exchange a frame holds, or ``(None, reason)``; ``(None, None)`` for a flow that is not HTTP."""
    if not frame.endswith(b"}"):
        return None, "it is not a flow (a tnetstring that is not a dict)"
    parts = read_parts(
        frame, max_values=MAX_FLOW_VALUES, max_depth=MAX_FLOW_DEPTH, max_prefix_digits=_MAX_PREFIX_DIGITS
    )
    try:
        if parts is None:  # not the current format read plainly: mitmproxy makes the flow
            flow, problem = _flow_from_frame(frame)
            if flow is None:
                return None, problem
            parts = parts_of_flow(flow)
        exchange = exchange_from_parts(
            parts,
            exchange_id=exchange_id(label, position + 1),
            source=label,
            entry=position,
            kind="mitm",
            keep_bodies=keep_bodies,
        )
    except (AttributeError, TypeError, ValueError, OverflowError, OSError) as exc:
        return None, f"the HTTP flow is incomplete ({type(exc).__name__}: {str(exc)[:200]})"
    return exchange, None


def _flow_from_frame(frame: bytes) -> tuple[http.HTTPFlow | None, str | None]:
    """The HTTP flow mitmproxy makes of a frame, or ``(None, reason)``; ``(None, None)`` for a flow that is not
    HTTP."""
    state, problem = read_frame(
        frame, max_values=MAX_FLOW_VALUES, max_depth=MAX_FLOW_DEPTH, max_prefix_digits=_MAX_PREFIX_DIGITS
    )
    if problem is not None:
        return None, problem
    flow = _from_state(state) if state is not None else None
    if flow is None:  # not plainly read, or refused: mitmproxy's reader loads the frame and its failure is worded
        try:
            flows = _load(frame)
        # Flow data is hostile input and mitmproxy's loader can fail in many ways on it (KeyError, TypeError,
        # RecursionError...). Any failure is confined to this one flow.
        except Exception as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            return None, f"mitmproxy cannot load it ({type(cause).__name__}: {str(cause)[:200]})"
        if len(flows) != 1:
            return None, "it is not one flow"
        flow = flows[0]
    if not isinstance(flow, http.HTTPFlow):
        return None, None
    return flow, None


def _from_state(state: list[Any] | dict[Any, Any]) -> object | None:
    """The flow a plainly read frame holds, made as ``FlowReader`` makes it (mitmproxy's own migration and
    ``from_state``), or ``None`` for mitmproxy's reader to load the frame again and word what is wrong."""
    if type(state) is not dict:
        return None
    try:
        return Flow.from_state(compat.migrate_flow(state))
    except Exception:  # hostile state
        return None


def _load(frame: bytes) -> list[object]:
    """The flows mitmproxy loads from one frame. A request or response whose time is missing (``null``, which
    mitmproxy's loader refuses) is loaded with its time not a number, so the flow is kept with its time unknown
    and judged, as one whose time is unusable in any other way."""
    try:
        return list(FlowReader(io.BytesIO(frame)).stream())
    except Exception as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if not (isinstance(cause, TypeError) and "timestamp" in str(cause)):
            raise
        state = tnetstring.loads(frame)
        patched = False
        for part in ("request", "response"):
            message = state.get(part) if isinstance(state, dict) else None
            for key in ("timestamp_start", "timestamp_end"):
                if isinstance(message, dict) and key in message and message[key] is None:
                    message[key] = math.nan
                    patched = True
        if not patched:
            raise
        return list(FlowReader(io.BytesIO(tnetstring.dumps(state))).stream())


def flow_items(
    flow: http.HTTPFlow,
    *,
    exchange_id: str,
    source: str,
    entry: int | None,
    kind: Literal["mitm", "live"],
) -> tuple[HttpExchange, list[Notice]]:
    """:func:`exchange_from_flow`, then :func:`checked`."""
    return checked(exchange_from_flow(flow, exchange_id=exchange_id, source=source, entry=entry, kind=kind))


def checked(exchange: HttpExchange) -> tuple[HttpExchange, list[Notice]]:
    """A flow's exchange with header names read as the HTTP head grammar reads them, and the notices that say what
    was wrong: mitmproxy keeps ``"Authorization "`` (whitespace before the colon) as the name, which would hide the
    credential, so it is trimmed and an ``http-malformed`` notice says so (as a capture of the same bytes does); a
    flow without a usable request time is kept with its time unknown, and an ``input-malformed`` notice says what
    is not judged for it."""
    exchange, spaced = with_trimmed_names(exchange)
    notices = [spaced] if spaced is not None else []
    if exchange.time is None:
        reason = "the request has no usable timestamp"
        notices.append(
            Notice(
                rule=_RULE,
                # the notice names its exchange (the table puts the id in front): the message does not again
                message=f"The flow: {reason}; its time is unknown, so token and certificate times and the rules "
                "that compare exchanges over time (basic-fallback) are not judged for it; every other check is",
                source=exchange.provenance.source,
                exchange_id=exchange.id,
                evidence={"entry": exchange.provenance.entry, "reason": f"{reason}; time unknown"},
            )
        )
    return exchange, notices


def exchange_from_flow(
    flow: http.HTTPFlow,
    *,
    exchange_id: str,
    source: str,
    entry: int | None,
    kind: Literal["mitm", "live"],
    keep_bodies: bool = False,
) -> HttpExchange:
    """The exchange as the client sent it (see :func:`exchange_from_parts`)."""
    return exchange_from_parts(
        parts_of_flow(flow), exchange_id=exchange_id, source=source, entry=entry, kind=kind, keep_bodies=keep_bodies
    )


def parts_of_flow(flow: http.HTTPFlow) -> FlowParts:
    """What an exchange reads of a flow: the same parts a flow file's frame is read into (``mitm_state``)."""
    data = flow.request.data
    request = RequestParts(
        data.method,
        data.scheme,
        data.authority,
        data.path,
        data.http_version,
        data.headers.fields,
        data.content,
        data.timestamp_start,
    )
    response = None
    if flow.response is not None:
        answer = flow.response.data
        response = ResponseParts(
            answer.status_code,
            answer.reason,
            answer.http_version,
            answer.headers.fields,
            answer.content,
            answer.timestamp_start,
        )
    server = flow.server_conn
    return FlowParts(flow.id, request, response, flow.client_conn.peername, server.peername, server.address)


def exchange_from_parts(
    parts: FlowParts,
    *,
    exchange_id: str,
    source: str,
    entry: int | None,
    kind: Literal["mitm", "live"],
    keep_bodies: bool = False,
) -> HttpExchange:
    """The exchange as the client sent it: wire header values, never mitmproxy's rewritten upstream host. Its time
    is ``None`` when the flow carries no usable request time (a crafted or damaged file). The one mapping from a
    flow to an exchange: a live flow and a flow file's frame both come here."""
    data = parts.request
    headers = _headers(data.fields)
    method = data.method.decode("latin-1")
    authority = data.authority.decode("latin-1")
    path = data.path.decode("latin-1")
    scheme = "https" if data.scheme.lower() == b"https" else "http"
    multiplexed = data.http_version in (b"HTTP/2.0", b"HTTP/3")
    if method.upper() == "CONNECT":
        target = authority or path
    elif authority and not multiplexed:  # HTTP/1 absolute-form, as sent to an explicit proxy
        target = f"{scheme}://{authority}{path}"
    else:
        target = path
    if multiplexed and authority and not any(name.lower() == "host" for name, _ in headers):
        # HTTP/2 and 3 carry the host in :authority, which mitmproxy keeps apart from the headers; it is
        # synthesized as Host so that the audience checks see the name the client addressed.
        headers = (("Host", authority), *headers)
    response = parts.response
    return HttpExchange(
        id=exchange_id,
        request=HttpRequest(
            method=method,
            target=target,
            version=data.http_version.decode("latin-1"),
            headers=headers,
            body=_body(data.content) if keep_bodies else kept_body(headers, data.content, request=True),
        ),
        response=_response(response, keep_bodies) if response is not None else None,
        time=moment_or_none(data.timestamp_start),
        provenance=Provenance(kind=kind, source=source, entry=entry, flow_id=_flow_id(parts.id)),
        client=endpoint_of(parts.client_peername),
        server=endpoint_of(parts.server_peername or parts.server_address),
        scheme=scheme,
        response_time=moment_or_none(response.timestamp_start) if response is not None else None,
    )


def _headers(fields: Sequence[tuple[bytes, bytes]]) -> Headers:
    # A list comprehension, then a tuple: quicker than a generator for the few headers of every flow.
    return tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, value in fields])


def _response(data: ResponseParts, keep_bodies: bool) -> HttpResponse:
    headers = _headers(data.fields)
    return HttpResponse(
        status=int(data.status_code),
        reason=data.reason.decode("latin-1"),
        version=data.http_version.decode("latin-1"),
        headers=headers,
        body=_body(data.content) if keep_bodies else kept_body(headers, data.content),
    )


def _body(content: bytes | None) -> bytes | None:
    # The raw body as sent (still content-encoded): decoding gzip from a hostile peer is not bounded.
    return None if content is None else content[:MAX_BODY_BYTES]


def _flow_id(value: object) -> str | None:
    """The flow's id as text: mitmproxy writes a string; a crafted file may hold anything, of which a number is
    shown and the rest is left out."""
    if type(value) is str:
        return value
    return str(value) if type(value) is int or type(value) is float else None


def moment_or_none(timestamp: object) -> datetime | None:
    """A flow timestamp as a UTC datetime, or ``None`` where it is missing or unusable."""
    # Exact type checks: quick for the float every live flow has, and they leave out bool (an int subclass).
    if type(timestamp) is not float and type(timestamp) is not int:
        return None
    if not math.isfinite(timestamp):
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def endpoint_of(address: object) -> Endpoint | None:
    """A mitmproxy connection address as an endpoint (``None`` without a usable host)."""
    if type(address) is not tuple or len(address) < 2:
        return None
    host, port = address[0], address[1]
    if type(host) is not str or not host:
        return None
    return Endpoint(host, port if type(port) is int and 0 <= port <= 65535 else None)
