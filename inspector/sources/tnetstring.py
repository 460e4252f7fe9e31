"""A flow's tnetstring parsed in one bounded pass, exactly as mitmproxy's reader would parse it, or not at all.

mitmproxy's own reader (``mitmproxy.io.tnetstring``) is pure Python and finds each length prefix one byte at a time;
with the walk that bounds a flow before it is handed over (``mitmflows._shape_problem``), reading a flow file cost
about 40 % of ``analyze`` on it. :func:`plain_value` does both in one pass with C-level searches. It answers only for
values it reads exactly as mitmproxy does (the same ``int``, ``float`` and UTF-8 conversions, the same dict
semantics) and within the limits the walk enforces; for anything else (a malformed or oversized value, a length
prefix mitmproxy would read more leniently, a key that is not a string) it declines with ``None`` and the careful
path decides, with its own messages.
"""

from __future__ import annotations

from typing import Any

_LIST, _DICT = 0x5D, 0x7D  # "]" and "}"
_NO_KEY: Any = object()
"""A dict's next item is a key."""


def plain_value(
    frame: bytes, *, max_values: int, max_depth: int, max_prefix_digits: int
) -> list[Any] | dict[Any, Any] | None:
    """The list or dict ``frame`` holds, whole (nothing after it), or ``None`` (see the module)."""
    size = len(frame)
    if size < 3 or frame[-1] not in (_LIST, _DICT):
        return None
    # Each open container: [the container, the index of its type tag, the key waiting for its value].
    open_: list[list[Any]] = []
    root: list[Any] | dict[Any, Any] | None = None
    values = 0
    pos = 0
    find = frame.find
    while pos < size:
        while open_ and pos == open_[-1][1]:
            if open_.pop()[2] is not _NO_KEY:
                return None  # a key without its value
            pos += 1
        if pos == size:
            break
        if not open_ and root is not None:
            return None  # something after the value
        colon = find(b":", pos, pos + max_prefix_digits + 1)
        digits = frame[pos:colon]
        if colon < 0 or not digits.isdigit():
            return None
        start = colon + 1
        end = start + int(digits)
        if end >= size or (open_ and end >= open_[-1][1]):
            return None
        values += 1
        if values > max_values:
            return None
        tag = frame[end]
        value: Any
        if tag in (_LIST, _DICT):
            value = [] if tag == _LIST else {}
            if root is None:
                root = value
            elif not _attach(open_[-1], value):
                return None
            open_.append([value, end, _NO_KEY])
            if len(open_) > max_depth:
                return None
            pos = start
            continue
        payload = frame[start:end]
        if tag == 0x2C:  # ","
            value = payload
        elif tag == 0x3B:  # ";"
            try:
                value = payload.decode("utf-8")
            except UnicodeDecodeError:
                return None
        elif tag == 0x23:  # "#"
            try:
                value = int(payload)
            except ValueError:
                return None
        elif tag == 0x5E:  # "^"
            try:
                value = float(payload)
            except ValueError:
                return None
        elif tag == 0x21 and payload in (b"true", b"false"):  # "!"
            value = payload == b"true"
        elif tag == 0x7E and not payload:  # "~"
            value = None
        else:
            return None
        if root is None or not _attach(open_[-1], value):
            return None  # a scalar alone is no flow; or a key mitmproxy would choke on
        pos = end + 1
    return root if not open_ else None


def _attach(top: list[Any], value: Any) -> bool:
    container = top[0]
    if type(container) is list:
        container.append(value)
    elif top[2] is not _NO_KEY:
        container[top[2]] = value
        top[2] = _NO_KEY
    elif type(value) is str or type(value) is bytes:
        top[2] = value
    else:
        return False
    return True
