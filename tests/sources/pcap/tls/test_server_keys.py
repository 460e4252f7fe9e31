"""Servers' RSA keys: PEM and PFX loaded (or refused, saying why), matched to a certificate by its public key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import pkcs12

from inspector.lab.certs import tls_server_cert
from inspector.model import ConfigError
from inspector.sources.pcap.tls.server_keys import decrypt_premaster, find_key, load_server_key

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_pem_and_pfx_load_and_match_their_certificate(tmp_path: Path) -> None:
    cert, other = tls_server_cert("mail.contoso.com", now=NOW), tls_server_cert("other", now=NOW)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        cert.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    pfx = tmp_path / "key.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"k", cert.key, cert.certificate, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    keys = [(load_server_key(pem, None), "key.pem"), (load_server_key(pfx, b"pw"), "key.pfx")]
    assert keys[0][0] == keys[1][0]
    found = find_key(keys, cert.der)
    assert found is not None and found[1] == "key.pem"
    assert find_key(keys, other.der) is None
    premaster = b"\x03\x03" + bytes(46)
    assert decrypt_premaster(keys[0][0], cert.key.public_key().encrypt(premaster, padding.PKCS1v15())) == premaster
    with pytest.raises(ConfigError, match="OAUTH_INSPECTOR_TLS_KEY_PASSWORD"):
        load_server_key(pfx, None)
    with pytest.raises(ConfigError, match="Cannot read"):
        load_server_key(tmp_path / "absent.pem", None)
