"""Fiddler session archives (``.saz``): the trace Microsoft support asks Exchange admins for.

Layout followed (Fiddler Classic 5 as in the corpus archive; Fiddler Everywhere 4.2+ writes the same ``raw/``
layout, per Telerik's "Fiddler Archives (SAZ)" page):
a zip whose ``raw/NN_c.txt`` is the request as the client sent it (request line, headers, body), ``raw/NN_s.txt``
the response as the server sent it, ``raw/NN_m.xml`` the session's metadata (``<SessionTimers ClientBeginRequest=
"2020-09-01T13:57:52.2118610-06:00" …>`` with local offsets and 7-digit fractions, ``0001-01-01T00:00:00`` when
unset; ``<SessionFlag N="x-clientip" V="…"/>``, ``x-clientport``, ``x-hostip``…). Session numbers are zero-padded
to the width of the largest; ``[Content_Types].xml``, ``_index.htm`` and anything else are ignored. A ``CONNECT``
session's files hold Fiddler's description of the tunnel, not bytes from the wire: it becomes an exchange shown as
the tunnel it was, without a body.

Hostile archives are bounded: the central directory is sized from the end record before ``zipfile`` reads it,
members are never extracted to disk (names are only matched, so ``../`` tricks have nothing to act on), each member
is read through a bounded decompressing reader (a zip bomb yields at most ``MAX_MEMBER_READ`` bytes), the number of
sessions is capped, and the metadata is read by a bounded scan of attributes rather than an XML parser (no DTD, no
entity is ever expanded).
"""

from __future__ import annotations

import lzma
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from inspector.bodies import kept_body
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
    first_header,
)
from inspector.sources.naming import exchange_id as make_exchange_id
from inspector.sources.pcap.http_heads import parse_head, spaced_names_notice

MAX_SESSIONS = 100_000
MAX_ENTRIES = 4 * MAX_SESSIONS + 16
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
HEAD_LIMIT = 1 << 20
"""A message head longer than this is not a message Fiddler recorded."""
MAX_MEMBER_READ = HEAD_LIMIT + 4 * BODY_KEEP_LIMIT
"""The most of one member ever decompressed: its head and enough body for the kept prefix (chunked, compressed)."""
MAX_METADATA = 256 * 1024
MAX_NOTICES = 100
_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,  # a compression method zipfile lacks
    RuntimeError,  # an encrypted member
    zlib.error,  # damaged deflate data (zipfile lets the decompressor's error through)
    lzma.LZMAError,
)
"""What reading a damaged or unusual archive member raises: the archive (or that session) is reported, never a crash."""

_MEMBER = re.compile(r"raw/([0-9]{1,9})_([csm])\.(txt|xml)")
_ATTRIBUTE = re.compile(r'([A-Za-z][\w.-]{0,63})\s*=\s*"([^"<]{0,512})"')
_TIMERS = re.compile(r"<SessionTimers\b([^<>]{0,8192})/?>")
_FLAG = re.compile(r'<SessionFlag\s+N\s*=\s*"([^"<]{0,128})"\s+V\s*=\s*"([^"<]{0,1024})"')
_SESSION = re.compile(r'<Session\b[^<>]{0,512}?\bSID\s*=\s*"([0-9]{1,12})"')
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


def looks_like_saz(path: Path) -> bool:
    """Whether ``path`` is a zip holding Fiddler ``raw/NN_c.txt`` members (its size checked before reading)."""
    try:
        sizes = _directory_size(path)
        if sizes is None:
            return False
        if sizes[0] > MAX_ENTRIES or sizes[1] > MAX_CENTRAL_DIRECTORY:
            # Too large to list safely: decided by the first member's name (the reader then says why it stops).
            with path.open("rb") as fo:
                head = fo.read(64)
            return len(head) >= 30 and head[30:34] == b"raw/"
        with zipfile.ZipFile(path) as archive:
            return any(_MEMBER.fullmatch(name) for name in archive.namelist())
    except _MEMBER_ERRORS:
        return False


