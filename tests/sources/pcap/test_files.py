"""Records of classic pcap and pcapng files: formats, byte orders, timestamp resolutions, and damage."""

from __future__ import annotations

import struct

import pytest

from inspector.sources.pcap import looks_like_capture
from inspector.sources.pcap.files import (
    MAX_INTERFACES,
    MAX_RECORD,
    NOT_A_PACKET,
    UNKNOWN_LINKTYPE,
    CaptureFormatError,
    capture_format,
    iter_records,
)
from tests.sources.pcap.capture_builder import (
    EPOCH_US,
    Frame,
    Interface,
    custom_block,
    pcapng_interface,
    pcapng_packet,
    pcapng_section,
    unknown_block,
    write_pcap,
    write_pcapng,
)

FRAMES = [Frame(b"first frame", EPOCH_US + 123_456), Frame(b"second", EPOCH_US + 2_000_001)]


def records(data: bytes) -> list[tuple[int, int, bytes]]:
    return [(linktype, ts, data[start:end]) for linktype, ts, start, end in iter_records(data)]


def read_until_damage(data: bytes, seen: list[bytes]) -> None:
    """Collect each frame's bytes into ``seen`` until the reader raises."""
    for _, _, start, end in iter_records(data):
        seen.append(data[start:end])


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_classic_pcap_in_both_byte_orders_and_resolutions(endian: str, nanos: bool) -> None:
    data = write_pcap(FRAMES, linktype=113, endian=endian, nanos=nanos)
    assert records(data) == [(113, f.ts_us, f.data) for f in FRAMES]


def test_the_fcs_bits_of_the_link_type_field_are_not_the_link_type() -> None:
    data = bytearray(write_pcap(FRAMES))
    struct.pack_into("<I", data, 20, 1 | 0x14000000)  # FCS present, 4 bytes
    assert {linktype for linktype, _, _ in records(bytes(data))} == {1}


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_interfaces_with_their_own_link_types_and_resolutions(endian: str) -> None:
    interfaces = [
        Interface(linktype=1),
        Interface(linktype=0, tsresol=9),  # nanoseconds
        Interface(linktype=101, tsresol=0x80 | 10),  # 2**-10 s
        Interface(linktype=113, tsresol=3, tsoffset=-3600),  # milliseconds, offset by an hour
    ]
    frames = [
        Frame(b"a", EPOCH_US + 1, 0),
        Frame(b"bb", EPOCH_US + 2, 1),
        Frame(b"ccc", EPOCH_US + 1_000_000, 2),  # whole seconds are exact in 2**-10
        Frame(b"dddd", EPOCH_US + 5_000, 3),
    ]
    data = write_pcapng(frames, interfaces, endian=endian)
    assert records(data) == [
        (1, EPOCH_US + 1, b"a"),
        (0, EPOCH_US + 2, b"bb"),
        (101, EPOCH_US + 1_000_000, b"ccc"),
        (113, EPOCH_US + 5_000, b"dddd"),
    ]


def test_pcapng_simple_and_obsolete_packet_blocks() -> None:
    frames = [Frame(b"enhanced", EPOCH_US + 10), Frame(b"simple!", EPOCH_US + 20), Frame(b"obsolete", EPOCH_US + 30)]
    data = write_pcapng(frames, blocks=["epb", "spb", "opb"])
    # A simple packet block has no timestamp: it takes the previous frame's.
    assert records(data) == [
        (1, EPOCH_US + 10, b"enhanced"),
        (1, EPOCH_US + 10, b"simple!"),
        (1, EPOCH_US + 30, b"obsolete"),
    ]


def test_unknown_blocks_are_skipped_and_custom_blocks_numbered_as_wireshark_does() -> None:
    data = write_pcapng(FRAMES, extra=unknown_block() + custom_block())
    got = records(data)
    assert [linktype for linktype, _, _ in got] == [NOT_A_PACKET, 1, 1]
    assert [payload for _, _, payload in got][1:] == [f.data for f in FRAMES]


def test_a_frame_on_an_interface_that_does_not_exist_keeps_its_number() -> None:
    data = write_pcapng([Frame(b"x", EPOCH_US, 0), Frame(b"y", EPOCH_US, 0)])
    bad = bytearray(data)
    first_epb = len(pcapng_section()) + len(pcapng_interface("<", Interface()))
    struct.pack_into("<I", bad, first_epb + 8, 7)  # interface 7
    assert [linktype for linktype, _, _ in records(bytes(bad))] == [UNKNOWN_LINKTYPE, 1]


