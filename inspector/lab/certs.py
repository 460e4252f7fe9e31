"""Lab certificates: an Exchange auth certificate and an ACS signing certificate, and the metadata documents that
publish them, in the shapes of the protocol reference (§4).

Nothing here is secret: the keys exist to mint lab tokens and are written unencrypted on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

EXCHANGE_AUTH_CN = "Microsoft Exchange Server Auth Certificate"
ACS_CN = "accounts.accesscontrol.windows.net"
EXCHANGE_PRINCIPAL = "00000002-0000-0ff1-ce00-000000000000"
ACS_PRINCIPAL = "00000001-0000-0000-c000-000000000000"
ACS_HOST = "https://accounts.accesscontrol.windows.net"

AUTH_CERT_LIFETIME = timedelta(days=5 * 365)
"""New-ExchangeCertificate makes the auth certificate valid for five years."""
_BACKDATE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class LabCert:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def x5t(self) -> str:
        return x5t_of(self.der)

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the DER certificate in upper-case hex, as ``Get-AuthConfig`` prints it."""
        return hashlib.sha1(self.der, usedforsecurity=False).hexdigest().upper()

    @property
    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def x5t_of(der: bytes) -> str:
    """base64url(SHA-1(DER)) without padding: the ``x5t`` a token header names its certificate by."""
    return b64url(hashlib.sha1(der, usedforsecurity=False).digest())


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def self_signed(
    common_name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    key: rsa.RSAPrivateKey | None = None,
    key_size: int = 2048,
) -> LabCert:
    """A self-signed RSA certificate. Given the same key and dates it is the same certificate, byte for byte."""
    key = key if key is not None else new_rsa_key(key_size)
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Serial from the key rather than random, so that a lab run is reproducible (positive, at most 20 octets).
    serial = int.from_bytes(hashlib.sha256(public_der).digest()[:16], "big") >> 1 or 1
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LabCert(certificate, key)


def exchange_auth_cert(
    *,
    now: datetime,
    key: rsa.RSAPrivateKey | None = None,
    key_size: int = 2048,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> LabCert:
    """Like the certificate ``New-ExchangeCertificate`` makes for ``Set-AuthConfig``: valid from a month before
    ``now`` for five years unless dates are given."""
    start = not_before if not_before is not None else now - _BACKDATE
    end = not_after if not_after is not None else start + AUTH_CERT_LIFETIME
    return self_signed(EXCHANGE_AUTH_CN, not_before=start, not_after=end, key=key, key_size=key_size)


def acs_signing_cert(
    *,
    now: datetime,
    key: rsa.RSAPrivateKey | None = None,
    key_size: int = 2048,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> LabCert:
    """A stand-in for one of the ACS signing certificates published in the tenant's metadata document."""
    start = not_before if not_before is not None else now - _BACKDATE
    end = not_after if not_after is not None else start + AUTH_CERT_LIFETIME
    return self_signed(ACS_CN, not_before=start, not_after=end, key=key, key_size=key_size)


def write_cer(path: Path, cert: LabCert) -> Path:
    """DER, as Exchange's export script writes ``OAuthCert.cer``."""
    path.write_bytes(cert.der)
    return path


def write_pem(path: Path, cert: LabCert) -> Path:
    path.write_bytes(cert.pem)
    return path


def write_key_pem(path: Path, cert: LabCert) -> Path:
    """The private key, unencrypted (lab material only)."""
    path.write_bytes(cert.key_pem)
    return path


def _cert_value(cert: LabCert) -> str:
    return base64.b64encode(cert.der).decode("ascii")


def exchange_metadata(certs: Sequence[LabCert], *, host: str = "mail.contoso.com") -> dict[str, Any]:
    """The Exchange ``/autodiscover/metadata/json/1`` document (reference §4.1): lower-case ``keyinfo``/``keyvalue``."""
    doc_id = uuid.uuid5(uuid.NAMESPACE_URL, "lab-exchange-metadata:" + ",".join(c.x5t for c in certs))
    return {
        "id": f"_{doc_id}",
        "version": "1.0",
        "name": "Exchange",
        "realm": "*",
        "serviceName": EXCHANGE_PRINCIPAL,
        "issuer": f"{EXCHANGE_PRINCIPAL}@*",
        "allowedAudiences": [f"{EXCHANGE_PRINCIPAL}@*"],
        "keys": [
            {
                "usage": "signing",
                "keyinfo": {"x5t": cert.x5t},
                "keyvalue": {"type": "x509Certificate", "value": _cert_value(cert)},
            }
            for cert in certs
        ],
        "endpoints": [
            {
                "location": f"https://{host}/autodiscover/metadata/json/1",
                "protocol": "OAuth2",
                "usage": "metadata",
            }
        ],
    }


def acs_metadata(certs: Sequence[LabCert], *, realm: str) -> dict[str, Any]:
    """The ACS tenant ``/metadata/json/1`` document (reference §4.2): ``keyValue`` with ``keyInfo`` inside it."""
    return {
        "version": "1.0",
        "realm": realm,
        "name": "Microsoft Azure ACS Tenant",
        "allowedAudiences": [f"{ACS_PRINCIPAL}@{realm}"],
        "issuer": f"{ACS_PRINCIPAL}@{realm}",
        "keys": [
            {
                "usage": "signing",
                "keyValue": {"type": "x509Certificate", "value": _cert_value(cert), "keyInfo": {"x5t": cert.x5t}},
            }
            for cert in certs
        ],
        "endpoints": [
            {"location": f"{ACS_HOST}/{realm}/tokens/OAuth/2", "protocol": "OAuth2", "usage": "issuance"},
            {
                "location": f"{ACS_HOST}/{realm}/tokens/delegation/1",
                "protocol": "DelegationIssuance1.0",
                "usage": "issuance",
            },
            {
                "location": f"{ACS_HOST}/{realm}/mgmt/delegation/1",
                "protocol": "DelegationManagement1.0",
                "usage": "management",
            },
        ],
    }


def write_metadata(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
