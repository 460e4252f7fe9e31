"""The lab's certificate folder: made once, reused on restart, refused when it is not a lab folder or is damaged."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from inspector.lab.folder import (
    ACS_KEY_FILE,
    ACS_METADATA_FILE,
    AUTH_CERT_FILE,
    AUTH_KEY_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    prepare_lab_dir,
    read_lab_dir,
)
from inspector.lab.tokens import OTHER_REALM
from inspector.model import ConfigError


def test_the_folder_is_reused_and_follows_a_new_realm(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first = prepare_lab_dir(tmp_path, realm=None, host=None, tls=False, now=now)
    cert = (tmp_path / AUTH_CERT_FILE).read_bytes()
    assert (tmp_path / AUTH_KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    assert "LAB ONLY" in (tmp_path / "README.txt").read_text()
    again = prepare_lab_dir(tmp_path, realm=OTHER_REALM, host=None, tls=False, now=now)
    assert (tmp_path / AUTH_CERT_FILE).read_bytes() == cert
    assert again.auth_cert.x5t == first.auth_cert.x5t
    assert json.loads((tmp_path / ACS_METADATA_FILE).read_text())["realm"] == OTHER_REALM
    assert read_lab_dir(tmp_path).realm == OTHER_REALM
    assert again.trust_arguments()[-1] == OTHER_REALM


def test_a_folder_that_is_not_a_lab_or_is_damaged_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a lab folder"):
        read_lab_dir(tmp_path)
    prepare_lab_dir(tmp_path, realm=None, host=None, tls=False, now=datetime.now(UTC))
    (tmp_path / AUTH_KEY_FILE).write_bytes((tmp_path / ACS_KEY_FILE).read_bytes())  # another certificate's key
    with pytest.raises(ConfigError, match="does not belong"):
        read_lab_dir(tmp_path)
    (tmp_path / AUTH_CERT_FILE).write_bytes(b"not a certificate")
    with pytest.raises(ConfigError, match="Cannot read the lab certificate"):
        read_lab_dir(tmp_path)


def test_https_material_names_the_host_localhost_and_the_loopback_address(tmp_path: Path) -> None:
    lab = prepare_lab_dir(tmp_path, realm=None, host="mail.fabrikam.com", tls=True, now=datetime.now(UTC))
    assert (lab.tls_cert, lab.tls_key) == (tmp_path / TLS_CERT_FILE, tmp_path / TLS_KEY_FILE)
    certificate = x509.load_pem_x509_certificate((tmp_path / TLS_CERT_FILE).read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["mail.fabrikam.com", "localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / TLS_CERT_FILE, tmp_path / TLS_KEY_FILE)  # a pair the server can use
    assert read_lab_dir(tmp_path).tls_cert == tmp_path / TLS_CERT_FILE
