from __future__ import annotations

from inspector.http_auth import parse_ms_diagnostics
from inspector.lab.diagnostics import GENERIC_REJECTION, INVALID_SIGNATURE, accepted, rejection, ssl_offloading

VALUES = {"iss": "00000004-0000-0ff1-ce00-000000000000@r", "realm": "r", "aud": "00000002/mail@r"}


def test_the_most_telling_rule_decides_whatever_the_order_raised() -> None:
    assert rejection(["token-expired", "signature-invalid"], **VALUES) == INVALID_SIGNATURE
    both = rejection(["audience-mismatch", "token-malformed"], **VALUES)
    assert parse_ms_diagnostics(both).code == 2000001 and "cannot be parsed" in both


def test_the_reason_names_the_tokens_values() -> None:
    assert "Issuer was '00000004-0000-0ff1-ce00-000000000000@r'" in rejection(["issuer-unexpected"], **VALUES)
    assert "tenant guid 'r'" in rejection(["realm-mismatch"], **VALUES)
    assert "invalid '00000002/mail@r'" in rejection(["audience-mismatch"], **VALUES)


def test_a_value_with_braces_is_inserted_literally() -> None:
    assert "Issuer was '{realm}@x'" in rejection(["issuer-unexpected"], iss="{realm}@x", realm="r", aud="")


def test_rules_without_their_own_diagnostics_get_the_generic_one() -> None:
    assert rejection(["token-expired", "alg-not-allowed"], **VALUES) == GENERIC_REJECTION
    assert rejection([], **VALUES) == GENERIC_REJECTION


def test_only_findings_exchange_ignores_are_accepted() -> None:
    assert accepted([]) and accepted(["dangerous-header"])
    assert not accepted(["dangerous-header", "token-expired"])


def test_ssl_offloading_names_the_host_on_both_schemes() -> None:
    text = ssl_offloading("mail.fabrikam.com")
    assert parse_ms_diagnostics(text).code == 2000003
    assert "Expected 'https://mail.fabrikam.com'. Actual 'http://mail.fabrikam.com'." in text
