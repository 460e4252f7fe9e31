"""Tell what kind of input a file is from its first bytes, never from its name.

A ``.pcap`` may be pcapng (nDPI's ``webdav.pcap`` is), a ``.har`` may be anything a user renamed; the content decides.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import BinaryIO, Literal

from inspector.model import InputError

InputKind = Literal["har", "mitm", "pcap", "saz"]

_PCAP_MAGICS = frozenset(
    {
        b"\xa1\xb2\xc3\xd4",  # classic pcap, big-endian, microseconds
        b"\xd4\xc3\xb2\xa1",  # classic pcap, little-endian, microseconds
        b"\xa1\xb2\x3c\x4d",  # classic pcap, big-endian, nanoseconds
        b"\x4d\x3c\xb2\xa1",  # classic pcap, little-endian, nanoseconds
    }
)
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_PCAPNG_BYTE_ORDER = (b"\x1a\x2b\x3c\x4d", b"\x4d\x3c\x2b\x1a")

_SNIFF_BYTES = 1 << 20
"""How much of a JSON file is scanned for a top-level ``log`` key (browsers write it first)."""

_JSON_WHITESPACE = " \t\r\n"
# A JSON string (possessive), one the sniff window cuts (it runs to the end, maybe ending in half an escape), or a
# structural character. Without the cut-string branch a string that never ends would fail, and the scan would start
# again at every quote inside it: quadratic on ``"\"\"\"…`` (40 KB took 11 s).
_JSON_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[{}\[\]:,]', re.DOTALL)

# mitmproxy's FlowWriter writes each flow as a tnetstring dict: ``<len>:<first key as len:text;>...}``.
_TNETSTRING_DICT_HEAD = re.compile(rb"\A([0-9]{1,12}):([0-9]{1,12}):")


ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""A zip archive's start (a Fiddler .saz is one)."""


def detect_kind(path: Path) -> InputKind | None:
    """The kind of capture in ``path``, or ``None`` when it is none of pcap/pcapng, HAR, mitmproxy flows or a
    Fiddler session archive (a zip with ``raw/NN_c.txt`` members).

    Raises ``InputError`` when the file cannot be opened at all.
    """
    try:
        with path.open("rb") as fo:
            head = fo.read(_SNIFF_BYTES)
            if _is_pcap(head):
                return "pcap"
            if _is_har(head):
                return "har"
            if _is_tnetstring_dict(head, fo):
                return "mitm"
        if head.startswith(ZIP_MAGICS):
            from inspector.sources.saz import looks_like_saz

            return "saz" if looks_like_saz(path) else None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}; check the path and its permissions") from exc
    return None


def detect_kind_of_head(head: bytes) -> InputKind | None:
    """The kind of capture that starts with ``head`` (e.g. the decompressed start of a ``.gz``)."""
    if _is_pcap(head):
        return "pcap"
    if _is_har(head):
        return "har"
    if _is_tnetstring_dict(head, io.BytesIO(head)):
        return "mitm"
    return None


def _is_pcap(head: bytes) -> bool:
    magic = head[:4]
    if magic in _PCAP_MAGICS:
        return True
    if magic != _PCAPNG_SHB:
        return False
    # "\n\r\r\n" could open a text file; a section header block also carries its byte-order magic at offset 8.
    # A file too short to show it is still handed to the pcap reader, which reports the truncation.
    return len(head) < 12 or head[8:12] in _PCAPNG_BYTE_ORDER


def json_text_head(head: bytes) -> str | None:
    """The start of a JSON text decoded for sniffing (UTF-8 with or without BOM, UTF-16 with BOM), else ``None``."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    text = text.lstrip(_JSON_WHITESPACE)
    return text if text.startswith("{") else None


def _is_har(head: bytes) -> bool:
    text = json_text_head(head)
    return text is not None and _has_top_level_key(text, "log")


def _has_top_level_key(text: str, wanted: str) -> bool:
    """Whether the outermost JSON object in ``text`` (which may be cut anywhere) has the key ``wanted`` among the
    keys that appear: the walk stops there (the rest of a 1 MiB window is not read). Linear time."""
    depth = 0
    pending: str | None = None  # a string at depth 1 that may turn out to be a key
    for match in _JSON_TOKEN.finditer(text):
        lexeme = match.group()
        if lexeme == ":":
            if depth == 1 and pending == wanted:
                return True
        elif lexeme in "{[":
            depth += 1
        elif lexeme in "}]":
            depth -= 1
            if depth <= 0:
                break
        elif lexeme != "," and (
            len(lexeme) < 2 or not lexeme.endswith('"') or (lexeme.endswith('\\"') and _cut(lexeme))
        ):
            break  # a string the window cut: nothing more to learn
        pending = lexeme[1:-1] if depth == 1 and lexeme.startswith('"') else None
    return False


def _cut(lexeme: str) -> bool:
    """Whether a string lexeme ending in ``\\"`` ran to the window's end instead of closing (odd backslashes)."""
    body = lexeme[1:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def _is_tnetstring_dict(head: bytes, fo: BinaryIO) -> bool:
    match = _TNETSTRING_DICT_HEAD.match(head)
    if match is None:
        return False
    # The first item of a flow dict is a key: ``<n>:<n bytes>;`` (a str) or ``,`` (bytes).
    key_start = match.end()
    key_end = key_start + int(match.group(2))
    if key_end >= len(head):
        return False
    if head[key_end : key_end + 1] not in (b";", b","):
        return False
    # The first element ends with the dict type tag '}'. Check it where the file is long enough; a flow file
    # cut short still counts as one so that its reader can report where it ends.
    end = len(match.group(1)) + 1 + int(match.group(1))
    if end < len(head):
        return head[end : end + 1] == b"}"
    fo.seek(end)
    return fo.read(1) in (b"}", b"")
