"""Read HAR 1.2 files (browser and proxy exports) into ``HttpExchange``s.

A HAR is one JSON document, streamed (``json_stream``): memory is that of one entry, and strings (bodies) keep at
most ``STRING_KEEP`` characters. A bad entry becomes an ``input-malformed`` notice and the others are still read. A
document that is not valid JSON (a truncated export) yields the entries before the damage, then ``InputError``
says where the damage is.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, compress, repeat
from operator import is_
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from inspector.bodies import body_prefix, wants_body
from inspector.model import (
    BODY_KEEP_LIMIT,
    Endpoint,
    Headers,
    HttpExchange,
    HttpRequest,
    HttpResponse,
    InputError,
    Notice,
    Provenance,
    SourceItem,
)
from inspector.rules import RuleId
from inspector.sources.json_stream import Cut, JsonText, TextDamage
from inspector.sources.naming import exchange_id
from inspector.sources.pcap.http_heads import with_trimmed_names
from inspector.text import quoted

MAX_HAR_BYTES = 1 << 40
"""The file is streamed (memory is that of one entry), so only absurd sizes are refused."""
MAX_BODY_BYTES = BODY_KEEP_LIMIT
STRING_KEEP = 512 * 1024
"""The most kept of any string in an entry: twice the longest token decoded (``MAX_TOKEN_LENGTH``), and more than
a kept body needs even as base64. A longer string (a body) keeps its start."""
MAX_ENTRY_CHARS = 16 << 20
"""An entry longer than this once its strings are cut (thousands of long headers) is skipped with a notice."""
MAX_ENTRY_DEPTH = 64
"""A real entry is nested 5 levels deep; deeper ones are stepped over, not parsed."""
MAX_ENTRY_NOTICES = 100
"""Notices for bad entries beyond this many are summed up in one, so a broken file cannot flood the report."""

_RULE: RuleId = "input-malformed"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class _BadEntry(Exception):
    """One entry that cannot become an exchange; the message says why."""


@dataclass(slots=True)
class _Reader:
    path: Path
    keep_bodies: bool
    label: str
    notices: int = 0
    suppressed: int = 0
    bad_utf8_told: bool = False

    @property
    def name(self) -> str:
        return self.label

    def fail(self, what: str, what_next: str) -> InputError:
        return InputError(f"Cannot read HAR file {self.path}: {what}; {what_next}")

    def notice(self, message: str, *, entry: int, reason: str) -> Notice:
        self.notices += 1
        return Notice(
            rule=_RULE,
            message=message,
            source=self.name,
            exchange_id=exchange_id(self.label, entry + 1),
            evidence={"entry": entry, "reason": reason},
        )

    def entry_items(self, index: int, entry: object) -> Iterator[SourceItem]:
        try:
            exchange, unknown_time = _exchange(entry, index, self)
        except _BadEntry as exc:
            yield from self.skipped(index, str(exc))
            return
        exchange, spaced = with_trimmed_names(exchange)
        yield exchange
        if unknown_time is not None:
            yield self.unknown_time(index, unknown_time)
        if spaced is not None:  # "Authorization " as a name: judged as the header grammar reads it, and reported
            yield spaced

    def unknown_time(self, index: int, reason: str) -> Notice:
        """The entry is kept with its time unknown (unknown beats wrong; skipping it would hide its credentials)."""
        return self.notice(
            f"Entry {index} of {self.name}: {reason}; its time is unknown, so token and certificate times and the "
            "rules that compare exchanges over time (basic-fallback) are not judged for it; every other check is",
            entry=index,
            reason=f"{reason}; time unknown",
        )

    def skipped(self, index: int, reason: str) -> Iterator[Notice]:
        if self.notices >= MAX_ENTRY_NOTICES:
            self.suppressed += 1
            return
        yield self.notice(f"Skipped entry {index} of {self.name}: {reason}", entry=index, reason=reason)

    def utf8_notice(self, text: JsonText) -> Iterator[Notice]:
        """Once: the file is not valid UTF-8 (its bad bytes are kept, as latin-1 in the model)."""
        if text.bad_byte is not None and not self.bad_utf8_told:
            self.bad_utf8_told = True
            yield Notice(
                rule=_RULE,
                message=f"{self.name} is not valid UTF-8 (first bad byte at offset {text.bad_byte}); "
                "the bytes were kept as they are",
                source=self.name,
                evidence={"offset": text.bad_byte},
            )

    def summary(self) -> Iterator[Notice]:
        if self.suppressed:
            yield Notice(
                rule=_RULE,
                message=f"{self.suppressed} more entries of {self.name} could not be read (not listed one by one)",
                source=self.name,
                evidence={"count": self.suppressed},
            )


def read_har(
    path: Path, *, keep_bodies: bool = False, max_bytes: int = MAX_HAR_BYTES, label: str | None = None
) -> Iterator[SourceItem]:
    """Yield one ``HttpExchange`` per HAR entry (id ``<label>:<n>``, n from 1; the label defaults to the file name)
    and a ``Notice`` per bad entry.

    The file is streamed: each entry's text is taken whole (strings longer than ``STRING_KEEP`` keep their start)
    and parsed on its own. Raises ``InputError`` for a file that cannot be read as a HAR, after yielding every
    entry read before the damage.
    """
    reader = _Reader(path, keep_bodies, label or path.name)
    try:
        size = path.stat().st_size
        fo = path.open("rb")
    except OSError as exc:
        raise reader.fail(exc.strerror or str(exc), "check the path and its permissions") from exc
    if size > max_bytes:
        fo.close()
        raise reader.fail(
            f"it is larger than {max_bytes} bytes, the limit for a HAR file", "export fewer entries or split the file"
        )
    with fo:
        try:
            yield from _read_document(JsonText(fo), reader)
        except TextDamage as exc:
            raise reader.fail(str(exc), "export the file again") from None
        except OSError as exc:
            raise reader.fail(exc.strerror or str(exc), "check the file") from exc


def _read_document(text: JsonText, reader: _Reader) -> Iterator[SourceItem]:
    """``{"log": {"entries": [...]}}``: every other member is stepped over, entries are read one by one."""
    first = text.peek()
    if first != "{":
        kind = _JSON_KINDS.get(first)
        if kind in ("boolean", "null") and not text.buf.startswith(("true", "false", "null"), text.pos):
            kind = None
        raise reader.fail(
            f"the top level is a JSON {kind}, not an object" if kind else f"invalid JSON at {text.where()}",
            "is it a HAR file? Export the traffic again as HAR",
        )
    entries: int | None = None
    log = False
    try:
        for key in _members(text):
            if key == "log" and entries is None and text.peek() == "{":
                log = True
                for inner in _members(text):
                    if inner == "entries" and entries is None and text.peek() == "[":
                        entries = yield from _entries(text, reader)
                    else:
                        _skip(text)
                    yield from reader.utf8_notice(text)
            else:
                _skip(text)
        if text.peek():
            raise _Damaged(f"more text after the document at {text.where()}")
    except (_Damaged, Cut) as exc:
        damage = str(exc) if isinstance(exc, _Damaged) else "the file ends before the document does"
        if entries is None:
            yield from reader.utf8_notice(text)
            raise reader.fail(damage, "export the file again as HAR") from None
        # The entries list is whole: whatever else is wrong with the document, every entry was looked at.
        yield from reader.utf8_notice(text)
        yield from reader.summary()
        yield Notice(
            rule=_RULE,
            message=f"{reader.name} could not be read as one JSON document ({damage}); "
            f"its {entries} entries were read one by one",
            source=reader.name,
            evidence={"entries": entries},
        )
        return
    yield from reader.utf8_notice(text)
    if not log:
        raise reader.fail("it has no 'log' object", "is it a HAR file? Export the traffic again as HAR")
    if entries is None:
        raise reader.fail("it has no 'log.entries' list", "is it a HAR file? Export the traffic again as HAR")
    yield from reader.summary()


class _Damaged(Exception):
    """The document's structure is broken here (outside the entries)."""


