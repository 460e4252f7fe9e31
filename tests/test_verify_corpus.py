"""External vectors: RFC 7515/7520 and real tokens and certificates from ../shared/corpus (SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.tokens import decode_bearer, decode_jwt
from inspector.trust import Trust, load_certificate_file, load_metadata_file, parse_metadata
from inspector.verify import Verifier, rs_verify


def jwk_trust(path: Path) -> Trust:
    jwk = json.loads(path.read_text())
    return Trust.of(parse_metadata(json.dumps({"keys": [jwk]}).encode(), path.name))


def verdict(token_path: Path, trust: Trust) -> str:
    jwt = decode_jwt(token_path.read_text().strip())
    return Verifier(trust).verify(jwt, jwt.claim_str("iss")).verdict


def test_rfc7515_a2_rs256_verifies_with_its_key(corpus: Path) -> None:
    vectors = corpus / "jose" / "rfc-vectors"
    jwt = decode_jwt((vectors / "rfc7515_A.2.jwsc").read_text().strip())
    assert jwt.header == {"alg": "RS256"}
    assert jwt.claims["exp"] == 1300819380
    assert verdict(vectors / "rfc7515_A.2.jwsc", jwk_trust(vectors / "rfc7515_A.2.jwk")) == "valid"


def test_rfc7520_4_1_valid_with_its_key_and_invalid_with_another(corpus: Path) -> None:
    vectors = corpus / "jose" / "rfc-vectors"
    token = (vectors / "rfc7520_4.1.jwsc").read_text().strip()
    # The payload is text, not JSON: decoding refuses it as a JWT, so check the signature primitive directly.
    signing_input, _, signature = token.rpartition(".")
    from inspector.tokens import b64url_decode

    good = jwk_trust(vectors / "rfc7520_3.4.jwk").keys[0]
    other = jwk_trust(vectors / "rfc7515_A.2.jwk").keys[0]
    assert rs_verify(good, "RS256", signing_input.encode(), b64url_decode(signature))
    assert not rs_verify(other, "RS256", signing_input.encode(), b64url_decode(signature))
    assert decode_bearer(token).problem == "the payload is not JSON"


def test_rfc7515_a5_unsecured_is_unsigned(corpus: Path) -> None:
    vectors = corpus / "jose" / "rfc-vectors"
    assert verdict(vectors / "rfc7515_A.5.jwsc", Trust()) == "unsigned"


def test_rfc7515_a1_hs256_is_not_allowed_even_with_a_key(corpus: Path) -> None:
    vectors = corpus / "jose" / "rfc-vectors"
    trust = jwk_trust(vectors / "rfc7515_A.2.jwk")
    assert verdict(vectors / "rfc7515_A.1.jwsc", trust) == "not-allowed"


def test_jose4j_x5t_selects_cert1(corpus: Path) -> None:
    folder = corpus / "jose" / "jose4j" / "extracted"
    certs = {n: load_certificate_file(folder / f"x509resolver_cert{n}.pem")[0] for n in (0, 1, 2)}
    assert certs[1].x5t == "Zb1HT7ryCRAAj2wcQ8hWbzaqX1s"
    token = folder / "x509resolver_x5tStuff.jwt"
    assert verdict(token, Trust.of(certs.values())) == "valid"
    assert verdict(token, Trust.of([certs[0], certs[2]])) == "unknown-key"


def test_jose4j_token_without_key_hint_tries_every_key(corpus: Path) -> None:
    folder = corpus / "jose" / "jose4j" / "extracted"
    certs = [load_certificate_file(folder / f"x509resolver_cert{n}.pem")[0] for n in (0, 1, 2)]
    token = folder / "x509resolver_noThumbHeader.jwt"
    assert verdict(token, Trust.of(certs)) == "valid"
    assert verdict(token, Trust.of([certs[0], certs[2]])) == "invalid"


def test_jose4j_explicit_null_ec_certificates_are_reported_by_name(corpus: Path) -> None:
    folder = corpus / "jose" / "jose4j" / "extracted"
    with pytest.raises(ConfigError, match=r"x509resolver_cert3\.pem"):
        load_certificate_file(folder / "x509resolver_cert3.pem")


def test_real_azure_ad_tokens_verify_with_the_acs_certificate(corpus: Path) -> None:
    folder = corpus / "jose" / "jose4j" / "extracted"
    good = load_certificate_file(folder / "aad_cert_MnC_VZcATfM5pOYiJHMba9goEKY.pem")
    other = load_certificate_file(folder / "aad_cert_YbRAQRYcE_motWVJKHrwLBbd_9s.pem")
    assert good[0].x5t == "MnC_VZcATfM5pOYiJHMba9goEKY"
    assert good[0].subject == "CN=accounts.accesscontrol.windows.net"
    for name in ("aad_consumeAzureIDTokenV1.jwt", "aad_consumeAzureIDTokenV2.jwt"):
        assert verdict(folder / name, Trust.of(good)) == "valid"
        assert verdict(folder / name, Trust.of(good + other)) == "valid"
    # V1 names the MnC key by x5t; trusting only the other key leaves it unverifiable, not invalid.
    assert verdict(folder / "aad_consumeAzureIDTokenV1.jwt", Trust.of(other)) == "unknown-key"


def test_real_azure_ad_jwks_document_verifies(corpus: Path) -> None:
    folder = corpus / "jose" / "jose4j" / "extracted"
    trust = Trust.of(load_metadata_file(folder / "aad_consumeAzureIDTokenV1.jwks.json"))
    assert verdict(folder / "aad_consumeAzureIDTokenV1.jwt", trust) == "valid"


def test_pyjwt_rs384_vector_verifies_but_is_not_allowed(corpus: Path) -> None:
    keys = load_certificate_file(corpus / "jose" / "pyjwt" / "keys" / "testkey_rsa.cer")
    assert keys[0].x5t == "YiPTrQucO1ulH6bgMK5wtrxcgAQ"
    token = corpus / "jose" / "pyjwt" / "extracted" / "test_decodes_valid_rs384_jws.jwt"
    jwt = decode_jwt(token.read_text().strip())
    assert rs_verify(keys[0], "RS384", jwt.signing_input, jwt.signature)
    assert verdict(token, Trust.of(keys)) == "not-allowed"


def test_rapid7_forged_actor_is_invalid_against_the_sharepoint_metadata(corpus: Path) -> None:
    folder = corpus / "ms-oauth" / "rapid7-cve-2026-55040"
    keys = load_metadata_file(folder / "sharepoint_layouts15_metadata_json_1.json")
    assert [k.x5t for k in keys] == ["i_gz5qfYp5YPWAK1__0YhZnipLI"]
    assert keys[0].thumbprint == "8BF833E6A7D8A7960F5802B5FFFD188599E2A4B2"
    assert keys[0].issuer == "00000003-0000-0ff1-ce00-000000000000@af90cc03-4a26-45e9-906a-609cebcebbde"
    der = load_certificate_file(folder / "sharepoint_sts_signing_cert.der")
    assert der[0].x5t == keys[0].x5t
    decoded = decode_bearer((folder / "forged_s2s_bearer_token.jwt").read_text().strip())
    assert decoded.actor is not None
    result = Verifier(Trust.of(keys)).verify(decoded.actor, decoded.actor.claim_str("iss"))
    assert result.verdict == "invalid"


def test_hightrust_actor_cannot_be_verified_without_its_certificate(corpus: Path) -> None:
    token = corpus / "ms-oauth" / "sharepoint-hightrust-sample" / "actortoken_LRxHRIp.jwt"
    assert verdict(token, Trust()) == "unknown-key"


def test_exchange_metadata_sample_with_truncated_certificate_is_a_clear_error(corpus: Path) -> None:
    path = corpus / "ms-oauth" / "exchange-identity-token-docs" / "exchange_autodiscover_metadata_json_1.sample.json"
    with pytest.raises(ConfigError, match=r"key 1: the certificate in keyValue.value cannot be decoded"):
        load_metadata_file(path)


def test_every_jose_verification_fact_for_rs256(corpus: Path) -> None:
    """Every RS256 row of jose_verification.json gives the same verdict here."""
    rows = json.loads((corpus / "jose_verification.json").read_text())
    checked = 0
    for row in rows:
        token_path = row.get("token")
        key_path = row.get("key")
        if not (isinstance(token_path, str) and isinstance(key_path, str)):
            continue
        if not isinstance(row.get("header"), dict) or row["header"].get("alg") != "RS256":
            continue
        if not key_path.endswith((".jwk", ".pem", ".cer", ".der")) or not token_path.endswith((".jwt", ".jwsc")):
            continue
        key_file = corpus / key_path
        keys = jwk_trust(key_file).keys if key_path.endswith(".jwk") else tuple(load_certificate_file(key_file))
        text = (corpus / token_path).read_text().strip()
        signing_input, _, signature = text.rpartition(".")
        from inspector.tokens import b64url_decode

        ok = rs_verify(keys[0], "RS256", signing_input.encode(), b64url_decode(signature))
        assert ok == row["sig_valid_cryptography"], row["label"]
        checked += 1
    assert checked >= 3


def test_rfc7520_4_1_text_payload_still_gets_its_signature_verdict(corpus: Path) -> None:
    # RFC 7520 section 4.1 signs plain text, not JSON: not a JWT, but the signature has a verdict all the same.
    from inspector.policy import Policy
    from inspector.token_checks import assess_token

    vectors = corpus / "jose" / "rfc-vectors"
    token = decode_bearer((vectors / "rfc7520_4.1.jwsc").read_text().strip())
    assert token.problem == "the payload is not JSON"
    good = assess_token(token, verifier=Verifier(jwk_trust(vectors / "rfc7520_3.4.jwk")), policy=Policy())
    assert good.report.signature == "valid"
    assert [f.rule for f in good.findings] == ["token-malformed"]
    assert "JWS but not a JWT" in good.findings[0].message
    altered = decode_bearer((vectors / "rfc7520_4.1.jwsc").read_text().strip()[:-4] + "AAAA")
    bad = assess_token(altered, verifier=Verifier(jwk_trust(vectors / "rfc7520_3.4.jwk")), policy=Policy())
    assert bad.report.signature == "invalid"
    assert {f.rule for f in bad.findings} == {"token-malformed", "signature-invalid"}
    unknown = assess_token(token, verifier=Verifier(Trust()), policy=Policy())
    assert unknown.report.signature == "unknown-key"


def test_a_payload_segment_that_is_not_base64url_is_malformed_not_a_crash() -> None:
    # Found by the HAR fuzzer: a JWS kept for its signature must still be made of base64url segments.
    token = decode_bearer("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.\xe5yJhIjoxfQ.")
    assert token.jws is None and token.outer is None
    assert token.problem == "a segment holds characters outside base64url"
