"""Certificates in the forms admins have them, turned into what ``trust.parse_certificates`` reads, and a plain
description of a file that is not a certificate (what it looks like, what to give instead), never parser internals.

The forms: DER or PEM (read by trust.py itself); base64 DER without PEM armour (what
``[Convert]::ToBase64String($cert.RawData)`` and Microsoft Graph ``keyCredentials[].key`` give); PEM saved as UTF-16
(Windows PowerShell's ``Out-File`` and ``>``); PKCS#7 ``.p7b``/``.p7c`` bundles, DER or PEM.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

_BASE64_TEXT = re.compile(rb"\A[A-Za-z0-9+/=\s]+\Z")
_PKCS7_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"  # 1.2.840.113549.1.7 (PKCS#7 content types)
_PKCS7_SIGNED_DATA = _PKCS7_OID + b"\x02"
_PKCS12_VERSION = b"\x02\x01\x03"  # PFX: SEQUENCE { INTEGER 3, ContentInfo ... }


def as_utf8_text(data: bytes) -> bytes:
    """UTF-16 text (with a byte-order mark, as PowerShell writes it) re-encoded as UTF-8; other bytes as they are."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return data
    return data.removeprefix(b"\xef\xbb\xbf")


def unarmoured_der(data: bytes) -> bytes | None:
    """The DER inside base64 text without PEM armour (one line or wrapped), or ``None`` when it is not that."""
    text = data.strip().strip(b'"')
    if len(text) < 64 or not _BASE64_TEXT.match(text):
        return None
    try:
        der = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der if der[:1] == b"\x30" else None


def pkcs7_certificates(data: bytes) -> list[x509.Certificate] | None:
    """The certificates of a PKCS#7 bundle (.p7b), DER or PEM; ``None`` when ``data`` is not one."""
    try:
        if b"-----BEGIN PKCS7-----" in data[:200]:
            return pkcs7.load_pem_pkcs7_certificates(data)
        if data[:1] == b"\x30" and _PKCS7_SIGNED_DATA in data[:32]:
            return pkcs7.load_der_pkcs7_certificates(data)
    except ValueError:
        return None
    return None


def describe(data: bytes) -> str:
    """What a file that is not a certificate looks like, and what to give instead (for error messages)."""
    head = data[:4096]
    text = as_utf8_text(head).lstrip()
    if not data.strip():
        return "is empty: export the certificate again (Export-Certificate -Type CERT, or the .cer from the MMC)"
    if b"PRIVATE KEY" in text[:400]:
        return "holds a private key, not a certificate: export the .cer (public part only)"
    if head[:1] == b"\x30" and _PKCS12_VERSION in head[1:8]:
        return (
            "looks like a PKCS#12/PFX bundle (certificate with its private key): "
            "export the public certificate (.cer) instead"
        )
    if head[:1] == b"\x30" and _PKCS7_OID in head[:32]:
        return "looks like a PKCS#7 file that holds no certificate: export the certificate itself (.cer)"
    if text.startswith((b"{", b"[")):
        return (
            "is JSON, not a certificate: an auth metadata document goes to --metadata; a Graph keyCredentials "
            "document to verify-oauth --sp-credentials"
        )
    if text.lower().startswith((b"<!doctype", b"<html")):
        return "is an HTML page (a download that returned a web page?), not a certificate"
    if text.startswith(b"-----BEGIN"):
        kind = text[11 : text.find(b"-----", 11)].decode("ascii", "replace")[:40]
        return f"is PEM holding {kind or 'something'} but no CERTIFICATE block: give the certificate (.cer)"
    if _BASE64_TEXT.match(text.strip() or b"-"):
        return "is base64 text that does not decode to an X.509 certificate: give the certificate (.cer, DER or PEM)"
    if head[:1] == b"\x30":
        return "is DER (ASN.1) but not an X.509 certificate: give the certificate (.cer, DER or PEM)"
    if any(c < 9 for c in head[:512]):
        return "is binary data of no kind we know: give the certificate (.cer, DER or PEM)"
    return "is text of no kind we know: give the certificate (.cer, DER or PEM)"


def admin_forms(data: bytes) -> tuple[bytes, list[x509.Certificate] | None]:
    """``data`` made readable by ``trust.parse_certificates`` (UTF-16 re-encoded, unarmoured base64 decoded to DER),
    or the certificates themselves when it is a PKCS#7 bundle."""
    data = as_utf8_text(data)
    bundle = pkcs7_certificates(data)
    if bundle:
        return data, bundle
    der = unarmoured_der(data)
    if der is not None:
        bundle = pkcs7_certificates(der)
        return (der, bundle) if bundle else (der, None)
    return data, None
