"""A JSON document read in chunks, one value at a time, in bounded memory and linear time.

The HAR reader walks the outer structure with it (``{"log": {"entries": [...]}}``) and takes each entry's text
whole, to be parsed by the ``json`` module on its own: memory is that of one entry, not of the file (a 200 MB
export took 777 MB read whole). A string longer than ``string_keep`` characters (a body) keeps only its start;
a value nested deeper than ``max_depth`` or longer than ``max_chars`` is stepped over without being kept.
Each character is looked at once: no scan restarts (a regex looking for whole strings restarts at every quote
inside an unterminated one, quadratic on ``"\\"\\"\\"…``).
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO

CHUNK = 1 << 20
_ORDINARY = re.compile(r'[^"\[\]{}]+')
"""Inside a container: everything but strings and brackets (numbers, literals, commas, colons, whitespace)."""
_OPENERS = re.compile(r"[\[{]+")
_CLOSERS = re.compile(r"[\]}]+")
_SCALAR = re.compile(r"[^,\]}\s]*")
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_ESCAPED_BYTE = re.compile(r"[\udc80-\udcff]")
"""What ``surrogateescape`` makes of a byte that is not UTF-8 (valid UTF-8 never decodes to these)."""


class TextDamage(Exception):
    """The bytes are not text in the file's encoding (UTF-16 only: UTF-8 keeps bad bytes, see ``bad_byte``)."""


class Cut(Exception):
    """The file ended inside a value."""


