"""Input validation: names, tenants and certificate files are refused before anything is contacted, each with a
message that says what to give instead."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from inspector.model import ConfigError
from inspector.provision import validate
from tests.provision.conftest import NOW, Certs


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("dc 01.fabrikam.com", "contains a space"),
        (" dc01 .fabrikam.com", "contains a space"),
        ("DC01", "single label"),
        ("https://dc01.fabrikam.com", "is a URL"),
        ("dc_01.fabrikam.com", "not a DNS name"),
        ("-dc01.fabrikam.com", "not a DNS name"),
        ("dc01.fabrikam.123", "top-level domain"),
        ("", "is empty"),
        ("a" * 64 + ".fabrikam.com", "not a DNS name"),
    ],
)
def test_bad_domain_controller(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        validate.domain_controller(value)
    assert "--dc" in str(raised.value) and "dc01.fabrikam.com" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fabrikam", "single label"),
        ("admin@fabrikam.com", "is an address"),
        ("fabrikam .com", "contains a space"),
        ("192.168.1.10", "is an IP address"),
        ("fabrikam.1com", "top-level domain"),
        ("fabrikam..com", "not a DNS name"),
        ("fabrik@m", "is an address"),
    ],
)
def test_a_domain_that_is_not_one(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate.domain(value)


def test_good_names_are_normalised() -> None:
    assert validate.domain("Fabrikam.COM.") == "fabrikam.com"
    assert validate.domain_controller("DC01.fabrikam.com") == "dc01.fabrikam.com"
    assert validate.domain("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert validate.tenant("5DE110F8-2E0F-4D45-891D-BCF2218E253D") == "5de110f8-2e0f-4d45-891d-bcf2218e253d"
    assert validate.tenant("fabrikam.onmicrosoft.com") == "fabrikam.onmicrosoft.com"
    with pytest.raises(ConfigError, match="not a GUID"):
        validate.tenant("5de110f8-2e0f-4d45-891d-bcf2218e253")
    with pytest.raises(ConfigError, match="--cloud"):
        validate.cloud("germany")


def test_a_private_key_pfx_is_refused(certs: Certs, tmp_path: Path) -> None:
    pfx = tmp_path / "OAuthCert.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"auth", certs.auth.key, certs.auth.certificate, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    with pytest.raises(ConfigError, match="PKCS#12/PFX") as raised:
        validate.certificate_file(pfx)
    assert ".cer" in str(raised.value)


@pytest.mark.parametrize("with_cert", [True, False])
def test_a_pem_with_a_private_key_is_refused(certs: Certs, tmp_path: Path, with_cert: bool) -> None:
    pem = tmp_path / "auth.pem"
    pem.write_bytes(certs.auth.key_pem + (certs.auth.pem if with_cert else b""))
    with pytest.raises(ConfigError, match="holds a private key"):
        validate.certificate_file(pem)


def test_certificate_files(certs: Certs, tmp_path: Path) -> None:
    der = tmp_path / "OAuthCert.cer"
    der.write_bytes(certs.auth.der)
    facts = validate.certificate_file(der)
    assert facts.thumbprint == certs.auth.thumbprint and facts.der == certs.auth.der and facts.rsa_bits == 2048
    assert validate.certificate_usable(facts, NOW, force=False) == []
    bundle = tmp_path / "two.pem"
    bundle.write_bytes(certs.auth.pem + certs.other.pem)
    with pytest.raises(ConfigError, match="holds 2 certificates"):
        validate.certificate_file(bundle)
    with pytest.raises(ConfigError, match="Cannot read"):
        validate.certificate_file(tmp_path / "absent.cer")
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ConfigError, match=r"not an X\.509 certificate"):
        validate.certificate_file(junk)


@pytest.mark.parametrize(
    ("which", "message"),
    [("expired", "expired on"), ("expiring", "less than 60"), ("weak", "1024-bit RSA key")],
)
def test_unfit_certificates_need_force(certs: Certs, tmp_path: Path, which: str, message: str) -> None:
    path = tmp_path / f"{which}.cer"
    path.write_bytes(getattr(certs, which).der)
    facts = validate.certificate_file(path)
    with pytest.raises(ConfigError, match=message) as raised:
        validate.certificate_usable(facts, NOW, force=False)
    assert "--force" in str(raised.value)
    (problem,) = validate.certificate_usable(facts, NOW, force=True)
    assert message.split(maxsplit=1)[0] in problem


def test_not_yet_valid(certs: Certs, tmp_path: Path) -> None:
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(certs.auth.der)
    facts = validate.certificate_file(path)
    with pytest.raises(ConfigError, match="not valid before"):
        validate.certificate_usable(facts, certs.auth.certificate.not_valid_before_utc - timedelta(days=1), force=False)
