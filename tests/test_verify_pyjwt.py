"""PyJWT as an independent oracle: for every lab token it can judge, it agrees with our signature verdict."""

from __future__ import annotations

import jwt
import pytest

from inspector.lab.tokens import TokenKit
from inspector.tokens import decode_bearer
from inspector.trust import Trust, key_from_certificate
from inspector.verify import Verifier

_NO_CLAIM_CHECKS = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


@pytest.mark.parametrize("scenario", ["healthy_user", "app_only", "forged_signature", "unknown_key", "expired"])
def test_pyjwt_agrees_with_our_rs256_verdict(lab_kit: TokenKit, scenario: str) -> None:
    minted = getattr(lab_kit, scenario)()
    decoded = decode_bearer(minted.value)
    signed = decoded.actor or decoded.outer
    assert signed is not None
    raw = signed.signing_input.decode() + "." + signed.signature_segment
    ours = Verifier(Trust.of([key_from_certificate(lab_kit.auth_cert.certificate, "c")])).verify(
        signed, signed.claim_str("iss")
    )
    try:
        jwt.decode(raw, key=lab_kit.auth_cert.certificate.public_key(), algorithms=["RS256"], options=_NO_CLAIM_CHECKS)
        theirs = "valid"
    except jwt.InvalidSignatureError:
        theirs = "invalid"
    expected = {"valid": "valid", "invalid": "invalid", "unknown-key": "invalid"}[ours.verdict]
    assert theirs == expected


def test_pyjwt_refuses_hs256_with_a_public_key_as_we_do(lab_kit: TokenKit) -> None:
    minted = lab_kit.hs256()
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt.decode(minted.value, key=lab_kit.auth_cert.public_key_pem, algorithms=["RS256"])
    decoded = decode_bearer(minted.value)
    assert decoded.outer is not None
    assert Verifier(Trust()).verify(decoded.outer, None).verdict == "not-allowed"
