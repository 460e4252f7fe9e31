"""Link layers: from the start of a frame to the network layer inside it.

Every decoder takes ``(buf, off, end)`` and returns ``(kind, off)`` where ``kind`` is an EtherType
(``ETHERTYPE_IPV4``/``ETHERTYPE_IPV6``), ``RAW_IP`` (an IP header whose version nibble decides) or ``ETHERNET``
(an Ethernet frame follows, as inside a tunnel); ``None`` when the frame carries no IP. Lengths are checked
against ``end`` because ``buf`` is the whole file: reading past a frame would read the next one.
"""

from __future__ import annotations

from collections.abc import Callable

from inspector.sources.pcap.files import Buffer

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
RAW_IP = -2
ETHERNET = -3

Layer = tuple[int, int] | None
LinkDecoder = Callable[[Buffer, int, int], Layer]

_VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100, 0x9200, 0x9300})
_MPLS = frozenset({0x8847, 0x8848})
_PPPOE_SESSION = 0x8864
_PPP_PROTOCOLS = {0x0021: ETHERTYPE_IPV4, 0x0057: ETHERTYPE_IPV6}
_MAX_TAGS = 8
_MAX_MPLS_LABELS = 16

# Address families of the BSD loopback header: Linux, the BSDs and macOS number AF_INET6 differently.
_NULL_FAMILIES = frozenset({2, 10, 24, 28, 30})


def ethernet(buf: Buffer, off: int, end: int) -> Layer:
    if off + 14 > end:
        return None
    return after_ethertype(buf, buf[off + 12] << 8 | buf[off + 13], off + 14, end)


def after_ethertype(buf: Buffer, etype: int, off: int, end: int) -> Layer:
    """Skip VLAN tags (802.1Q, QinQ), PPPoE and LLC/SNAP to the IP header; MPLS is handed to ``mpls``."""
    for _ in range(_MAX_TAGS):
        if etype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
            return etype, off
        if etype in _VLAN_TAGS:
            if off + 4 > end:
                return None
            etype = buf[off + 2] << 8 | buf[off + 3]
            off += 4
        elif etype in _MPLS:
            return mpls(buf, off, end)
        elif etype == _PPPOE_SESSION:
            if off + 8 > end:
                return None
            proto = _PPP_PROTOCOLS.get(buf[off + 6] << 8 | buf[off + 7])
            return None if proto is None else (proto, off + 8)
        elif etype <= 1500:  # an 802.3 length: LLC follows, and only SNAP carries an EtherType
            if off + 8 > end or buf[off] != 0xAA or buf[off + 1] != 0xAA or buf[off + 2] != 0x03:
                return None
            etype = buf[off + 6] << 8 | buf[off + 7]
            off += 8
        else:
            return None
    return None


def mpls(buf: Buffer, off: int, end: int) -> Layer:
    """MPLS labels to the bottom of the stack; the payload is IP (by its version nibble) or, after a zero
    control word, an Ethernet pseudowire."""
    for _ in range(_MAX_MPLS_LABELS):
        if off + 4 > end:
            return None
        bottom = buf[off + 2] & 1
        off += 4
        if bottom:
            break
    else:
        return None
    if off >= end:
        return None
    nibble = buf[off] >> 4
    if nibble in {4, 6}:
        return RAW_IP, off
    if nibble == 0:
        return ETHERNET, off + 4
    return None


def linux_sll(buf: Buffer, off: int, end: int) -> Layer:
    if off + 16 > end:
        return None
    return after_ethertype(buf, buf[off + 14] << 8 | buf[off + 15], off + 16, end)


def linux_sll2(buf: Buffer, off: int, end: int) -> Layer:
    if off + 20 > end:
        return None
    return after_ethertype(buf, buf[off] << 8 | buf[off + 1], off + 20, end)


def null_loopback(buf: Buffer, off: int, end: int) -> Layer:
    """DLT_NULL (host byte order) and DLT_LOOP (network byte order): a 4-byte address family."""
    if off + 4 > end:
        return None
    family = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | buf[off + 3] << 24
    if family > 0xFFFF:  # written big-endian
        family = buf[off + 3] | buf[off + 2] << 8
    if family not in _NULL_FAMILIES:
        return None
    return RAW_IP, off + 4


