"""The token kit's shapes, decoded independently with base64 and json (not with inspector.tokens)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from inspector.lab.certs import LabCert
from inspector.lab.tokens import Minted, TokenKit
from inspector.rules import CATALOGUE

SFB = "00000004-0000-0ff1-ce00-000000000000"
EXCHANGE = "00000002-0000-0ff1-ce00-000000000000"
ACS = "00000001-0000-0000-c000-000000000000"
SKEW = 300


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@dataclass
class Jws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes
    raw_signature: str


def decode(token: str) -> Jws:
    parts = token.split(".")
    assert len(parts) == 3
    return Jws(
        header=json.loads(_b64decode(parts[0])),
        claims=json.loads(_b64decode(parts[1])),
        signing_input=f"{parts[0]}.{parts[1]}".encode(),
        signature=_b64decode(parts[2]),
        raw_signature=parts[2],
    )


def verifies(jws: Jws, cert: LabCert) -> bool:
    public = cert.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    try:
        public.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def outer_and_actor(minted: Minted) -> tuple[Jws, Jws]:
    outer = decode(minted.value)
    assert outer.header == {"typ": "JWT", "alg": "none"}
    assert outer.raw_signature == ""
    assert minted.value.endswith(".")
    return outer, decode(outer.claims["actortoken"])


def times(claims: dict[str, Any]) -> tuple[int, int]:
    return int(str(claims["nbf"])), int(str(claims["exp"]))


def now_s(kit: TokenKit) -> int:
    return int(kit.now.timestamp())


def test_healthy_user_token(kit: TokenKit) -> None:
    minted = kit.healthy_user()
    outer, actor = outer_and_actor(minted)
    assert minted.expects == ()
    realm = kit.realm
    assert outer.claims["iss"] == f"{SFB}@{realm}"
    assert outer.claims["aud"] == f"{EXCHANGE}/{kit.host}@{realm}"
    assert {"nameid", "nii", "smtp", "sip", "upn"} <= outer.claims.keys()
    assert outer.claims["smtp"] == kit.user.upn
    assert actor.header == {"typ": "JWT", "alg": "RS256", "x5t": kit.auth_cert.x5t}
    assert actor.claims["iss"] == actor.claims["nameid"] == outer.claims["iss"]
    assert actor.claims["aud"] == outer.claims["aud"]
    assert actor.claims["trustedfordelegation"] == "true"
    # Times as strings here, as the SharePoint high-trust sample shows them.
    assert all(isinstance(outer.claims[k], str) and isinstance(actor.claims[k], str) for k in ("nbf", "exp"))
    o_nbf, o_exp = times(outer.claims)
    a_nbf, a_exp = times(actor.claims)
    assert a_nbf <= o_nbf < now_s(kit) < o_exp <= a_exp
    assert verifies(actor, kit.auth_cert)
    assert not verifies(actor, kit.acs_cert)
    assert minted.outer_claims == outer.claims and minted.actor_claims == actor.claims


def test_app_only_token_is_the_signed_actor_alone(kit: TokenKit) -> None:
    minted = kit.app_only()
    jws = decode(minted.value)
    assert jws.header["alg"] == "RS256" and jws.header["x5t"] == kit.auth_cert.x5t
    assert "actortoken" not in jws.claims and "trustedfordelegation" not in jws.claims
    assert jws.claims["iss"] == jws.claims["nameid"] == f"{SFB}@{kit.realm}"
    assert isinstance(jws.claims["nbf"], int) and isinstance(jws.claims["exp"], int)
    assert verifies(jws, kit.auth_cert)
    assert minted.actor_claims is None


def test_acs_issued_actor(kit: TokenKit) -> None:
    outer, actor = outer_and_actor(kit.acs_actor())
    assert actor.header["kid"] == actor.header["x5t"] == kit.acs_cert.x5t
    assert actor.claims["iss"] == actor.claims["identityprovider"] == f"{ACS}@{kit.realm}"
    assert actor.claims["nameid"] == outer.claims["iss"] == f"{SFB}@{kit.realm}"
    assert isinstance(actor.claims["exp"], int) and isinstance(outer.claims["exp"], int)
    assert verifies(actor, kit.acs_cert)
    assert not verifies(actor, kit.auth_cert)


def test_expired_and_not_yet_valid_are_beyond_the_skew(kit: TokenKit) -> None:
    for token in outer_and_actor(kit.expired()):
        assert times(token.claims)[1] < now_s(kit) - SKEW
    for token in outer_and_actor(kit.not_yet_valid()):
        assert times(token.claims)[0] > now_s(kit) + SKEW


def test_wrong_principal_is_consistent_but_not_skype(kit: TokenKit) -> None:
    outer, actor = outer_and_actor(kit.wrong_principal())
    principal = outer.claims["iss"].split("@")[0]
    assert principal != SFB
    assert actor.claims["nameid"] == outer.claims["iss"]
    assert verifies(actor, kit.auth_cert)


def test_wrong_realm_is_consistent_in_another_realm(kit: TokenKit) -> None:
    outer, actor = outer_and_actor(kit.wrong_realm())
    realms = {v.rsplit("@", 1)[1] for v in (outer.claims["iss"], outer.claims["aud"], actor.claims["nameid"])}
    assert len(realms) == 1 and realms != {kit.realm}


def test_forged_signature_names_the_trusted_key_but_does_not_verify(kit: TokenKit) -> None:
    _, forged = outer_and_actor(kit.forged_signature())
    _, genuine = outer_and_actor(kit.healthy_user())
    assert forged.header["x5t"] == kit.auth_cert.x5t
    assert forged.signing_input == genuine.signing_input
    assert len(forged.signature) == len(genuine.signature)
    assert forged.signature != genuine.signature
    assert not verifies(forged, kit.auth_cert)


def test_unknown_key_is_signed_by_an_untrusted_certificate(kit: TokenKit) -> None:
    _, actor = outer_and_actor(kit.unknown_key())
    assert actor.header["x5t"] not in {kit.auth_cert.x5t, kit.acs_cert.x5t}
    assert actor.header["x5t"] == kit.rogue_cert.x5t
    assert verifies(actor, kit.rogue_cert)


def test_naked_alg_none_has_no_actor(kit: TokenKit) -> None:
    jws = decode(kit.naked_alg_none().value)
    assert jws.header["alg"] == "none" and jws.raw_signature == ""
    assert "actortoken" not in jws.claims


def test_unsigned_actor(kit: TokenKit) -> None:
    _, actor = outer_and_actor(kit.unsigned_actor())
    assert actor.header["alg"] == "none" and actor.raw_signature == ""


def test_hs256_uses_the_public_key_as_hmac_secret(kit: TokenKit) -> None:
    jws = decode(kit.hs256().value)
    assert jws.header["alg"] == "HS256"
    expected = hmac.new(kit.auth_cert.public_key_pem, jws.signing_input, hashlib.sha256).digest()
    assert jws.signature == expected


def test_issuer_nameid_mismatch(kit: TokenKit) -> None:
    outer, actor = outer_and_actor(kit.issuer_nameid_mismatch())
    assert outer.claims["iss"] == f"{SFB}@{kit.realm}"
    assert actor.claims["nameid"] != outer.claims["iss"]
    assert verifies(actor, kit.auth_cert)


def test_audience_host_differs_from_the_kit_host(kit: TokenKit) -> None:
    outer, actor = outer_and_actor(kit.audience_host_mismatch("exchange.fabrikam.com"))
    assert outer.claims["aud"] == actor.claims["aud"] == f"{EXCHANGE}/exchange.fabrikam.com@{kit.realm}"


def test_dangerous_header_is_signed_and_carries_jku(kit: TokenKit) -> None:
    _, actor = outer_and_actor(kit.dangerous_header())
    assert actor.header["jku"].startswith("https://")
    assert verifies(actor, kit.auth_cert)


def test_garbage_starts_like_a_jwt_but_does_not_decode(kit: TokenKit) -> None:
    value = kit.garbage().value
    header, claims, _ = value.split(".")
    assert json.loads(_b64decode(header))["typ"] == "JWT"
    with pytest.raises(json.JSONDecodeError):
        json.loads(_b64decode(claims))


def test_signed_with_a_given_certificate(kit: TokenKit) -> None:
    _, actor = outer_and_actor(kit.signed_with(kit.acs_cert))
    assert actor.header["x5t"] == kit.acs_cert.x5t
    assert verifies(actor, kit.acs_cert)


def test_every_scenario_names_catalogue_rules_and_is_distinct(kit: TokenKit) -> None:
    scenarios = kit.scenarios()
    assert len({m.name for m in scenarios}) == len(scenarios)
    assert len({m.value for m in scenarios}) == len(scenarios)
    for minted in scenarios:
        assert set(minted.expects) <= set(CATALOGUE), minted.name
        assert minted.description
    healthy = {m.name for m in scenarios if not m.expects}
    assert healthy == {"healthy-user", "app-only", "acs-actor"}


def test_minting_is_deterministic(kit: TokenKit) -> None:
    assert [m.value for m in kit.scenarios()] == [m.value for m in kit.scenarios()]
