"""Hostile inputs the fuzzing pass of issue 12 found, as builders shared by the regression tests and the fuzzers.

Certificates are made by cryptography and then damaged byte for byte where cryptography parses lazily (a key
algorithm, the version, the key bits, the subject's text), so each loads and fails only when a field is read.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.builders import unsigned_jwt

_RSA_OID = bytes.fromhex("06092a864886f70d010101")  # rsaEncryption, as the SubjectPublicKeyInfo names it
_MARKER = "MARKERCN"


@functools.cache
def good_certificate_der() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _MARKER)])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def hostile_certificates() -> dict[str, bytes]:
    """DER certificates that load but whose key algorithm, version, key or subject cannot be read."""
    der = good_certificate_der()
    unknown_algorithm = der.replace(_RSA_OID, _RSA_OID[:-1] + b"\x7f")
    bad_version = der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020107"), 1)
    key_at = der.index(_RSA_OID + b"\x05\x00") + len(_RSA_OID) + 2  # the BIT STRING holding the RSA key
    broken_key = bytearray(der)
    broken_key[key_at + 5] = 0x31  # its SEQUENCE becomes a SET: the key no longer parses
    not_utf8 = der.replace(_MARKER.encode(), b"\xff\xfe" + _MARKER.encode()[2:])  # same length, invalid UTF-8
    return {
        "unknown-key-algorithm": unknown_algorithm,
        "x509-version-7": bad_version,
        "unparsable-key": bytes(broken_key),
        "subject-not-utf8": not_utf8,
    }


def token_with(claims: dict[str, Any]) -> str:
    """An unsigned JWT whose payload is ``claims`` written by ``json.dumps`` (so ``NaN`` and ``\\ud800`` pass)."""
    return unsigned_jwt(claims)


NAN_CLAIMS = {"iss": "x", "exp": math.nan, "nbf": math.inf, "iat": -math.inf, "big": 1e400}
SURROGATE_CLAIMS = {"iss": "00000004-0000-0ff1-ce00-000000000000@r\ud800", "name": "\udfff", "\ud800": 1}


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses what RFC 8259 does not allow: NaN/Infinity and lone surrogates."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    value = json.loads(text, parse_constant=refuse)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot be encoded
    return value


def strict_json_lines(text: str) -> list[Any]:
    return [strict_json(line) for line in text.splitlines() if line.strip()]
