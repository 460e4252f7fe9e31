"""Trust files: mutated certificates (DER and PEM) and metadata documents (Exchange, ACS, JWKS shapes, seeded from
the lab and the corpus) through the loaders: a certificate or document either loads, with every field the tool
reads later readable, or is refused with ``ConfigError`` (exit 2), never another exception."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import ConfigError
from inspector.trust import TrustedKey, parse_certificates, parse_metadata
from tests.fuzz.harness import CAPTURES, Timed, corpus_files, fuzz, mutated, seeds
from tests.hostile import good_certificate_der, hostile_certificates

_DER = [good_certificate_der(), *hostile_certificates().values(), *seeds(CAPTURES / "OAuthCert.cer")]
_DER += [p.read_bytes() for p in corpus_files("**/*.der", "**/*.cer")]
_PEM = [p.read_bytes() for p in corpus_files("**/*.pem")]
_METADATA = seeds(CAPTURES / "acs-metadata.json") + [
    p.read_bytes() for p in corpus_files("**/*metadata*.json", "**/*.jwks.json")
]


def _use(key: TrustedKey) -> None:
    """Everything the reports and checks read of a key."""
    assert isinstance(key.label(), str)
    _ = (key.subject, key.thumbprint, key.not_before, key.not_after, key.rsa_bits, key.trusted_for("a@b"))


@fuzz(200)
@given(mutated(_DER + _PEM, max_edits=3))
def test_mutated_certificates(data: bytes) -> None:
    from inspector.trust import key_from_certificate

    with Timed():
        try:
            certificates = parse_certificates(data, "fuzz.cer")
            for certificate in certificates:
                _use(key_from_certificate(certificate, "fuzz.cer"))
        except ConfigError as exc:
            assert "fuzz.cer" in str(exc)


def _metadata_document(der: bytes, issuer: object, shape: str) -> bytes:
    value = base64.b64encode(der).decode()
    if shape == "jwks":
        document: object = {"keys": [{"kty": "RSA", "x5c": [value], "kid": issuer}]}
    else:
        document = {
            "issuer": issuer,
            "keys": [{"usage": "signing", "keyinfo": {"x5t": "x"}, "keyvalue": {"value": value}}],
        }
    return json.dumps(document).encode("utf-8", "surrogatepass")


@fuzz(150)
@given(
    mutated(_METADATA, max_edits=4)
    | st.builds(
        _metadata_document,
        mutated(_DER, max_edits=2),
        st.text(max_size=20) | st.sampled_from(["\ud800", 5, None]),
        st.sampled_from(["jwks", "exchange"]),
    )
)
def test_mutated_metadata_documents(data: bytes) -> None:
    with Timed():
        try:
            for key in parse_metadata(data, "fuzz.json"):
                _use(key)
        except ConfigError as exc:
            assert "fuzz.json" in str(exc)
