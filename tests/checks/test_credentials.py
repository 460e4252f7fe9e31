"""One request's Authorization header on its own: Basic passwords (never shown), unusable values, legacy auth."""

from __future__ import annotations

from dataclasses import replace

from inspector.checks import credentials
from inspector.http_auth import parse_authorization
from tests.builders import basic, exchange
from tests.checks.kit import TYPE1, TYPE2, TYPE3, feed, rules_of, run


def test_basic_credentials_show_the_user_never_the_password() -> None:
    [result] = run(exchange(basic("alice", "S3cret:pw")))
    assert rules_of(result) == ["basic-credentials"]
    assert result.auth.user == "alice"
    assert "S3cret" not in repr(result.findings)


def test_basic_on_mrsproxy_is_by_design() -> None:
    [result] = run(exchange(basic("migration", "pw"), target="/EWS/mrsproxy.svc"))
    assert rules_of(result) == []
    assert result.auth.scheme == "basic"


def test_malformed_basic_is_reported() -> None:
    [result] = run(exchange("Basic !!!notbase64"))
    assert "auth-header-malformed" in rules_of(result)


def test_two_authorization_headers_judge_the_first_and_say_so() -> None:
    one = exchange(basic("alice", "pw"))
    two = replace(one, request=replace(one.request, headers=(*one.request.headers, ("Authorization", "Bearer x"))))
    [result] = run(two)
    assert rules_of(result) == ["auth-header-malformed", "basic-credentials"]
    assert result.findings[0].evidence["count"] == 2
    assert result.auth.scheme == "basic"
    assert credentials.repeated_authorization(one, 1) == []


def test_ntlm_is_legacy_auth_at_its_type_3_only() -> None:
    _, results = feed(
        exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),)), exchange(TYPE3, after=1)
    )
    assert rules_of(results[0]) == []
    assert rules_of(results[1]) == ["legacy-auth"]
    assert results[1].auth.user == "CONTOSO\\svc"
    assert credentials.user_of(parse_authorization(TYPE1)) is None
