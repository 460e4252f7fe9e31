"""Analyzer rules about HTTP authentication (not token signatures): each fires, and its close case does not."""

from __future__ import annotations

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import HttpExchange, Notice
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.trust import Trust
from tests.builders import BEARER_CHALLENGE, basic, exchange, unsigned_jwt


def run(*exchanges: HttpExchange, policy: Policy | None = None) -> list[ExchangeResult]:
    analyzer = Analyzer(Trust(), policy or Policy())
    results = [analyzer.feed(e) for e in exchanges]
    assert all(isinstance(r, ExchangeResult) for r in results)
    return [r for r in results if isinstance(r, ExchangeResult)]


def rules_of(result: ExchangeResult) -> list[str]:
    return [f.rule for f in result.findings]


def test_basic_credentials_show_the_user_never_the_password() -> None:
    [result] = run(exchange(basic("alice", "S3cret:pw")))
    assert rules_of(result) == ["basic-credentials"]
    assert result.auth.user == "alice"
    assert "S3cret" not in repr(result.findings)


def test_basic_on_mrsproxy_is_by_design() -> None:
    [result] = run(exchange(basic("migration", "pw"), target="/EWS/mrsproxy.svc"))
    assert rules_of(result) == []
    assert result.auth.scheme == "basic"


def test_a_refused_bearer_probe_then_basic_from_the_same_client_is_a_fallback() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    retry = exchange(basic("alice", "pw"), after=1)
    results = run(challenge, retry)
    assert rules_of(results[0]) == []
    assert rules_of(results[1]) == ["basic-credentials", "basic-fallback"]
    fallback = results[1].findings[1]
    assert fallback.evidence["oauth_attempt"] == challenge.id
    assert fallback.evidence["oauth_outcome"] == "refused"


def test_basic_from_another_client_or_host_is_not_a_fallback() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    other_client = exchange(basic("alice", "pw"), client="10.0.0.8", after=1)
    other_host = exchange(basic("alice", "pw"), host="autodiscover.contoso.com", after=1)
    results = run(challenge, other_client, other_host)
    assert "basic-fallback" not in rules_of(results[1]) + rules_of(results[2])


def test_fallback_window_is_bounded() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    much_later = exchange(basic("alice", "pw"), after=3600)
    assert "basic-fallback" not in rules_of(run(challenge, much_later)[1])


def test_fallback_to_negotiate_is_reported_once_per_challenge() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    first = exchange("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag", after=1)
    second = exchange("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag", after=2)
    results = run(challenge, first, second)
    assert "basic-fallback" in rules_of(results[1])
    assert "basic-fallback" not in rules_of(results[2])


def test_rejected_bearer_carries_the_decoded_diagnostics() -> None:
    diag = (
        '2000003;reason="The hostname component of the audience claim value is invalid. '
        "Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\""
    )
    token = unsigned_jwt({"iss": "x"}, header={"alg": "RS256"}, signature=b"abc")
    [result] = run(
        exchange(
            f"Bearer {token}",
            status=401,
            response_headers=(
                ("WWW-Authenticate", BEARER_CHALLENGE + ', error="invalid_token"'),
                ("x-ms-diagnostics", diag),
            ),
        )
    )
    rejected = [f for f in result.findings if f.rule == "bearer-rejected"]
    assert len(rejected) == 1
    evidence = rejected[0].evidence
    assert evidence["x-ms-diagnostics"] == {
        "code": 2000003,
        "reason": "The hostname component of the audience claim value is invalid. Expected "
        "'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.",
        "category": "invalid_resource",
    }
    assert evidence["error"] == "invalid_token"
    assert "remedy" in evidence


def test_empty_bearer_probe_is_not_malformed_nor_rejected() -> None:
    [result] = run(exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),)))
    assert rules_of(result) == []
    assert result.auth.token is not None and result.auth.token.kind == "empty"


def test_basic_offered_beside_bearer_is_reported_once_per_host_and_path() -> None:
    headers = (("WWW-Authenticate", BEARER_CHALLENGE), ("WWW-Authenticate", 'Basic realm="mail.contoso.com"'))
    results = run(
        exchange(None, status=401, response_headers=headers), exchange(None, status=401, response_headers=headers)
    )
    assert rules_of(results[0]) == ["basic-offered"]
    assert rules_of(results[1]) == []


def test_bearer_alone_is_not_basic_offered() -> None:
    [result] = run(exchange(None, status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),)))
    assert "basic-offered" not in rules_of(result)


def test_oauth_not_offered() -> None:
    [result] = run(
        exchange(None, status=401, response_headers=(("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")))
    )
    assert rules_of(result) == ["oauth-not-offered"]


def test_a_200_offers_nothing_and_is_fine() -> None:
    [result] = run(exchange(None, status=200))
    assert rules_of(result) == []
    assert result.auth.scheme is None


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


def test_malformed_basic_is_reported() -> None:
    [result] = run(exchange("Basic !!!notbase64"))
    assert "auth-header-malformed" in rules_of(result)


def test_notices_become_catalogue_findings() -> None:
    analyzer = Analyzer(Trust(), Policy())
    out = analyzer.feed(Notice("capture-gap", "12 bytes missing", "x.pcap", evidence={"connection": "a -> b"}))
    assert isinstance(out, Finding)
    assert (out.rule, out.severity, out.evidence["source"]) == ("capture-gap", "warning", "x.pcap")
    unknown = analyzer.feed(Notice("no-such-rule", "?", "x.pcap"))
    assert isinstance(unknown, Finding) and unknown.rule == "inspector-error"


def test_client_state_is_bounded() -> None:
    analyzer = Analyzer(Trust(), Policy(), max_state=100)
    challenge = (("WWW-Authenticate", BEARER_CHALLENGE),)
    for n in range(500):
        analyzer.feed(exchange("Bearer", status=401, response_headers=challenge, client=f"10.0.{n // 256}.{n % 256}"))
    assert len(analyzer._oauth_failed) == 100
    # The most recent clients are the ones remembered: a fallback from the last one is still seen.
    retry = analyzer.feed(exchange(basic("a", "b"), client="10.0.1.243", after=1))
    assert isinstance(retry, ExchangeResult) and "basic-fallback" in rules_of(retry)