def _members(text: JsonText) -> Iterator[str]:
    """The keys of the object at the read position, each with the position left at its value (which the caller
    consumes)."""
    text.pos += 1  # the "{"
    first = True
    while True:
        char = text.peek()
        if char == "}" and first:
            text.pos += 1
            return
        if char != '"':
            raise _Damaged(f"invalid JSON at {text.where()}: expected a key" if char else "the file ends early")
        key = text.key()
        if text.peek() != ":":
            raise _Damaged(f"invalid JSON at {text.where()}: expected ':'")
        text.pos += 1
        yield key
        char = text.peek()
        first = False
        if char == ",":
            text.pos += 1
        elif char == "}":
            text.pos += 1
            return
        else:
            raise _Damaged(f"invalid JSON at {text.where()}: expected ',' or '}}' after {key[:40]!r}")


def _skip(text: JsonText) -> None:
    text.value(string_keep=0, max_chars=0, max_depth=0, keep=False)


def _entries(text: JsonText, reader: _Reader) -> Generator[SourceItem, None, int]:
    """Yield the items of each entry; return how many entries there were."""
    text.pos += 1  # the "["
    if text.peek() == "]":
        text.pos += 1
        return 0
    index = 0
    while True:
        if not text.peek():
            yield from reader.summary()
            raise reader.fail(
                f"the file ends at {text.where()} before entry {index} ({index} entries were read)",
                "export the file again; the entries before the damage were analysed",
            )
        fast = _whole_entry(text)  # which leaves the read position where it was when it gives up
        if fast is not None:
            yield from reader.entry_items(index, fast[0])
        else:
            # (a line number would cost a count over the buffer per entry)
            yield from _careful_entry(text, reader, index, f"character {text.offset()}")
        index += 1
        char = text.peek()
        if char == ",":
            text.pos += 1
            continue
        if char == "]":
            text.pos += 1
            return index
        yield from reader.summary()
        raise reader.fail(
            f"invalid JSON after entry {index - 1} at {text.where()} ({index} entries were read)"
            if char
            else f"the file ends after entry {index - 1} ({index} entries were read)",
            "export the file again; the entries before the damage were analysed",
        )


