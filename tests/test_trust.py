"""The trust store: certificate and metadata loading in every shape, thumbprints, and certificate hygiene."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from inspector.lab.certs import (
    acs_metadata,
    exchange_metadata,
    write_cer,
    write_metadata,
    write_pem,
)
from inspector.lab.tokens import TokenKit
from inspector.model import ConfigError
from inspector.trust import (
    Trust,
    key_from_certificate,
    load_certificate_file,
    load_metadata_file,
    normalise_thumbprint,
    thumbprint_of,
    thumbprint_to_x5t,
    x5t_of,
)


def test_der_and_pem_give_the_same_key(tmp_path: Path, lab_kit: TokenKit) -> None:
    der = load_certificate_file(write_cer(tmp_path / "OAuthCert.cer", lab_kit.auth_cert))
    pem = load_certificate_file(write_pem(tmp_path / "OAuthCert.pem", lab_kit.auth_cert))
    assert der[0].x5t == pem[0].x5t == lab_kit.auth_cert.x5t
    assert der[0].thumbprint == lab_kit.auth_cert.thumbprint.upper()
    assert der[0].issuer is None  # an exported certificate vouches for any issuer


def test_pem_bundle_loads_every_certificate(tmp_path: Path, lab_kit: TokenKit) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(lab_kit.auth_cert.pem + b"\n" + lab_kit.acs_cert.pem)
    keys = load_certificate_file(bundle)
    assert [k.x5t for k in keys] == [lab_kit.auth_cert.x5t, lab_kit.acs_cert.x5t]


def test_private_key_pfx_and_garbage_are_refused_with_what_to_do(tmp_path: Path, lab_kit: TokenKit) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(lab_kit.auth_cert.key_pem)
    with pytest.raises(ConfigError, match="private key"):
        load_certificate_file(key_file)
    pfx = tmp_path / "auth.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"auth", lab_kit.auth_cert.key, lab_kit.auth_cert.certificate, None, serialization.NoEncryption()
        )
    )
    with pytest.raises(ConfigError, match=r"PKCS#12/PFX"):
        load_certificate_file(pfx)
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"\x00\x01 not a certificate")
    with pytest.raises(ConfigError, match=r"junk\.cer is not an X\.509 certificate"):
        load_certificate_file(junk)
    with pytest.raises(ConfigError, match="Cannot read certificate"):
        load_certificate_file(tmp_path / "missing.cer")


def test_exchange_metadata_keys_are_bound_to_exchange(tmp_path: Path, lab_kit: TokenKit) -> None:
    path = write_metadata(tmp_path / "exchange.json", exchange_metadata([lab_kit.auth_cert]))
    [key] = load_metadata_file(path)
    assert key.issuer == "00000002-0000-0ff1-ce00-000000000000@*"
    assert key.trusted_for("00000002-0000-0ff1-ce00-000000000000@any-realm")
    assert not key.trusted_for("00000004-0000-0ff1-ce00-000000000000@any-realm")


def test_acs_metadata_with_keyinfo_inside_keyvalue(tmp_path: Path, lab_kit: TokenKit) -> None:
    path = write_metadata(tmp_path / "acs.json", acs_metadata([lab_kit.acs_cert], realm=lab_kit.realm))
    [key] = load_metadata_file(path)
    assert key.x5t == lab_kit.acs_cert.x5t
    assert key.trusted_for(f"00000001-0000-0000-c000-000000000000@{lab_kit.realm.upper()}")
    assert not key.trusted_for("00000001-0000-0000-c000-000000000000@another-realm")


def test_metadata_key_names_in_any_case_and_inconsistent_x5t(tmp_path: Path, lab_kit: TokenKit) -> None:
    document = exchange_metadata([lab_kit.auth_cert])
    entry = document["keys"][0]
    document["Keys"] = [{"Usage": "Signing", "KeyInfo": entry["keyinfo"], "KeyValue": entry["keyvalue"]}]
    del document["keys"]
    [key] = load_metadata_file(write_metadata(tmp_path / "upper.json", document))
    assert key.x5t == lab_kit.auth_cert.x5t
    document["Keys"][0]["KeyInfo"] = {"x5t": lab_kit.acs_cert.x5t}
    with pytest.raises(ConfigError, match="does not match its certificate"):
        load_metadata_file(write_metadata(tmp_path / "lying.json", document))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "not an object"),
        (b"{}", "no 'keys' list"),
        (b"{not json", "not a JSON metadata document"),
        (b'{"keys": [{"keyValue": {"value": "MIIC"}}]}', "names no issuer"),
        (b'{"issuer": "x@y", "keys": [5]}', "key 1 is not an object"),
        (b"\xff\xfe garbage", "not a JSON metadata document"),
    ],
)
def test_bad_metadata_documents(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "metadata.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_metadata_file(path)


def test_sharepoint_metadata_without_keyinfo_computes_x5t(corpus: Path) -> None:
    folder = corpus / "ms-oauth" / "rapid7-cve-2026-55040"
    [key] = load_metadata_file(folder / "sharepoint_layouts15_metadata_json_1.json")
    assert key.x5t == "i_gz5qfYp5YPWAK1__0YhZnipLI"


@pytest.mark.parametrize(
    "value",
    [
        "8bf833e6a7d8a7960f5802b5fffd188599e2a4b2",
        "8B F8 33 E6 A7 D8 A7 96 0F 58 02 B5 FF FD 18 85 99 E2 A4 B2",
        "8b:f8:33:e6:a7:d8:a7:96:0f:58:02:b5:ff:fd:18:85:99:e2:a4:b2",
    ],
)
def test_thumbprints_as_windows_prints_them(value: str) -> None:
    assert normalise_thumbprint(value) == "8BF833E6A7D8A7960F5802B5FFFD188599E2A4B2"
    assert thumbprint_to_x5t(value) == "i_gz5qfYp5YPWAK1__0YhZnipLI"


def test_bad_thumbprint_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="40 hex digits"):
        normalise_thumbprint("not-a-thumbprint")


def test_candidates_by_kid_equal_to_x5t(lab_kit: TokenKit) -> None:
    from inspector.trust import key_from_certificate

    trust = Trust.of([key_from_certificate(lab_kit.acs_cert.certificate, "acs.cer")])
    assert len(trust.candidates({"kid": lab_kit.acs_cert.x5t})) == 1
    assert trust.candidates({"x5t": "nope"}) == ()
    assert len(trust.candidates({})) == 1


def test_jwks_without_certificates(tmp_path: Path, lab_kit: TokenKit) -> None:
    numbers = lab_kit.auth_cert.key.public_key().public_numbers()

    def b64(n: int) -> str:
        import base64

        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    path = tmp_path / "jwks.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {"kty": "RSA", "kid": "k1", "n": b64(numbers.n), "e": b64(numbers.e)},
                    {"kty": "EC", "kid": "k2", "crv": "P-256", "x": "AA", "y": "AA"},
                ]
            }
        )
    )
    [key] = load_metadata_file(path)
    assert (key.kid, key.certificate, key.issuer) == ("k1", None, None)


def test_thumbprint_and_x5t_name_one_certificate_the_two_ways_windows_and_tokens_do(lab_kit: TokenKit) -> None:
    der = lab_kit.auth_cert.der
    digest = hashlib.sha1(der, usedforsecurity=False).digest()
    assert thumbprint_of(der) == digest.hex().upper()
    assert x5t_of(der) == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert thumbprint_to_x5t(thumbprint_of(der).lower()) == x5t_of(der)
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    assert (key.x5t, key.thumbprint) == (x5t_of(der), thumbprint_of(der))


def test_a_keys_label_and_validity_are_read_once_and_survive_a_copy(lab_kit: TokenKit) -> None:
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    cert = lab_kit.auth_cert.certificate
    expected = f"{cert.subject.rfc4514_string()} (x5t {key.x5t}, from OAuthCert.cer)"
    assert key.label() == expected and key.label() is key.label()
    assert (key.not_before, key.not_after) == (cert.not_valid_before_utc, cert.not_valid_after_utc)
    fresh = key_from_certificate(cert, "OAuthCert.cer")
    assert fresh == key  # what was read is no part of the key's identity
    copied = pickle.loads(pickle.dumps(key))  # noqa: S301 - as a --jobs worker sends it
    assert (copied.label(), copied.not_after) == (expected, key.not_after)
