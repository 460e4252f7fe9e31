"""Small captures built for tests: IP/TCP packets, link layers and tunnels around them, TCP conversations with
chosen segmentation, and pcap/pcapng files in either byte order. Written with ``struct`` (no scapy), so that
tests can build thousands of variants quickly and know every byte."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from inspector.lab.pcap_writer import pcapng_block, pcapng_option

EPOCH_US = 1_717_405_200_000_000  # 2024-06-03T09:00:00Z

SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04

# -- network and transport --------------------------------------------------------------------------------


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def ipv4(
    src: str, dst: str, proto: int, payload: bytes, *, ident: int = 1, frag: int = 0x4000, options: bytes = b""
) -> bytes:
    header_len = 20 + len(options)
    return (
        struct.pack(
            "!BBHHHBBH4s4s",
            0x40 | header_len // 4,
            0,
            header_len + len(payload),
            ident,
            frag,
            64,
            proto,
            0,
            _packed(src),
            _packed(dst),
        )
        + options
        + payload
    )


def ipv6(
    src: str, dst: str, next_header: int, payload: bytes, *, extensions: tuple[tuple[int, bytes], ...] = ()
) -> bytes:
    """``extensions``: (header type, body) pairs; each body is padded so the header is a multiple of 8 bytes
    (AH, type 51, counts in 4-byte units)."""
    chain = b""
    types = [ext_type for ext_type, _ in extensions] + [next_header]
    for index, (ext_type, body) in enumerate(extensions):
        following = types[index + 1]
        if ext_type == 51:
            padded = body + b"\x00" * (-(len(body) + 2) % 4)
            chain += bytes([following, (len(padded) + 2) // 4 - 2]) + padded
        else:
            padded = body + b"\x00" * (-(len(body) + 2) % 8)
            chain += bytes([following, (len(padded) + 2) // 8 - 1]) + padded
    first = extensions[0][0] if extensions else next_header
    payload = chain + payload
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), first, 64, _packed(src), _packed(dst)) + payload


def ip(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    if ":" in src:
        return ipv6(src, dst, proto, payload)
    return ipv4(src, dst, proto, payload)


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"", options: bytes = b"") -> bytes:
    offset = (20 + len(options)) // 4
    return (
        struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset << 4, flags, 65535, 0, 0)
        + options
        + payload
    )


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


# -- link layers ------------------------------------------------------------------------------------------


def ethertype_of(packet: bytes) -> int:
    return 0x0800 if packet[0] >> 4 == 4 else 0x86DD


def ethernet(packet: bytes, ethertype: int | None = None, *, tags: tuple[tuple[int, int], ...] = ()) -> bytes:
    """``tags``: (TPID, VLAN id) pairs, outermost first."""
    header = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for tpid, vlan in tags:
        header += struct.pack("!HH", tpid, vlan)
    return header + struct.pack("!H", ethertype if ethertype is not None else ethertype_of(packet)) + packet


# -- captures ---------------------------------------------------------------------------------------------


@dataclass
class Frame:
    data: bytes
    ts_us: int
    interface: int = 0


def write_pcap(frames: list[Frame], *, linktype: int = 1, endian: str = "<", nanos: bool = False) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for frame in frames:
        seconds, micros = divmod(frame.ts_us, 1_000_000)
        fraction = micros * 1000 if nanos else micros
        out.append(struct.pack(endian + "IIII", seconds, fraction, len(frame.data), len(frame.data)) + frame.data)
    return b"".join(out)


@dataclass
class Interface:
    linktype: int = 1
    tsresol: int | None = None
    """The if_tsresol option byte (``None``: absent, microseconds)."""
    tsoffset: int | None = None


def _block(endian: str, block_type: int, body: bytes) -> bytes:
    return pcapng_block(block_type, body, endian)


def _option(endian: str, code: int, value: bytes) -> bytes:
    return pcapng_option(code, value, endian)


def pcapng_section(endian: str = "<", *, version: tuple[int, int] = (1, 0)) -> bytes:
    return _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, version[0], version[1], -1))


def pcapng_interface(endian: str, interface: Interface) -> bytes:
    options = b""
    if interface.tsresol is not None:
        options += _option(endian, 9, bytes([interface.tsresol]))
    if interface.tsoffset is not None:
        options += _option(endian, 14, struct.pack(endian + "q", interface.tsoffset))
    if options:
        options += _option(endian, 0, b"")
    return _block(endian, 1, struct.pack(endian + "HHI", interface.linktype, 0, 0) + options)


def ticks(ts_us: int, tsresol: int | None) -> int:
    """A microsecond timestamp in an interface's resolution (exact for the resolutions tests use)."""
    if tsresol is None or tsresol == 6:
        return ts_us
    if tsresol & 0x80:
        return (ts_us << (tsresol & 0x7F)) // 1_000_000
    scale: int = 10 ** abs(tsresol - 6)
    return ts_us * scale if tsresol > 6 else ts_us // scale


