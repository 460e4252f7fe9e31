"""Every token scenario of the lab kit raises exactly the rules it is built for; the healthy ones raise none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.certs import acs_metadata, exchange_auth_cert
from inspector.lab.tokens import Minted, TokenKit
from inspector.policy import Policy
from inspector.trust import Trust, key_from_certificate, parse_metadata
from tests.builders import CLOCK, exchange

SCENARIOS = [
    "healthy_user",
    "app_only",
    "acs_actor",
    "expired",
    "not_yet_valid",
    "wrong_principal",
    "wrong_realm",
    "forged_signature",
    "unknown_key",
    "naked_alg_none",
    "unsigned_actor",
    "hs256",
    "issuer_nameid_mismatch",
    "audience_host_mismatch",
    "dangerous_header",
    "garbage",
]


def trust_for(kit: TokenKit) -> Trust:
    """What an admin gives: the exported auth certificate (--cert) and the tenant's ACS metadata (--metadata)."""
    import json

    acs = parse_metadata(json.dumps(acs_metadata([kit.acs_cert], realm=kit.realm)).encode(), "acs.json")
    return Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer"), *acs])


def judge(kit: TokenKit, minted: Minted, *, trust: Trust | None = None, policy: Policy | None = None) -> ExchangeResult:
    analyzer = Analyzer(trust or trust_for(kit), policy or Policy(realms=frozenset({kit.realm})))
    result = analyzer.feed(exchange(f"Bearer {minted.value}", host=kit.host))
    assert isinstance(result, ExchangeResult)
    return result


def test_every_scenario_is_covered(lab_kit: TokenKit) -> None:
    assert sorted(m.name for m in lab_kit.scenarios()) == sorted(s.replace("_", "-") for s in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_raises_exactly_its_rules(lab_kit: TokenKit, scenario: str) -> None:
    minted: Minted = getattr(lab_kit, scenario)()
    result = judge(lab_kit, minted)
    assert {f.rule for f in result.findings} == set(minted.expects), [f.message for f in result.findings]


def test_healthy_user_token_is_valid_and_described(lab_kit: TokenKit) -> None:
    result = judge(lab_kit, lab_kit.healthy_user())
    token = result.auth.token
    assert token is not None
    assert (token.kind, token.signature, token.realm) == ("s2s-user", "valid", lab_kit.realm)
    assert token.issuer == f"00000004-0000-0ff1-ce00-000000000000@{lab_kit.realm}"
    assert token.key is not None and token.key.source == "OAuthCert.cer"


def test_acs_actor_verifies_with_the_acs_metadata_key_only(lab_kit: TokenKit) -> None:
    result = judge(lab_kit, lab_kit.acs_actor())
    assert result.auth.token is not None and result.auth.token.signature == "valid"
    assert result.auth.token.key is not None and result.auth.token.key.issuer is not None


def test_metadata_key_is_not_trusted_for_another_issuer(lab_kit: TokenKit) -> None:
    """The ACS document vouches for 00000001@realm: a self-issued SfB actor signed with that key is refused."""
    minted = lab_kit.signed_with(lab_kit.acs_cert, expects=())
    result = judge(lab_kit, minted)
    assert [f.rule for f in result.findings] == ["signing-key-wrong-issuer"]
    assert result.auth.token is not None and result.auth.token.signature == "unknown-key"


def test_expected_thumbprint_without_certificate_says_how_to_verify(lab_kit: TokenKit) -> None:
    trust = Trust.of([], thumbprints=[lab_kit.auth_cert.thumbprint])
    result = judge(lab_kit, lab_kit.healthy_user(), trust=trust)
    [unknown] = [f for f in result.findings if f.rule == "signing-key-unknown"]
    assert lab_kit.auth_cert.thumbprint.upper() in unknown.message
    assert "--cert" in unknown.message


def test_token_signed_with_an_expired_certificate(lab_kit: TokenKit) -> None:
    old = exchange_auth_cert(now=CLOCK, not_before=CLOCK - timedelta(days=800), not_after=CLOCK - timedelta(days=5))
    minted = lab_kit.signed_with(old)
    trust = Trust.of([key_from_certificate(old.certificate, "old.cer")])
    result = judge(lab_kit, minted, trust=trust)
    assert [f.rule for f in result.findings] == ["signed-with-expired-cert"]


def test_skew_decides_what_is_expired(lab_kit: TokenKit) -> None:
    minted = lab_kit.expired()
    lenient = Policy(realms=frozenset({lab_kit.realm}), skew=3 * 86400)
    assert judge(lab_kit, minted, policy=lenient).findings == ()


def test_realm_is_only_checked_against_configuration_when_given(lab_kit: TokenKit) -> None:
    result = judge(lab_kit, lab_kit.wrong_realm(), policy=Policy())
    assert result.findings == ()


def test_another_expected_issuer_can_be_configured(lab_kit: TokenKit) -> None:
    policy = Policy(
        expected_issuers=frozenset({"00000003-0000-0ff1-ce00-000000000000"}), realms=frozenset({lab_kit.realm})
    )
    assert judge(lab_kit, lab_kit.wrong_principal(), policy=policy).findings == ()
    assert {f.rule for f in judge(lab_kit, lab_kit.healthy_user(), policy=policy).findings} == {"issuer-unexpected"}


def test_a_repeated_token_is_verified_once_but_judged_at_each_use(lab_kit: TokenKit) -> None:
    analyzer = Analyzer(trust_for(lab_kit), Policy())
    minted = lab_kit.not_yet_valid()  # valid an hour after CLOCK
    early = [analyzer.feed(exchange(f"Bearer {minted.value}", after=n)) for n in range(5)]
    later = analyzer.feed(exchange(f"Bearer {minted.value}", after=2 * 3600))
    assert analyzer.verifier.verifications == 1
    for result in early:
        assert isinstance(result, ExchangeResult)
        assert [(f.rule, f.exchange) for f in result.findings] == [("token-not-yet-valid", result.exchange.id)] * 2
    assert isinstance(later, ExchangeResult) and later.findings == ()


def test_user_token_whose_actor_is_not_trusted_for_delegation(lab_kit: TokenKit) -> None:
    claims = lab_kit.actor_claims(app_only=True)  # app-only actors carry no trustedfordelegation
    minted = lab_kit.user_token("no-delegation", "", ("delegation-not-trusted",), actor_claims=claims)
    assert {f.rule for f in judge(lab_kit, minted).findings} == {"delegation-not-trusted"}
    explicit_false = lab_kit.user_token(
        "false", "", (), actor_claims=lab_kit.actor_claims() | {"trustedfordelegation": "false"}
    )
    assert {f.rule for f in judge(lab_kit, explicit_false).findings} == {"delegation-not-trusted"}
