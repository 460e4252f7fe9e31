"""Packet records of classic pcap and pcapng files, read in place from a memory map.

The readers yield ``(linktype, ts_us, start, end)`` per captured frame, in file order: the frame's bytes are
``buf[start:end]`` of the buffer the reader was given (the mmap), so nothing is copied here. Timestamps are
microseconds since the epoch (``datetime`` cannot hold more). Damage raises ``CaptureFormatError`` with the file
offset, only when reached, so every frame before it has been yielded.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

Record = tuple[int, int, int, int]
"""``(linktype, ts_us, start, end)``; linktype ``-1`` when a pcapng frame names an interface that does not
exist, ``-2`` for a block that Wireshark numbers as a frame although it holds no packet."""

UNKNOWN_LINKTYPE: Final = -1
NOT_A_PACKET: Final = -2
"""The link type given to blocks Wireshark numbers as frames but that carry no packet (custom blocks, journal)."""
TLS_SECRETS: Final = -3
"""The "link type" of a Decryption Secrets Block holding a TLS key log: ``start:end`` is the key log text. It is
not a frame (Wireshark does not number it)."""
MAX_INTERFACES: Final = 4096
"""Interfaces per pcapng section: real captures have a handful; the list must not grow with the file."""
MAX_RECORD: Final = 256 << 20
"""No capture format writes frames this large; a claimed length beyond it is damage, not data."""

PCAP_MAGICS: dict[bytes, tuple[str, bool]] = {
    b"\xd4\xc3\xb2\xa1": ("<", False),
    b"\xa1\xb2\xc3\xd4": (">", False),
    b"\x4d\x3c\xb2\xa1": ("<", True),
    b"\xa1\xb2\x3c\x4d": (">", True),
}
PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D

_SHB: Final = 0x0A0D0D0A
_IDB: Final = 1
_OPB: Final = 2  # obsolete packet block
_SPB: Final = 3
_EPB: Final = 6
_DSB: Final = 0x0000000A
_DSB_TLS_KEY_LOG: Final = 0x544C534B
# Wireshark numbers these blocks as frames too; counting them keeps frame numbers the same as its own.
_FRAME_LIKE_BLOCKS: Final = frozenset({0x00000BAD, 0x40000BAD, 0x00000009})  # custom blocks, systemd journal export
_IF_TSRESOL: Final = 9
_IF_TSOFFSET: Final = 14


Buffer = bytes | mmap.mmap
"""What the readers work on: the whole file as an mmap, or bytes (whose slices are hashable bytes too)."""


class CaptureFormatError(Exception):
    """The file's structure is broken at ``offset``; ``reason`` says how."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} at offset {offset}")
        self.offset = offset
        self.reason = reason


def capture_format(head: bytes) -> str | None:
    """``"pcap"``, ``"pcapng"`` or ``None``, from the magic number alone."""
    magic = bytes(head[:4])
    if magic in PCAP_MAGICS:
        return "pcap"
    if magic == PCAPNG_MAGIC:
        return "pcapng"
    return None


def iter_records(buf: Buffer) -> Iterator[Record]:
    """Every frame of a pcap or pcapng capture held in ``buf``."""
    head = bytes(buf[:4])
    kind = capture_format(head)
    if kind == "pcap":
        return iter_pcap(buf)
    if kind == "pcapng":
        return iter_pcapng(buf)
    raise CaptureFormatError(0, f"not a pcap or pcapng file (magic {head.hex() or 'missing'})")


