"""Read the HTTP/1.x exchanges in a pcap or pcapng capture, with the notices the capture deserves.

The file is memory-mapped and its records sliced in place; frames go through link, IP and tunnel decoding to
TCP, each direction of a connection is reassembled and parsed as HTTP by content (any port), and requests are
paired with responses. Memory stays flat in the size of the file: pages already read are dropped from the
mapping, and every per-connection buffer and table is bounded.

Damage (a truncated or corrupt record) raises ``InputError`` only after everything before it was output,
including what the reassembler held when the damage was reached.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from inspector.model import InputError, Notice, SourceItem
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.connections import ConnectionTable
from inspector.sources.pcap.files import (
    TLS_SECRETS,
    UNKNOWN_LINKTYPE,
    CaptureFormatError,
    capture_format,
    iter_records,
)
from inspector.sources.pcap.ordering import OrderedOutput
from inspector.sources.pcap.packets import PacketDecoder
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import KeyLog

PROGRESS_EVERY = 1 << 16
"""Packets between progress reports and housekeeping (idle connections, dropped pages)."""
REAP_EVERY = 1 << 12
"""Packets between closing connections that were reset and went quiet, and releasing pages already read."""
DROP_PAGES_EVERY = 4 << 20
"""Bytes of the mapping read before their pages are released (at most this plus 4096 frames stay mapped)."""
MAX_FRAME_READ = 1 << 20
"""Frames are read up to this length, as if captured with this snap length: segmentation offload shows segments
of up to 64 KiB (BIG TCP some hundreds), while a record may claim 256 MiB. The TCP bytes beyond it are missing to
reassembly, so the exchanges they would carry are reported as a capture gap; the rest of the record is never
touched, so it costs no memory."""
MEMORY_BUDGET = 256 << 20
"""Bytes that out-of-order segments and oversized header blocks of all connections may hold together."""


@dataclass(frozen=True, slots=True)
class CaptureProgress:
    bytes_read: int
    total_bytes: int
    packets: int
    exchanges: int


def looks_like_capture(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts a pcap or pcapng capture."""
    return capture_format(head) is not None