def _directory_size(path: Path) -> tuple[int, int] | None:
    """Entries and central directory size from the end record (the zip64 locator counts as too large)."""
    with path.open("rb") as fo:
        fo.seek(0, 2)
        size = fo.tell()
        fo.seek(max(0, size - 22 - 65535))
        tail = fo.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries, directory = struct.unpack_from("<HI", tail, at + 10)
    return entries, directory


@dataclass(slots=True)
class _Session:
    number: int
    members: dict[str, zipfile.ZipInfo] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Message:
    start: str
    headers: Headers
    body: bytes | None
    problem: str | None = None
    spaced: tuple[str, ...] = ()
    """Header names that had whitespace before their colon (``http_heads.parse_head``), reported as a capture's."""


def read_saz(path: Path, *, label: str | None = None) -> Iterator[SourceItem]:
    """One exchange per Fiddler session (id ``<label>:<session number>``; the label names the file in the report,
    by default its name: :mod:`inspector.sources.naming`)."""
    source = label or path.name
    try:
        sizes = _directory_size(path)
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if sizes is None:
        raise InputError(f"Cannot read Fiddler archive {path}: no zip end record; the file is cut short or no zip")
    if sizes[0] > MAX_ENTRIES or sizes[1] > MAX_CENTRAL_DIRECTORY:
        raise InputError(
            f"Cannot read Fiddler archive {path}: {sizes[0]} entries in a {sizes[1]}-byte directory is more than "
            f"a session archive holds (at most {MAX_SESSIONS} sessions are read); split the trace in Fiddler"
        )
    try:
        archive = zipfile.ZipFile(path)
    except _MEMBER_ERRORS as exc:
        raise InputError(f"Cannot read Fiddler archive {path}: {exc}; save the sessions again in Fiddler") from exc
    with archive:
        sessions: dict[int, _Session] = {}
        for info in archive.infolist()[:MAX_ENTRIES]:
            match = _MEMBER.fullmatch(info.filename)
            if match is None:
                continue
            number = int(match.group(1))
            session = sessions.get(number)
            if session is None:
                if len(sessions) >= MAX_SESSIONS:
                    yield Notice(
                        "input-malformed",
                        f"{path.name}: more than {MAX_SESSIONS} sessions; the rest of the archive is not read",
                        source,
                    )
                    break
                session = sessions[number] = _Session(number)
            session.members[match.group(2)] = info
        notices = 0
        naive = 0
        for number in sorted(sessions):
            item, offset_known, noticed = _session_item(archive, sessions[number], path, source)
            if item is None:
                continue
            if isinstance(item, Notice):
                notices += 1
                if notices > MAX_NOTICES:
                    continue
            elif not offset_known:
                naive += 1
            yield item
            yield from noticed
        if notices > MAX_NOTICES:
            yield Notice(
                "input-malformed",
                f"{path.name}: {notices - MAX_NOTICES} more damaged sessions were skipped (the first {MAX_NOTICES} "
                "are reported)",
                source,
            )
        if naive:
            yield Notice(
                "input-malformed",
                f"{path.name}: {naive} session(s) have times without a UTC offset in _m.xml; they were read as UTC, so "
                "token times in them are judged against a time that may be off by the capturing machine's offset",
                source,
                evidence={"sessions": naive},
            )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as member:
        return member.read(limit)


def _session_item(
    archive: zipfile.ZipFile, session: _Session, path: Path, source: str
) -> tuple[SourceItem | None, bool, tuple[Notice, ...]]:
    """The session's exchange (or a notice saying why it was skipped), whether its time carried a UTC offset, and
    what was noticed about the exchange (names with whitespace before their colon)."""
    exchange_id = make_exchange_id(source, session.number)
    request_info = session.members.get("c")
    if request_info is None:
        return None, True, ()  # a session without a request (Fiddler never writes one): nothing to show
    try:
        raw_request = _read(archive, request_info, MAX_MEMBER_READ)
        response_info = session.members.get("s")
        raw_response = _read(archive, response_info, MAX_MEMBER_READ) if response_info is not None else None
        metadata_info = session.members.get("m")
        metadata = _read(archive, metadata_info, MAX_METADATA) if metadata_info is not None else b""
    except _MEMBER_ERRORS as exc:
        # RuntimeError: an encrypted member; NotImplementedError: a compression method zipfile lacks.
        return _notice(f"Skipped session {session.number} of {path.name}: {exc}", source, exchange_id), True, ()
    try:
        return _exchange(session.number, raw_request, raw_response, metadata, source, exchange_id)
    except _BadSession as exc:
        return _notice(f"Skipped session {session.number} of {path.name}: {exc}", source, exchange_id), True, ()


