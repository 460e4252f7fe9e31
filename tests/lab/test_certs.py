from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from inspector.lab.certs import (
    ACS_CN,
    EXCHANGE_AUTH_CN,
    acs_metadata,
    acs_signing_cert,
    exchange_auth_cert,
    exchange_metadata,
    new_rsa_key,
    write_cer,
    write_key_pem,
    write_metadata,
    write_pem,
    x5t_of,
)
from inspector.lab.tokens import TokenKit
from tests.lab.kit import LAB_NOW


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_auth_cert_looks_like_exchanges(kit: TokenKit) -> None:
    cert = kit.auth_cert.certificate
    assert _cn(cert) == EXCHANGE_AUTH_CN
    assert cert.issuer == cert.subject
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert cert.not_valid_before_utc == LAB_NOW - timedelta(days=30)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=5 * 365)
    # Self-signed: its own key verifies its signature.
    assert cert.signature_hash_algorithm is not None
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)


def test_acs_cert_common_name(kit: TokenKit) -> None:
    assert _cn(kit.acs_cert.certificate) == ACS_CN


def test_x5t_is_base64url_sha1_of_der_without_padding(kit: TokenKit) -> None:
    der = kit.auth_cert.der
    expected = base64.urlsafe_b64encode(hashlib.sha1(der, usedforsecurity=False).digest()).decode().rstrip("=")
    assert kit.auth_cert.x5t == expected == x5t_of(der)
    assert "=" not in kit.auth_cert.x5t
    # Get-AuthConfig's hex thumbprint turns into the same x5t.
    thumbprint = kit.auth_cert.thumbprint
    assert thumbprint == thumbprint.upper() and len(thumbprint) == 40
    assert base64.urlsafe_b64encode(bytes.fromhex(thumbprint)).decode().rstrip("=") == kit.auth_cert.x5t


def test_same_key_and_dates_give_the_same_certificate(kit: TokenKit) -> None:
    again = exchange_auth_cert(now=LAB_NOW, key=kit.auth_cert.key)
    assert again.der == kit.auth_cert.der


def test_dates_and_key_size_are_configurable() -> None:
    start = LAB_NOW - timedelta(days=400)
    end = LAB_NOW - timedelta(days=1)
    cert = exchange_auth_cert(now=LAB_NOW, key_size=1024, not_before=start, not_after=end)
    assert cert.certificate.not_valid_before_utc == start
    assert cert.certificate.not_valid_after_utc == end
    assert cert.key.key_size == 1024


def test_a_given_key_is_used(kit: TokenKit) -> None:
    key = new_rsa_key(1024)
    cert = acs_signing_cert(now=LAB_NOW, key=key)
    assert cert.key is key
    assert cert.certificate.public_key() == key.public_key()


def test_written_files_load(kit: TokenKit, tmp_path: Path) -> None:
    cer = write_cer(tmp_path / "OAuthCert.cer", kit.auth_cert)
    pem = write_pem(tmp_path / "OAuthCert.pem", kit.auth_cert)
    key = write_key_pem(tmp_path / "OAuthCert.key", kit.auth_cert)
    assert x509.load_der_x509_certificate(cer.read_bytes()) == kit.auth_cert.certificate
    assert x509.load_pem_x509_certificate(pem.read_bytes()) == kit.auth_cert.certificate
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_exchange_metadata_shape(kit: TokenKit, tmp_path: Path) -> None:
    doc = exchange_metadata([kit.auth_cert], host="mail.contoso.com")
    assert doc["issuer"] == "00000002-0000-0ff1-ce00-000000000000@*"
    assert doc["serviceName"] == "00000002-0000-0ff1-ce00-000000000000"
    assert doc["realm"] == "*"
    assert doc["allowedAudiences"] == ["00000002-0000-0ff1-ce00-000000000000@*"]
    assert doc["id"].startswith("_")
    (key,) = doc["keys"]
    assert key["usage"] == "signing"
    assert key["keyinfo"] == {"x5t": kit.auth_cert.x5t}
    assert key["keyvalue"]["type"] == "x509Certificate"
    assert base64.b64decode(key["keyvalue"]["value"]) == kit.auth_cert.der
    assert doc["endpoints"] == [
        {
            "location": "https://mail.contoso.com/autodiscover/metadata/json/1",
            "protocol": "OAuth2",
            "usage": "metadata",
        }
    ]
    path = write_metadata(tmp_path / "exchange.json", doc)
    assert json.loads(path.read_text(encoding="utf-8")) == doc


def test_acs_metadata_shape(kit: TokenKit) -> None:
    doc = acs_metadata([kit.acs_cert, kit.auth_cert], realm=kit.realm)
    assert doc["issuer"] == f"00000001-0000-0000-c000-000000000000@{kit.realm}"
    assert doc["realm"] == kit.realm
    first, second = doc["keys"]
    assert "keyinfo" not in first and "keyvalue" not in first
    assert first["keyValue"]["keyInfo"] == {"x5t": kit.acs_cert.x5t}
    assert base64.b64decode(second["keyValue"]["value"]) == kit.auth_cert.der
    oauth2 = [e for e in doc["endpoints"] if e["protocol"] == "OAuth2"]
    assert oauth2 == [
        {
            "location": f"https://accounts.accesscontrol.windows.net/{kit.realm}/tokens/OAuth/2",
            "protocol": "OAuth2",
            "usage": "issuance",
        }
    ]


@pytest.mark.parametrize("which", ["auth_cert", "acs_cert"])
def test_keys_sign_what_their_certificate_verifies(kit: TokenKit, which: str) -> None:
    cert = getattr(kit, which)
    signature = cert.key.sign(b"data", padding.PKCS1v15(), hashes.SHA256())
    cert.certificate.public_key().verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())