def pcapng_packet(endian: str, frame: Frame, interface: Interface, *, block: str = "epb") -> bytes:
    value = ticks(frame.ts_us - (interface.tsoffset or 0) * 1_000_000, interface.tsresol)
    high, low = value >> 32, value & 0xFFFFFFFF
    if block == "epb":
        head = struct.pack(endian + "IIIII", frame.interface, high, low, len(frame.data), len(frame.data))
        return _block(endian, 6, head + frame.data)
    if block == "opb":
        head = struct.pack(endian + "HHIIII", frame.interface, 0, high, low, len(frame.data), len(frame.data))
        return _block(endian, 2, head + frame.data)
    return _block(endian, 3, struct.pack(endian + "I", len(frame.data)) + frame.data)


def write_pcapng(
    frames: list[Frame],
    interfaces: list[Interface] | None = None,
    *,
    endian: str = "<",
    blocks: list[str] | None = None,
    extra: bytes = b"",
) -> bytes:
    """``blocks`` chooses the block type per frame (``epb``, ``opb``, ``spb``); ``extra`` is inserted after the
    interface blocks (unknown blocks, for instance)."""
    interfaces = interfaces or [Interface()]
    out = [pcapng_section(endian)]
    out.extend(pcapng_interface(endian, interface) for interface in interfaces)
    out.append(extra)
    for index, frame in enumerate(frames):
        kind = blocks[index] if blocks else "epb"
        out.append(pcapng_packet(endian, frame, interfaces[frame.interface], block=kind))
    return b"".join(out)


def custom_block(endian: str = "<") -> bytes:
    return _block(endian, 0x00000BAD, struct.pack(endian + "I", 32473) + b"custom data")


def unknown_block(endian: str = "<") -> bytes:
    return _block(endian, 0x0ABCDEF0, b"nothing to see")


# -- TCP conversations ------------------------------------------------------------------------------------


@dataclass
class Segment:
    """One TCP segment of a conversation, before link framing."""

    from_client: bool
    seq: int
    ack: int
    flags: int
    payload: bytes = b""


@dataclass
class Conversation:
    """A TCP connection as the segments both sides send, sequence numbers kept right.

    Build it in order with ``handshake``/``send``/``close``; reorder, duplicate or drop ``segments`` afterwards
    to model what a capture saw; turn it into frames with ``packets``.
    """

    client: tuple[str, int] = ("10.0.0.1", 50000)
    server: tuple[str, int] = ("10.0.0.2", 80)
    client_isn: int = 1000
    server_isn: int = 5000
    segments: list[Segment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next = {True: self.client_isn, False: self.server_isn}

    def handshake(self) -> Conversation:
        self.segments.append(Segment(True, self.next[True], 0, SYN))
        self.next[True] += 1
        self.segments.append(Segment(False, self.next[False], self.next[True], SYN | ACK))
        self.next[False] += 1
        self.segments.append(Segment(True, self.next[True], self.next[False], ACK))
        return self

    def send(self, from_client: bool, data: bytes, *, mss: int = 1460, acked: bool = True) -> list[Segment]:
        """Segments carrying ``data`` (cut at ``mss``), then the peer's ACK; the new segments are returned."""
        sent: list[Segment] = []
        for start in range(0, len(data), mss):
            piece = data[start : start + mss]
            sent.append(Segment(from_client, self.next[from_client], self.next[not from_client], ACK | PSH, piece))
            self.next[from_client] += len(piece)
        self.segments.extend(sent)
        if acked:
            self.segments.append(Segment(not from_client, self.next[not from_client], self.next[from_client], ACK))
        return sent

    def close(self, *, reset: bool = False) -> Conversation:
        if reset:
            self.segments.append(Segment(True, self.next[True], self.next[False], RST | ACK))
            return self
        self.segments.append(Segment(True, self.next[True], self.next[False], FIN | ACK))
        self.next[True] += 1
        self.segments.append(Segment(False, self.next[False], self.next[True], FIN | ACK))
        self.next[False] += 1
        self.segments.append(Segment(True, self.next[True], self.next[False], ACK))
        return self

    def packet(self, segment: Segment) -> bytes:
        src, dst = (self.client, self.server) if segment.from_client else (self.server, self.client)
        return ip(src[0], dst[0], 6, tcp(src[1], dst[1], segment.seq, segment.ack, segment.flags, segment.payload))

    def packets(self, segments: list[Segment] | None = None) -> list[bytes]:
        return [self.packet(segment) for segment in (self.segments if segments is None else segments)]


def frames_of(
    packets: list[bytes], *, start_us: int = EPOCH_US, step_us: int = 1000, link: str = "ethernet"
) -> list[Frame]:
    """Frames for IP packets, one ``step_us`` apart; ``link`` is ``ethernet`` or ``raw``."""
    wrap = ethernet if link == "ethernet" else (lambda packet: packet)
    return [Frame(wrap(packet), start_us + index * step_us) for index, packet in enumerate(packets)]


def capture(*conversations: Conversation, interleave: bool = False) -> bytes:
    """A little-endian Ethernet pcap of the conversations, one after the other (or round-robin)."""
    if interleave:
        lists = [conv.packets() for conv in conversations]
        packets: list[bytes] = []
        for index in range(max(len(items) for items in lists)):
            packets.extend(items[index] for items in lists if index < len(items))
    else:
        packets = [packet for conv in conversations for packet in conv.packets()]
    return write_pcap(frames_of(packets))
