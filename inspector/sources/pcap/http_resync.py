"""Finding the next HTTP/1.x message in bytes whose start was lost or skipped (a stream captured from its middle,
or after a gap): a status line, or a request line that may follow the tail of a body on the same line.

Linear in the bytes searched: each "HTTP/1." is looked at in constant work (the line's end and its first stray CR
are found once per line, not per hit), and only a line's last "HTTP/1." can end a request line.
"""

from __future__ import annotations

import re
from typing import Final

from inspector.sources.pcap.http_heads import REQUEST, RESPONSE

MAX_LINE: Final = 16 << 10
"""The longest line a message start is looked for in (the resync window)."""

# A request line found while resyncing may follow the tail of a body on the same line: it ends in this.
_VERSION_AT_END: Final = re.compile(rb"HTTP/1\.[01]\r?\n")
# The start of a status line; with no CR before the line's end, the rest is a reason phrase (``STATUS_LINE``).
_STATUS_START: Final = re.compile(rb"HTTP/1\.[01] [0-9]{3}(?: |\r?\n)")
_METHOD_BYTES: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_WHITESPACE: Final = re.compile(rb"\s")

_KNOWN_METHODS: Final = frozenset(
    b"GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH "
    b"REPORT MERGE ACL BIND MKCALENDAR SUBSCRIBE UNSUBSCRIBE NOTIFY POLL BCOPY BDELETE BMOVE BPROPFIND BPROPPATCH "
    b"RPC_IN_DATA RPC_OUT_DATA X-MS-ENUMATTS".split()
)


def find_message_start(buf: bytearray, scan: int, role: int, no_newline_before: int = 0) -> tuple[int, int]:
    """Search ``buf`` from ``scan`` for where a message of ``role`` (0: either kind) starts. Returns the start
    (or -1) and, when none was found, the "HTTP/1." whose line is still incomplete (or -1): the search resumes
    there once more bytes came. ``buf[scan:no_newline_before]`` is known to hold no newline (an unfinished line
    searched before), so its end is looked for after it only."""
    hit = buf.find(b"HTTP/1.", scan)
    # The end of the line the hits are in and its first stray CR (one not ending the line) at or after the
    # hit are found once per line, not per hit: a line may hold many hits.
    line_end = stray_cr = -1
    while hit >= 0:
        if line_end < hit:
            line_end = buf.find(b"\n", max(hit, no_newline_before))
            if line_end < 0:
                line_end = len(buf)
            stray_cr = -2
        if line_end == len(buf):  # the line is not complete yet
            if len(buf) - hit < MAX_LINE:
                return -1, hit
            # Too far from the end to start a line that fits: jump to the first hit that could.
            hit = buf.find(b"HTTP/1.", len(buf) - MAX_LINE + 1)
            continue
        if stray_cr != -1 and stray_cr < hit:
            stray_cr = buf.find(b"\r", hit, line_end - 1)
        start = _candidate(buf, role, hit, line_end, stray_cr < 0)
        if start >= 0:
            return start, -1
        hit = buf.find(b"HTTP/1.", hit + 1)
    return -1, -1


def _candidate(buf: bytearray, role: int, hit: int, nl: int, no_stray_cr: bool) -> int:
    """Where a message starts around an "HTTP/1." at ``hit`` on a line ending at ``nl`` (``no_stray_cr``: no
    CR between ``hit`` and the line end): its index, or -1.

    Constant work per hit: a status line is its fixed-size start plus the line's stray-CR test (the
    caller's, once per line), and only the line's last "HTTP/1." can end a request line."""
    if role != REQUEST and no_stray_cr and _STATUS_START.match(buf, hit, nl + 1):
        return hit
    if role != RESPONSE and hit > 0 and buf[hit - 1] == 0x20 and _VERSION_AT_END.fullmatch(buf, hit, nl + 1):
        line_start = max(buf.rfind(b"\n", max(0, hit - MAX_LINE), hit) + 1, hit - MAX_LINE, 0)
        start = request_line_start(buf, line_start, hit)
        if start >= 0:
            method = bytes(buf[start : buf.index(b" ", start)])
            # Body bytes may run into the method ("...OKGET / HTTP/1.1"): prefer a known method's tail.
            for cut in range(1, len(method)):
                if method[cut:] in _KNOWN_METHODS:
                    return start + cut
            return start
    return -1


def request_line_start(buf: bytearray, line_start: int, version: int) -> int:
    """Where ``METHOD SP TARGET SP`` begins, ending just before the "HTTP/1.x" at ``version`` (a space precedes
    it), as the leftmost match of ``[A-Z][A-Z0-9_-]{0,31} \\S+ `` within the line from ``line_start``; -1 for none.
    Looks back over the target and at most 32 method bytes, never the whole line."""
    space = buf.rfind(b" ", line_start, version - 1)
    if space < 0 or space + 1 == version - 1 or _WHITESPACE.search(buf, space + 1, version - 1):
        return -1
    earliest = -1
    at = space - 1
    while at >= line_start and space - at <= 32 and buf[at] in _METHOD_BYTES:
        if 0x41 <= buf[at] <= 0x5A:
            earliest = at
        at -= 1
    return earliest