def read_capture(
    path: Path,
    *,
    progress: Callable[[CaptureProgress], None] | None = None,
    keep_bodies: bool = False,
    keylog: KeyLog | None = None,
    on_tls: Callable[[TlsFacts], None] | None = None,
    label: str | None = None,
) -> Iterator[SourceItem]:
    """Exchanges (in the order their requests began) and notices read from the capture at ``path``.

    Bodies are ``None`` unless ``keep_bodies``; kept bodies are cut at 1 MiB. TLS connections are decrypted
    with ``keylog`` and the capture's own Decryption Secrets Blocks; ``on_tls`` hears of every TLS connection
    (decrypted or not) as it closes. Raises ``InputError`` when the
    file cannot be read, or after everything readable was yielded when it is damaged part way.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(
            f"Cannot read capture {path}: {exc.strerror or exc}; check the path and its permissions"
        ) from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise InputError(f"Cannot read capture {path}: the file is empty")
        try:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read capture {path}: it cannot be mapped into memory ({exc})") from exc
        try:
            yield from _read(path, mapped, size, progress, keep_bodies, keylog, on_tls, label or path.name)
        finally:
            mapped.close()


def _read(
    path: Path,
    mapped: mmap.mmap,
    size: int,
    progress: Callable[[CaptureProgress], None] | None,
    keep_bodies: bool,
    keylog: KeyLog | None,
    on_tls: Callable[[TlsFacts], None] | None,
    label: str,
) -> Iterator[SourceItem]:
    source = label
    out = OrderedOutput(label, source)
    table = ConnectionTable(
        out, source, keep_bodies=keep_bodies, budget=MemoryBudget(MEMORY_BUDGET), keylog=keylog, on_tls=on_tls
    )
    decoder = PacketDecoder()
    decode = decoder.decode
    segment_in = table.segment
    try:
        records = iter_records(mapped)
    except CaptureFormatError as exc:
        raise InputError(f"Cannot read capture {path}: {exc.reason}; only pcap and pcapng captures are read") from None
    _advise(mapped, mmap.MADV_SEQUENTIAL if hasattr(mmap, "MADV_SEQUENTIAL") else None, 0, 0)
    frame = 0
    housekeeping = REAP_EVERY
    read_to = 0
    dropped_to = 0
    damage: CaptureFormatError | None = None
    try:
        for linktype, ts, start, end in records:
            frame += 1
            segment = decode(linktype, mapped, start, end if end - start <= MAX_FRAME_READ else start + MAX_FRAME_READ)
            if segment is not None:
                segment_in(segment, frame, ts)
                if out.dirty:
                    out.release()
                    if out.items:
                        items, out.items = out.items, []
                        yield from items
            elif linktype == TLS_SECRETS:
                frame -= 1  # not a frame: Wireshark does not number it
                table.tls.add_secrets(bytes(mapped[start:end]))
            if frame >= housekeeping:
                housekeeping += REAP_EVERY
                read_to = end
                table.reap(ts, frame)
                if end - dropped_to > DROP_PAGES_EVERY:
                    dropped_to = _drop_pages(mapped, dropped_to, start)
                if not frame % PROGRESS_EVERY:
                    table.sweep(ts, frame)
                    if progress is not None:
                        progress(CaptureProgress(read_to, size, frame, out.exchanges))
    except CaptureFormatError as exc:
        damage = exc
    table.close_all(frame)
    out.release(everything=True)
    items, out.items = out.items, []
    yield from items
    encrypted = table.encrypted_notice()
    if encrypted is not None:
        yield encrypted
    yield from out.summaries()
    if table.stats.unpaired_responses:
        yield _unpaired_notice(source, table.stats.unpaired_responses)
    if decoder.undecodable:
        yield _unread_links_notice(source, decoder.undecodable, decoder.unknown_links, frame)
    if progress is not None:
        progress(CaptureProgress(damage.offset if damage else size, size, frame, out.exchanges))
    if damage is not None:
        raise InputError(
            f"Cannot read capture {path}: {damage.reason} at offset {damage.offset} (after frame {frame}); "
            f"the {frame} frames before it were analysed; the file is damaged or was cut short, copy it again"
        )


def _unpaired_notice(source: str, count: int) -> Notice:
    return Notice(
        rule="capture-gap",
        message=(
            f"{count} HTTP response{'s' if count != 1 else ''} in this capture came without the request they answer "
            "(it was not captured, or travelled on another interface with other addresses); "
            "they are not reported as exchanges"
        ),
        source=source,
        evidence={"unpaired_responses": count},
    )


def _unread_links_notice(source: str, count: int, links: dict[int, int], frames: int) -> Notice:
    named = ", ".join(
        f"{'an interface the file does not describe' if link == UNKNOWN_LINKTYPE else f'link type {link}'} "
        f"({n} frame{'s' if n != 1 else ''})"
        for link, n in sorted(links.items(), key=lambda item: -item[1])
    )
    if count == frames:
        share = f"none of the {count} frames of this capture could be read"
    else:
        share = f"{count} of the {frames} frames of this capture could not be read"
    others = ", and others" if sum(links.values()) < count else ""
    return Notice(
        rule="capture-link-unsupported",
        message=f"{share}: {named}{others}; {_LINKS_HINT}",
        source=source,
        evidence={"frames": count, "of": frames, "link_types": {str(k): v for k, v in links.items()}},
    )


_LINKS_HINT = (
    "this reader decodes Ethernet, Linux cooked (SLL, SLL2), NULL/loopback, raw IP, NFLOG, PPP, Cisco HDLC and "
    "802.11; capture on such an interface (on Linux, `-i any` gives SLL2)"
)


def _drop_pages(mapped: mmap.mmap, done: int, upto: int) -> int:
    """Release the mapping's pages in ``[done, upto)``: read once, they would otherwise count as resident."""
    upto -= upto % mmap.PAGESIZE
    if upto > done:
        _advise(mapped, getattr(mmap, "MADV_DONTNEED", None), done, upto - done)
        return upto
    return done


def _advise(mapped: mmap.mmap, option: int | None, start: int, length: int) -> None:
    if option is None:
        return
    try:
        if length:
            mapped.madvise(option, start, length)
        else:
            mapped.madvise(option)
    except (OSError, ValueError):  # advice is only advice
        return
