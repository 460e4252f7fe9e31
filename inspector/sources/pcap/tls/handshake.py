"""Handshake messages: reassembled from records (a message may span several, a record may hold several) and
the few that matter read: ClientHello, ServerHello (HelloRetryRequest among them), EncryptedExtensions and
Certificate. Every length is checked against what is there; ``HandshakeError`` says what was wrong."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

CLIENT_HELLO, SERVER_HELLO, NEW_SESSION_TICKET, CLIENT_KEY_EXCHANGE = 1, 2, 4, 16
ENCRYPTED_EXTENSIONS, CERTIFICATE, FINISHED, KEY_UPDATE = 8, 11, 20, 24

EXT_SERVER_NAME, EXT_ALPN, EXT_ETM, EXT_EMS, EXT_EARLY_DATA, EXT_SUPPORTED_VERSIONS = 0, 16, 22, 23, 42, 43
END_OF_EARLY_DATA = 5
MAX_HANDSHAKE_MESSAGE = 256 << 10
"""A certificate chain is a few KiB; a message claiming more than this is damage or hostile."""
MAX_CERTIFICATES = 16

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


class HandshakeError(ValueError):
    """A handshake message that does not parse."""


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, size: int, what: str) -> bytes:
        if self.pos + size > self.end:
            raise HandshakeError(f"{what} runs past the end of its message")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def vector(self, length_size: int, what: str) -> _Reader:
        length = self.uint(length_size, f"the length of {what}")
        if self.pos + length > self.end:
            raise HandshakeError(f"{what} claims {length} bytes, more than its message holds")
        inner = _Reader(self.data, self.pos, self.pos + length)
        self.pos += length
        return inner

    @property
    def left(self) -> int:
        return self.end - self.pos

    def take_rest(self) -> bytes:
        return self.take(self.left, "data")


@dataclass(slots=True)
class ClientHello:
    version: int
    random: bytes
    session_id: bytes
    suites: list[int]
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    """supported_versions, in the client's order (empty when it did not send the extension)."""
    ems: bool = False
    etm: bool = False
    early_data: bool = False
    """TLS 1.3 0-RTT: application data may follow the ClientHello before the server answers."""


@dataclass(slots=True)
class ServerHello:
    version: int
    """The negotiated version (supported_versions when present, else the legacy field)."""
    random: bytes
    session_id: bytes
    suite: int
    retry: bool
    """A HelloRetryRequest: the client sends a second ClientHello."""
    alpn: str | None = None
    ems: bool = False
    etm: bool = False


def _extensions(reader: _Reader) -> Iterator[tuple[int, _Reader]]:
    if not reader.left:
        return
    block = reader.vector(2, "the extensions")
    while block.left:
        kind = block.uint(2, "an extension type")
        yield kind, block.vector(2, f"extension {kind}")


def _alpn_list(body: _Reader) -> list[str]:
    names = body.vector(2, "the ALPN list")
    out = []
    while names.left:
        out.append(names.vector(1, "an ALPN name").take_rest().decode("ascii", "replace"))
    return out


def parse_client_hello(body: bytes) -> ClientHello:
    reader = _Reader(body)
    version = reader.uint(2, "the version")
    random = reader.take(32, "the random")
    session_id = reader.vector(1, "the session id").take_rest()
    suites_block = reader.vector(2, "the cipher suites")
    suites = [suites_block.uint(2, "a cipher suite") for _ in range(suites_block.left // 2)]
    reader.vector(1, "the compression methods")
    hello = ClientHello(version, random, session_id, suites)
    for kind, ext in _extensions(reader):
        if kind == EXT_SERVER_NAME and ext.left:
            names = ext.vector(2, "the server name list")
            while names.left:
                name_type = names.uint(1, "a server name type")
                name = names.vector(2, "a server name").take_rest()
                if name_type == 0 and hello.sni is None:
                    hello.sni = name.decode("ascii", "replace")
        elif kind == EXT_ALPN:
            hello.alpn = _alpn_list(ext)
        elif kind == EXT_SUPPORTED_VERSIONS:
            listed = ext.vector(1, "the supported versions")
            hello.versions = [listed.uint(2, "a version") for _ in range(listed.left // 2)]
        elif kind == EXT_EMS:
            hello.ems = True
        elif kind == EXT_ETM:
            hello.etm = True
        elif kind == EXT_EARLY_DATA:
            hello.early_data = True
    return hello


def parse_server_hello(body: bytes) -> ServerHello:
    reader = _Reader(body)
    version = reader.uint(2, "the version")
    random = reader.take(32, "the random")
    session_id = reader.vector(1, "the session id").take_rest()
    suite = reader.uint(2, "the cipher suite")
    reader.uint(1, "the compression method")
    hello = ServerHello(version, random, session_id, suite, random == HRR_RANDOM)
    for kind, ext in _extensions(reader):
        if kind == EXT_SUPPORTED_VERSIONS:
            hello.version = ext.uint(2, "the selected version")
        elif kind == EXT_ALPN:
            names = _alpn_list(ext)
            hello.alpn = names[0] if names else None
        elif kind == EXT_EMS:
            hello.ems = True
        elif kind == EXT_ETM:
            hello.etm = True
    return hello


def parse_encrypted_extensions(body: bytes) -> tuple[str | None, bool]:
    """What a TLS 1.3 server says encrypted, in EncryptedExtensions: the ALPN protocol it chose, and whether it
    accepted the client's early data."""
    reader = _Reader(body)
    alpn, early = None, False
    for kind, ext in _extensions(reader):
        if kind == EXT_ALPN:
            names = _alpn_list(ext)
            alpn = names[0] if names else None
        elif kind == EXT_EARLY_DATA:
            early = True
    return alpn, early


def parse_certificates(body: bytes, *, tls13: bool) -> list[bytes]:
    """The DER certificates of a Certificate message, leaf first (at most ``MAX_CERTIFICATES``)."""
    reader = _Reader(body)
    if tls13:
        reader.vector(1, "the certificate request context")
    chain = reader.vector(3, "the certificate list")
    out: list[bytes] = []
    while chain.left and len(out) < MAX_CERTIFICATES:
        out.append(chain.vector(3, "a certificate").take_rest())
        if tls13:
            chain.vector(2, "certificate extensions")
    return out


class HandshakeBuffer:
    """One direction's handshake bytes, cut into messages."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        buf = self._buf
        buf += data
        while len(buf) >= 4:
            kind = buf[0]
            (length,) = struct.unpack_from("!I", buf, 0)
            length &= 0xFFFFFF
            if length > MAX_HANDSHAKE_MESSAGE:
                buf.clear()
                raise HandshakeError(f"a handshake message (type {kind}) claims {length} bytes")
            if len(buf) < 4 + length:
                return
            body = bytes(buf[4 : 4 + length])
            del buf[: 4 + length]
            yield kind, body

    def clear(self) -> None:
        self._buf.clear()
