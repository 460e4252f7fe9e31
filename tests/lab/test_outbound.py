"""The outbound lab cases: every new rule and every known code is among them, with a healthy close case."""

from __future__ import annotations

from inspector.lab.outbound import outbound_cases
from inspector.lab.tokens import TokenKit
from inspector.token_errors import KNOWN_TOKEN_ERRORS


def test_cases_cover_the_new_rules_every_code_and_healthy_answers(lab_kit: TokenKit) -> None:
    cases = outbound_cases(lab_kit.auth_cert, lab_kit.acs_cert, now=lab_kit.now, rogue_cert=lab_kit.rogue_cert)
    names = [c.name for c in cases]
    assert len(set(names)) == len(names)
    rules = {rule for case in cases for rule in case.expects}
    assert {"token-request-failed", "response-error-in-body", "signing-key-unknown", "token-expired"} <= rules
    assert {code for code in KNOWN_TOKEN_ERRORS if any(name.endswith(code) for name in names)} == set(
        KNOWN_TOKEN_ERRORS
    )
    healthy = [c for c in cases if not c.expects]
    assert {c.name for c in healthy} == {"entra-success", "acs-success", "ews-success"}
    times = [c.exchange.time for c in cases]
    assert times == sorted(times) and len(set(times)) == len(times)
