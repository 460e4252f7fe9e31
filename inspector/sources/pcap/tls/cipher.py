"""Record protection removed with ``cryptography``'s primitives: AES-GCM and ChaCha20-Poly1305 (TLS 1.2 and
1.3), AES-CBC with HMAC, MAC-then-encrypt or encrypt-then-MAC (RFC 7366). A record whose tag, MAC or padding
does not check raises ``DecryptError``: its bytes are never passed on."""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from inspector.sources.pcap.tls.keys import MAC_SIZES, DirectionKeys, hash_algorithm
from inspector.sources.pcap.tls.suites import Suite

_AAD12 = struct.Struct("!QBHH")
_HEADER = struct.Struct("!BHH")
_TAG = 16
_BLOCK = 16


class DecryptError(Exception):
    """A record that the keys do not open (wrong keys, or bytes damaged in the capture)."""


class RecordCipher:
    """One direction's protection under one set of keys; ``seq`` counts the records it has opened."""

    __slots__ = (
        "_aead",
        "_etm",
        "_iv",
        "_iv_int",
        "_keys",
        "_mac_hash",
        "_mac_len",
        "_protection",
        "_tls13",
        "_version",
        "seq",
    )

    def __init__(self, suite: Suite, keys: DirectionKeys, *, version: int, etm: bool = False) -> None:
        self._protection = suite.protection
        self._version = version
        self._tls13 = version >= 0x0304
        self._keys = keys
        self._iv = keys.iv
        self._iv_int = int.from_bytes(keys.iv, "big")
        self._etm = etm
        self._mac_hash = suite.mac
        self._mac_len = MAC_SIZES[suite.mac] if suite.mac else 0
        self._aead: AESGCM | ChaCha20Poly1305 | None = None
        if suite.protection == "gcm":
            self._aead = AESGCM(keys.key)
        elif suite.protection == "chacha":
            self._aead = ChaCha20Poly1305(keys.key)
        self.seq = 0

    def open(self, content_type: int, version: int, fragment: bytes) -> tuple[int, bytes]:
        """The record's content type (the inner one in TLS 1.3) and its plaintext."""
        try:
            if self._tls13:
                return self._open13(version, fragment)
            if self._aead is not None:
                return content_type, self._open_aead12(content_type, version, fragment)
            return content_type, self._open_cbc(content_type, version, fragment)
        finally:
            self.seq += 1

    def _nonce(self) -> bytes:
        # The 64-bit sequence number, left-padded to the IV's 12 bytes, XORed into it.
        return (self._iv_int ^ self.seq).to_bytes(12, "big")

    def _open13(self, version: int, fragment: bytes) -> tuple[int, bytes]:
        assert self._aead is not None
        if len(fragment) < _TAG + 1:
            raise DecryptError("record shorter than its tag")
        aad = _HEADER.pack(23, version, len(fragment))
        try:
            inner = self._aead.decrypt(self._nonce(), fragment, aad)
        except InvalidTag:
            raise DecryptError("authentication tag does not match") from None
        body = inner.rstrip(b"\x00")
        if not body:
            raise DecryptError("record with no content type")
        return body[-1], body[:-1]

    def _open_aead12(self, content_type: int, version: int, fragment: bytes) -> bytes:
        assert self._aead is not None
        if self._protection == "gcm":
            if len(fragment) < 8 + _TAG:
                raise DecryptError("record shorter than its nonce and tag")
            nonce, sealed = self._iv + fragment[:8], fragment[8:]
        else:
            if len(fragment) < _TAG:
                raise DecryptError("record shorter than its tag")
            nonce, sealed = self._nonce(), fragment
        aad = _AAD12.pack(self.seq, content_type, version, len(sealed) - _TAG)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise DecryptError("authentication tag does not match") from None

    def _mac(self, content_type: int, version: int, data: bytes) -> hmac.HMAC:
        assert self._mac_hash is not None
        mac = hmac.HMAC(self._keys.mac_key, hash_algorithm(self._mac_hash))
        mac.update(_AAD12.pack(self.seq, content_type, version, len(data)))
        mac.update(data)
        return mac

    def _open_cbc(self, content_type: int, version: int, fragment: bytes) -> bytes:
        mac_len = self._mac_len
        if self._etm:
            if len(fragment) < mac_len + _BLOCK:
                raise DecryptError("record shorter than its MAC and one block")
            body, tag = fragment[:-mac_len], fragment[-mac_len:]
            try:
                self._mac(content_type, version, body).verify(tag)
            except InvalidSignature:
                raise DecryptError("record MAC does not match") from None
            fragment = body
        explicit = version >= 0x0302
        iv, sealed = (fragment[:_BLOCK], fragment[_BLOCK:]) if explicit else (self._iv, fragment)
        if not sealed or len(sealed) % _BLOCK:
            raise DecryptError(f"CBC record of {len(sealed)} bytes is not a whole number of blocks")
        decryptor = Cipher(algorithms.AES(self._keys.key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        if not explicit:
            self._iv = sealed[-_BLOCK:]  # TLS 1.0 chains the IV from the previous record
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes([pad]) * (pad + 1):
            raise DecryptError("CBC padding does not check")
        content = plain[: -pad - 1]
        if self._etm:
            return content
        if len(content) < mac_len:
            raise DecryptError("record shorter than its MAC")
        data, tag = content[: len(content) - mac_len], content[len(content) - mac_len :]
        try:
            self._mac(content_type, version, data).verify(tag)
        except InvalidSignature:
            raise DecryptError("record MAC does not match") from None
        return data
