"""RS256 verification against the trust store: the algorithm from a fixed list, keys bound to issuers, the named
key's verdict, and each distinct signed text verified once."""

from __future__ import annotations

import dataclasses

from inspector.lab.tokens import TokenKit
from inspector.policy import ACS
from inspector.tokens import Jwt, decode_bearer
from inspector.trust import Trust, key_from_certificate
from inspector.verify import Verifier, rs_verify


def _signed(kit: TokenKit) -> Jwt:
    token = decode_bearer(kit.healthy_user().value)
    assert token.signed is not None
    return token.signed


def test_a_trusted_certificate_verifies_once_then_from_the_cache(lab_kit: TokenKit) -> None:
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    verifier = Verifier(Trust.of([key]))
    signed = _signed(lab_kit)
    issuer = signed.claim_str("iss")
    first = verifier.verify(signed, issuer)
    again = verifier.verify(signed, issuer)
    assert (first.verdict, first.key) == ("valid", key)
    assert again == first
    assert (verifier.verifications, verifier.cache_hits) == (1, 1)


def test_a_changed_signature_is_invalid_and_names_the_key(lab_kit: TokenKit) -> None:
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    signed = _signed(lab_kit)
    forged = dataclasses.replace(signed, signature=bytes(len(signed.signature)))
    result = Verifier(Trust.of([key])).verify(forged, forged.claim_str("iss"))
    assert (result.verdict, result.key) == ("invalid", key)


def test_a_key_trusted_for_another_issuer_does_not_verify(lab_kit: TokenKit) -> None:
    bound = key_from_certificate(lab_kit.auth_cert.certificate, "metadata.json", issuer=f"{ACS}@*")
    signed = _signed(lab_kit)
    result = Verifier(Trust.of([bound])).verify(signed, signed.claim_str("iss"))
    assert result.verdict == "unknown-key"
    assert result.wrong_issuer_keys == (bound,)


def test_no_key_is_unknown_and_other_algorithms_are_not_allowed(lab_kit: TokenKit) -> None:
    signed = _signed(lab_kit)
    assert Verifier(Trust.of([])).verify(signed, signed.claim_str("iss")).verdict == "unknown-key"
    hs256 = dataclasses.replace(signed, header={**signed.header, "alg": "HS256"})
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    assert Verifier(Trust.of([key])).verify(hs256, signed.claim_str("iss")).verdict == "not-allowed"


def test_rs_verify_is_false_for_a_wrong_key_or_text(lab_kit: TokenKit) -> None:
    signed = _signed(lab_kit)
    right = key_from_certificate(lab_kit.auth_cert.certificate, "a")
    wrong = key_from_certificate(lab_kit.acs_cert.certificate, "b")
    assert rs_verify(right, "RS256", signed.signing_input, signed.signature)
    assert not rs_verify(wrong, "RS256", signed.signing_input, signed.signature)
    assert not rs_verify(right, "RS256", signed.signing_input + b"x", signed.signature)


def test_without_a_cache_every_call_verifies(lab_kit: TokenKit) -> None:
    key = key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")
    verifier = Verifier(Trust.of([key]), cache_size=0)
    signed = _signed(lab_kit)
    forged = dataclasses.replace(signed, signature=signed.signature[:-1] + bytes([signed.signature[-1] ^ 1]))
    verdicts = [verifier.verify(token, token.claim_str("iss")).verdict for token in (signed, signed, forged)]
    assert verdicts == ["valid", "valid", "invalid"]
    assert (verifier.verifications, verifier.cache_hits) == (3, 0)


def test_an_unsigned_token_is_unsigned_whatever_the_case_of_none(lab_kit: TokenKit) -> None:
    verifier = Verifier(Trust.of([key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer")]))
    signed = _signed(lab_kit)
    for alg, verdict in (
        ("none", "unsigned"),
        ("NONE", "unsigned"),
        ("HS256", "not-allowed"),
        ("rs256", "not-allowed"),
    ):
        token = dataclasses.replace(signed, header={**signed.header, "alg": alg})
        assert verifier.verify(token, signed.claim_str("iss")).verdict == verdict, alg