def test_the_interfaces_of_a_section_are_bounded() -> None:
    data = pcapng_section() + pcapng_interface("<", Interface()) * (MAX_INTERFACES + 1)
    with pytest.raises(CaptureFormatError, match=f"more than {MAX_INTERFACES} interfaces"):
        list(iter_records(data))


def test_sections_switch_byte_order() -> None:
    second = pcapng_section(">") + pcapng_interface(">", Interface(linktype=101))
    second += pcapng_packet(">", Frame(b"big", EPOCH_US + 7), Interface(linktype=101))
    data = write_pcapng(FRAMES) + second
    assert records(data)[-1] == (101, EPOCH_US + 7, b"big")


def test_a_section_of_an_unknown_version_is_rejected_after_the_frames_before_it() -> None:
    data = write_pcapng(FRAMES) + pcapng_section("<", version=(2, 0))
    seen: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=r"unsupported pcapng version 2\.0") as error:
        read_until_damage(data, seen)
    assert seen == [f.data for f in FRAMES]
    assert error.value.offset == len(write_pcapng(FRAMES))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:-3], "truncated block"),
        (lambda d: d + b"\x06\x00\x00\x00", "truncated block header"),
        (lambda d: d + struct.pack("<II", 6, 0) + b"\x00" * 8, "invalid block length 0"),
        (lambda d: d + struct.pack("<II", 6, 22) + b"\x00" * 16, "invalid block length 22"),
        (lambda d: d + struct.pack("<II", 6, MAX_RECORD + 4) + b"\x00" * 16, "claims"),
        (lambda d: d + struct.pack("<III", 6, 12, 16), "does not match its trailer"),
        (lambda d: d + struct.pack("<IIIIIIII", 6, 32, 0, 0, 0, 99, 99, 32), "overruns its block"),
        (lambda d: d + b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 28) + b"\x00" * 20, "no byte-order magic"),
    ],
)
def test_damaged_pcapng_raises_after_the_intact_frames(damage: object, message: str) -> None:
    intact = write_pcapng(FRAMES)
    data = damage(intact)  # type: ignore[operator]
    seen: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=message):
        read_until_damage(data, seen)
    complete = FRAMES if len(data) > len(intact) else FRAMES[:-1]
    assert seen == [f.data for f in complete]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:-2], "truncated record"),
        (lambda d: d + b"\x00" * 7, "truncated record header"),
        (lambda d: d + struct.pack("<IIII", 0, 0, 0, 0), "zero-length record"),
        (lambda d: d + struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 60), "record claims 4294967280 bytes"),
        (lambda d: d + struct.pack("<IIII", 0, 0, 1000, 1000) + b"x" * 10, "truncated record"),
    ],
)
def test_damaged_classic_pcap_raises_after_the_intact_frames(damage: object, message: str) -> None:
    intact = write_pcap(FRAMES)
    data = damage(intact)  # type: ignore[operator]
    seen: list[bytes] = []
    with pytest.raises(CaptureFormatError, match=message):
        read_until_damage(data, seen)
    complete = FRAMES if len(data) > len(intact) else FRAMES[:-1]
    assert seen == [f.data for f in complete]


def test_headers_that_are_cut_or_wrong() -> None:
    with pytest.raises(CaptureFormatError, match="pcap file header"):
        list(iter_records(b"\xd4\xc3\xb2\xa1\x02\x00"))
    with pytest.raises(CaptureFormatError, match=r"unsupported pcap version 3\.0"):
        list(iter_records(struct.pack("<IHHiIII", 0xA1B2C3D4, 3, 0, 0, 0, 0, 1)))
    with pytest.raises(CaptureFormatError, match="not a pcap or pcapng file"):
        list(iter_records(b"GET / HTTP/1.1\r\n"))
    with pytest.raises(CaptureFormatError, match="truncated section header"):
        list(iter_records(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00"))


def test_the_format_is_told_by_the_magic_number() -> None:
    assert capture_format(write_pcap(FRAMES)) == "pcap"
    assert capture_format(write_pcap(FRAMES, endian=">", nanos=True)) == "pcap"
    assert capture_format(write_pcapng(FRAMES)) == "pcapng"
    assert capture_format(b"\x00\x01") is None
    assert looks_like_capture(b"\x4d\x3c\xb2\xa1" + b"\x00" * 20)
    assert looks_like_capture(b"\xa1\xb2\x3c\x4d")
    assert looks_like_capture(b"\x0a\x0d\x0d\x0a")
    assert not looks_like_capture(b'{"log": {}}')
    assert not looks_like_capture(b"")
