"""Record protection opened as RFC 5246 / 7366 / 7905 / 8446 lay it out: records sealed here with
``cryptography``'s primitives (the way a TLS stack seals them) open, and any changed byte is refused."""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from inspector.sources.pcap.tls.cipher import DecryptError, RecordCipher
from inspector.sources.pcap.tls.keys import DirectionKeys
from inspector.sources.pcap.tls.suites import DECRYPTABLE


def _xor_nonce(iv: bytes, seq: int) -> bytes:
    return (int.from_bytes(iv, "big") ^ seq).to_bytes(12, "big")


def test_tls12_gcm_records_open_in_sequence_and_a_flipped_bit_is_refused() -> None:
    keys = DirectionKeys(os.urandom(16), os.urandom(4), b"")
    cipher = RecordCipher(DECRYPTABLE[0xC02F], keys, version=0x0303)
    for seq, text in enumerate([b"GET / HTTP/1.1\r\n\r\n", b"", b"x" * 16384]):
        explicit = os.urandom(8)
        aad = struct.pack("!QBHH", seq, 23, 0x0303, len(text))
        sealed = explicit + AESGCM(keys.key).encrypt(keys.iv + explicit, text, aad)
        assert cipher.open(23, 0x0303, sealed) == (23, text)
    explicit = os.urandom(8)
    sealed = bytearray(
        explicit + AESGCM(keys.key).encrypt(keys.iv + explicit, b"abc", struct.pack("!QBHH", 3, 23, 0x0303, 3))
    )
    sealed[-1] ^= 1
    with pytest.raises(DecryptError, match="tag"):
        cipher.open(23, 0x0303, bytes(sealed))


def test_tls12_chacha20_uses_the_sequence_number_in_its_nonce() -> None:
    keys = DirectionKeys(os.urandom(32), os.urandom(12), b"")
    cipher = RecordCipher(DECRYPTABLE[0xCCA8], keys, version=0x0303)
    for seq in range(3):
        text = f"record {seq}".encode()
        aad = struct.pack("!QBHH", seq, 23, 0x0303, len(text))
        assert cipher.open(23, 0x0303, ChaCha20Poly1305(keys.key).encrypt(_xor_nonce(keys.iv, seq), text, aad)) == (
            23,
            text,
        )


def test_tls13_records_carry_their_inner_type_and_padding() -> None:
    keys = DirectionKeys(os.urandom(16), os.urandom(12), b"")
    cipher = RecordCipher(DECRYPTABLE[0x1301], keys, version=0x0304)
    inner = b"HTTP/1.1 200 OK\r\n\r\n" + bytes([23]) + bytes(7)  # content type, then zero padding
    header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
    sealed = AESGCM(keys.key).encrypt(_xor_nonce(keys.iv, 0), inner, header)
    assert cipher.open(23, 0x0303, sealed) == (23, b"HTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(DecryptError):
        cipher.open(23, 0x0303, sealed)  # the same record again: sequence 1 now, the nonce differs


def _cbc_record(keys: DirectionKeys, seq: int, text: bytes, *, etm: bool, mac_name: str) -> bytes:
    algorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[mac_name]  # noqa: S303 - TLS's own record MAC

    def mac(data: bytes) -> bytes:
        h = hmac.HMAC(keys.mac_key, algorithm)
        h.update(struct.pack("!QBHH", seq, 23, 0x0303, len(data)) + data)
        return h.finalize()

    iv = os.urandom(16)
    body = text if etm else text + mac(text)
    pad = 15 - len(body) % 16
    encryptor = Cipher(algorithms.AES(keys.key), modes.CBC(iv)).encryptor()
    sealed = iv + encryptor.update(body + bytes([pad]) * (pad + 1)) + encryptor.finalize()
    return sealed + mac(sealed) if etm else sealed


@pytest.mark.parametrize(("code", "etm"), [(0xC013, False), (0xC013, True), (0xC027, False), (0xC028, True)])
def test_tls12_cbc_with_and_without_encrypt_then_mac(code: int, etm: bool) -> None:
    suite = DECRYPTABLE[code]
    mac_len = {"sha1": 20, "sha256": 32, "sha384": 48}[suite.mac or ""]
    keys = DirectionKeys(os.urandom(suite.key_len), b"", os.urandom(mac_len))
    cipher = RecordCipher(suite, keys, version=0x0303, etm=etm)
    for seq, text in enumerate([b"POST /EWS HTTP/1.1\r\n\r\n", b"y" * 1000]):
        assert cipher.open(23, 0x0303, _cbc_record(keys, seq, text, etm=etm, mac_name=suite.mac or "")) == (23, text)
    broken = bytearray(_cbc_record(keys, 2, b"z" * 40, etm=etm, mac_name=suite.mac or ""))
    broken[20] ^= 0x80
    with pytest.raises(DecryptError):
        cipher.open(23, 0x0303, bytes(broken))
    with pytest.raises(DecryptError, match=r"MAC does not match" if etm else r"whole number of blocks"):
        cipher.open(23, 0x0303, os.urandom(17 + (mac_len if etm else 0)))
