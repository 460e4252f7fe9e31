"""Which bodies an exchange keeps, and how much: a bounded prefix of the text bodies a rule reads.

Rules read token requests (form), token answers and SharePoint/Teams errors (JSON), and EWS/Autodiscover answers
(SOAP XML). Everything else (EWS requests, mail items, attachments, images) is dropped at the source, so memory
stays bounded by ``BODY_KEEP_LIMIT`` per message whatever the traffic carries. Compressed bodies are inflated with
a bounded output (``zlib``'s ``max_length``), so a decompression bomb yields at most the limit; a coding this module
cannot inflate within bounds (``br``, ``zstd``, anything unknown) is not kept rather than kept undecoded.
"""

from __future__ import annotations

import zlib

from inspector.model import BODY_KEEP_LIMIT, Headers, HttpRequest, HttpResponse, first_header

_ANSWER_TYPES = frozenset({"text/xml", "application/xml", "application/soap+xml", "application/json", "text/json"})
"""Answers the rules read: SOAP/XML errors, token-endpoint and SharePoint/Teams JSON."""
_REQUEST_TYPES = frozenset({"application/x-www-form-urlencoded"})
"""Requests the rules read: token requests' forms (an EWS request's XML is read by no rule, so it is not kept)."""
_MAX_CODINGS = 4
"""More stacked content codings than this are not undone (nobody sends them; a hostile peer might)."""


def media_type(headers: Headers) -> str | None:
    """The Content-Type's media type, lower-case without parameters, or ``None``."""
    value = first_header(headers, "content-type")
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def wants_body(headers: Headers, *, request: bool = False) -> bool:
    """Whether a request (``request``) or an answer with these headers has a body some rule reads (decided before
    any body is held)."""
    kind = media_type(headers)
    if kind is None:
        return False
    if request:
        return kind in _REQUEST_TYPES
    return kind in _ANSWER_TYPES or kind.endswith(("+json", "+xml"))


def kept_body(headers: Headers, raw: bytes | None, *, request: bool = False, decoded: bool = False) -> bytes | None:
    """The prefix of ``raw`` an exchange keeps: at most ``BODY_KEEP_LIMIT`` bytes of a body of a kept type, with
    its content coding undone unless ``decoded`` (HAR text is already decoded). ``None`` for any other body."""
    if raw is None or not wants_body(headers, request=request):
        return None
    return body_prefix(headers, raw, decoded=decoded)


def body_prefix(headers: Headers, raw: bytes, *, decoded: bool = False) -> bytes | None:
    """:func:`kept_body` for a body whose kind ``wants_body`` has already accepted (a capture decides at the head)."""
    if not raw:
        return b""
    if decoded:
        return raw[:BODY_KEEP_LIMIT]
    coding = first_header(headers, "content-encoding")
    if coding is None:
        return raw[:BODY_KEEP_LIMIT]
    return _undo_codings(coding, raw)


def keeps(message: HttpRequest | HttpResponse, *, keep_all: bool = False) -> bool:
    """Whether a capture keeps the body of ``message`` (decided at its head): every body when ``keep_all``
    (the lab's round trips), else the kinds a rule reads."""
    return keep_all or wants_body(message.headers, request=isinstance(message, HttpRequest))


def kept_prefix(message: HttpRequest | HttpResponse, body: bytes, *, keep_all: bool = False) -> bytes | None:
    """The part of a body :func:`keeps` accepted that the exchange holds: whole when ``keep_all``, else the prefix."""
    return body if keep_all else body_prefix(message.headers, body)


def _undo_codings(value: str, raw: bytes) -> bytes | None:
    codings = [c.strip().lower() for c in value.split(",") if c.strip()]
    if len(codings) > _MAX_CODINGS:
        return None
    data = raw
    for index, coding in enumerate(reversed(codings)):
        last = index == len(codings) - 1
        # Inner layers may legitimately be larger than the limit before the outer one is undone; they are still
        # bounded (a few times the limit), never the bomb's full size.
        limit = BODY_KEEP_LIMIT if last else BODY_KEEP_LIMIT * 16
        if coding == "identity":
            data = data[:limit]
        elif coding in ("gzip", "x-gzip"):
            data = _inflate(data, zlib.MAX_WBITS | 16, limit)
        elif coding == "deflate":
            # RFC 9110 deflate is zlib-wrapped; some servers send raw deflate: try both.
            inflated = _inflate(data, zlib.MAX_WBITS, limit)
            data = inflated if inflated else _inflate(data, -zlib.MAX_WBITS, limit)
        else:
            return None
        if not data:
            return None
    return data[:BODY_KEEP_LIMIT]


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """At most ``limit`` bytes of the stream's output; what decoded before damage, or ``b""`` when nothing did."""
    try:
        return zlib.decompressobj(wbits).decompress(data, limit)
    except zlib.error:
        return b""


def body_text(body: bytes) -> str:
    """A kept body as text for the rules' scans: UTF-8 (BOM dropped) or UTF-16 with BOM, undecodable bytes replaced,
    so that no body can make decoding fail."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16", errors="replace")
    try:
        return body.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace")