def _careful_entry(text: JsonText, reader: _Reader, index: int, start: str) -> Iterator[SourceItem]:
    """The entry's text taken by the bounded walk (long strings cut, deep values dropped), then parsed."""
    try:
        raw = text.value(string_keep=STRING_KEEP, max_chars=MAX_ENTRY_CHARS, max_depth=MAX_ENTRY_DEPTH)
    except Cut:
        yield from reader.summary()
        raise reader.fail(
            f"the file ends at {text.where(len(text.buf))} inside entry {index} (which starts at {start}; "
            f"{index} entries before it were read)",
            "export the file again; the entries before the damage were analysed",
        ) from None
    if raw is None:
        yield from reader.skipped(index, text.dropped or "it cannot be read")
    elif raw[:1] != "{":  # not an object: no need to parse it to say so
        yield from reader.skipped(index, f"the entry is a JSON {_JSON_KINDS.get(raw[:1], 'value')}, not an object")
    else:
        yield from _entry_from_text(raw, index, start, reader)


_DECODER = json.JSONDecoder()
NEAR_END = 64 * 1024
"""Text this close to the buffer's end is parsed with what was read before it dropped (see ``_whole_entry``)."""


def _whole_entry(text: JsonText) -> tuple[object] | None:
    """The entry at the read position parsed in one call of the ``json`` module's C scanner, when it is an object
    that lies wholly in the buffer and that the careful walk would keep whole (no string cut at ``STRING_KEEP``,
    not nested past ``MAX_ENTRY_DEPTH``): then its text is exactly what the walk would take, and ``json.loads`` of
    that text gives this value. ``None`` otherwise (invalid, too big, too deep, or cut by the file's end), and the
    walk reads the entry as it always did; what was scanned here is at most the buffer and one more chunk, so the
    cost stays linear."""
    buf, pos = text.buf, text.pos
    if buf[pos : pos + 1] != "{":
        return None
    if len(buf) - pos < NEAR_END < pos:
        # Near the buffer's end, where one entry in a chunk is cut: the text before is dropped first, for the
        # error that says so counts the lines of the text it was given up to the cut (a megabyte each time).
        text.drop(pos)
        buf, pos = text.buf, text.pos
    try:
        value, end = _DECODER.raw_decode(buf, pos)
    except RecursionError:
        return None
    except ValueError as exc:  # JSONDecodeError is a ValueError, as is an integer too long
        # Cut by the chunk's end (one entry in a few hundred): read the next chunk and parse again, once, rather
        # than walk the entry character by character. Only for text short enough to be taken here, so the buffer
        # stays bounded (STRING_KEEP and a chunk) and the walk would have read that chunk all the same.
        if not (_cut_at_end(exc, len(buf)) and len(buf) - pos <= STRING_KEEP and text.more()):
            return None
        buf, pos = text.buf, text.pos
        try:
            value, end = _DECODER.raw_decode(buf, pos)
        except (ValueError, RecursionError):
            return None
    if end - pos > STRING_KEEP:  # shorter text cannot hold a string the walk would cut
        return None
    if buf.count("{", pos, end) + buf.count("[", pos, end) > MAX_ENTRY_DEPTH and _too_deep(value):
        return None
    text.pos = end
    return (value,)