def raw_ip(_buf: Buffer, off: int, end: int) -> Layer:
    return (RAW_IP, off) if off < end else None


def raw_ipv4(_buf: Buffer, off: int, end: int) -> Layer:
    return (ETHERTYPE_IPV4, off) if off < end else None


def raw_ipv6(_buf: Buffer, off: int, end: int) -> Layer:
    return (ETHERTYPE_IPV6, off) if off < end else None


def ppp(buf: Buffer, off: int, end: int) -> Layer:
    if off + 2 <= end and buf[off] == 0xFF and buf[off + 1] == 0x03:
        off += 2
    if off + 2 > end:
        return None
    if buf[off] & 1:  # protocol field compressed to one byte
        proto = _PPP_PROTOCOLS.get(buf[off])
        return None if proto is None else (proto, off + 1)
    proto = _PPP_PROTOCOLS.get(buf[off] << 8 | buf[off + 1])
    return None if proto is None else (proto, off + 2)


def cisco_hdlc(buf: Buffer, off: int, end: int) -> Layer:
    if off + 4 > end:
        return None
    return after_ethertype(buf, buf[off + 2] << 8 | buf[off + 3], off + 4, end)


_NFULA_PAYLOAD = 9


def nflog(buf: Buffer, off: int, end: int) -> Layer:
    """Linux NFLOG: a 4-byte header, then TLVs in the capturing host's byte order; the packet is NFULA_PAYLOAD."""
    p = off + 4
    if p + 4 > end:
        return None
    little = 4 <= (buf[p] | buf[p + 1] << 8) <= end - p
    for _ in range(64):
        if p + 4 > end:
            return None
        if little:
            length = buf[p] | buf[p + 1] << 8
            tlv_type = (buf[p + 2] | buf[p + 3] << 8) & 0x7FFF
        else:
            length = buf[p] << 8 | buf[p + 1]
            tlv_type = (buf[p + 2] << 8 | buf[p + 3]) & 0x7FFF
        if length < 4:
            return None
        if tlv_type == _NFULA_PAYLOAD:
            return RAW_IP, p + 4
        p += (length + 3) & ~3
    return None


def radiotap(buf: Buffer, off: int, end: int) -> Layer:
    if off + 4 > end:
        return None
    return ieee80211(buf, off + (buf[off + 2] | buf[off + 3] << 8), end)


def ieee80211(buf: Buffer, off: int, end: int) -> Layer:
    """An 802.11 data frame (not protected) with LLC/SNAP; management, control and null frames carry no IP."""
    if off + 24 > end:
        return None
    fc, flags = buf[off], buf[off + 1]
    if (fc >> 2) & 3 != 2:  # not a data frame
        return None
    subtype = fc >> 4
    if subtype & 0x4 or flags & 0x40:  # no payload, or encrypted
        return None
    header = 30 if flags & 3 == 3 else 24
    if subtype & 0x8:  # QoS data: a 2-byte QoS control field, then HT control when the order bit is set
        if off + header + 2 > end or buf[off + header] & 0x80:  # A-MSDU aggregates are not unpacked
            return None
        header += 2
        if flags & 0x80:
            header += 4
    p = off + header
    if p + 8 > end or buf[p] != 0xAA or buf[p + 1] != 0xAA or buf[p + 2] != 0x03:
        return None
    return after_ethertype(buf, buf[p + 6] << 8 | buf[p + 7], p + 8, end)


LINK_DECODERS: dict[int, LinkDecoder] = {
    0: null_loopback,  # DLT_NULL
    1: ethernet,
    9: ppp,
    12: raw_ip,  # DLT_RAW on most BSDs
    14: raw_ip,  # DLT_RAW on OpenBSD
    50: ppp,  # PPP in HDLC-like framing
    101: raw_ip,  # LINKTYPE_RAW
    104: cisco_hdlc,
    105: ieee80211,
    108: null_loopback,  # DLT_LOOP (OpenBSD), network byte order
    113: linux_sll,
    127: radiotap,
    228: raw_ipv4,
    229: raw_ipv6,
    239: nflog,
    276: linux_sll2,
}