def _notice(message: str, source: str, exchange_id: str) -> Notice:
    return Notice("input-malformed", message[:500], source, exchange_id, {"reason": message[:500]})


class _BadSession(Exception):
    pass


def _message(raw: bytes, *, is_request: bool, tunnel: bool) -> _Message:
    end = raw.find(b"\r\n\r\n")
    cut = 4
    if end < 0:
        end, cut = raw.find(b"\n\n"), 2
    if end < 0:
        if len(raw) >= HEAD_LIMIT:
            raise _BadSession("the message head is longer than 1 MiB")
        end, cut = len(raw), 0  # a head without its blank line (cut short): headers as far as they go
    # the one header grammar every source shares: obs-fold, bare LF, whitespace before a colon (kept and reported)
    start_line, fields = parse_head(raw[:end].decode("latin-1"))
    start = start_line.strip()
    headers = fields.headers
    what = "request" if is_request else "response"
    if not start:
        raise _BadSession(f"the {what} has no start line")
    body_bytes = raw[end + cut :] if cut else b""
    body = None if tunnel else _body(headers, body_bytes, request=is_request)
    return _Message(start, headers, body, spaced=fields.spaced_names)


def _body(headers: Headers, data: bytes, *, request: bool) -> bytes | None:
    coding = first_header(headers, "transfer-encoding")
    if coding is not None and coding.strip().lower().endswith("chunked"):
        data = _dechunk(data)
    return kept_body(headers, data, request=request)


def _dechunk(data: bytes) -> bytes:
    """The chunked coding undone, as far as the data goes (the member read is bounded, so is this)."""
    out = bytearray()
    pos = 0
    while pos < len(data) and len(out) < MAX_MEMBER_READ:
        nl = data.find(b"\n", pos, pos + 1024)
        if nl < 0:
            break
        size_text = data[pos:nl].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            break
        size = int(size_text, 16)
        if size == 0:
            break
        out += data[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
    return bytes(out)


def parse_fiddler_time(value: str) -> tuple[datetime | None, bool]:
    """A ``SessionTimers`` value as UTC, and whether it carried an offset. ``0001-01-01…`` (unset) is ``None``."""
    match = _TIME.fullmatch(value.strip())
    if match is None:
        return None, False
    year, month, day, hour, minute, second = (int(match.group(n)) for n in range(1, 7))
    if year <= 1:
        return None, False
    fraction = (match.group(7) or "0")[:6].ljust(6, "0")
    offset_text = match.group(8)
    try:
        zone = UTC
        if offset_text and offset_text != "Z":
            sign = -1 if offset_text[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset_text[1:3]), minutes=int(offset_text[4:6])))
        moment = datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
        return moment.astimezone(UTC), offset_text is not None
    except (ValueError, OverflowError):
        return None, False


@dataclass(frozen=True, slots=True)
class SessionMetadata:
    timers: dict[str, str]
    flags: dict[str, str]
    sid: int | None


def parse_metadata(data: bytes) -> SessionMetadata:
    """``NN_m.xml`` by a bounded scan of its attributes (UTF-8 with BOM as Fiddler writes it)."""
    text = data[:MAX_METADATA].decode("utf-8-sig", errors="replace")
    timers: dict[str, str] = {}
    found = _TIMERS.search(text)
    if found is not None:
        timers = dict(_ATTRIBUTE.findall(found.group(1)))
    flags: dict[str, str] = {}
    for name, value in _FLAG.findall(text):
        if len(flags) >= 256:
            break
        flags.setdefault(name.lower(), value)
    sid = _SESSION.search(text)
    return SessionMetadata(timers, flags, int(sid.group(1)) if sid else None)


