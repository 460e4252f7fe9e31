"""Read HAR 1.2 files (browser and proxy exports) into ``HttpExchange``s.

A HAR is one JSON document, read whole (bounded by ``max_bytes``). A bad entry becomes an ``input-malformed``
notice and the others are still read. A document that is not valid JSON (a truncated export) is salvaged: the
entries before the damage are yielded, then ``InputError`` says where the damage is.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from inspector.model import (
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
from inspector.sources.naming import exchange_id
from inspector.text import quoted

MAX_HAR_BYTES = 1 << 30
"""json.load inflates a document several times over in memory; larger exports must be split."""
MAX_BODY_BYTES = 1 << 20
MAX_ENTRY_NOTICES = 100
"""Notices for bad entries beyond this many are summed up in one, so a broken file cannot flood the report."""

_RULE: RuleId = "input-malformed"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_JSON_WS = re.compile(r"[ \t\r\n]+")
_ENTRIES_KEY = re.compile(r'"entries"[ \t\r\n]*:[ \t\r\n]*\[')
# Used only to step over an entry nested too deeply for the json module: strings (possessive, no backtracking)
# and brackets.
_JSON_SKIP_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


class _BadEntry(Exception):
    """One entry that cannot become an exchange; the message says why."""


@dataclass(slots=True)
class _Reader:
    path: Path
    keep_bodies: bool
    label: str
    notices: int = 0
    suppressed: int = 0

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
            yield _exchange(entry, index, self)
        except _BadEntry as exc:
            yield from self.skipped(index, str(exc))

    def skipped(self, index: int, reason: str) -> Iterator[Notice]:
        if self.notices >= MAX_ENTRY_NOTICES:
            self.suppressed += 1
            return
        yield self.notice(f"Skipped entry {index} of {self.name}: {reason}", entry=index, reason=reason)

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

    Raises ``InputError`` for a file that cannot be read as a HAR, after yielding every entry read before the damage.
    """
    reader = _Reader(path, keep_bodies, label or path.name)
    text, bad_utf8 = _load_text(path, max_bytes, reader)
    if bad_utf8 is not None:
        yield Notice(
            rule=_RULE,
            message=f"{reader.name} is not valid UTF-8 (first bad byte at offset {bad_utf8}); "
            "the bytes were kept as they are",
            source=reader.name,
            evidence={"offset": bad_utf8},
        )
    try:
        document = json.loads(text)
    # JSONDecodeError is a ValueError; so is an integer too long to convert (sys.int_info.str_digits_check_threshold).
    except (ValueError, RecursionError) as exc:
        yield from _salvage(text, exc, reader)
        return
    del text  # the parsed document is all that is needed from here on
    entries = _entries_of(document, reader)
    for index, entry in enumerate(entries):
        yield from reader.entry_items(index, entry)
    yield from reader.summary()


def _load_text(path: Path, max_bytes: int, reader: _Reader) -> tuple[str, int | None]:
    """The file as text, and the offset of the first byte that is not UTF-8 (kept via surrogateescape) if any."""
    try:
        with path.open("rb") as fo:
            data = fo.read(max_bytes + 1)
    except OSError as exc:
        raise reader.fail(exc.strerror or str(exc), "check the path and its permissions") from exc
    if len(data) > max_bytes:
        raise reader.fail(
            f"it is larger than {max_bytes} bytes, the limit for a HAR file (it is read whole)",
            "export fewer entries or split the file",
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, e.g. written by Windows PowerShell 5
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:
            raise reader.fail(f"invalid UTF-16 at offset {exc.start}", "export the file again") from exc
    data = data.removeprefix(b"\xef\xbb\xbf")  # Fiddler writes a BOM
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="surrogateescape"), exc.start


def _entries_of(document: object, reader: _Reader) -> list[Any]:
    if not isinstance(document, dict):
        raise reader.fail(
            f"the top level is a JSON {_json_type(document)}, not an object",
            "is it a HAR file? Export the traffic again as HAR",
        )
    log = document.get("log")
    if not isinstance(log, dict):
        raise reader.fail("it has no 'log' object", "is it a HAR file? Export the traffic again as HAR")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise reader.fail("it has no 'log.entries' list", "is it a HAR file? Export the traffic again as HAR")
    return entries


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line} column {column} (character {pos})"


