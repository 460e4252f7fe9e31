"""The HTTP/1.x head grammar, one definition for every line-end style: start lines, header fields, how the body
is framed. Pure functions over text and bytes; the parser in ``http1`` drives them.

``parse_head`` is the grammar. ``crlf_fields`` is a fast path for the common plain CRLF head that answers only
where it answers as ``parse_head`` does (a test holds both to every head of the corpus) and declines the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from inspector.model import Headers

REQUEST = 1
RESPONSE = 2
"""Message kinds (a direction's role)."""

REQUEST_LINE = re.compile(rb"([A-Z][A-Z0-9_-]{0,31}) (\S+) (HTTP/1\.[01])\r?\n")
STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: [^\r\n]*)?\r?\n")


def head_end(buf: bytearray, scan: int) -> int:
    """Index just past the empty line that ends a header block, or -1."""
    crlf = buf.find(b"\n\r\n", scan)
    lf = buf.find(b"\n\n", scan, crlf + 2 if crlf >= 0 else len(buf))
    if lf >= 0:
        return lf + 2
    if crlf >= 0:
        return crlf + 3
    return -1


def crlf_fields(text: str) -> tuple[str, Headers, list[tuple[str, str]]] | None:
    """The start line, header fields and the fields that may frame the body (by the length of their name) of
    a head in plain form: CRLF line ends only, no obs-fold, a colon on every line, no whitespace before a colon.
    Else ``None``: then ``parse_head`` decides. Where this answers, it answers as ``parse_head`` does (a test
    holds both to every head of the corpus); it exists because it is fast.

    This is the common case, and it is parsed with as few passes over the text as possible: a long token is
    most of a head, and every pass over it costs.
    """
    lines = text.split("\r\n")
    if len(lines) == 1 or len(lines) != text.count("\n") + 1:  # no line end, or a bare LF: checked line by line
        return _crlf_fields_by_line(text)
    headers = []
    framing = []
    for line in lines[1:-2]:
        name, colon, value = line.partition(":")
        if not colon or name[:1] in _NOT_A_NAME_START or name[-1:] in _NOT_A_NAME_START:
            return None
        field = (name, value.strip(" \t"))
        headers.append(field)
        if len(name) in _FRAMING_NAME_LENGTHS:
            framing.append(field)
    return lines[0], tuple(headers), framing


def _crlf_fields_by_line(text: str) -> tuple[str, Headers, list[tuple[str, str]]] | None:
    """:func:`crlf_fields` for a text with a bare LF: every line but the last two (the empty line's CR is not
    checked) must end in CR, so a head whose only bare LF is in its final empty line is still plain."""
    lines = text.split("\n")
    start_line = lines[0]
    if start_line[-1:] != "\r":
        return None
    headers = []
    framing = []
    for line in lines[1:-2]:
        if line[-1:] != "\r":
            return None
        name, colon, value = line.partition(":")
        if not colon or name[:1] in _NOT_A_NAME_START or name[-1:] in _NOT_A_NAME_START:
            return None
        field = (name, value[:-1].strip(" \t"))
        headers.append(field)
        if len(name) in _FRAMING_NAME_LENGTHS:
            framing.append(field)
    return start_line[:-1], tuple(headers), framing


_NOT_A_NAME_START = frozenset(("", " ", "\t"))
_FRAMING_NAME_LENGTHS = frozenset((len("content-length"), len("transfer-encoding")))


class ParsedFields(NamedTuple):
    headers: Headers
    """Header fields in wire order and casing, obs-fold unfolded, names without surrounding whitespace."""
    bad_lines: int
    """Lines without a colon (or with nothing before it), skipped."""
    spaced_names: tuple[str, ...]
    """Names that had whitespace between them and the colon (RFC 9112 section 5.1: a server must reject the
    message with 400; a lenient one may take the field, so it is kept and judged, and reported)."""


def parse_head(text: str) -> tuple[str, ParsedFields]:
    """The header grammar, for every line-end style: the start line (without its line end) and the fields of
    a head. ``text`` ends with the empty line that ends the head (CRLF or bare LF line ends, mixed or not)."""
    lines = text.split("\n")
    return lines[0].removesuffix("\r"), _parse_header_lines(lines)


def _parse_header_lines(lines: list[str]) -> ParsedFields:
    headers: list[tuple[str, str]] = []
    spaced: list[str] = []
    bad = 0
    for raw in lines[1:]:
        line = raw.removesuffix("\r")
        if not line:
            break
        if line[0] in " \t":
            folded = line.strip(" \t")
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {folded}" if value else folded)
            else:
                bad += 1
            continue
        colon = line.find(":")
        if colon <= 0:
            bad += 1
            continue
        name = line[:colon]
        if name[-1] in " \t":
            name = name.rstrip(" \t")
            spaced.append(name)
        headers.append((name, line[colon + 1 :].strip(" \t")))
    return ParsedFields(tuple(headers), bad, tuple(spaced))


def body_framing(headers: Sequence[tuple[str, str]]) -> int | str | None:
    """How the body is delimited: ``"chunked-last"`` (chunked is the final coding), ``"chunked"`` (listed but
    not last), ``"other"`` (another coding), a Content-Length, ``"invalid"``, or ``None`` (no length)."""
    length = None
    for name, value in headers:  # the common case first: one plain Content-Length, no Transfer-Encoding
        lower = name.lower()
        if lower == "content-length" and length is None and value.isdigit() and value.isascii() and len(value) < 19:
            length = int(value)
        elif lower in {"content-length", "transfer-encoding"}:
            return _framing_in_full(headers)
    return length


def _framing_in_full(headers: Sequence[tuple[str, str]]) -> int | str | None:
    codings: list[str] = []
    lengths: set[str] = set()
    for name, value in headers:
        if len(name) == 17 and name.lower() == "transfer-encoding":
            codings.extend(token for token in (t.strip(" \t").lower() for t in value.split(",")) if token)
        elif len(name) == 14 and name.lower() == "content-length":
            lengths.update(v.strip(" \t") for v in value.split(","))
    if codings:
        if codings[-1] == "chunked":
            return "chunked-last"
        return "chunked" if "chunked" in codings else "other"
    if lengths:
        if len(lengths) != 1:
            return "invalid"
        (text,) = lengths
        if not text.isdigit() or not text.isascii() or len(text) > 18:
            return "invalid"
        return int(text)
    return None
