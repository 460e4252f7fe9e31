"""Lab certificates: an Exchange auth certificate and an ACS signing certificate, and the metadata documents that
publish them, in the shapes of the protocol reference (§4).

Nothing here is secret: the keys exist to mint lab tokens and are written unencrypted on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
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

from inspector.model import ConfigError
from inspector.policy import METADATA_PATH
from inspector.trust import parse_certificates, thumbprint_of, x5t_of

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
        return thumbprint_of(self.der)

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


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def self_signed(
    common_name: str,
    *,
    not_before: datetime,
    not_after: datetime,
    key: rsa.RSAPrivateKey | None = None,
    key_size: int = 2048,
    server_names: Sequence[str] = (),
) -> LabCert:
    """A self-signed RSA certificate. Given the same key and dates it is the same certificate, byte for byte.
    With ``server_names`` (host names or IP addresses) it is an HTTPS server certificate for them."""
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
    )
    if server_names:
        names = [_general_name(n) for n in server_names]
        certificate = certificate.add_extension(x509.SubjectAlternativeName(names), critical=False).add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return LabCert(certificate.sign(key, hashes.SHA256()), key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def tls_server_cert(host: str, *, now: datetime) -> LabCert:
    """A self-signed HTTPS certificate for the lab host, localhost and 127.0.0.1, valid for a year."""
    names = dict.fromkeys((host, "localhost", "127.0.0.1"))
    return self_signed(
        host, not_before=now - timedelta(days=1), not_after=now + timedelta(days=365), server_names=[*names]
    )


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
                "location": f"https://{host}{METADATA_PATH}",
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


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def load_lab_cert(folder: Path, cert_name: str, key_name: str) -> LabCert | None:
    """A certificate (DER or PEM) and its private key as the lab wrote them; ``None`` when either is missing."""
    cert_path, key_path = folder / cert_name, folder / key_name
    if not cert_path.is_file() or not key_path.is_file():
        return None
    try:
        certificate = parse_certificates(cert_path.read_bytes(), str(cert_path))[0]
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, ConfigError) as exc:
        raise ConfigError(f"Cannot read the lab certificate {cert_path} or its key {key_path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or _spki(key.public_key()) != _spki(certificate.public_key()):
        raise ConfigError(f"The lab key {key_path} does not belong to {cert_path}; delete both to make new ones")
    return LabCert(certificate, key)