class JsonText:
    """The file's text with a read position; ``more`` reads the next chunk, keeping what is not consumed yet."""

    def __init__(self, fo: BinaryIO) -> None:
        self._fo = fo
        head = fo.read(4)
        encoding = "utf-8"
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, e.g. written by Windows PowerShell 5
            encoding = "utf-16"
        elif head.startswith(b"\xef\xbb\xbf"):  # Fiddler writes a BOM
            head = head[3:]
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(
            errors="surrogateescape" if encoding == "utf-8" else "strict"
        )
        self._pending = head
        self._bytes_read = 0
        self.eof = False
        self.buf = ""
        self.pos = 0
        self._base_chars = 0
        """Characters of the file before ``buf``."""
        self._base_lines = 0
        self._base_column = 0
        """Characters since the last newline before ``buf``."""
        self.bad_byte: int | None = None
        """Offset of the first byte that is not UTF-8 (kept as it is, via surrogateescape)."""

    def more(self, keep_from: int | None = None) -> bool:
        """Read another chunk; text before ``keep_from`` (default: the position) is dropped. False at the end."""
        if self.eof:
            return False
        self.drop(self.pos if keep_from is None else keep_from)
        data = self._pending + self._fo.read(CHUNK)
        self._pending = b""
        final = not data
        try:
            text = self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise TextDamage(f"invalid {self._encoding.upper()} at offset {self._bytes_read + exc.start}") from None
        if (
            self.bad_byte is None
            and self._encoding == "utf-8"
            and not text.isascii()
            and (bad := _ESCAPED_BYTE.search(text))
        ):
            self.bad_byte = self._bytes_read + len(text[: bad.start()].encode("utf-8", "surrogateescape"))
        self._bytes_read += len(data)
        self.buf += text
        if final:
            self.eof = True
        return bool(text) or not final

    def drop(self, keep: int) -> None:
        """Forget the text of ``buf`` before ``keep`` (positions move with it); nothing is read."""
        dropped = self.buf[:keep]
        newlines = dropped.count("\n")
        if newlines:
            self._base_lines += newlines
            self._base_column = len(dropped) - dropped.rfind("\n") - 1
        else:
            self._base_column += len(dropped)
        self._base_chars += keep
        self.buf = self.buf[keep:]
        self.pos -= keep

    def where(self, pos: int | None = None) -> str:
        """``line L column C (character P)`` of a position in ``buf`` (default: the read position)."""
        at = self.pos if pos is None else pos
        newlines = self.buf.count("\n", 0, at)
        column = at - self.buf.rfind("\n", 0, at) if newlines else self._base_column + at + 1
        return f"line {self._base_lines + newlines + 1} column {column} (character {self._base_chars + at})"

    def offset(self) -> int:
        """Characters of the file before the read position."""
        return self._base_chars + self.pos

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), without consuming it."""
        pos = self.pos
        if pos < len(self.buf) and self.buf[pos] not in " \t\r\n":  # the common case, without a regex
            return self.buf[pos]
        while True:
            match = _WHITESPACE.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def key(self, limit: int = 1024) -> str:
        """An object key (the read position is at its opening quote); long keys keep their start."""
        text = self.value(string_keep=limit, max_chars=limit + 2, max_depth=0)
        return text[1:-1] if text else ""

    def value(self, *, string_keep: int, max_chars: int, max_depth: int, keep: bool = True) -> str | None:
        """The text of the value at the read position (after whitespace), consumed; ``None`` when it was not kept
        (``keep`` false, deeper than ``max_depth``, longer than ``max_chars``: ``self.dropped`` says which).
        Raises ``Cut`` when the file ends inside it."""
        self.dropped: str | None = None
        if not self.peek():
            raise Cut
        parts: list[str] = []
        size = 0
        depth = 0
        while True:
            if self.pos >= len(self.buf) and not self.more():
                raise Cut
            char = self.buf[self.pos]
            if char == '"':
                kept = self._string(parts if keep else None, string_keep)
                size += kept
                if keep and size > max_chars:
                    keep, parts, self.dropped = False, [], f"it is over {max_chars} characters long"
                if depth == 0:
                    return "".join(parts) if keep else None
                continue
            if char in "[{" or (char in "]}" and depth > 0):
                # A run of brackets at once: 25 million nested "[" are one step, not 25 million.
                match = (_OPENERS if char in "[{" else _CLOSERS).match(self.buf, self.pos)
                end = match.end() if match else self.pos + 1
                run = end - self.pos if char in "[{" else -min(end - self.pos, depth)
                end = self.pos + abs(run)
                depth += run
                if keep and depth > max_depth:
                    keep, parts, self.dropped = False, [], "JSON nested too deeply"
                if keep:
                    parts.append(self.buf[self.pos : end])
                    size += end - self.pos
                self.pos = end
                if depth == 0:
                    return "".join(parts) if keep else None
                continue
            if char in "]}":  # where a value should start: returned as it is, for the caller's parser to refuse
                pass
            elif depth == 0:  # a number or literal on its own
                return self._scalar(keep, max_chars)
            else:
                match = _ORDINARY.match(self.buf, self.pos)
                end = match.end() if match else self.pos + 1
                if keep:
                    parts.append(self.buf[self.pos : end])
                    size += end - self.pos
                    if size > max_chars:
                        keep, parts, self.dropped = False, [], f"it is over {max_chars} characters long"
                self.pos = end
                continue
            if keep:
                parts.append(char)
                size += 1
            self.pos += 1
            if depth <= 0:
                return "".join(parts) if keep else None

    def _scalar(self, keep: bool, max_chars: int) -> str | None:
        start = self.pos
        while True:
            match = _SCALAR.match(self.buf, start)
            end = match.end() if match else start
            if end < len(self.buf) or self.eof:
                break
            if end - start > max_chars:  # a number of a million digits: consumed, not kept
                keep, self.dropped = False, f"it is over {max_chars} characters long"
                self.pos = end
                self.more()
                start = self.pos
                continue
            self.more(keep_from=start)
            start = self.pos
        self.pos = end
        return self.buf[start:end] if keep else None

    def _string(self, parts: list[str] | None, string_keep: int) -> int:
        """Consume a string (the position is at its opening quote), appending at most ``string_keep`` of its
        characters (cut before an unfinished escape) to ``parts``; the number of characters appended."""
        self.pos += 1
        kept = 0
        if parts is not None:
            parts.append('"')
            first = len(parts)
        while True:
            end = self._closing_quote()
            closed = end >= 0
            if not closed:  # the chunk ends inside the string: keep a backslash whose escaped character is to come
                end = len(self.buf)
                run = end - len(self.buf.rstrip("\\")) if self.buf.endswith("\\") else 0
                end -= min(run, end - self.pos) % 2
            if parts is not None and kept < string_keep:
                piece = self.buf[self.pos : min(end, self.pos + string_keep - kept)]
                parts.append(piece)
                kept += len(piece)
            if closed:
                self.pos = end + 1
                break
            self.pos = end
            if not self.more():
                raise Cut
        if parts is not None:
            if kept >= string_keep:  # the cut may fall inside an escape, whose pieces may come from two chunks
                body = _without_broken_escape("".join(parts[first:]))
                del parts[first:]
                parts.append(body)
                kept = len(body)
            parts.append('"')
            return kept + 2
        return 0

    def _closing_quote(self) -> int:
        """Where the string at the read position closes in ``buf``; -1 when not in it. ``str.find`` scans a
        thousand times faster than a regex character class, and a quote is escaped when an odd run of
        backslashes (since the read position) precedes it."""
        buf, start = self.buf, self.pos
        at = start
        while (quote := buf.find('"', at)) >= 0:
            before = quote
            while before > start and buf[before - 1] == "\\":
                before -= 1
            if (quote - before) % 2 == 0:
                return quote
            at = quote + 1
        return -1


_TRAILING_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?\Z")


def _without_broken_escape(text: str) -> str:
    """A string's kept start, without an escape the cut left unfinished (``\\``, ``\\u12``)."""
    match = _TRAILING_ESCAPE.search(text)
    if match is None:
        return text
    backslashes = len(text[: match.start() + 1]) - len(text[: match.start() + 1].rstrip("\\"))
    return text[: match.start()] if backslashes % 2 == 1 else text