def _cut_at_end(exc: ValueError, size: int) -> bool:
    """The parse failed where the buffer ends: inside a string running to the end, or at the last few characters
    (a number, literal or escape cut short); not at damage in the middle of the text."""
    if not isinstance(exc, json.JSONDecodeError):
        return False
    return exc.msg.startswith("Unterminated string") or exc.pos >= size - 16


def _too_deep(value: object) -> bool:
    """Containers nested more than ``MAX_ENTRY_DEPTH`` deep, the entry itself at depth 1 (as the walk counts).

    One level at a time, each level's children gathered and filtered by C iterators rather than a Python step per
    value (a browser's entry, with its dozens of header objects, always has more brackets than the limit, so this
    runs for each of them). The value is the ``json`` module's: its containers are plain dicts and lists."""
    level: list[Any] = [value] if type(value) in _CONTAINERS else []
    for _ in range(MAX_ENTRY_DEPTH):
        if not level:
            return False
        kinds = list(map(type, level))
        children = [
            *chain.from_iterable(map(dict.values, compress(level, map(is_, kinds, repeat(dict))))),
            *chain.from_iterable(compress(level, map(is_, kinds, repeat(list)))),
        ]
        level = list(compress(children, map(_CONTAINERS.__contains__, map(type, children))))
    return bool(level)


_CONTAINERS = frozenset({dict, list})


def _entry_from_text(raw: str, index: int, start: str, reader: _Reader) -> Iterator[SourceItem]:
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError as exc:
        yield from reader.summary()
        raise reader.fail(
            f"invalid JSON in entry {index} (which starts at {start}) at its line {exc.lineno} column {exc.colno}: "
            f"{exc.msg} ({index} entries before it were read)",
            "export the file again; the entries before the damage were analysed",
        ) from None
    except RecursionError:
        yield from reader.skipped(index, "JSON nested too deeply")
        return
    except ValueError as exc:  # an integer too long to convert (sys.int_info.str_digits_check_threshold)
        yield from reader.skipped(index, str(exc)[:120])
        return
    yield from reader.entry_items(index, entry)


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


_JSON_KINDS = {"[": "array", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}
_JSON_KINDS.update(dict.fromkeys("-0123456789", "number"))


# --- one entry -------------------------------------------------------------------------------------------------


