"""The x-ms-diagnostics knowledge base: the reference table's codes, refined by reason, never guessed."""

from __future__ import annotations

import pytest

from inspector.http_auth import parse_ms_diagnostics
from inspector.ms_diagnostics import KNOWN_DIAGNOSTICS, lookup


def test_known_diagnostics_cover_the_reference_table() -> None:
    assert set(KNOWN_DIAGNOSTICS) == {
        2000000, 2000001, 2000003, 2000004, 2000005, 2000008, 2000009, 2000020, 4000000, 3005004,
        3000003,  # SharePoint's invalid audience (issue 14), also read from JSON error bodies
    }  # fmt: skip
    for code, known in KNOWN_DIAGNOSTICS.items():
        assert known.code == code
        assert known.category and known.meaning and known.likely_cause and known.remedy
    assert "Set-AuthServer <name> -RefreshAuthMetadata" in KNOWN_DIAGNOSTICS[2000000].remedy
    assert KNOWN_DIAGNOSTICS[3005004].category == "invalid_client"
    with pytest.raises(TypeError):
        KNOWN_DIAGNOSTICS[1] = KNOWN_DIAGNOSTICS[2000000]  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "cause_fragment"),
    [
        ('2000000;reason="The token has an invalid signature.";error_category="invalid_signature"', "Stale auth"),
        ('2000001;reason="The token is invalid.";error_category="invalid_token"', "malformed"),
        (
            '2000001;reason="OAuth token submitted with the request cannot be parsed.";error_category="invalid_token"',
            "truncated",
        ),
        ('2000001;reason="OAuth token submitted with the request can not be parsed."', "truncated"),
        (
            '2000001;reason="The access token is acquired using an authentication method that is too weak to allow '
            'access for this application. Presented auth strength was 1, required is 2.";'
            'error_category="invalid_token"',
            "client secret",
        ),
        (
            '2000003;reason="The audience claim value is invalid \'aud\'.";error_category="invalid_resource"',
            "another resource",
        ),
        ('2000003;reason="The hostname component of the audience claim value is invalid."', "offloading"),
        ('2000005;reason="The user specified by the user-context in the token is ambiguous."', "duplicate"),
        ('2000005;reason="The user specified by the user-context in the token does not exist."', "not synchronised"),
        ('2000008;reason="The token should have valid permissions or linked account"', "LinkedAccount"),
        (
            '2000009;reason="The issuer of the token is unknown. '
            "Issuer was '00000001-0000-0000-c000-000000000000@x'.\"",
            "another tenant",
        ),
        (
            '2000020;reason="xms_trpid claim was not present";error_category="insufficient_claims"',
            "tenant restrictions",
        ),
        ("4000000;reason=\"Flighting is not enabled for domain 'mail.dummy.uk'.\"", "Hybrid Modern Auth"),
        (
            '3005004;reason="The token does not contain valid algorithm in header.";category="invalid_client"',
            "alg none",
        ),
    ],
)
def test_known_diagnostic_lookup(value: str, cause_fragment: str) -> None:
    known = parse_ms_diagnostics(value).known
    assert known is not None
    assert cause_fragment in known.likely_cause


def test_unknown_or_contradicting_diagnostics_are_not_explained() -> None:
    assert parse_ms_diagnostics('1234567;reason="new";error_category="whatever"').known is None
    # A known number with another category is another meaning: no guess.
    assert parse_ms_diagnostics('2000000;reason="x";error_category="invalid_user"').known is None
    assert parse_ms_diagnostics('2000000;reason="x";error_category="INVALID_SIGNATURE"').known is not None


def test_lookup_without_a_code_or_with_an_unknown_one_is_none() -> None:
    assert lookup(None, "The token has an invalid signature.", None) is None
    assert lookup(1234567, None, None) is None
    assert lookup(2000000, None, None) is KNOWN_DIAGNOSTICS[2000000]


def test_a_reason_refines_the_general_entry() -> None:
    general = KNOWN_DIAGNOSTICS[2000001]
    refined = lookup(2000001, "OAuth token submitted with the request cannot be parsed.", "invalid_token")
    assert refined is not None
    assert refined is not general
    assert refined.code == 2000001
