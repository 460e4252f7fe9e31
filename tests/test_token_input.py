"""A token pasted by a person: whole headers, bare tokens and tokens wrapped over lines all judged alike."""

from __future__ import annotations

import pytest

from inspector.analyze import Analyzer
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.token_input import authorization_value, judge_pasted
from inspector.trust import Trust


@pytest.mark.parametrize(
    ("pasted", "value"),
    [
        ("eyJhbGc.eyJzdWIi.c2ln", "Bearer eyJhbGc.eyJzdWIi.c2ln"),
        ("Bearer eyJhbGc.eyJz\n  dWIi.c2ln", "Bearer eyJhbGc.eyJzdWIi.c2ln"),
        ("Authorization: Bearer abc", "Bearer abc"),
        ("proxy-authorization:   Basic dXNlcjpw", "Basic dXNlcjpw"),
        ("  eyJh bGc.eyJz dWIi.c2ln  ", "Bearer eyJhbGc.eyJzdWIi.c2ln"),
    ],
)
def test_the_authorization_value_of_what_was_pasted(pasted: str, value: str) -> None:
    assert authorization_value(pasted) == value


def test_a_pasted_token_is_judged_at_the_given_moment_and_host(lab_kit: TokenKit) -> None:
    healthy = next(m for m in lab_kit.scenarios() if m.name == "healthy-user")
    analyzer = Analyzer(Trust.of([]), Policy())
    result = judge_pasted(f"Authorization: Bearer {healthy.value}", analyzer, at=lab_kit.now, host="elsewhere.example")
    assert result.exchange.provenance.kind == "token"
    assert result.auth.scheme == "bearer"
    rules = {f.rule for f in result.findings}
    assert "audience-mismatch" in rules
    assert "signing-key-unknown" in rules  # no trust given: the signature cannot be checked
