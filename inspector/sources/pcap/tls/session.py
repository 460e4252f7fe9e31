"""One TLS connection between TCP reassembly and the HTTP/1.x parser.

Each direction's reassembled bytes are cut into records (``TlsDirection``); the session reads the handshake in
clear (ClientHello, ServerHello, the TLS <= 1.2 certificate chain), looks the client random up in the key log,
and from then on opens every record with that direction's keys and hands the plaintext to the connection's HTTP
parser for that side, as if it had come straight from TCP. TLS 1.2 switches keys at ChangeCipherSpec; TLS 1.3 at
ServerHello (handshake secrets), at each Finished (traffic secrets) and at each KeyUpdate.

Nothing is invented: a capture gap, a record that does not open, or a record too large to be TLS stops that
direction for good, with a notice saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes

from inspector.model import Notice
from inspector.sources.pcap.http2 import PREFACE, Http2Reader
from inspector.sources.pcap.ordering import capture_time, stopped_notice
from inspector.sources.pcap.tls.certificates import certificate_facts
from inspector.sources.pcap.tls.cipher import DecryptError, RecordCipher
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.handshake import (
    CERTIFICATE,
    CLIENT_HELLO,
    CLIENT_KEY_EXCHANGE,
    ENCRYPTED_EXTENSIONS,
    END_OF_EARLY_DATA,
    FINISHED,
    KEY_UPDATE,
    SERVER_HELLO,
    ClientHello,
    HandshakeBuffer,
    HandshakeError,
    ServerHello,
    parse_certificates,
    parse_client_hello,
    parse_encrypted_extensions,
    parse_server_hello,
)
from inspector.sources.pcap.tls.keylog import (
    CLIENT_AP,
    CLIENT_EARLY,
    CLIENT_HS,
    MASTER,
    SERVER_AP,
    SERVER_HS,
    KeyLog,
    Secret,
)
from inspector.sources.pcap.tls.keys import hash_algorithm, prf, tls12_keys, tls13_keys, tls13_next_secret
from inspector.sources.pcap.tls.server_keys import decrypt_premaster, find_key
from inspector.sources.pcap.tls.suites import DECRYPTABLE, Suite, is_grease, suite_name, version_name

if TYPE_CHECKING:
    from inspector.sources.pcap.connections import Connection

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT = 20, 21, 22, 23, 24
MAX_RECORD = 16384 + 2048
"""The largest TLSCiphertext fragment any version allows (RFC 5246 §6.2.3)."""
MAX_CERT_BYTES = 64 << 10
MAX_EARLY_BYTES = 64 << 10
"""0-RTT bytes held until the server says whether it accepted them (servers usually allow 16 KiB)."""


def _transcript_hash(version: int, hash_name: str, data: bytes) -> bytes:
    """The session hash of RFC 7627: the PRF's hash in TLS 1.2, MD5 and SHA-1 side by side before."""
    names = [hash_name] if version >= 0x0303 else ["md5", "sha1"]
    out = b""
    for name in names:
        digest = hashes.Hash(hash_algorithm(name))
        digest.update(data)
        out += digest.finalize()
    return out


def looks_like_tls(head: bytes) -> bool:
    """A TLS record header: content type 20-24, major version 3, minor 0-4."""
    return len(head) >= 3 and 20 <= head[0] <= 24 and head[1] == 3 and head[2] <= 4


class TlsDirection:
    """One direction's bytes cut into TLS records (a ``StreamConsumer`` for ``TcpStream``)."""

    __slots__ = ("_buf", "_started", "ignore", "session", "side")

    def __init__(self, session: TlsSession, side: int) -> None:
        self.session = session
        self.side = side
        self.ignore = False
        self._buf = bytearray()
        self._started = (0, 0)
        """Frame and time of the first byte waiting in ``_buf``: a record is dated where it began, as a
        message in clear is."""

    def data(self, data: bytes, frame: int, ts: int, ack: int) -> None:
        del ack  # the pairing of decrypted messages goes by turn: TCP acknowledgements count ciphertext
        buf = self._buf
        if buf:
            buf += data
            source: bytes | bytearray = buf
            first_frame, first_ts = self._started
        else:
            source = data  # the common case: records cut straight from the segment, no copy into the buffer
            first_frame, first_ts = frame, ts
        pos = 0
        size = len(source)
        session = self.session
        while size - pos >= 5 and not self.ignore:
            kind = source[pos]
            length = (source[pos + 3] << 8) | source[pos + 4]
            if not 20 <= kind <= 24 or source[pos + 1] != 3:
                version = (source[pos + 1] << 8) | source[pos + 2]
                session.malformed(
                    self.side, f"bytes that are not a TLS record (type {kind}, version 0x{version:04x})", frame
                )
                break
            if length > MAX_RECORD:
                session.malformed(self.side, f"a TLS record claiming {length} bytes (at most {MAX_RECORD})", frame)
                break
            end = pos + 5 + length
            if end > size:
                break
            version = (source[pos + 1] << 8) | source[pos + 2]
            fragment = bytes(source[pos + 5 : end])
            pos = end
            session.record(self.side, kind, version, fragment, first_frame, first_ts)
            first_frame, first_ts = frame, ts  # the next record begins in this segment
        if self.ignore:
            buf.clear()
        elif source is buf:
            del buf[:pos]
            if pos:
                self._started = (frame, ts)
        elif pos < size:
            buf += data[pos:]
            self._started = (frame, ts)

    def gap(self, seq: int, size: int, frame: int) -> None:
        self._buf.clear()
        self.session.gap(self.side, seq, size, frame)

    def stop(self) -> None:
        self.ignore = True
        self._buf.clear()