def _exchange(entry: object, index: int, reader: _Reader) -> tuple[HttpExchange, str | None]:
    """The entry's exchange, and why its time is unknown (``None`` when it is known)."""
    if not isinstance(entry, dict):
        raise _BadEntry(f"the entry is a JSON {_json_type(entry)}, not an object")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise _BadEntry("it has no 'request' object")
    time, unknown_time = _started(entry.get("startedDateTime"))
    method = request.get("method")
    url = request.get("url")
    if not isinstance(method, str) or not method:
        raise _BadEntry("the request has no method")
    if not isinstance(url, str) or not url:
        raise _BadEntry("the request has no url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _BadEntry(f"the request url is not a URL ({exc})") from None
    scheme = "https" if parts.scheme.lower() in ("https", "wss") else "http"
    authority = parts.netloc.rpartition("@")[2]  # never carry user:password from the URL
    headers = _headers(request.get("headers"), "request")
    if authority and not any(name.rstrip(" \t").lower() == "host" for name, _ in headers):
        # HAR records an absolute URL; the Host header (HTTP/2 exports have only :authority) is synthesized from
        # it so that the audience checks see the name the client addressed.
        headers = (("Host", _wire(authority)), *headers)
    response = _response(entry.get("response"), reader)
    exchange = HttpExchange(
        id=exchange_id(reader.label, index + 1),
        request=HttpRequest(
            method=_wire(method),
            target=_target(method, url, parts, authority),
            version=_version(request.get("httpVersion")),
            headers=headers,
            body=_request_body(request) if reader.keep_bodies else _kept_request_body(headers, request),
        ),
        response=response,
        time=time,
        provenance=Provenance(kind="har", source=reader.name, entry=index),
        client=_endpoint(entry.get("_clientIPAddress"), entry.get("_clientPort")),
        server=_endpoint(entry.get("serverIPAddress"), _server_port(entry, port, scheme)),
        scheme=scheme,
        response_time=_response_time(time, entry.get("time")) if response is not None and time else None,
    )
    return exchange, unknown_time


def _started(value: object) -> tuple[datetime | None, str | None]:
    """The entry's time, or ``None`` and why it is unknown."""
    if not isinstance(value, str):
        return None, "it has no startedDateTime"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, f"startedDateTime {quoted(value, 64)} is not an ISO 8601 time"
    if moment.tzinfo is None:
        return None, f"startedDateTime {quoted(value, 64)} has no UTC offset"
    try:
        return moment.astimezone(UTC), None
    except OverflowError:
        return None, f"startedDateTime {quoted(value, 64)} is out of range"


def _wire(value: str) -> str:
    """HAR text in the model's form: the wire bytes decoded as latin-1.

    Text that fits latin-1 is taken as already being that; anything wider was decoded from UTF-8 by the exporter
    (or by us, with surrogateescape for bytes that were not UTF-8) and is turned back into its bytes.
    """
    if value.isascii():
        return value
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return _utf8(value).decode("latin-1")
    return value


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
        return text.encode("utf-8", errors="replace")


def _headers(value: object, where: str) -> Headers:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _BadEntry(f"the {where} headers are not a list")
    out: list[tuple[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise _BadEntry(f"a {where} header is not an object")
        name, text = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(text, str):
            raise _BadEntry(f"a {where} header has no string name and value")
        # ASCII is already in the model's form (see _wire): checked in C, without encoding a copy.
        out.append((name if name.isascii() else _wire(name), text if text.isascii() else _wire(text)))
    return tuple(out)


def _target(method: str, url: str, parts: SplitResult, authority: str) -> str:
    if not parts.scheme or not authority:  # not an absolute URL: keep what was recorded
        return _wire(url)
    if method.upper() == "CONNECT":
        return _wire(authority)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return _wire(target)


def _version(value: object) -> str:
    return value if isinstance(value, str) and value else "HTTP/1.1"


def _response(value: object, reader: _Reader) -> HttpResponse | None:
    if not isinstance(value, dict):
        return None
    status = value.get("status")
    # Status 0 is how browsers record a request that got no response.
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        return None
    reason = value.get("statusText")
    headers = _headers(value.get("headers"), "response")
    body = _response_body(value.get("content")) if reader.keep_bodies or wants_body(headers) else None
    return HttpResponse(
        status=status,
        reason=_wire(reason) if isinstance(reason, str) else "",
        version=_version(value.get("httpVersion")),
        headers=headers,
        # HAR content text is already decoded (no chunking, no content coding left to undo); a body of a kind not
        # kept was not decoded at all.
        body=body if reader.keep_bodies or body is None else body_prefix(headers, body, decoded=True),
    )


def _endpoint(host: object, port: object) -> Endpoint | None:
    if not isinstance(host, str) or not host.strip("[] "):
        return None
    valid_port = port if isinstance(port, int) and not isinstance(port, bool) and 0 <= port <= 65535 else None
    return Endpoint(host.strip().removeprefix("[").removesuffix("]"), valid_port)


def _server_port(entry: dict[str, Any], url_port: int | None, scheme: str) -> int | None:
    recorded = entry.get("_serverPort")  # written by the lab; browsers record only the address
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    return url_port if url_port is not None else _DEFAULT_PORTS[scheme]


def _response_time(started: datetime, elapsed_ms: object) -> datetime | None:
    if not isinstance(elapsed_ms, int | float) or isinstance(elapsed_ms, bool):
        return None
    if not math.isfinite(elapsed_ms) or not 0 <= elapsed_ms < 10**12:
        return None
    try:
        return started + timedelta(microseconds=round(elapsed_ms * 1000))
    except OverflowError:
        return None


def _text_bytes(text: str) -> bytes:
    return _utf8(text[:MAX_BODY_BYTES])[:MAX_BODY_BYTES]


def _kept_request_body(headers: Headers, request: dict[str, Any]) -> bytes | None:
    # Decided before the text is encoded (most bodies are not kept). HAR postData text is already decoded (no
    # chunking, no content coding left to undo).
    if not wants_body(headers, request=True):
        return None
    raw = _request_body(request)
    return None if raw is None else body_prefix(headers, raw, decoded=True)


def _request_body(request: dict[str, Any]) -> bytes | None:
    post = request.get("postData")
    if isinstance(post, dict) and isinstance(post.get("text"), str):
        return _text_bytes(post["text"])
    return None


def _response_body(content: object) -> bytes | None:
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        return None
    text: str = content["text"]
    if content.get("encoding") == "base64":
        # Only as much base64 as can decode to the limit (a multiple of 4 characters).
        limited = text[: (MAX_BODY_BYTES // 3 + 1) * 4]
        try:
            return base64.b64decode(limited, validate=False)[:MAX_BODY_BYTES]
        except (binascii.Error, ValueError):
            return None
    return _text_bytes(text)
