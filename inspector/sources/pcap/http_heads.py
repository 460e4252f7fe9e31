"""The HTTP/1.x head grammar, one definition for every line-end style: start lines, header fields, how the body
is framed. Pure functions over text and bytes; the parser in ``http1`` drives them.

``parse_head`` is the grammar. ``crlf_fields`` is a fast path for the common plain CRLF head that answers only
where it answers as ``parse_head`` does (a test holds both to every head of the corpus) and declines the rest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Final, NamedTuple

from inspector.model import Headers, HttpExchange, Notice

REQUEST: Final = 1
RESPONSE: Final = 2
"""Message kinds (a direction's role)."""

REQUEST_LINE: Final = re.compile(rb"([A-Z][A-Z0-9_-]{0,31}) (\S+) (HTTP/1\.[01])\r?\n")
STATUS_LINE: Final = re.compile(rb"(HTTP/1\.[01]) ([0-9]{3})(?: [^\r\n]*)?\r?\n")


def head_end(buf: bytearray, scan: int) -> int:
    """Index just past the empty line that ends a header block, or -1."""
    crlf = buf.find(b"\n\r\n", scan)
    lf = buf.find(b"\n\n", scan, crlf + 2 if crlf >= 0 else len(buf))
    if lf >= 0:
        return lf + 2
    if crlf >= 0:
        return crlf + 3
    return -1


def crlf_fields(text: str) -> tuple[str, Headers, Headers] | None:
    """The start line, header fields and the fields the reader looks up by name (body framing, content type:
    picked by the length of their name) of a head in plain form: CRLF line ends only, no obs-fold, a colon on every
    line, no whitespace before a colon. Else ``None``: then ``parse_head`` decides. Where this answers, it answers
    as ``parse_head`` does (a test holds both to every head of the corpus); it exists because it is fast.

    This is the common case, and it is parsed with as few passes over the text as possible: a long token is
    most of a head, and every pass over it costs.
    """
    lines = text.split("\r\n")
    # No line end, or a bare LF (the text without its CRLFs, in one copy and one memchr: cheaper than a count of
    # the text or a test per line): the line-by-line form, which is the definition, decides.
    if len(lines) == 1 or "\n" in "".join(lines):
        return _crlf_fields_by_line(text)
    headers = []
    named = []
    for line in lines[1:-2]:
        name, colon, value = line.partition(":")
        # No colon, or a name that is empty or has whitespace around it (obs-fold, a space before the colon):
        # strip gives the name itself back in the common case, which costs less than looking at both its ends.
        if not colon or not name or name.strip(" \t") != name:
            return _crlf_fields_by_line(text)
        field = (name, value.strip(" \t"))
        headers.append(field)
        if len(name) in _NAMED_LENGTHS:
            named.append(field)
    return lines[0], tuple(headers), tuple(named)


def _crlf_fields_by_line(text: str) -> tuple[str, Headers, Headers] | None:
    """:func:`crlf_fields` for a text with a bare LF: every line but the last two (the empty line's CR is not
    checked) must end in CR, so a head whose only bare LF is in its final empty line is still plain."""
    lines = text.split("\n")
    start_line = lines[0]
    if start_line[-1:] != "\r":
        return None
    headers = []
    named = []
    for line in lines[1:-2]:
        if line[-1:] != "\r":
            return None
        name, colon, value = line.partition(":")
        if not colon or name[:1] in _NOT_A_NAME_START or name[-1:] in _NOT_A_NAME_START:
            return None
        field = (name, value[:-1].strip(" \t"))
        headers.append(field)
        if len(name) in _NAMED_LENGTHS:
            named.append(field)
    return start_line[:-1], tuple(headers), tuple(named)


_NOT_A_NAME_START: Final = frozenset(("", " ", "\t"))
_NAMED_LENGTHS: Final = frozenset((len("content-type"), len("content-length"), len("transfer-encoding")))
"""The lengths of the names the reader looks up (``body_framing``, and the content type that decides whether a body
is kept): fields with names of other lengths are none of them."""


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
        if name[-1] in _BLANKS:
            name = name.rstrip(" \t")
            spaced.append(name)
        headers.append((name, line[colon + 1 :].strip(" \t")))
    return ParsedFields(tuple(headers), bad, tuple(spaced))


_BLANKS: Final = frozenset((" ", "\t"))
"""The whitespace the grammar allows around a field value (and a lenient server around a name): SP and HTAB."""


def spaced_names_reason(names: Sequence[str]) -> str:
    """Why a field with whitespace before its colon is reported, for every source's ``http-malformed`` notice."""
    listed = ", ".join(dict.fromkeys(names))
    return (
        f"whitespace between a header name and its colon ({listed}): servers must reject such a message "
        "(RFC 9112 section 5.1), and one that does not may read the field differently than a proxy in "
        "front of it (a request-smuggling shape); the field is judged as if the whitespace were absent"
    )


def trimmed_names(headers: Headers) -> tuple[Headers, tuple[str, ...]]:
    """Fields that a source got already split (HAR, mitmproxy, which keep ``"Authorization "`` as the name) in the
    form :func:`parse_head` gives them: whitespace before the colon removed, and the names it was removed from."""
    spaced = tuple(name.rstrip(" \t") for name, _ in headers if name[-1:] in _BLANKS)
    if not spaced:
        return headers, ()
    return tuple((name.rstrip(" \t"), value) for name, value in headers), spaced


def with_trimmed_names(exchange: HttpExchange) -> tuple[HttpExchange, Notice | None]:
    """The exchange with :func:`trimmed_names` applied to both heads, and the ``http-malformed`` notice that says so
    (``None`` when no name had whitespace before its colon: the common case costs one pass over the names)."""
    request_headers, request_spaced = trimmed_names(exchange.request.headers)
    response = exchange.response
    response_headers, response_spaced = trimmed_names(response.headers) if response is not None else ((), ())
    if not request_spaced and not response_spaced:
        return exchange, None
    if request_spaced:
        exchange = replace(exchange, request=replace(exchange.request, headers=request_headers))
    if response is not None and response_spaced:
        exchange = replace(exchange, response=replace(response, headers=response_headers))
    return exchange, spaced_names_notice(exchange, request_spaced, response_spaced)


def spaced_names_notice(
    exchange: HttpExchange, request_spaced: Sequence[str], response_spaced: Sequence[str]
) -> Notice:
    """The ``http-malformed`` notice of an exchange whose heads had names with whitespace before the colon (also
    for sources that parse heads with :func:`parse_head` themselves: a .saz)."""
    names = [*request_spaced, *response_spaced]
    what = " and ".join(part for part, spaced in (("request", request_spaced), ("response", response_spaced)) if spaced)
    reason = spaced_names_reason(names)
    return Notice(
        rule="http-malformed",
        message=f"Malformed HTTP {what} in {exchange.id}: {reason}",
        source=exchange.provenance.source,
        exchange_id=exchange.id,
        evidence={"reason": reason, "spaced_header_names": list(dict.fromkeys(names))},
    )


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
