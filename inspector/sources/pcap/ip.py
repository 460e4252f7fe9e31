"""IPv4 and IPv6 headers, IPv6 extension headers, and bounded reassembly of fragmented datagrams."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from inspector.sources.pcap.files import Buffer

PROTO_TCP = 6
PROTO_UDP = 17
PROTO_GRE = 47
PROTO_IPIP = 4
PROTO_IPV6 = 41

Fragment = tuple[int, bool, bytes]
"""``(offset, more_fragments, identification)`` of a fragment."""

IpLayer = tuple[int, bytes, bytes, int, int, Fragment | None]
"""``(protocol, src, dst, payload_off, payload_end, fragment)``: addresses as packed bytes."""

_IPV4 = struct.Struct("!BxHHHxB2x4s4s")
_IPV6_ADDRS = struct.Struct("!16s16s")

# Extension headers in the (next, length in 8-octet units beyond the first) format.
_IPV6_GENERIC_EXTENSIONS = frozenset({0, 43, 60, 135, 139, 140})
_IPV6_FRAGMENT = 44
_IPV6_AH = 51
_MAX_EXTENSIONS = 12


def ipv4(buf: Buffer, off: int, end: int) -> IpLayer | None:
    if off + 20 > end:
        return None
    vihl, total, ident, frag, proto, src, dst = _IPV4.unpack_from(buf, off)
    if vihl >> 4 != 4:
        return None
    header = (vihl & 0xF) * 4
    if header < 20 or off + header > end:
        return None
    # The total length trims Ethernet padding and trailers; zero is what TCP segmentation offload captures show.
    pend = off + total if total >= header else end
    pend = min(pend, end)
    fragment: Fragment | None = None
    if frag & 0x3FFF:  # more fragments, or a non-zero offset
        fragment = ((frag & 0x1FFF) * 8, bool(frag & 0x2000), ident.to_bytes(2, "big"))
    return proto, src, dst, off + header, pend, fragment


def ipv6(buf: Buffer, off: int, end: int) -> IpLayer | None:
    if off + 40 > end or buf[off] >> 4 != 6:
        return None
    length = buf[off + 4] << 8 | buf[off + 5]
    src, dst = _IPV6_ADDRS.unpack_from(buf, off + 8)
    p = off + 40
    # Zero is a jumbogram (or offload); the frame's end is then the only bound.
    pend = min(p + length, end) if length else end
    walked = ipv6_extensions(buf, buf[off + 6], p, pend)
    if walked is None:
        return None
    proto, p, fragment = walked
    return proto, src, dst, p, pend, fragment


def ipv6_extensions(buf: Buffer, proto: int, p: int, end: int) -> tuple[int, int, Fragment | None] | None:
    """Skip hop-by-hop, routing, destination options, AH and the like; stop after a fragment header (what
    follows it is only readable once the datagram is reassembled)."""
    for _ in range(_MAX_EXTENSIONS):
        if proto in _IPV6_GENERIC_EXTENSIONS:
            if p + 8 > end:
                return None
            proto, p = buf[p], p + (buf[p + 1] + 1) * 8
        elif proto == _IPV6_AH:
            if p + 8 > end:
                return None
            proto, p = buf[p], p + (buf[p + 1] + 2) * 4
        elif proto == _IPV6_FRAGMENT:
            if p + 8 > end:
                return None
            offset = (buf[p + 2] << 8 | buf[p + 3]) & 0xFFF8
            more = bool(buf[p + 3] & 1)
            fragment = (offset, more, bytes(buf[p + 4 : p + 8]))
            return buf[p], p + 8, fragment
        else:
            return (proto, p, None) if p <= end else None
    return None


@dataclass(slots=True)
class _Datagram:
    parts: list[tuple[int, bytes]] = field(default_factory=list)
    size: int = 0
    total: int | None = None
    held: int = 0


class Defragmenter:
    """Reassembles fragmented datagrams, within fixed bounds: a datagram is at most 64 KiB in at most
    ``max_parts`` fragments (overlaps included, at most twice its size held), at most ``max_datagrams`` are
    pending and together they hold at most ``max_bytes`` (the oldest is dropped first)."""

    MAX_DATAGRAM = 65535

    def __init__(self, max_datagrams: int = 256, max_parts: int = 256, max_bytes: int = 8 << 20) -> None:
        self._pending: dict[tuple[bytes, bytes, bytes, int], _Datagram] = {}
        self._max_datagrams = max_datagrams
        self._max_parts = max_parts
        self._max_bytes = max_bytes
        self._held = 0
        self.dropped = 0

    def add(self, key: tuple[bytes, bytes, bytes, int], offset: int, more: bool, payload: bytes) -> bytes | None:
        """The whole payload once every fragment of the datagram has been seen, else ``None``."""
        pending = self._pending
        datagram = pending.get(key)
        if datagram is None:
            if len(pending) >= self._max_datagrams:
                self._drop(next(iter(pending)))
            datagram = pending[key] = _Datagram()
        stop = offset + len(payload)
        if (
            stop > self.MAX_DATAGRAM
            or len(datagram.parts) >= self._max_parts
            or datagram.held + len(payload) > 2 * self.MAX_DATAGRAM
        ):
            self._drop(key)
            return None
        datagram.parts.append((offset, payload))
        datagram.held += len(payload)
        self._held += len(payload)
        while self._held > self._max_bytes and len(pending) > 1:
            self._drop(next(iter(pending)))
        datagram.size = max(datagram.size, stop)
        if not more:
            datagram.total = stop
        total = datagram.total
        if total is None:
            return None
        parts = sorted(datagram.parts, key=lambda part: part[0])
        covered = 0
        for start, data in parts:
            if start > covered:
                return None
            covered = max(covered, start + len(data))
        self._drop(key, complete=True)
        whole = bytearray(max(total, datagram.size))
        # Write in reverse so that where fragments overlap the first one in offset order wins.
        for start, data in reversed(parts):
            whole[start : start + len(data)] = data
        return bytes(whole[:total])

    def _drop(self, key: tuple[bytes, bytes, bytes, int], *, complete: bool = False) -> None:
        datagram = self._pending.pop(key, None)
        if datagram is not None:
            self._held -= datagram.held
            if not complete:
                self.dropped += 1
