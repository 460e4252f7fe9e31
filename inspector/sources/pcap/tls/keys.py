"""Key derivation: the TLS 1.0-1.2 PRF and TLS 1.3's HKDF-Expand-Label, composed from ``cryptography``'s HMAC
and HKDFExpand (RFC 5246 §5, RFC 2246 §5, RFC 8446 §7)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from inspector.sources.pcap.tls.suites import Suite

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    return _HASHES[name]()


def _p_hash(name: str, secret: bytes, seed: bytes, size: int) -> bytes:
    algorithm = _HASHES[name]
    out = bytearray()
    a = seed
    while len(out) < size:
        mac = hmac.HMAC(secret, algorithm())
        mac.update(a)
        a = mac.finalize()
        mac = hmac.HMAC(secret, algorithm())
        mac.update(a + seed)
        out += mac.finalize()
    return bytes(out[:size])


def prf(version: int, hash_name: str, secret: bytes, label: bytes, seed: bytes, size: int) -> bytes:
    """TLS 1.2's P_<hash>; TLS 1.0/1.1's P_MD5 XOR P_SHA1 over the two halves of the secret."""
    if version >= 0x0303:
        return _p_hash(hash_name, secret, label + seed, size)
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, size)
    sha = _p_hash("sha1", secret[len(secret) - half :], label + seed, size)
    return bytes(x ^ y for x, y in zip(md5, sha, strict=True))


@dataclass(frozen=True, slots=True)
class DirectionKeys:
    key: bytes
    iv: bytes
    mac_key: bytes


MAC_SIZES = {"sha1": 20, "sha256": 32, "sha384": 48}


def tls12_keys(
    version: int, suite: Suite, master: bytes, client_random: bytes, server_random: bytes
) -> tuple[DirectionKeys, DirectionKeys]:
    """Client and server write keys from the master secret (the key block of RFC 5246 §6.3)."""
    mac_len = MAC_SIZES[suite.mac] if suite.mac else 0
    if suite.protection == "gcm":
        iv_len = 4
    elif suite.protection == "chacha":
        iv_len = 12
    else:
        iv_len = 16 if version <= 0x0301 else 0  # TLS 1.0 CBC takes its first IV from the key block
    size = 2 * (mac_len + suite.key_len + iv_len)
    block = prf(version, suite.prf, master, b"key expansion", server_random + client_random, size)
    pos = 0
    parts = []
    for length in (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len):
        parts.append(block[pos : pos + length])
        pos += length
    client_mac, server_mac, client_key, server_key, client_iv, server_iv = parts
    return DirectionKeys(client_key, client_iv, client_mac), DirectionKeys(server_key, server_iv, server_mac)


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + struct.pack("!B", len(context)) + context
    return HKDFExpand(hash_algorithm(hash_name), length, info).derive(secret)


def tls13_keys(suite: Suite, secret: bytes) -> DirectionKeys:
    """The write key and IV of one direction from its traffic secret (RFC 8446 §7.3)."""
    key = hkdf_expand_label(suite.prf, secret, b"key", b"", suite.key_len)
    iv = hkdf_expand_label(suite.prf, secret, b"iv", b"", 12)
    return DirectionKeys(key, iv, b"")


def tls13_next_secret(suite: Suite, secret: bytes) -> bytes:
    """The traffic secret after a KeyUpdate (RFC 8446 §7.2)."""
    return hkdf_expand_label(suite.prf, secret, b"traffic upd", b"", len(secret))
