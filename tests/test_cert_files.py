"""Certificates in the forms admins have them; files that are not certificates described plainly."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from inspector.lab.tokens import TokenKit
from inspector.model import ConfigError
from inspector.trust import load_certificate_file, parse_certificates


def _pem(kit: TokenKit) -> bytes:
    return kit.auth_cert.certificate.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    "form",
    [
        "raw-data-base64",  # [Convert]::ToBase64String($cert.RawData)
        "graph-key-quoted",  # a Graph keyCredentials key value pasted with its quotes
        "base64-wrapped",
        "utf16-pem",  # Windows PowerShell: $pem | Out-File cert.pem
        "utf16-base64",
        "pem-with-utf8-bom",
    ],
)
def test_admin_forms_load_the_same_key(tmp_path: Path, lab_kit: TokenKit, form: str) -> None:
    der = lab_kit.auth_cert.der
    b64 = base64.b64encode(der)
    data = {
        "raw-data-base64": b64 + b"\r\n",
        "graph-key-quoted": b'"' + b64 + b'"',
        "base64-wrapped": "\n".join(textwrap.wrap(b64.decode(), 76)).encode(),
        "utf16-pem": _pem(lab_kit).decode().replace("\n", "\r\n").encode("utf-16"),
        "utf16-base64": b64.decode().encode("utf-16"),
        "pem-with-utf8-bom": b"\xef\xbb\xbf" + _pem(lab_kit),
    }[form]
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(data)
    [key] = load_certificate_file(path)
    assert key.x5t == lab_kit.auth_cert.x5t


@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
def test_a_p7b_bundle_gives_every_certificate(
    tmp_path: Path, lab_kit: TokenKit, encoding: serialization.Encoding
) -> None:
    certs = [lab_kit.auth_cert.certificate, lab_kit.acs_cert.certificate]
    path = tmp_path / "chain.p7b"
    path.write_bytes(pkcs7.serialize_certificates(certs, encoding))
    keys = load_certificate_file(path)
    assert sorted(k.x5t for k in keys) == sorted([lab_kit.auth_cert.x5t, lab_kit.acs_cert.x5t])  # a SET OF: any order


def test_a_pem_bundle_gives_every_certificate(tmp_path: Path, lab_kit: TokenKit) -> None:
    path = tmp_path / "bundle.pem"
    path.write_bytes(_pem(lab_kit) + lab_kit.acs_cert.certificate.public_bytes(serialization.Encoding.PEM))
    assert len(load_certificate_file(path)) == 2


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "is empty"),
        (b'{"keys": []}', "is JSON, not a certificate: an auth metadata document goes to --metadata"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "is an HTML page"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "no CERTIFICATE block"),
        (base64.b64encode(b"\x30\x03\x02\x01\x05" * 20), "base64 text that does not decode to an X.509 certificate"),
        (b"\x30\x82\x00\x10" + b"\x00" * 16, "DER (ASN.1) but not an X.509 certificate"),
        (b"\x00\x01 not a certificate", "binary data"),
        (b"thumbprint: 991EE6D1...", "text of no kind we know"),
    ],
)
def test_what_is_not_a_certificate_is_described_not_parsed(data: bytes, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_certificates(data, "given.cer")
    message = str(raised.value)
    assert message.startswith("given.cer ") and says in message
    for internal in ("ParseError", "asn1", "ASN.1 parsing", "InvalidData", "Tag", "cryptography"):
        assert internal not in message
