"""Servers' RSA private keys (``analyze --tls-key``) for static-RSA key exchange: the client sends the
pre-master secret encrypted to the server certificate's key, so the key opens sessions no key log covers. A key is
matched to connections by the server certificate's public key; no address or port is given.

Keys are kept as PKCS#8 DER bytes (they travel to ``--jobs`` workers) and loaded once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from inspector.model import ConfigError

PASSWORD_ENV = "OAUTH_INSPECTOR_TLS_KEY_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def load_server_key(path: Path, password: bytes | None) -> bytes:
    """A PEM (PKCS#1 or PKCS#8) or PFX/P12 file's RSA private key as PKCS#8 DER; ``ConfigError`` otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read TLS key {path}: {exc.strerror or exc}") from exc
    key: object
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = pkcs12.load_key_and_certificates(data, password)[0]
    except (ValueError, TypeError) as exc:
        hint = f" (set {PASSWORD_ENV} for a protected file)" if password is None else ""
        raise ConfigError(f"Cannot load TLS key {path}: {exc}{hint}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"TLS key {path} is not an RSA private key (static-RSA key exchange needs one)")
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@lru_cache(maxsize=64)
def _private_key(der: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@lru_cache(maxsize=256)
def certificate_modulus(der: bytes) -> int | None:
    try:
        public = x509.load_der_x509_certificate(der).public_key()
    except Exception:  # wire bytes: any parse failure means there is no key to match
        return None
    return public.public_numbers().n if isinstance(public, rsa.RSAPublicKey) else None


def find_key(keys: list[tuple[bytes, str]], certificate: bytes) -> tuple[bytes, str] | None:
    """The key (DER, name) whose public half is the certificate's."""
    modulus = certificate_modulus(certificate)
    if modulus is None:
        return None
    for der, name in keys:
        if _private_key(der).public_key().public_numbers().n == modulus:
            return der, name
    return None


def decrypt_premaster(der: bytes, encrypted: bytes) -> bytes:
    """The 48-byte pre-master secret; ``ValueError`` when the key does not open it."""
    premaster = _private_key(der).decrypt(encrypted, padding.PKCS1v15())
    if len(premaster) != 48:
        raise ValueError(f"the pre-master secret is {len(premaster)} bytes, not 48")
    return premaster
