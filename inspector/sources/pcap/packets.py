"""From a captured frame to the TCP segment inside it, through link layers, IP (fragments reassembled) and
tunnels. Everything that is not TCP over IP is dropped here, cheaply."""

from __future__ import annotations

import struct
from typing import Final

from inspector.sources.pcap import tunnels
from inspector.sources.pcap.files import NOT_A_PACKET, TLS_SECRETS, Buffer
from inspector.sources.pcap.ip import (
    PROTO_GRE,
    PROTO_IPIP,
    PROTO_IPV6,
    PROTO_TCP,
    PROTO_UDP,
    Defragmenter,
    IpLayer,
    ipv4,
    ipv6,
    ipv6_extensions,
)
from inspector.sources.pcap.links import (
    ETHERNET,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    LINK_DECODERS,
    RAW_IP,
    Layer,
    ethernet,
)

Segment = tuple[bytes, bytes, int, int, int, int, int, bytes]
"""``(src, dst, sport, dport, seq, ack, flags, payload)``: addresses as packed bytes."""

_TCP: Final = struct.Struct("!HHIIBB")
# The common case in one call: Ethernet, IPv4 without options, TCP.
_ETHER_IPV4_TCP: Final = struct.Struct("!12xHBxH2xHxB2x4s4sHHIIBB")
_PORTS: Final = struct.Struct("!HH")
_EtherIpv4Tcp = tuple[int, int, int, int, int, bytes, bytes, int, int, int, int, int, int]
"""What ``_ETHER_IPV4_TCP`` unpacks, written out: ``unpack_from`` gives ``Any``, which a compiled build would test
field by field as generic objects."""
_MAX_LAYERS: Final = 10
"""Tunnels inside tunnels: more than this is not a real capture."""
MAX_LINKS_NAMED: Final = 8
"""Unsupported link types counted one by one; a hostile pcapng could name thousands."""


class PacketDecoder:
    def __init__(self) -> None:
        self.defragmenter = Defragmenter()
        self.undecodable = 0
        """Frames of a link type this reader does not know."""
        self.unknown_links: dict[int, int] = {}
        """Those frames by link type (at most ``MAX_LINKS_NAMED`` types; the rest are only in the total)."""

    def decode(self, linktype: int, buf: Buffer, off: int, end: int) -> Segment | None:
        if linktype == 1 and end - off >= 54:
            fields: _EtherIpv4Tcp = _ETHER_IPV4_TCP.unpack_from(buf, off)
            etype, vihl, total, frag, proto, src, dst, sport, dport, seq, ack, data_offset, flags = fields
            if etype == 0x0800 and vihl == 0x45 and proto == 6 and not frag & 0x3FFF and total >= 40:
                ip_end = off + 14 + total
                payload = off + 34 + (data_offset >> 4) * 4
                if ip_end <= end and data_offset >= 0x50 and payload <= ip_end:
                    return src, dst, sport, dport, seq, ack, flags, buf[payload:ip_end]
        return self._decode(linktype, buf, off, end)

    def _decode(self, linktype: int, buf: Buffer, off: int, end: int) -> Segment | None:
        link = LINK_DECODERS.get(linktype)
        if link is None:
            if linktype in (NOT_A_PACKET, TLS_SECRETS):
                return None
            self.undecodable += 1
            seen = self.unknown_links
            if linktype in seen or len(seen) < MAX_LINKS_NAMED:
                seen[linktype] = seen.get(linktype, 0) + 1
            return None
        layer: Layer = link(buf, off, end)
        for _ in range(_MAX_LAYERS):
            if layer is None:
                return None
            kind, off = layer
            if kind == RAW_IP:
                if off >= end:
                    return None
                kind = ETHERTYPE_IPV4 if buf[off] >> 4 == 4 else ETHERTYPE_IPV6
            if kind == ETHERTYPE_IPV4:
                ip = ipv4(buf, off, end)
            elif kind == ETHERTYPE_IPV6:
                ip = ipv6(buf, off, end)
            elif kind == ETHERNET:
                layer = ethernet(buf, off, end)
                continue
            else:
                return None
            if ip is None:
                return None
            proto, src, dst, off, end, fragment = ip
            if fragment is not None:
                whole = self._reassemble(ip, buf, kind)
                if whole is None:
                    return None
                proto, buf = whole
                off, end = 0, len(buf)
            if proto == PROTO_TCP:
                return _tcp(buf, off, end, src, dst)
            if proto == PROTO_UDP:
                if off + 8 > end:
                    return None
                sport, dport = _PORTS.unpack_from(buf, off)
                layer = tunnels.udp(buf, off + 8, end, sport, dport)
            elif proto == PROTO_GRE:
                layer = tunnels.gre(buf, off, end)
            elif proto == PROTO_IPIP:
                layer = (ETHERTYPE_IPV4, off)
            elif proto == PROTO_IPV6:
                layer = (ETHERTYPE_IPV6, off)
            else:
                return None
        return None

    def _reassemble(self, ip: IpLayer, buf: Buffer, kind: int) -> tuple[int, bytes] | None:
        """The transport protocol and payload of the whole datagram, once its last fragment is in."""
        proto, src, dst, off, end, fragment = ip
        assert fragment is not None
        offset, more, ident = fragment
        whole = self.defragmenter.add((src, dst, ident, proto), offset, more, bytes(buf[off:end]))
        if whole is None:
            return None
        if kind == ETHERTYPE_IPV6:
            # Extension headers after the fragment header belong to the reassembled payload.
            walked = ipv6_extensions(whole, proto, 0, len(whole))
            if walked is None or walked[2] is not None:
                return None
            proto, whole = walked[0], whole[walked[1] :]
        return proto, whole


def _tcp(buf: Buffer, off: int, end: int, src: bytes, dst: bytes) -> Segment | None:
    if off + 20 > end:
        return None
    fields: tuple[int, int, int, int, int, int] = _TCP.unpack_from(buf, off)
    sport, dport, seq, ack, data_offset, flags = fields
    header = (data_offset >> 4) * 4
    if header < 20 or off + header > end:
        return None
    return src, dst, sport, dport, seq, ack, flags, bytes(buf[off + header : end])
