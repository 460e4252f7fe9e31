"""Judging one bearer token: what is assessed once per token, and what is judged at each use (times, audience,
the signing certificate's validity), with the edges of each window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from inspector.lab.certs import acs_metadata
from inspector.lab.tokens import Minted, TokenKit
from inspector.policy import Policy
from inspector.token_checks import TokenAssessment, assess_token, audience_host, judge_use
from inspector.tokens import decode_bearer
from inspector.trust import Trust, key_from_certificate, parse_metadata
from inspector.verify import Verifier


def _verifier(kit: TokenKit) -> Verifier:
    acs = parse_metadata(json.dumps(acs_metadata([kit.acs_cert], realm=kit.realm)).encode(), "acs.json")
    return Verifier(Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer"), *acs]))


def _minted(kit: TokenKit, name: str) -> Minted:
    return next(m for m in kit.scenarios() if m.name == name)


def _assess(kit: TokenKit, value: str, policy: Policy | None = None) -> TokenAssessment:
    return assess_token(decode_bearer(value), verifier=_verifier(kit), policy=policy or Policy())


def _rules(found: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(f.rule for f in found)


def test_a_healthy_token_is_quiet_at_its_use(lab_kit: TokenKit) -> None:
    assessment = _assess(lab_kit, _minted(lab_kit, "healthy-user").value, Policy(realms=frozenset({lab_kit.realm})))
    assert assessment.findings == ()
    assert assessment.report.signature == "valid"
    assert assessment.quiet_at(lab_kit.now, 300)
    assert judge_use(assessment, policy=Policy(), at=lab_kit.now, host=lab_kit.host, exchange="x:1") == []


def test_times_are_judged_at_each_use_with_the_skew_at_the_edges(lab_kit: TokenKit) -> None:
    assessment = _assess(lab_kit, _minted(lab_kit, "healthy-user").value)
    assert assessment.valid_until is not None and assessment.valid_from is not None
    policy = Policy(skew=60)
    edge = datetime.fromtimestamp(assessment.valid_until + 60, UTC)
    assert judge_use(assessment, policy=policy, at=edge, host=None, exchange=None) == []
    late = judge_use(assessment, policy=policy, at=edge + timedelta(seconds=1), host=None, exchange="x:2")
    assert "token-expired" in _rules(late)
    assert all(f.exchange == "x:2" for f in late)
    early = datetime.fromtimestamp(assessment.valid_from - 61, UTC)
    assert "token-not-yet-valid" in _rules(judge_use(assessment, policy=policy, at=early, host=None, exchange=None))


def test_the_audience_host_must_be_the_host_the_request_went_to(lab_kit: TokenKit) -> None:
    assessment = _assess(lab_kit, _minted(lab_kit, "healthy-user").value)
    at = lab_kit.now
    assert judge_use(assessment, policy=Policy(), at=at, host=lab_kit.host.upper() + ":443", exchange=None) == []
    wrong = judge_use(assessment, policy=Policy(), at=at, host="evil.example", exchange=None)
    assert _rules(wrong) == ["audience-mismatch"]
    assert wrong[0].evidence["host"] == "evil.example"
    assert judge_use(assessment, policy=Policy(), at=at, host=None, exchange=None) == []


def test_a_signature_from_a_certificate_outside_its_validity(lab_kit: TokenKit) -> None:
    assessment = _assess(lab_kit, _minted(lab_kit, "healthy-user").value)
    assert assessment.key_validity is not None
    not_after = assessment.key_validity[1]
    after = judge_use(
        assessment, policy=Policy(skew=10**9), at=not_after + timedelta(seconds=1), host=None, exchange=None
    )
    assert "signed-with-expired-cert" in _rules(after)
    assert not assessment.quiet_at(not_after + timedelta(seconds=1), 10**9)


@pytest.mark.parametrize(
    ("value", "rule"),
    [("opaque-session-id", "token-opaque"), ("eyJhbGciOiJSUzI1NiJ9.!!!.x", "token-malformed")],
)
def test_what_cannot_be_checked_says_so(lab_kit: TokenKit, value: str, rule: str) -> None:
    assessment = _assess(lab_kit, value)
    assert [f.rule for f in assessment.findings] == [rule]
    assert assessment.report.signature is None


@pytest.mark.parametrize("name", ["naked-alg-none", "unsigned-actor", "hs256", "forged-signature", "wrong-realm"])
def test_each_minted_scenario_raises_what_it_declares(lab_kit: TokenKit, name: str) -> None:
    minted = _minted(lab_kit, name)
    assessment = _assess(lab_kit, minted.value, Policy(realms=frozenset({lab_kit.realm})))
    found = {f.rule for f in judge_use(assessment, policy=Policy(), at=lab_kit.now, host=lab_kit.host, exchange=None)}
    assert found == set(minted.expects)


@pytest.mark.parametrize(
    ("aud", "host"),
    [
        ("00000002-0000-0ff1-ce00-000000000000/Mail.Contoso.com:443@tenant", "mail.contoso.com"),
        ("https://outlook.office365.com/", "outlook.office365.com"),
        ("00000002-0000-0ff1-ce00-000000000000@tenant", None),
        (42, None),
    ],
)
def test_audience_host(aud: object, host: str | None) -> None:
    assert audience_host(aud) == host


def test_tokens_with_the_same_claims_are_judged_under_each_policy(lab_kit: TokenKit) -> None:
    # The principal checks are remembered per set of claims, and per policy: a realm fine under one is not under
    # another, in either order.
    value = _minted(lab_kit, "healthy-user").value
    right, wrong = Policy(realms=frozenset({lab_kit.realm})), Policy(realms=frozenset({"another-realm"}))
    for policy, rules in ((right, []), (wrong, ["realm-mismatch"]), (right, []), (wrong, ["realm-mismatch"])):
        assert _rules(list(_assess(lab_kit, value, policy).findings)) == rules


def test_claims_that_are_not_text_are_judged_as_they_are(lab_kit: TokenKit) -> None:
    # True, 1 and 1.0 are equal as keys but not as claims: each is judged and reported as it came, in any order.
    for delegation in (True, 1, 1.0, "true", 1, True, 1.0):
        minted = lab_kit.user_token(
            "delegation", "", (), actor_claims=lab_kit.actor_claims() | {"trustedfordelegation": delegation}
        )
        found = [f for f in _assess(lab_kit, minted.value).findings if f.rule == "delegation-not-trusted"]
        if str(delegation).lower() == "true":
            assert found == [], delegation
        else:
            assert [type(f.evidence["trustedfordelegation"]) for f in found] == [type(delegation)], delegation


def test_the_memory_of_claims_is_bounded_and_judges_alike_when_full(
    lab_kit: TokenKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inspector import token_checks

    monkeypatch.setattr(token_checks, "MAX_CLAIMS_VIEWS", 2)
    monkeypatch.setattr(token_checks, "_claims_views", {})
    policy = Policy(realms=frozenset({lab_kit.realm}))
    first = [_assess(lab_kit, m.value, policy) for m in lab_kit.scenarios()]
    assert len(token_checks._claims_views) <= 2
    again = [_assess(lab_kit, m.value, policy) for m in lab_kit.scenarios()]
    assert [(a.findings, a.report.realm, a.report.issuer, a.audience_hosts) for a in first] == [
        (a.findings, a.report.realm, a.report.issuer, a.audience_hosts) for a in again
    ]


def test_long_claims_are_judged_but_not_remembered(lab_kit: TokenKit, monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector import token_checks

    monkeypatch.setattr(token_checks, "_claims_views", {})
    long_aud = f"00000002-0000-0ff1-ce00-000000000000/{'h' * 600}@{lab_kit.realm}"
    minted = lab_kit.user_token(
        "long-aud",
        "",
        (),
        actor_claims=lab_kit.actor_claims(aud=long_aud),
        outer_claims=lambda actor: lab_kit.outer_claims(actor, aud=long_aud),
    )
    assessment = _assess(lab_kit, minted.value, Policy(realms=frozenset({lab_kit.realm})))
    assert assessment.audience_hosts == frozenset({"h" * 600}) and token_checks._claims_views == {}


def test_a_use_copies_every_field_of_the_assessments_findings() -> None:
    # judge_use copies a token's findings per use with Finding's constructor (not dataclasses.replace, which is
    # slower): a field added to Finding must be copied there too.
    from dataclasses import fields

    from inspector.rules import Finding

    assert [f.name for f in fields(Finding)] == ["rule", "severity", "message", "exchange", "evidence", "suppressed"]
