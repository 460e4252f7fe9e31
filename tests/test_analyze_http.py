"""Bearer tokens judged inside an exchange, and notices, through the whole analyzer. The rule families about HTTP
authentication have their own tests in tests/checks/."""

from __future__ import annotations

import pytest

from inspector.analyze import Analyzer
from inspector.checks.responses import bearer_rejected
from inspector.model import Notice
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.trust import Trust
from tests.builders import exchange, unsigned_jwt
from tests.checks.kit import rules_of, run


def test_naked_alg_none_is_unsigned() -> None:
    token = unsigned_jwt({"iss": "00000004-0000-0ff1-ce00-000000000000@contoso.com"})
    [result] = run(exchange(f"Bearer {token}"))
    assert "token-unsigned" in rules_of(result)
    assert result.auth.token is not None and result.auth.token.signature == "unsigned"


def test_hs256_is_not_allowed() -> None:
    token = unsigned_jwt({"iss": "00000004-0000-0ff1-ce00-000000000000@contoso.com"}, {"alg": "HS256"}, b"mac")
    [result] = run(exchange(f"Bearer {token}"))
    assert "alg-not-allowed" in rules_of(result)
    assert "signing-key-unknown" not in rules_of(result)


def test_bare_jwt_without_scheme_is_still_judged() -> None:
    token = unsigned_jwt({"name": "presto"}, {"alg": "HS256", "typ": "JWT"}, b"mac")
    [result] = run(exchange(token))
    assert result.auth.scheme == "bare"
    assert result.auth.token is not None and result.auth.token.kind == "jwt"


def test_jwt_attempt_that_does_not_decode_is_malformed() -> None:
    [result] = run(exchange("Bearer eyJhbGciOiJub25lIn0.!!!."))
    assert rules_of(result) == ["token-malformed"]


def test_opaque_bearer_is_info_only() -> None:
    [result] = run(exchange("Bearer mF_9.B5f-4.1JqM"))
    assert rules_of(result) == ["token-opaque"]
    assert result.findings[0].severity == "info"


def test_dangerous_headers_are_flagged() -> None:
    claims = {"iss": "00000004-0000-0ff1-ce00-000000000000@contoso.com"}
    with_jku = unsigned_jwt(claims, {"alg": "RS256", "jku": "https://evil.example/keys"}, b"s")
    with_kid_path = unsigned_jwt(claims, {"alg": "RS256", "kid": "../../dev/null"}, b"s")
    plain_kid = unsigned_jwt(claims, {"alg": "RS256", "kid": "abc"}, b"s")
    results = run(exchange(f"Bearer {with_jku}"), exchange(f"Bearer {with_kid_path}"), exchange(f"Bearer {plain_kid}"))
    assert "dangerous-header" in rules_of(results[0])
    assert "dangerous-header" in rules_of(results[1])
    assert "dangerous-header" not in rules_of(results[2])


def test_notices_become_catalogue_findings() -> None:
    analyzer = Analyzer(Trust(), Policy())
    out = analyzer.feed(Notice("capture-gap", "12 bytes missing", "x.pcap", evidence={"connection": "a -> b"}))
    assert isinstance(out, Finding)
    assert (out.rule, out.severity, out.evidence["source"]) == ("capture-gap", "warning", "x.pcap")
    with pytest.raises(KeyError, match="no-such-rule"):  # a bug in the source (mypy rejects it), never renamed
        analyzer.feed(Notice("no-such-rule", "?", "x.pcap"))  # type: ignore[arg-type]


def test_a_repeated_header_is_parsed_once_and_judged_the_same_each_time() -> None:
    # Servers repeat their challenge and x-ms-diagnostics verbatim: each distinct value is parsed once per analyzer
    # (the parse results are immutable), and every exchange is judged alike; an over-long value is never kept.
    analyzer = Analyzer(Trust(), Policy())
    headers = (
        ("WWW-Authenticate", 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000"'),
        ("x-ms-diagnostics", '2000001;reason="The token has an invalid signature.";error_category="invalid_token"'),
    )
    token = "Bearer " + unsigned_jwt({"iss": "x"})
    first, second = (analyzer.analyse(exchange(token, status=401, response_headers=headers)) for _ in range(2))
    assert first.diagnostics is second.diagnostics is not None
    assert first.challenges is second.challenges
    assert [f.rule for f in first.findings] == [f.rule for f in second.findings]
    assert first.diagnostics.code == 2000001
    long_value = "2000001;reason=" + "x" * 20_000
    third, fourth = (
        analyzer.analyse(exchange(token, status=401, response_headers=(("x-ms-diagnostics", long_value),)))
        for _ in range(2)
    )
    assert third.diagnostics == fourth.diagnostics
    assert third.diagnostics is not fourth.diagnostics


def test_a_refusal_repeated_alike_is_the_finding_bearer_rejected_makes_for_each_exchange() -> None:
    # The analyzer makes the bearer-rejected finding once per (challenges, diagnostics) and copies it per refusal:
    # each copy is what bearer_rejected gives for that exchange, and a refusal said differently is its own.
    analyzer = Analyzer(Trust(), Policy())
    token = "Bearer " + unsigned_jwt({"iss": "x"})
    said = ("x-ms-diagnostics", '2000003;reason="The audience claim value is invalid.";error_category="invalid_token"')
    other = ("x-ms-diagnostics", '2000001;reason="The token has an invalid signature.";error_category="invalid_token"')
    challenge = ("WWW-Authenticate", 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000"')
    for headers in ((challenge, said), (challenge, said), (challenge, other), (said,), (said,), ()):
        probe = exchange(token, status=401, response_headers=headers)
        result = analyzer.analyse(probe)
        (rejected,) = [f for f in result.findings if f.rule == "bearer-rejected"]
        assert rejected == bearer_rejected(probe, result.challenges, result.diagnostics)
        assert rejected.exchange == probe.id
    copies = [
        next(
            f
            for f in analyzer.analyse(exchange(token, status=401, response_headers=(said,))).findings
            if f.rule == "bearer-rejected"
        )
        for _ in range(2)
    ]
    assert copies[0].evidence is copies[1].evidence and copies[0].exchange != copies[1].exchange
