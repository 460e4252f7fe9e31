"""A flow of mitmproxy's current format (``FLOW_FORMAT_VERSION``) read from its tnetstring straight into the parts an
exchange is made of, without building the flow.

Building every value of a flow and then mitmproxy's flow from it (``Flow.from_state``, with its type checks) cost
about 90 % of reading a flow file. :func:`read_parts` builds only what an exchange reads: the request and the
response (every field, of exactly the types mitmproxy writes), the flow's id and small fields, the connections'
addresses. The rest of each connection is walked, its structure checked against the same bounds as
``inspector.sources.tnetstring.read_frame`` (prefix digits, overruns, depth) but not interpreted; runs of its small
entries are matched by one regular expression. Only a frame too small to hold more values than the limit (a value
takes 3 bytes at least) is read here, so nothing needs counting. Anything else (another format version, a missing
or extra field, a value of another type, a flow that is not HTTP, any damage) is declined (``None``): mitmproxy's
reader reads the frame and words what is wrong, as before.

One difference from mitmproxy's loader, by design: a connection's other fields (TLS facts, certificates, cipher
lists, times) are not interpreted, only their structure is checked (not their names, types or text), so a flow
whose certificate mitmproxy cannot parse, or whose connection lost a field, is still read for its exchange.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from mitmproxy.version import FLOW_FORMAT_VERSION

from inspector.sources.tnetstring import NOT_PLAIN, scalar

# Final: compiled, a constant is read in place, not looked up in the module's namespace at each use.
_NULL: Final = 0x7E  # "~"
_BYTES: Final = 0x2C  # ","
_TEXT: Final = 0x3B  # ";"
_LIST: Final = 0x5D  # "]"
_DICT: Final = 0x7D  # "}"
_COLON: Final = 0x3A
_ZERO: Final = 0x30  # "0"
_CONTAINERS: Final = frozenset((_LIST, _DICT))
_SCALARS: Final = frozenset(b",;#^!~")
_NONE: Final = type(None)
_TIME: Final = (float, int)  # mitmproxy writes a float; its type check takes an int too, and keeps it


def _small(tags: bytes, below: int) -> bytes:
    """A tnetstring shorter than ``below`` bytes with one of ``tags`` (a character class), its length matched
    exactly."""
    return b"|".join(b"%d:.{%d}%s" % (length, length, tags) for length in range(below))


_SMALL_ENTRIES: Final = re.compile(
    # a key that is not an address (those are read), then a scalar or an empty container: a value with nothing in it
    rb"(?:(?!8:peername;|7:address;)(?:%s)(?:0:[\]}]|%s))*" % (_small(b";", 32), _small(b"[,;#^!~]", 100)),
    re.DOTALL,
)
"""A run of a connection's small entries, walked in one call: most of a connection is null, false, an empty list or
a short text. Each alternative is one exact length (``12:`` then 12 bytes), so a match is a run of whole entries."""


type Unchecked = object
"""A value as the file has it, checked where it is read (``mitmflows``). A name of its own: compiled by mypyc, a
``NamedTuple`` field annotated ``object`` fails to import (KeyError: 'object')."""


class RequestParts(NamedTuple):
    """What an exchange reads of a request (mitmproxy's ``RequestData`` fields)."""

    method: bytes
    scheme: bytes
    authority: bytes
    path: bytes
    http_version: bytes
    fields: Sequence[tuple[bytes, bytes]]
    content: bytes | None
    timestamp_start: Unchecked


class ResponseParts(NamedTuple):
    """What an exchange reads of a response (mitmproxy's ``ResponseData`` fields)."""

    status_code: int
    reason: bytes
    http_version: bytes
    fields: Sequence[tuple[bytes, bytes]]
    content: bytes | None
    timestamp_start: Unchecked


class FlowParts(NamedTuple):
    """What an exchange reads of an HTTP flow; the addresses as mitmproxy keeps them (tuples, or ``None``)."""

    id: Unchecked
    request: RequestParts
    response: ResponseParts | None
    client_peername: Unchecked
    server_peername: Unchecked
    server_address: Unchecked


class _Decline(Exception):
    """The frame is not read here (see the module)."""


# The fields mitmproxy 12 writes (a test holds them to mitmproxy's get_state): each message field with the types
# mitmproxy writes it as (list: the header list), each connection field.
_MESSAGE: Final[dict[bytes, tuple[type, ...]]] = {
    b"http_version": (bytes,),
    b"headers": (list,),
    b"content": (bytes, _NONE),
    b"trailers": (_NONE,),
    b"timestamp_start": _TIME,
    b"timestamp_end": (*_TIME, _NONE),
}
"""The fields a request and a response share."""
_REQUEST: Final[dict[bytes, tuple[type, ...]]] = {
    b"host": (str,),
    b"port": (int,),
    b"method": (bytes,),
    b"scheme": (bytes,),
    b"authority": (bytes,),
    b"path": (bytes,),
    **_MESSAGE,
}
_RESPONSE: Final[dict[bytes, tuple[type, ...]]] = {b"status_code": (int,), b"reason": (bytes,), **_MESSAGE}
_ADDRESSES: Final = frozenset((b"peername", b"address"))
_FLOW: Final = frozenset(
    b"backup client_conn comment error id intercepted is_replay marked metadata request response server_conn "
    b"timestamp_created type version websocket".split()
)


def read_parts(frame: bytes, *, max_values: int, max_depth: int, max_prefix_digits: int) -> FlowParts | None:
    """The parts of the HTTP flow a frame holds, or ``None`` where mitmproxy's reader is to read it (see the
    module). Never raises."""
    if len(frame) > 3 * max_values:  # it might hold more values than the limit: read_frame counts them
        return None
    try:
        return _flow(frame, max_depth, max_prefix_digits)
    except (_Decline, IndexError):  # IndexError: a length prefix that runs to the frame's end
        return None


def _head(frame: bytes, pos: int, limit: int, digits_max: int) -> tuple[int, int, int]:
    """Where the payload of the value at ``pos`` starts and ends, and its type tag; it must end before ``limit`` (the
    tag of its container). At ``pos == limit`` the tag is no digit: declined too.

    The length prefix (1 to ``digits_max`` ASCII digits, then a colon, as mitmproxy allows) is read byte by byte, in
    line: a prefix is a few digits, and this costs less than finding the colon, slicing the digits and converting
    them (pure, a little; compiled, some ten times), where a helper function would cost more than it saves."""
    colon, length, digit = pos, 0, frame[pos] - _ZERO
    while 0 <= digit <= 9 and colon - pos < digits_max:
        length = length * 10 + digit
        colon += 1
        digit = frame[colon] - _ZERO
    if digit != _COLON - _ZERO or colon == pos:
        raise _Decline
    end = colon + 1 + length
    if end >= limit:
        raise _Decline
    return colon + 1, end, frame[end]


def _entry(frame: bytes, pos: int, limit: int, digits_max: int) -> tuple[bytes, int, int, int]:
    """The dict entry at ``pos``: its key (text), where its value's payload starts and ends, and the value's tag.
    :func:`_head` twice, written out: this is most of the work of reading a flow."""
    colon, length, digit = pos, 0, frame[pos] - _ZERO
    while 0 <= digit <= 9 and colon - pos < digits_max:
        length = length * 10 + digit
        colon += 1
        digit = frame[colon] - _ZERO
    if digit != _COLON - _ZERO or colon == pos:
        raise _Decline
    key_end = colon + 1 + length
    if key_end >= limit or frame[key_end] != _TEXT:
        raise _Decline
    value_colon, length, digit = key_end + 1, 0, frame[key_end + 1] - _ZERO
    while 0 <= digit <= 9 and value_colon - key_end - 1 < digits_max:
        length = length * 10 + digit
        value_colon += 1
        digit = frame[value_colon] - _ZERO
    if digit != _COLON - _ZERO or value_colon == key_end + 1:
        raise _Decline
    end = value_colon + 1 + length
    if end >= limit:
        raise _Decline
    return frame[colon + 1 : key_end], value_colon + 1, end, frame[end]


def _flow(frame: bytes, max_depth: int, digits: int) -> FlowParts:
    size = len(frame)
    pos, end, tag = _head(frame, 0, size, digits)
    if tag != _DICT or end != size - 1:
        raise _Decline
    state: dict[bytes, Any] = {}
    while pos < end:
        key, start, pos, tag = _entry(frame, pos, end, digits)
        if key not in _FLOW or key in state:
            raise _Decline
        value: Any
        if tag == _DICT and key == b"request":
            value = _message(frame, start, pos, _REQUEST, digits)
        elif tag == _DICT and key == b"response":
            value = _message(frame, start, pos, _RESPONSE, digits)
        elif tag == _DICT and key in (b"client_conn", b"server_conn"):
            value = _addresses(frame, start, pos, max_depth, digits)
        elif tag in _CONTAINERS:
            # the flow's other containers (metadata, backup) are read here only empty, as mitmproxy writes them
            if start != pos:
                raise _Decline
            value = {} if tag == _DICT else []
        else:
            value = scalar(tag, frame[start:pos])
            if value is NOT_PLAIN:
                raise _Decline
        state[key] = value
        pos += 1
    return _parts(state)


def _parts(state: dict[bytes, Any]) -> FlowParts:
    """The flow's parts, where ``Flow.from_state`` would accept the state and make the same of it."""
    request, response = state.get(b"request"), state.get(b"response")
    client, server = state.get(b"client_conn"), state.get(b"server_conn")
    if (
        len(state) != len(_FLOW)
        or state[b"type"] != "http"
        or type(state[b"version"]) is not int
        or state[b"version"] != FLOW_FORMAT_VERSION
        or type(state[b"id"]) is not str
        or state[b"error"] is not None  # an error, a websocket: mitmproxy's loader reads them (rare)
        or state[b"websocket"] is not None
        or type(request) is not dict
        or not (response is None or type(response) is dict)
        or type(client) is not dict
        or type(server) is not dict
        or client.keys() != {b"peername"}
        or client[b"peername"] is None  # a client always has one
        or server.keys() != _ADDRESSES
    ):
        raise _Decline
    return FlowParts(
        id=state[b"id"],
        request=RequestParts(
            request[b"method"],
            request[b"scheme"],
            request[b"authority"],
            request[b"path"],
            request[b"http_version"],
            request[b"headers"],
            request[b"content"],
            request[b"timestamp_start"],
        ),
        response=None
        if response is None
        else ResponseParts(
            response[b"status_code"],
            response[b"reason"],
            response[b"http_version"],
            response[b"headers"],
            response[b"content"],
            response[b"timestamp_start"],
        ),
        client_peername=client[b"peername"],
        server_peername=server[b"peername"],
        server_address=server[b"address"],
    )


def _message(frame: bytes, pos: int, end: int, types: dict[bytes, tuple[type, ...]], digits: int) -> dict[bytes, Any]:
    """A request's or response's fields: every one of ``types``, each of its types."""
    fields: dict[bytes, Any] = {}
    while pos < end:
        key, start, pos, tag = _entry(frame, pos, end, digits)
        allowed = types.get(key)
        if allowed is None or key in fields:
            raise _Decline
        value: Any
        if tag == _LIST and list in allowed:
            value = _headers(frame, start, pos, digits)
        else:
            value = scalar(tag, frame[start:pos])  # a container's tag, or a payload not plain: no allowed type
        if type(value) not in allowed:
            raise _Decline
        fields[key] = value
        pos += 1
    if len(fields) != len(types):
        raise _Decline
    return fields


def _headers(frame: bytes, pos: int, end: int, digits: int) -> list[tuple[bytes, bytes]]:
    """A header list: ``[name, value]`` byte string pairs, as tuples (mitmproxy's ``Headers.fields``)."""
    pairs: list[tuple[bytes, bytes]] = []
    while pos < end:
        start, pair_end, tag = _head(frame, pos, end, digits)
        if tag != _LIST:
            raise _Decline
        name_start, name_end, tag = _head(frame, start, pair_end, digits)
        if tag != _BYTES:
            raise _Decline
        value_start, value_end, tag = _head(frame, name_end + 1, pair_end, digits)
        if tag != _BYTES or value_end + 1 != pair_end:  # the pair holds these two only
            raise _Decline
        pairs.append((frame[name_start:name_end], frame[value_start:value_end]))
        pos = pair_end + 1
    return pairs


def _addresses(frame: bytes, pos: int, end: int, max_depth: int, digits: int) -> dict[bytes, Any]:
    """A connection's addresses (``peername``, and a server's ``address``), its other entries walked."""
    addresses: dict[bytes, Any] = {}
    small = _SMALL_ENTRIES.match
    while True:
        pos = small(frame, pos, end).end()  # type: ignore[union-attr]  # it matches, if only an empty run
        if pos == end:
            return addresses
        key, start, pos, tag = _entry(frame, pos, end, digits)
        if key in _ADDRESSES:
            if key in addresses:
                raise _Decline
            addresses[key] = _address(frame, start, pos, tag, key == b"peername", digits)
        elif tag in _CONTAINERS:
            _walk(frame, start, pos, 3, max_depth, digits)  # at depth 3: in the flow, in the connection
        elif tag not in _SCALARS:
            raise _Decline
        pos += 1


def _address(frame: bytes, pos: int, end: int, tag: int, peer: bool, digits: int) -> tuple[Any, ...] | None:
    """An address as mitmproxy makes it: ``None``, or a tuple (host, port), for a peer also (host, port, flow info,
    scope id); only these exact types, as mitmproxy writes them."""
    if tag == _NULL and pos == end:
        return None
    if tag != _LIST:
        raise _Decline
    items: list[Any] = []
    while pos < end:
        start, pos, item_tag = _head(frame, pos, end, digits)
        items.append(scalar(item_tag, frame[start:pos]))
        pos += 1
    if not (
        (len(items) == 2 or (peer and len(items) == 4))
        and type(items[0]) is str
        and all(type(item) is int for item in items[1:])
    ):
        raise _Decline
    return tuple(items)


def _walk(frame: bytes, pos: int, end: int, depth: int, max_depth: int, digits: int) -> None:
    """A container at ``depth`` (its payload ``frame[pos:end]``) walked: its structure checked, nothing built."""
    ends: list[int] = []  # the payload ends of the containers open inside it
    while True:
        while pos == end:
            if not ends:
                return
            pos, end = end + 1, ends.pop()
        start, value_end, tag = _head(frame, pos, end, digits)
        if tag in _CONTAINERS:
            if depth + len(ends) + 1 > max_depth:
                raise _Decline
            ends.append(end)
            pos, end = start, value_end
        elif tag in _SCALARS:
            pos = value_end + 1
        else:
            raise _Decline
