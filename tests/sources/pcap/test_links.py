"""Link layers, IP and tunnels: every supported way to carry a TCP segment decodes to the same segment."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.sources.pcap.links import LINK_DECODERS
from inspector.sources.pcap.packets import PacketDecoder
from tests.sources.pcap.capture_builder import ACK, PSH, ethernet, ipv4, ipv6, tcp, udp

PAYLOAD = b"GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail\r\n\r\n"
SEGMENT = tcp(50000, 80, 1000, 2000, ACK | PSH, PAYLOAD)
V4 = ipv4("10.0.0.1", "10.0.0.2", 6, SEGMENT)
V6 = ipv6("2001:db8::1", "2001:db8::2", 6, SEGMENT)
OUTER = ("192.0.2.1", "192.0.2.2")


def expected(src: str, dst: str) -> tuple[bytes, bytes, int, int, int, int, int, bytes]:
    return (
        ipaddress.ip_address(src).packed,
        ipaddress.ip_address(dst).packed,
        50000,
        80,
        1000,
        2000,
        ACK | PSH,
        PAYLOAD,
    )


EXPECT_V4 = expected("10.0.0.1", "10.0.0.2")
EXPECT_V6 = expected("2001:db8::1", "2001:db8::2")


def decode(linktype: int, frame: bytes) -> object:
    return PacketDecoder().decode(linktype, frame, 0, len(frame))


def sll(packet: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\x00\x00", proto) + packet


def sll2(packet: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, b"\x02" * 6 + b"\x00\x00") + packet


def nflog(packet: bytes, little: bool = True) -> bytes:
    order = "<" if little else ">"
    prefix = struct.pack(order + "HH", 8, 1) + b"\x08\x00\x01\x00"  # NFULA_PACKET_HDR
    payload = struct.pack(order + "HH", 4 + len(packet), 9) + packet + b"\x00" * (-len(packet) % 4)
    return struct.pack("!BBH", 2, 0, 0) + prefix + payload


def wifi(packet: bytes, *, qos: bool = True, to_and_from_ds: bool = False, protected: bool = False) -> bytes:
    subtype = 0x8 if qos else 0x0
    fc = bytes([(subtype << 4) | 0x08, (0x03 if to_and_from_ds else 0x01) | (0x40 if protected else 0)])
    header = fc + b"\x00\x00" + b"\x02" * 18 + b"\x00\x00"
    if to_and_from_ds:
        header += b"\x02" * 6
    if qos:
        header += b"\x00\x00"
    return header + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + packet


def radiotap(frame: bytes) -> bytes:
    return struct.pack("<BBHI", 0, 0, 8, 0) + frame


def gre(packet: bytes, proto: int, *, key: bool = False, seq: bool = False, checksum: bool = False) -> bytes:
    flags = (0x8000 if checksum else 0) | (0x2000 if key else 0) | (0x1000 if seq else 0)
    extra = (
        (b"\x00" * 4 if checksum else b"")
        + (b"\x00\x00\x00\x07" if key else b"")
        + (b"\x00\x00\x00\x01" if seq else b"")
    )
    return ipv4(*OUTER, 47, struct.pack("!HH", flags, proto) + extra + packet)


def gtp(packet: bytes, *, extension: bool = False) -> bytes:
    if extension:  # sequence + N-PDU + next extension (PDU session container), then one 4-byte extension
        header = struct.pack("!BBHI", 0x34, 0xFF, len(packet) + 8, 1) + b"\x00\x00\x00\x85" + b"\x01\x00\x01\x00"
    else:
        header = struct.pack("!BBHI", 0x30, 0xFF, len(packet), 1)
    return ipv4(*OUTER, 17, udp(2152, 2152, header + packet))


def ayiya(packet: bytes, next_header: int) -> bytes:
    header = bytes([0x41, 0x52, 0x11, next_header]) + b"\x00" * 4 + b"\x20" * 16 + b"\x30" * 20
    return ipv4(*OUTER, 17, udp(5072, 5072, header + packet))


def tzsp(frame: bytes, port: int = 37008) -> bytes:
    tags = b"\x00\x0a\x01\x07\x01"  # padding, tag 10 (1 byte), end
    return ipv4(*OUTER, 17, udp(40000, port, b"\x01\x00\x00\x01" + tags + frame))


CASES: list[tuple[str, int, bytes, object]] = [
    ("ethernet", 1, ethernet(V4), EXPECT_V4),
    ("ethernet ipv6", 1, ethernet(V6), EXPECT_V6),
    ("ethernet with trailer", 1, ethernet(V4) + b"\x00" * 6 + b"FCS!", EXPECT_V4),
    ("802.1q", 1, ethernet(V4, tags=((0x8100, 6),)), EXPECT_V4),
    ("qinq 88a8", 1, ethernet(V4, tags=((0x88A8, 3394), (0x8100, 113))), EXPECT_V4),
    ("qinq 9100", 1, ethernet(V6, tags=((0x9100, 10), (0x8100, 20))), EXPECT_V6),
    (
        "mpls in vlan",
        1,
        ethernet(struct.pack("!II", 0x00010000, 0x00020100) + V4, 0x8847, tags=((0x8100, 3199),)),
        EXPECT_V4,
    ),
    ("mpls pseudowire", 1, ethernet(struct.pack("!I", 0x00010100) + b"\x00" * 4 + ethernet(V4), 0x8847), EXPECT_V4),
    ("pppoe", 1, ethernet(struct.pack("!BBHHH", 0x11, 0, 1, len(V4) + 2, 0x0021) + V4, 0x8864), EXPECT_V4),
    ("802.3 llc snap", 1, ethernet(b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + V4, len(V4) + 8), EXPECT_V4),
    ("linux sll", 113, sll(V4), EXPECT_V4),
    ("linux sll vlan", 113, sll(struct.pack("!HH", 5, 0x86DD) + V6, 0x8100), EXPECT_V6),
    ("linux sll2", 276, sll2(V6, 0x86DD), EXPECT_V6),
    ("null af_inet le", 0, struct.pack("<I", 2) + V4, EXPECT_V4),
    ("null af_inet be", 0, struct.pack(">I", 2) + V4, EXPECT_V4),
    ("null af_inet6 linux", 0, struct.pack("<I", 10) + V6, EXPECT_V6),
    ("null af_inet6 netbsd", 0, struct.pack("<I", 24) + V6, EXPECT_V6),
    ("null af_inet6 freebsd", 0, struct.pack("<I", 28) + V6, EXPECT_V6),
    ("null af_inet6 macos", 0, struct.pack("<I", 30) + V6, EXPECT_V6),
    ("null af_inet6 macos be", 0, struct.pack(">I", 30) + V6, EXPECT_V6),
    ("loop", 108, struct.pack(">I", 24) + V6, EXPECT_V6),
    ("raw 101 v4", 101, V4, EXPECT_V4),
    ("raw 101 v6", 101, V6, EXPECT_V6),
    ("raw 12", 12, V4, EXPECT_V4),
    ("raw 14", 14, V6, EXPECT_V6),
    ("ipv4 228", 228, V4, EXPECT_V4),
    ("ipv6 229", 229, V6, EXPECT_V6),
    ("nflog", 239, nflog(V4), EXPECT_V4),
    ("nflog big-endian tlvs", 239, nflog(V6, little=False), EXPECT_V6),
    ("radiotap 802.11 qos", 127, radiotap(wifi(V4)), EXPECT_V4),
    ("radiotap 802.11 wds", 127, radiotap(wifi(V4, qos=False, to_and_from_ds=True)), EXPECT_V4),
    ("802.11", 105, wifi(V4, qos=False), EXPECT_V4),
    ("ppp", 9, b"\xff\x03\x00\x21" + V4, EXPECT_V4),
    ("ppp compressed protocol", 9, b"\x57" + V6, EXPECT_V6),
    ("cisco hdlc", 104, b"\x0f\x00\x08\x00" + V4, EXPECT_V4),
    ("gre ip", 1, ethernet(gre(V4, 0x0800)), EXPECT_V4),
    ("gre key seq checksum", 1, ethernet(gre(V6, 0x86DD, key=True, seq=True, checksum=True)), EXPECT_V6),
    ("gre transparent ethernet", 1, ethernet(gre(ethernet(V4), 0x6558)), EXPECT_V4),
    ("erspan type ii", 1, ethernet(gre(b"\x10\x01\x00\x01" + b"\x00" * 4 + ethernet(V4), 0x88BE, seq=True)), EXPECT_V4),
    ("erspan type i", 1, ethernet(gre(ethernet(V4), 0x88BE)), EXPECT_V4),
    (
        "erspan type iii",
        1,
        ethernet(gre(b"\x20\x01\x00\x01" + b"\x00" * 8 + ethernet(V4), 0x22EB, seq=True)),
        EXPECT_V4,
    ),
    (
        "erspan type iii subheader",
        1,
        ethernet(gre(b"\x20\x01\x00\x01" + b"\x00" * 7 + b"\x01" + b"\x00" * 8 + ethernet(V4), 0x22EB, seq=True)),
        EXPECT_V4,
    ),
    ("gre mpls", 1, ethernet(gre(struct.pack("!I", 0x00010100) + V4, 0x8847)), EXPECT_V4),
    (
        "vxlan",
        1,
        ethernet(ipv4(*OUTER, 17, udp(51000, 4789, b"\x08\x00\x00\x00\x00\x00\x10\x00" + ethernet(V4)))),
        EXPECT_V4,
    ),
    (
        "geneve",
        1,
        ethernet(ipv4(*OUTER, 17, udp(51000, 6081, b"\x01\x00\x65\x58\x00\x00\x10\x00" + b"\x00" * 4 + ethernet(V4)))),
        EXPECT_V4,
    ),
    ("gtp-u", 1, ethernet(gtp(V4)), EXPECT_V4),
    ("gtp-u extension header", 1, ethernet(gtp(V6, extension=True), tags=((0x88A8, 1), (0x8100, 2))), EXPECT_V6),
    ("ayiya ipv6", 1, ethernet(ayiya(V6, 41)), EXPECT_V6),
    ("tzsp", 1, ethernet(tzsp(ethernet(V4))), EXPECT_V4),
    ("tzsp any port", 1, ethernet(tzsp(ethernet(V6), 31337)), EXPECT_V6),
    ("ip in ip", 101, ipv4(*OUTER, 4, V4), EXPECT_V4),
    ("ipv6 in ipv4", 101, ipv4(*OUTER, 41, V6), EXPECT_V6),
    ("ipv4 options", 1, ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, SEGMENT, options=b"\x01\x01\x01\x00")), EXPECT_V4),
    (
        "ipv6 extension headers",
        1,
        ethernet(
            ipv6(
                "2001:db8::1",
                "2001:db8::2",
                6,
                SEGMENT,
                extensions=(
                    (0, b"\x01\x04\x00\x00\x00\x00"),
                    (43, b"\x00\x00\x00\x00\x00\x00"),
                    (51, b"\x00" * 14),
                    (60, b"\x01\x04\x00\x00\x00\x00"),
                ),
            )
        ),
        EXPECT_V6,
    ),
]


@pytest.mark.parametrize(("linktype", "frame", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_encapsulation_yields_the_segment(linktype: int, frame: bytes, want: object) -> None:
    assert decode(linktype, frame) == want


@pytest.mark.parametrize(("linktype", "frame", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_cut_of_a_frame_is_handled(linktype: int, frame: bytes, want: object) -> None:
    # A frame cut by the snapshot length decodes to a shorter segment or to nothing, never to an error.
    del want
    for cut in range(len(frame)):
        got = decode(linktype, frame[:cut])
        assert got is None or (isinstance(got, tuple) and PAYLOAD.startswith(got[7]))


NOT_TCP = [
    ("arp", 1, ethernet(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 20, 0x0806)),
    ("udp", 1, ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(53, 53, b"\x12\x34\x01\x00")))),
    ("esp", 1, ethernet(ipv4("10.0.0.1", "10.0.0.2", 50, b"\x00" * 32))),
    ("protected 802.11", 105, wifi(V4, protected=True)),
    ("unknown link type", 147, V4),
    ("unknown null family", 0, struct.pack("<I", 7) + V4),
    ("enhanced gre", 1, ethernet(ipv4(*OUTER, 47, struct.pack("!HH", 0x3001, 0x880B) + b"\x00" * 8 + V4))),
]


@pytest.mark.parametrize(("linktype", "frame"), [c[1:] for c in NOT_TCP], ids=[c[0] for c in NOT_TCP])
def test_what_carries_no_tcp_is_dropped(linktype: int, frame: bytes) -> None:
    assert decode(linktype, frame) is None


def _fragments(packet: bytes, size: int) -> list[tuple[int, bool, bytes]]:
    return [(start, start + size < len(packet), packet[start : start + size]) for start in range(0, len(packet), size)]


def test_ipv4_fragments_are_reassembled_in_any_order() -> None:
    decoder = PacketDecoder()
    pieces = _fragments(SEGMENT, 16)
    frames = [
        ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, data, ident=77, frag=(0x2000 if more else 0) | start // 8))
        for start, more, data in pieces
    ]
    order = [2, 0, 3, 1, *list(range(4, len(frames)))]
    results = [decoder.decode(1, frame, 0, len(frame)) for frame in (frames[i] for i in order)]
    assert results[:-1] == [None] * (len(frames) - 1)
    assert results[-1] == EXPECT_V4


def test_ipv6_fragments_are_reassembled() -> None:
    decoder = PacketDecoder()
    pieces = _fragments(SEGMENT, 32)
    frames = []
    for start, more, data in pieces:
        fragment_header = struct.pack("!BBHI", 6, 0, start | int(more), 0xABCD)
        packet = struct.pack(
            "!IHBB16s16s",
            0x60000000,
            8 + len(data),
            44,
            64,
            ipaddress.ip_address("2001:db8::1").packed,
            ipaddress.ip_address("2001:db8::2").packed,
        )
        frames.append(packet + fragment_header + data)
    results = [decoder.decode(101, frame, 0, len(frame)) for frame in reversed(frames)]
    assert results[-1] == EXPECT_V6
    assert results[:-1] == [None] * (len(frames) - 1)


def test_fragment_reassembly_is_bounded() -> None:
    decoder = PacketDecoder()
    # Thousands of first fragments that never complete: only the newest few hundred are kept.
    for ident in range(5000):
        frame = ipv4("10.0.0.1", "10.0.0.2", 6, b"\x00" * 16, ident=ident, frag=0x2000)
        assert decoder.decode(101, frame, 0, len(frame)) is None
    assert len(decoder.defragmenter._pending) <= 256
    # A fragment claiming to reach beyond 64 KiB is dropped.
    frame = ipv4("10.0.0.1", "10.0.0.2", 6, b"\x00" * 16, ident=1, frag=0x1FFF)
    assert decoder.decode(101, frame, 0, len(frame)) is None
    # The same big fragment sent over and over (overlapping) is not kept over and over.
    big = ipv4("10.0.0.1", "10.0.0.2", 6, b"\x00" * 60000, ident=2, frag=0x2000)
    for _ in range(50):
        decoder.decode(101, big, 0, len(big))
    assert decoder.defragmenter._held <= 2 * 65535 + 16 * 256


def test_a_frame_is_read_only_within_its_bounds() -> None:
    # The decoder sees the whole file: bytes after the frame's end must not be read as part of it.
    frame = ethernet(V4)
    buffer = frame + ethernet(V4)
    assert PacketDecoder().decode(1, buffer, 0, len(frame) - 5) is not None
    got = PacketDecoder().decode(1, buffer, 0, len(frame) - 5)
    assert isinstance(got, tuple)
    assert got[7] == PAYLOAD[:-5]


@settings(max_examples=300, deadline=None)
@given(linktype=st.sampled_from(sorted(LINK_DECODERS)), data=st.binary(max_size=200))
def test_random_frames_never_raise(linktype: int, data: bytes) -> None:
    decode(linktype, data)
