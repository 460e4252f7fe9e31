"""What a server's 401 offers, and a refused token with the server's reasons."""

from __future__ import annotations

from inspector.checks import responses
from tests.builders import BEARER_CHALLENGE, exchange, unsigned_jwt
from tests.checks.kit import rules_of, run


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


def test_offers_are_reported_once_per_client_host_and_path() -> None:
    reported: responses.ReportedOnce = set()
    first = exchange(None, status=401, target="/EWS/Exchange.asmx?x=1")
    assert responses.first_report(reported, "oauth-not-offered", first, first.host, 10)
    same_path = exchange(None, status=401, target="/ews/exchange.asmx")
    assert not responses.first_report(reported, "oauth-not-offered", same_path, same_path.host, 10)
    other_client = exchange(None, status=401, client="10.0.0.8")
    assert responses.first_report(reported, "oauth-not-offered", other_client, other_client.host, 10)
    # Full: still reported, no longer remembered (bounded state; a repeat beats unbounded memory).
    other_path = exchange(None, status=401, target="/autodiscover/autodiscover.svc")
    assert responses.first_report(reported, "oauth-not-offered", other_path, other_path.host, 2)
    assert len(reported) == 2
