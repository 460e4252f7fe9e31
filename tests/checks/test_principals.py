"""The issuer, realm, nameid and audience checks of a bearer token, each on its own (inspector/checks/principals.py);
through the whole assessment they are tested in tests/test_token_checks.py and the lab's scenarios."""

from __future__ import annotations

from inspector.checks.principals import actor_findings, as_list, issuer_findings, principal_findings_of
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.tokens import decode_bearer


def _rules(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.rule for f in findings]


def test_a_healthy_token_raises_nothing_and_gives_its_realm(lab_kit: TokenKit) -> None:
    token = decode_bearer(lab_kit.healthy_user().value)
    findings, realm = principal_findings_of(token, Policy(realms=frozenset({lab_kit.realm})), "x:1")
    assert findings == [] and realm == lab_kit.realm


def test_each_check_names_its_own_rule(lab_kit: TokenKit) -> None:
    token = decode_bearer(lab_kit.healthy_user().value)
    assert _rules(issuer_findings(token, Policy(expected_issuers=frozenset({"someone-else"})), None)) == [
        "issuer-unexpected"
    ]
    findings, _ = principal_findings_of(token, Policy(realms=frozenset({"another-realm"})), None)
    assert _rules(findings) == ["realm-mismatch"]
    assert actor_findings(decode_bearer(lab_kit.app_only().value), None) == []  # no actor: nothing to compare


def test_a_claim_is_one_string_or_a_list_of_them() -> None:
    assert as_list("a") == ["a"] and as_list(["a", 1, "b"]) == ["a", "b"] and as_list(None) == []