def iter_pcap(buf: Buffer) -> Iterator[Record]:
    size = len(buf)
    head = bytes(buf[:4])
    endian, nanos = PCAP_MAGICS[head]
    if size < 24:
        raise CaptureFormatError(size, "file ends inside the pcap file header")
    major, minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(endian + "HHiIII", buf, 4)
    if major != 2:
        raise CaptureFormatError(4, f"unsupported pcap version {major}.{minor}")
    # The upper bits of the link type field carry FCS information, not the link type.
    linktype = network & 0xFFFF
    record = struct.Struct(endian + "IIII")
    unpack = record.unpack_from
    off = 24
    while off < size:
        if off + 16 > size:
            raise CaptureFormatError(off, "truncated record header")
        header: tuple[int, int, int, int] = unpack(buf, off)  # typed: compiled, tested as ints, not objects
        sec, frac, incl, _orig = header
        if incl == 0:
            raise CaptureFormatError(off, "zero-length record")
        if incl > MAX_RECORD:
            raise CaptureFormatError(off, f"record claims {incl} bytes")
        start = off + 16
        end = start + incl
        if end > size:
            raise CaptureFormatError(off, f"truncated record ({incl} bytes claimed, {size - start} left)")
        yield linktype, sec * 1_000_000 + (frac // 1000 if nanos else frac), start, end
        off = end


@dataclass(slots=True)
class _Interface:
    linktype: int
    mul: int
    div: int
    shift: int
    offset_us: int

    def micros(self, ticks: int) -> int:
        return ((ticks * self.mul) >> self.shift) // self.div + self.offset_us

    @property
    def in_micros(self) -> bool:
        """Its ticks are microseconds (the default resolution): ``micros`` only adds the offset."""
        return self.mul == self.div == 1 and not self.shift


# Compiled once per byte order: a format string given to ``struct.unpack_from`` is looked up in a cache per call.
# The first is a block header with, if the block is an enhanced packet block, the fields before its packet data.
_BLOCK_STRUCTS: Final = {endian: (struct.Struct(endian + "IIIIIII"), struct.Struct(endian + "I")) for endian in "<>"}


def iter_pcapng(buf: Buffer) -> Iterator[Record]:
    size = len(buf)
    off = 0
    endian = "<"
    header, word = _BLOCK_STRUCTS[endian]
    interfaces: list[_Interface] = []
    # Per interface: its link type, and the offset to add to ticks in microseconds (None: ``micros`` converts).
    plain: list[tuple[int, int | None]] = []
    last_ts = 0
    while off < size:
        if off + 28 <= size:
            fields: tuple[int, int, int, int, int, int, int] = header.unpack_from(buf, off)  # typed, as in iter_pcap
            btype, blen, ifid, hi, lo, caplen, _orig = fields
        elif off + 12 > size:
            raise CaptureFormatError(off, "truncated block header")
        else:  # too short for an enhanced packet block: its fields are not read
            btype, blen = struct.unpack_from(endian + "II", buf, off)
            ifid = hi = lo = caplen = 0
        if btype == _SHB:  # the same in either byte order: the section says which follows
            endian = _section_endian(buf, off, size)
            header, word = _BLOCK_STRUCTS[endian]
            interfaces, plain = [], []
            btype, blen = struct.unpack_from(endian + "II", buf, off)
        if blen < 12 or blen % 4:
            raise CaptureFormatError(off, f"invalid block length {blen}")
        if blen > MAX_RECORD:
            raise CaptureFormatError(off, f"block claims {blen} bytes")
        end = off + blen
        if end > size:
            raise CaptureFormatError(off, f"truncated block ({blen} bytes claimed, {size - off} left)")
        trailer: int = word.unpack_from(buf, end - 4)[0]
        if trailer != blen:
            raise CaptureFormatError(off, f"block length {blen} does not match its trailer {trailer}")
        body = off + 8
        body_end = end - 4
        if btype == _EPB:
            if body + 20 > body_end:
                raise CaptureFormatError(off, "enhanced packet block too short")
            # Its fields were read with the header (the block is long enough to hold them).
            start = body + 20
            if start + caplen > body_end:
                raise CaptureFormatError(off, f"packet data ({caplen} bytes) overruns its block")
            if ifid < len(plain):
                linktype, offset_us = plain[ifid]
                ticks = (hi << 32) | lo
                last_ts = ticks + offset_us if offset_us is not None else interfaces[ifid].micros(ticks)
                yield linktype, last_ts, start, start + caplen
            else:
                yield UNKNOWN_LINKTYPE, last_ts, start, start + caplen
        elif btype == _SPB:
            if body + 4 > body_end:
                raise CaptureFormatError(off, "simple packet block too short")
            (orig,) = word.unpack_from(buf, body)
            start = body + 4
            # The block is padded to 32 bits: the frame is the original length unless the snapshot cut it.
            caplen = min(orig, body_end - start)
            # Simple packet blocks carry no timestamp: the previous frame's time is the best estimate.
            linktype = interfaces[0].linktype if interfaces else UNKNOWN_LINKTYPE
            yield linktype, last_ts, start, start + caplen
        elif btype == _OPB:
            if body + 20 > body_end:
                raise CaptureFormatError(off, "packet block too short")
            ifid, _drops, hi, lo, caplen, _orig = struct.unpack_from(endian + "HHIIII", buf, body)
            start = body + 20
            if start + caplen > body_end:
                raise CaptureFormatError(off, f"packet data ({caplen} bytes) overruns its block")
            if ifid < len(interfaces):
                iface = interfaces[ifid]
                last_ts = iface.micros((hi << 32) | lo)
                yield iface.linktype, last_ts, start, start + caplen
            else:
                yield UNKNOWN_LINKTYPE, last_ts, start, start + caplen
        elif btype == _IDB:
            if body + 8 > body_end:
                raise CaptureFormatError(off, "interface description block too short")
            if len(interfaces) >= MAX_INTERFACES:
                raise CaptureFormatError(off, f"more than {MAX_INTERFACES} interfaces in one section")
            iface = _interface(buf, endian, body, body_end)
            interfaces.append(iface)
            plain.append((iface.linktype, iface.offset_us if iface.in_micros else None))
        elif btype in _FRAME_LIKE_BLOCKS:
            yield NOT_A_PACKET, last_ts, body, body
        elif btype == _DSB and body + 8 <= body_end:
            secrets_type, secrets_len = struct.unpack_from(endian + "II", buf, body)
            if secrets_type == _DSB_TLS_KEY_LOG and body + 8 + secrets_len <= body_end:
                yield TLS_SECRETS, last_ts, body + 8, body + 8 + secrets_len
        # Any other block (name resolution, statistics, other secrets) carries no frames.
        off = end


def _section_endian(buf: Buffer, off: int, size: int) -> str:
    if off + 16 > size:
        raise CaptureFormatError(off, "truncated section header block")
    (magic,) = struct.unpack_from("<I", buf, off + 8)
    if magic == _BYTE_ORDER_MAGIC:
        endian = "<"
    elif magic == 0x4D3C2B1A:
        endian = ">"
    else:
        raise CaptureFormatError(off, "invalid section header block (no byte-order magic)")
    major, minor = struct.unpack_from(endian + "HH", buf, off + 12)
    if major != 1 or minor > 2:
        raise CaptureFormatError(off, f"unsupported pcapng version {major}.{minor} in section header block")
    return endian


def _interface(buf: Buffer, endian: str, body: int, body_end: int) -> _Interface:
    (linktype,) = struct.unpack_from(endian + "H", buf, body)
    mul, div, shift, offset_us = 1, 1, 0, 0
    opt = body + 8
    # Options: code, length, value padded to 32 bits; opt_endofopt (0) or the block's end stops the walk.
    while opt + 4 <= body_end:
        code, length = struct.unpack_from(endian + "HH", buf, opt)
        value = opt + 4
        if code == 0 or value + length > body_end:
            break
        if code == _IF_TSRESOL and length >= 1:
            resol = buf[value]
            if resol & 0x80:  # a power of two
                mul, div, shift = 1_000_000, 1, min(resol & 0x7F, 127)
            elif resol <= 6:
                mul, div, shift = 10 ** (6 - resol), 1, 0
            else:
                mul, div, shift = 1, 10 ** min(resol - 6, 120), 0
        elif code == _IF_TSOFFSET and length >= 8:
            (seconds,) = struct.unpack_from(endian + "q", buf, value)
            offset_us = seconds * 1_000_000
        opt = value + ((length + 3) & ~3)
    return _Interface(linktype, mul, div, shift, offset_us)