class TlsSession:
    """The TLS state of one connection; side numbers are the connection's."""

    def __init__(
        self,
        conn: Connection,
        keylog: KeyLog | None,
        frame: int,
        ts: int,
        on_close: Callable[[TlsSession], None],
    ) -> None:
        self.conn = conn
        self.keylog = keylog
        self.directions = (TlsDirection(self, 0), TlsDirection(self, 1))
        self.client_side: int | None = None
        self.hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.suite: Suite | None = None
        self.version = 0
        self.facts = TlsFacts(conn.label(), "", frame, capture_time(ts))
        self._handshakes = (HandshakeBuffer(), HandshakeBuffer())
        self._ciphers: list[RecordCipher | None] = [None, None]
        self._pending: list[RecordCipher | None] = [None, None]
        """TLS <= 1.2: the keys each side switches to at its ChangeCipherSpec."""
        self._encrypted = [False, False]
        self._app_secrets: list[bytes | None] = [None, None]
        self._secret_origin: Secret | None = None
        self._certificate_bytes = 0
        self._leaf: bytes | None = None
        self._transcript: list[bytes] | None = [] if keylog is not None and keylog.rsa_keys else None
        """Handshake messages up to ClientKeyExchange, kept only while a server key may be needed (extended
        master secret hashes them)."""
        self._await_rsa = False
        self._early: list[tuple[bytes, int, int, int]] = []
        """TLS 1.3 0-RTT records the client sent before the server answered (fragment, version, frame, time):
        opened once EncryptedExtensions says the server accepted them, dropped otherwise."""
        self._client_handshake: RecordCipher | None = None
        """The client's handshake-key cipher, held while its accepted early data is read with the early key."""
        self._client_opened = False
        self._awaiting_ee = False
        """Between the ServerHello and EncryptedExtensions of a handshake that offered 0-RTT: client records are
        held (they may still be early data)."""
        self._on_close = on_close
        self.failed = False
        self.closed = False
        self.http2: Http2Reader | None = None
        """Set when the decrypted stream is HTTP/2 (ALPN ``h2``, or the client's preface)."""
        self.carried_data = False
        """A handshake or application data record was seen (a connection that only carried an alert, as a server
        answers a client that connected and left, hides nothing)."""

    # -- records -------------------------------------------------------------------------------------------

    def record(self, side: int, kind: int, version: int, fragment: bytes, frame: int, ts: int) -> None:
        if kind in (HANDSHAKE, APPLICATION_DATA):
            self.carried_data = True
        if kind == CHANGE_CIPHER_SPEC:
            if self.version and self.version < 0x0304 and self.server_hello is not None:
                self._ciphers[side] = self._pending[side]
                self._encrypted[side] = True
            return
        if self._awaiting_ee and side == self.client_side and kind == APPLICATION_DATA:
            self._hold_early(fragment, version, frame, ts)
            return
        if self._encrypted[side] and (kind == APPLICATION_DATA or self.version < 0x0304):
            cipher = self._ciphers[side]
            if cipher is None:
                self.directions[side].stop()  # no keys: nothing more to read here
                return
            try:
                kind, fragment = cipher.open(kind, version, fragment)
            except DecryptError as exc:
                if self._early_data_unread(side):
                    cipher.seq -= 1  # early data the keys at hand cannot open: the server skipped it too
                    return
                self._decrypt_failed(side, str(exc), frame)
                return
            if side == self.client_side:
                self._client_opened = True
            if kind == APPLICATION_DATA:
                self._deliver(side, fragment, frame, ts)
                return
        if kind == HANDSHAKE:
            try:
                for message, body in self._handshakes[side].feed(fragment):
                    self._handshake(side, message, body)
            except HandshakeError as exc:
                self.malformed(side, f"a broken handshake message: {exc}", frame)
        elif kind == APPLICATION_DATA and not self._encrypted[side]:
            if self.hello is None:
                self.directions[side].stop()  # application data before any handshake: its start was not captured
            elif side == self.client_side and self.hello.early_data:
                self._hold_early(fragment, version, frame, ts)

    def _deliver(self, side: int, plain: bytes, frame: int, ts: int) -> None:
        if not plain:
            return
        client = self.client_side
        # HTTP/2 by ALPN whichever side speaks first (a server may send its SETTINGS before the client's preface
        # arrives), else by the client's preface.
        if (
            self.http2 is None
            and client is not None
            and (self.facts.alpn == "h2" or (side == client and plain.startswith(PREFACE)))
        ):
            self.http2 = Http2Reader(self.conn, client)
        if self.http2 is not None:
            self.http2.data(side, plain, frame, ts)
            return
        parser = self.conn.parsers[side]
        if not parser.ignore:
            parser.data(plain, frame, ts, -1)

    # -- handshake ----------------------------------------------------------------------------------------

    def _handshake(self, side: int, message: int, body: bytes) -> None:
        transcript = self._transcript
        if transcript is not None:
            transcript.append(bytes([message]) + len(body).to_bytes(3, "big") + body)
            if len(transcript) > 64:
                self._transcript = None  # not a handshake this reader follows
        if message == CLIENT_KEY_EXCHANGE and side == self.client_side and self._await_rsa:
            self._rsa_key_exchange(body)
        elif message == CLIENT_HELLO:
            self._client_hello(side, parse_client_hello(body))
        elif message == SERVER_HELLO and side != self.client_side:
            self._server_hello(side, parse_server_hello(body))
        elif message == CERTIFICATE and side != self.client_side:
            self._certificates(body)
        elif message == ENCRYPTED_EXTENSIONS and side != self.client_side:
            self.facts.alpn, accepted = parse_encrypted_extensions(body)
            self._early_data_answered(accepted)
        elif message == END_OF_EARLY_DATA and side == self.client_side and self._client_handshake is not None:
            self._ciphers[side], self._client_handshake = self._client_handshake, None
        elif message == FINISHED and self.version >= 0x0304:
            self._switch_to_traffic(side)
        elif message == KEY_UPDATE and self.version >= 0x0304:
            self._key_update(side)

    def _client_hello(self, side: int, hello: ClientHello) -> None:
        if self.client_side is None:
            self.client_side = side
            for parser in self.conn.parsers:
                parser.midstream = False  # the plaintext starts where the handshake ends
        elif side != self.client_side:
            return
        self.hello = hello
        facts = self.facts
        facts.server = str(self.conn.endpoints[1 - side])
        facts.connection = f"{self.conn.endpoints[side]} -> {self.conn.endpoints[1 - side]}"
        facts.sni = hello.sni
        offered = [v for v in hello.versions if not is_grease(v)] or [hello.version]
        facts.offered_versions = [version_name(v) for v in offered]
        facts.offered_alpn = hello.alpn
        facts.client_random = hello.random.hex()
        facts.status = "incomplete"

    def _server_hello(self, side: int, hello: ServerHello) -> None:
        facts = self.facts
        if self.hello is None:
            return  # the ClientHello was not captured: no client random, no keys
        if hello.retry:
            facts.retry = True
            return
        self.server_hello = hello
        self.version = hello.version
        facts.version = version_name(hello.version)
        facts.cipher = suite_name(hello.suite)
        if hello.alpn is not None:
            facts.alpn = hello.alpn
        facts.resumed = bool(hello.session_id) and hello.session_id == self.hello.session_id and hello.version < 0x0304
        suite = DECRYPTABLE.get(hello.suite)
        if suite is None or (hello.version >= 0x0304) != (suite.code >> 8 == 0x13) or hello.version < 0x0301:
            facts.status = "unsupported-suite"  # SSL 3.0 has its own MAC: named, never a false decrypt failure
            return
        self.suite = suite
        client = 1 - side
        if hello.version < 0x0304:
            secret = self._lookup(MASTER)
            if secret is None:
                # Static RSA with the server's key given: the master secret follows from ClientKeyExchange.
                self._await_rsa = suite.rsa_key_exchange and self._transcript is not None
                if not self._await_rsa:
                    self._transcript = None
                return
            self._transcript = None
            keys = tls12_keys(hello.version, suite, secret.value, self.hello.random, hello.random)
            etm = hello.etm and suite.protection == "cbc"
            self._pending[client] = RecordCipher(suite, keys[0], version=hello.version, etm=etm)
            self._pending[side] = RecordCipher(suite, keys[1], version=hello.version, etm=etm)
            self._found(secret)
            return
        self._encrypted = [True, True]
        self._awaiting_ee = self.hello.early_data
        client_hs, server_hs = self._lookup(CLIENT_HS), self._lookup(SERVER_HS)
        if client_hs is None or server_hs is None:
            return
        self._ciphers[client] = RecordCipher(suite, tls13_keys(suite, client_hs.value), version=hello.version)
        self._ciphers[side] = RecordCipher(suite, tls13_keys(suite, server_hs.value), version=hello.version)
        client_ap, server_ap = self._lookup(CLIENT_AP), self._lookup(SERVER_AP)
        self._app_secrets[client] = client_ap.value if client_ap else None
        self._app_secrets[side] = server_ap.value if server_ap else None
        self._found(server_hs)

    def _rsa_key_exchange(self, body: bytes) -> None:
        """The master secret from the pre-master secret the client encrypted to the server's key (RFC 5246
        §8.1, and RFC 7627 when both hellos asked for the extended master secret)."""
        self._await_rsa = False
        transcript, self._transcript = self._transcript, None
        hello, server_hello, suite = self.hello, self.server_hello, self.suite
        if self.keylog is None or hello is None or server_hello is None or suite is None or self._leaf is None:
            return
        found = find_key(self.keylog.rsa_keys, self._leaf)
        if found is None or transcript is None:
            return
        der, name = found
        version = server_hello.version
        encrypted = body[2:] if version >= 0x0301 else body  # TLS 1.0 and later prefix it with its length
        try:
            premaster = decrypt_premaster(der, encrypted)
        except ValueError:
            self.facts.status = "decrypt-failed"
            return
        if hello.ems and server_hello.ems:
            session_hash = _transcript_hash(version, suite.prf, b"".join(transcript))
            master = prf(version, suite.prf, premaster, b"extended master secret", session_hash, 48)
        else:
            master = prf(version, suite.prf, premaster, b"master secret", hello.random + server_hello.random, 48)
        keys = tls12_keys(version, suite, master, hello.random, server_hello.random)
        etm = server_hello.etm and suite.protection == "cbc"
        client = self.client_side if self.client_side is not None else 0
        self._pending[client] = RecordCipher(suite, keys[0], version=version, etm=etm)
        self._pending[1 - client] = RecordCipher(suite, keys[1], version=version, etm=etm)
        self._found(Secret(master, "server-key", name))

    def _hold_early(self, fragment: bytes, version: int, frame: int, ts: int) -> None:
        if self.keylog is not None and sum(len(item[0]) for item in self._early) + len(fragment) <= MAX_EARLY_BYTES:
            self._early.append((fragment, version, frame, ts))

    def _early_data_answered(self, accepted: bool) -> None:
        """EncryptedExtensions said whether the server took the client's 0-RTT data: if it did and the key log
        has the early secret, the held records open with it (and the client's next ones, up to EndOfEarlyData)."""
        early, self._early = self._early, []
        self._awaiting_ee = False
        client = self.client_side
        if not accepted or client is None or self.hello is None or self.suite is None or self.keylog is None:
            return
        secret = self.keylog.lookup(self.hello.random, CLIENT_EARLY)
        if secret is None:
            return
        self._client_handshake = self._ciphers[client]
        self._ciphers[client] = RecordCipher(self.suite, tls13_keys(self.suite, secret.value), version=self.version)
        for fragment, version, frame, ts in early:
            self.record(client, APPLICATION_DATA, version, fragment, frame, ts)

    def _early_data_unread(self, side: int) -> bool:
        """A TLS 1.3 client record that does not open while 0-RTT data may still be in flight (offered, and no
        client record opened yet): the server skipped such records too, so this reader does."""
        hello = self.hello
        return (
            self.version >= 0x0304
            and side == self.client_side
            and hello is not None
            and hello.early_data
            and not self._client_opened
            and self._client_handshake is None
        )

    def _lookup(self, label: str) -> Secret | None:
        assert self.hello is not None
        if self.keylog is None:
            self.facts.status = "no-keys"
            return None
        secret = self.keylog.lookup(self.hello.random, label)
        if secret is None:
            self.facts.status = "no-keys"
        return secret

    def _found(self, secret: Secret) -> None:
        self._secret_origin = secret
        self.facts.status = "decrypted"
        self.facts.decrypted_with = secret.origin

    def _certificates(self, body: bytes) -> None:
        self._certificate_bytes += len(body)
        if self.facts.certificates or self._certificate_bytes > MAX_CERT_BYTES:
            return
        try:
            chain = parse_certificates(body, tls13=self.version >= 0x0304)
            self._leaf = chain[0] if chain else None
            self.facts.certificates = [certificate_facts(der) for der in chain]
        except ValueError as exc:  # HandshakeError, or DER that cryptography cannot read
            self.facts.certificate_error = str(exc)[:200]

    def _switch_to_traffic(self, side: int) -> None:
        assert self.suite is not None
        secret = self._app_secrets[side]
        if secret is None:
            self._ciphers[side] = None  # the key log lacks this traffic secret: the rest is unreadable
            return
        self._ciphers[side] = RecordCipher(self.suite, tls13_keys(self.suite, secret), version=self.version)

    def _key_update(self, side: int) -> None:
        assert self.suite is not None
        secret = self._app_secrets[side]
        if secret is None:
            return
        secret = tls13_next_secret(self.suite, secret)
        self._app_secrets[side] = secret
        self._ciphers[side] = RecordCipher(self.suite, tls13_keys(self.suite, secret), version=self.version)

    # -- trouble -----------------------------------------------------------------------------------------

    def _decrypt_failed(self, side: int, reason: str, frame: int) -> None:
        self.directions[side].stop()
        self._stop_parser(side, frame)
        if self.failed:
            return
        self.failed = True
        self.facts.status = "decrypt-failed"
        secret = self._secret_origin
        random = self.hello.random.hex() if self.hello else "?"
        tried = f"{'CLIENT_RANDOM' if self.version < 0x0304 else 'TLS 1.3 traffic secrets'} for client random {random}"
        where = f" from {secret.where}" if secret else ""
        conn = self.conn
        conn.table.out.notice(
            frame,
            Notice(
                rule="tls-decrypt-failed",
                message=(
                    f"TLS records of {conn.label()} ({conn.direction(side)}) do not open with the key tried "
                    f"({tried}{where}) at frame {frame}: {reason}; this direction is not read further. The key "
                    "log belongs to another session, or the capture damaged the record."
                ),
                source=conn.table.source,
                evidence={
                    "connection": conn.label(),
                    "direction": conn.direction(side),
                    "frame": frame,
                    "client_random": random,
                    "key": tried,
                    "key_file": secret.where if secret else None,
                    "reason": reason,
                },
            ),
        )

    def malformed(self, side: int, reason: str, frame: int) -> None:
        self.directions[side].stop()
        self._stop_parser(side, frame)
        conn = self.conn
        table = conn.table
        stopped_notice(
            table.out, table.source, "tls-malformed", "TLS", conn.label(), conn.direction(side), frame, reason
        )

    def gap(self, side: int, seq: int, size: int, frame: int) -> None:
        direction = self.directions[side]
        if direction.ignore:
            return
        direction.stop()
        if self._ciphers[side] is None and self._pending[side] is None:
            return  # nothing was being decrypted here: the encrypted-traffic notice covers it
        self._stop_parser(side, frame)
        conn = self.conn
        conn.table.out.notice(
            frame,
            Notice(
                rule="capture-gap",
                message=(
                    f"{size} bytes missing from the capture in {conn.label()} ({conn.direction(side)}, sequence "
                    f"{seq}): TLS records cannot be cut or opened past a hole, so decryption of this direction stops"
                ),
                source=conn.table.source,
                evidence={
                    "connection": conn.label(),
                    "direction": conn.direction(side),
                    "from_seq": seq,
                    "bytes_missing": size,
                    "frame": frame,
                    "effect": "tls-stopped",
                },
            ),
        )

    def _stop_parser(self, side: int, frame: int) -> None:
        parser = self.conn.parsers[side]
        if not parser.ignore:
            parser.finish(frame)

    def close(self, frame: int) -> None:
        if self.closed:
            return
        self.closed = True
        if self.http2 is not None:
            self.http2.close()
            self.facts.requests = self.http2.requests
        elif self.facts.status == "decrypted":
            self.facts.requests = self.conn.parsers[self.client_side or 0].messages
        del frame
        self._on_close(self)
        del self.directions  # they point back here: let the session go without the cycle collector