def _salvage(text: str, error: Exception, reader: _Reader) -> Iterator[SourceItem]:
    """Read the entries of a document that is not valid JSON, up to the damage; then raise or note it."""
    if isinstance(error, json.JSONDecodeError):
        damage = f"invalid JSON at {_where(text, error.pos)}: {error.msg}"
    elif isinstance(error, RecursionError):
        damage = "JSON nested too deeply"
    else:
        damage = f"a JSON value cannot be read ({str(error)[:120]})"
    start = _ENTRIES_KEY.search(text)
    if start is None:
        raise reader.fail(damage, "export the file again as HAR") from error
    decoder = json.JSONDecoder()
    pos = start.end()
    index = 0
    while True:
        pos = _skip_ws(text, pos)
        if text.startswith("]", pos) and index == 0:
            break
        try:
            entry, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield from reader.summary()
            raise reader.fail(
                f"invalid JSON in entry {index} at {_where(text, exc.pos)}: {exc.msg} "
                f"({index} entries before it were read)",
                "export the file again; the entries before the damage were analysed",
            ) from None
        except (RecursionError, ValueError) as exc:  # well-formed but unreadable: step over this one entry
            end = _skip_json_value(text, pos)
            if end is None:
                yield from reader.summary()
                raise reader.fail(f"{damage}; entry {index} is cut off", "export the file again") from None
            pos = end
            reason = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
            yield from reader.skipped(index, reason)
        else:
            yield from reader.entry_items(index, entry)
        index += 1
        pos = _skip_ws(text, pos)
        if text.startswith(",", pos):
            pos += 1
            continue
        if text.startswith("]", pos):
            break
        yield from reader.summary()
        raise reader.fail(
            f"invalid JSON after entry {index - 1} at {_where(text, pos)} ({index} entries were read)",
            "export the file again; the entries before the damage were analysed",
        )
    # The entries list is whole: whatever else is wrong with the document, every entry was looked at.
    yield from reader.summary()
    yield Notice(
        rule=_RULE,
        message=f"{reader.name} could not be read as one JSON document ({damage}); "
        f"its {index} entries were read one by one",
        source=reader.name,
        evidence={"entries": index},
    )


def _skip_ws(text: str, pos: int) -> int:
    match = _JSON_WS.match(text, pos)
    return match.end() if match else pos


def _skip_json_value(text: str, pos: int) -> int | None:
    """Where the array or object starting at ``pos`` ends, without recursion; ``None`` if it never does."""
    depth = 0
    for match in _JSON_SKIP_TOKEN.finditer(text, pos):
        lexeme = match.group()
        if lexeme in "[{":
            depth += 1
        elif lexeme in "]}":
            depth -= 1
            if depth == 0:
                return match.end()
        elif depth == 0:  # a string where an array or object should start
            return None
    return None


# --- one entry -------------------------------------------------------------------------------------------------


def _exchange(entry: object, index: int, reader: _Reader) -> HttpExchange:
    if not isinstance(entry, dict):
        raise _BadEntry(f"the entry is a JSON {_json_type(entry)}, not an object")
    request = entry.get("request")
    if not isinstance(request, dict):
        raise _BadEntry("it has no 'request' object")
    time = _started(entry.get("startedDateTime"))
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
    if authority and not any(name.lower() == "host" for name, _ in headers):
        # HAR records an absolute URL; the Host header (HTTP/2 exports have only :authority) is synthesized from
        # it so that the audience checks see the name the client addressed.
        headers = (("Host", _wire(authority)), *headers)
    response = _response(entry.get("response"), reader)
    return HttpExchange(
        id=exchange_id(reader.label, index + 1),
        request=HttpRequest(
            method=_wire(method),
            target=_target(method, url, parts, authority),
            version=_version(request.get("httpVersion")),
            headers=headers,
            body=_request_body(request) if reader.keep_bodies else None,
        ),
        response=response,
        time=time,
        provenance=Provenance(kind="har", source=reader.name, entry=index),
        client=_endpoint(entry.get("_clientIPAddress"), entry.get("_clientPort")),
        server=_endpoint(entry.get("serverIPAddress"), _server_port(entry, port, scheme)),
        scheme=scheme,
        response_time=_response_time(time, entry.get("time")) if response is not None else None,
    )


def _started(value: object) -> datetime:
    if not isinstance(value, str):
        raise _BadEntry("it has no startedDateTime")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _BadEntry(f"startedDateTime {quoted(value, 64)} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise _BadEntry(f"startedDateTime {quoted(value, 64)} has no UTC offset, so the moment is unknown")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise _BadEntry(f"startedDateTime {quoted(value, 64)} is out of range") from None


def _wire(value: str) -> str:
    """HAR text in the model's form: the wire bytes decoded as latin-1.

    Text that fits latin-1 is taken as already being that; anything wider was decoded from UTF-8 by the exporter
    (or by us, with surrogateescape for bytes that were not UTF-8) and is turned back into its bytes.
    """
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
        out.append((_wire(name), _wire(text)))
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
    body = _response_body(value.get("content")) if reader.keep_bodies else None
    return HttpResponse(
        status=status,
        reason=_wire(reason) if isinstance(reason, str) else "",
        version=_version(value.get("httpVersion")),
        headers=_headers(value.get("headers"), "response"),
        body=body,
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