def _port(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    port = int(value.strip())
    return port if 0 < port <= 65535 else None


def _exchange(
    number: int,
    raw_request: bytes,
    raw_response: bytes | None,
    metadata_bytes: bytes,
    source: str,
    exchange_id: str,
) -> tuple[HttpExchange, bool, tuple[Notice, ...]]:
    request_line_end = raw_request.find(b"\n", 0, HEAD_LIMIT)
    first = raw_request[: request_line_end if request_line_end >= 0 else 256].decode("latin-1")
    tunnel = first.upper().startswith("CONNECT ")
    request = _message(raw_request, is_request=True, tunnel=tunnel)
    parts = request.start.split(" ")
    if len(parts) != 3 or not parts[0].isalpha():
        raise _BadSession(f"broken request line {request.start[:80]!r}")
    method, target, version = parts
    response: HttpResponse | None = None
    response_spaced: tuple[str, ...] = ()
    if raw_response:
        answer = _message(raw_response, is_request=False, tunnel=tunnel)
        response_spaced = answer.spaced
        status_parts = answer.start.split(" ", 2)
        if len(status_parts) >= 2 and status_parts[1].isdigit() and len(status_parts[1]) == 3:
            response = HttpResponse(
                int(status_parts[1]),
                status_parts[2] if len(status_parts) > 2 else "",
                status_parts[0],
                answer.headers,
                answer.body,
            )
    metadata = parse_metadata(metadata_bytes)
    timers = metadata.timers
    time: datetime | None = None
    has_offset = False
    for name in ("ClientBeginRequest", "ClientConnected", "GotRequestHeaders", "ClientDoneRequest"):
        time, has_offset = parse_fiddler_time(timers.get(name, ""))
        if time is not None:
            break
    # no usable request time: the session is kept with its time unknown (unknown beats wrong; skipping it would hide
    # its credentials), and a notice says what is therefore not judged
    response_time = None
    for name in ("ServerBeginResponse", "GotResponseHeaders", "ClientBeginResponse"):
        response_time, _ = parse_fiddler_time(timers.get(name, ""))
        if response_time is not None:
            break
    scheme, server_port = _scheme_and_port(method, target, request.headers)
    flags = metadata.flags
    client_ip = flags.get("x-clientip", "").strip()
    host_ip = flags.get("x-hostip", "").strip()
    exchange = HttpExchange(
        id=exchange_id,
        request=HttpRequest(method, target, version, request.headers, request.body),
        response=response,
        time=time,
        provenance=Provenance(kind="saz", source=source, entry=number),
        client=Endpoint(client_ip, _port(flags.get("x-clientport"))) if client_ip else None,
        server=Endpoint(host_ip, server_port) if host_ip else None,
        scheme=scheme,
        response_time=response_time if response is not None else None,
    )
    notices: list[Notice] = []
    if request.spaced or response_spaced:
        notices.append(spaced_names_notice(exchange, request.spaced, response_spaced))
    if time is None:
        reason = "its metadata (_m.xml) has no usable request time"
        notices.append(
            _notice(
                f"Session {number} ({exchange_id}): {reason}; its time is unknown, so token and certificate times "
                "and the rules that compare exchanges over time (basic-fallback) are not judged for it; every other "
                "check is",
                source,
                exchange_id,
            )
        )
    return exchange, has_offset or time is None, tuple(notices)


def _scheme_and_port(method: str, target: str, headers: Headers) -> tuple[str, int | None]:
    """What the client spoke and the server's port: from an absolute target, a CONNECT authority, or Host."""
    if method.upper() == "CONNECT":
        return "https", _port(target.rsplit(":", 1)[1]) if ":" in target else 443
    if "://" in target:
        try:
            parts = urlsplit(target)
            scheme = "https" if parts.scheme.lower() == "https" else "http"
            return scheme, parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            return "http", None
    host = first_header(headers, "host") or ""
    port = _port(host.rsplit(":", 1)[1]) if ":" in host and not host.endswith("]") else None
    return ("https" if port == 443 else "http"), port or 80
