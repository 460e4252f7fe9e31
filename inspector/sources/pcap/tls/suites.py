"""TLS cipher suites: the ones this reader decrypts, and names for the ones it can only name.

A suite's record protection is what matters here (the key exchange is the key log's business): an AEAD
(AES-GCM, ChaCha20-Poly1305) or AES-CBC with an HMAC, and the hash of the PRF / HKDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Protection = Literal["gcm", "chacha", "cbc"]


@dataclass(frozen=True, slots=True)
class Suite:
    code: int
    name: str
    protection: Protection
    key_len: int
    mac: str | None
    """HMAC hash of a CBC suite (``sha1``, ``sha256``, ``sha384``); ``None`` for an AEAD."""
    prf: str
    """Hash of the TLS 1.2 PRF or of TLS 1.3's HKDF."""

    @property
    def rsa_key_exchange(self) -> bool:
        """Static RSA: the pre-master secret travels encrypted to the server certificate's key."""
        return self.name.startswith("TLS_RSA_WITH_")


def _suite(code: int, name: str, protection: Protection, key_len: int, mac: str | None, prf: str) -> Suite:
    return Suite(code, name, protection, key_len, mac, prf)


_DECRYPTABLE = (
    # TLS 1.3
    _suite(0x1301, "TLS_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0x1302, "TLS_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256"),
    # TLS 1.2 AEAD
    _suite(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", "gcm", 16, None, "sha256"),
    _suite(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", "gcm", 32, None, "sha384"),
    _suite(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256"),
    _suite(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256"),
    _suite(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "chacha", 32, None, "sha256"),
    # TLS 1.2 (and older) AES-CBC with HMAC
    _suite(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "cbc", 16, "sha1", "sha256"),
    _suite(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "cbc", 32, "sha1", "sha256"),
    _suite(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", "cbc", 32, "sha256", "sha256"),
    _suite(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "cbc", 32, "sha256", "sha256"),
    _suite(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384", "sha384"),
    _suite(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384", "sha384"),
    _suite(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384", "sha384"),
    _suite(0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", "cbc", 16, "sha256", "sha256"),
    _suite(0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", "cbc", 32, "sha384", "sha384"),
)

DECRYPTABLE: dict[int, Suite] = {suite.code: suite for suite in _DECRYPTABLE}

_NAMED_ONLY = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
    0x009A: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
    0xC003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
}


def suite_name(code: int) -> str:
    """The IANA name of a cipher suite, or its number in hex when this reader does not know it."""
    suite = DECRYPTABLE.get(code)
    if suite is not None:
        return suite.name
    return _NAMED_ONLY.get(code, f"0x{code:04X}")


VERSION_NAMES = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}


def version_name(code: int) -> str:
    return VERSION_NAMES.get(code, f"0x{code:04X}")


def is_grease(code: int) -> bool:
    """RFC 8701 values clients offer to keep servers honest: never chosen, never worth listing."""
    return code & 0x0F0F == 0x0A0A and code >> 8 == code & 0xFF
