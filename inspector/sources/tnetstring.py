"""A flow's tnetstring parsed in one bounded pass, exactly as mitmproxy's reader would parse it, or not at all.

mitmproxy's own reader (``mitmproxy.io.tnetstring``) is pure Python and finds each length prefix one byte at a time;
with a separate walk that bounded a flow before it was handed over, reading a flow file cost about 40 % of
``analyze`` on it. :func:`read_frame` does both in one pass with C-level searches: it checks the frame's
structure against the bounds (and says what is wrong), and builds the value only where it reads it exactly as
mitmproxy does (the same ``int``, ``float`` and UTF-8 conversions, the same dict semantics); for anything else (a
length prefix mitmproxy would read more leniently, a key that is not a string, a scalar alone) it builds nothing and
mitmproxy's own reader decides.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

_LIST: Final = 0x5D  # "]"
_DICT: Final = 0x7D  # "}"
_NO_KEY: Final[Any] = object()
"""A dict's next item is a key."""


class FrameRead(NamedTuple):
    value: list[Any] | dict[Any, Any] | None
    """The list or dict the frame holds, whole, when it is read exactly as mitmproxy reads it; else ``None``."""
    problem: str | None
    """What is wrong with the frame's structure (a bound passed, a malformed or overrunning value), or ``None``."""


def read_frame(frame: bytes, *, max_values: int, max_depth: int, max_prefix_digits: int) -> FrameRead:
    """One pass over a frame: its structure checked against the bounds (``problem``) and, where every value in it
    is plain, its value built (see the module). A value that is not plain only stops the building: the rest of the
    frame is still checked."""
    size = len(frame)
    building = size >= 3 and frame[-1] in (_LIST, _DICT)
    # Each open container: [the container, the index of its type tag, the key waiting for its value].
    open_: list[list[Any]] = []
    root: list[Any] | dict[Any, Any] | None = None
    values = 0
    pos = 0
    find = frame.find
    while pos < size:
        while open_ and pos == open_[-1][1]:
            if open_.pop()[2] is not _NO_KEY:
                building = False  # a key without its value
            pos += 1
        if pos == size:
            break
        if not open_ and root is not None:
            building = False  # something after the value
        colon = find(b":", pos, pos + max_prefix_digits + 1)
        digits = frame[pos:colon]
        if colon < 0 or not digits.isdigit():
            return FrameRead(None, f"a malformed tnetstring at byte {pos} of the flow")
        start = colon + 1
        end = start + int(digits)
        if end >= size or (open_ and end >= open_[-1][1]):
            return FrameRead(None, f"a tnetstring at byte {pos} of the flow overruns its container")
        values += 1
        if values > max_values:
            return FrameRead(None, f"it holds more than {max_values} values")
        tag = frame[end]
        if tag in (_LIST, _DICT):
            container: list[Any] | dict[Any, Any] = [] if tag == _LIST else {}
            if root is None:
                root = container
            elif building and open_:
                building = _attach(open_[-1], container)
            open_.append([container, end, _NO_KEY])
            if len(open_) > max_depth:
                return FrameRead(None, f"it is nested more than {max_depth} levels deep")
            pos = start
            continue
        if building:
            value = scalar(tag, frame[start:end])
            # a scalar alone is no flow; a value read otherwise, or a key mitmproxy would choke on, stops building
            building = value is not NOT_PLAIN and bool(open_) and _attach(open_[-1], value)
        pos = end + 1
    return FrameRead(root if building and not open_ else None, None)


NOT_PLAIN: Final[Any] = object()
"""What :func:`scalar` answers for a payload it does not read exactly as mitmproxy does (or a container's tag)."""


def scalar(tag: int, payload: bytes) -> Any:
    """A scalar as mitmproxy's reader reads it (the same conversions), or ``NOT_PLAIN``."""
    try:
        if tag == 0x2C:  # ","
            return payload
        if tag == 0x3B:  # ";"
            return payload.decode("utf-8")
        if tag == 0x23:  # "#"
            return int(payload)
        if tag == 0x5E:  # "^"
            return float(payload)
    except ValueError:  # UnicodeDecodeError is one
        return NOT_PLAIN
    if tag == 0x21 and payload in (b"true", b"false"):  # "!"
        return payload == b"true"
    if tag == 0x7E and not payload:  # "~"
        return None
    return NOT_PLAIN


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
