"""Encapsulations that carry whole packets inside IP: GRE (with transparent Ethernet bridging and ERSPAN) and the
UDP tunnels VXLAN, Geneve, GTP-U, AYIYA and TZSP.

Each function returns ``(kind, off)`` as the link decoders do (see ``links``), or ``None``.
"""

from __future__ import annotations

from inspector.sources.pcap.files import Buffer
from inspector.sources.pcap.links import ETHERNET, ETHERTYPE_IPV4, ETHERTYPE_IPV6, RAW_IP, Layer, mpls

_GRE_CHECKSUM = 0x8000
_GRE_ROUTING = 0x4000
_GRE_KEY = 0x2000
_GRE_SEQUENCE = 0x1000
_TRANSPARENT_ETHERNET = 0x6558
_ERSPAN_2 = 0x88BE
_ERSPAN_3 = 0x22EB

VXLAN_PORT = 4789
GENEVE_PORT = 6081
GTP_U_PORT = 2152
AYIYA_PORT = 5072

_MAX_GTP_EXTENSIONS = 8
_MAX_TZSP_TAGS = 64


def gre(buf: Buffer, off: int, end: int) -> Layer:
    if off + 4 > end:
        return None
    flags = buf[off] << 8 | buf[off + 1]
    proto = buf[off + 2] << 8 | buf[off + 3]
    if flags & 7 or flags & _GRE_ROUTING:  # enhanced GRE (PPTP) and source routing are not read
        return None
    p = off + 4
    if flags & _GRE_CHECKSUM:
        p += 4
    if flags & _GRE_KEY:
        p += 4
    if flags & _GRE_SEQUENCE:
        p += 4
    if p > end:
        return None
    if proto in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return proto, p
    if proto == _TRANSPARENT_ETHERNET:
        return ETHERNET, p
    if proto == _ERSPAN_2:
        # Type II has an 8-byte header and a GRE sequence number; type I has neither.
        return ETHERNET, p + 8 if flags & _GRE_SEQUENCE else p
    if proto == _ERSPAN_3:
        if p + 12 > end:
            return None
        optional = 8 if buf[p + 11] & 1 else 0  # the O flag: a platform-specific subheader follows
        return ETHERNET, p + 12 + optional
    if proto in (0x8847, 0x8848):
        return mpls(buf, p, end)
    return None


def udp(buf: Buffer, off: int, end: int, sport: int, dport: int) -> Layer:
    """The packet inside a UDP datagram, for the tunnels known by port, and TZSP recognised by content."""
    if VXLAN_PORT in (dport, sport):
        if off + 8 > end or not buf[off] & 0x08:
            return None
        return ETHERNET, off + 8
    if GTP_U_PORT in (dport, sport):
        return gtp_u(buf, off, end)
    if dport == GENEVE_PORT:
        return geneve(buf, off, end)
    if AYIYA_PORT in (dport, sport):
        return ayiya(buf, off, end)
    if off + 4 <= end and buf[off] == 1 and buf[off + 1] <= 1 and buf[off + 2] == 0 and buf[off + 3] == 1:
        return tzsp(buf, off, end)
    return None


def gtp_u(buf: Buffer, off: int, end: int) -> Layer:
    if off + 8 > end:
        return None
    flags = buf[off]
    if flags >> 5 != 1 or not flags & 0x10 or buf[off + 1] != 0xFF:  # GTPv1, GTP (not GTP'), G-PDU
        return None
    p = off + 8
    if flags & 0x07:  # sequence number, N-PDU number and next extension type are present together
        p += 4
        if p > end:
            return None
        next_type = buf[p - 1] if flags & 0x04 else 0
        for _ in range(_MAX_GTP_EXTENSIONS):
            if not next_type:
                break
            if p >= end or buf[p] == 0:
                return None
            length = buf[p] * 4
            if p + length > end:
                return None
            next_type = buf[p + length - 1]
            p += length
        else:
            return None
    return (RAW_IP, p) if p < end else None


def geneve(buf: Buffer, off: int, end: int) -> Layer:
    if off + 8 > end or buf[off] >> 6 != 0:
        return None
    p = off + 8 + (buf[off] & 0x3F) * 4
    proto = buf[off + 2] << 8 | buf[off + 3]
    if proto == _TRANSPARENT_ETHERNET:
        return ETHERNET, p
    if proto in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return proto, p
    return None


def ayiya(buf: Buffer, off: int, end: int) -> Layer:
    """AYIYA ("anything in anything"): an 8-byte header, the identity (2**id_len bytes) and the signature."""
    if off + 8 > end or buf[off + 2] & 0x0F != 1:  # only the "forward" opcode carries a packet
        return None
    p = off + 8 + (1 << (buf[off] >> 4)) + (buf[off + 1] >> 4) * 4
    next_header = buf[off + 3]
    if next_header == 41:
        return ETHERTYPE_IPV6, p
    if next_header == 4:
        return ETHERTYPE_IPV4, p
    return None


def tzsp(buf: Buffer, off: int, end: int) -> Layer:
    """TZSP version 1 carrying Ethernet: tagged fields up to the END tag, then the frame."""
    p = off + 4
    for _ in range(_MAX_TZSP_TAGS):
        if p >= end:
            return None
        tag = buf[p]
        if tag == 1:  # end of tags
            return ETHERNET, p + 1
        if tag == 0:  # padding
            p += 1
        elif p + 2 > end:
            return None
        else:
            p += 2 + buf[p + 1]
    return None
