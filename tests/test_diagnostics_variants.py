"""x-ms-diagnostics as services really send it: Microsoft's own spelling variants, and reasons in UTF-8."""

from __future__ import annotations

from inspector.http_auth import parse_ms_diagnostics
from inspector.ms_diagnostics import diagnostics_category


def test_the_insufficiant_claims_spelling_still_finds_the_explanation() -> None:
    # Microsoft's Global Secure Access documentation spells 2000020's category this way.
    value = (
        '2000020;reason="xms_trpid claim was not present but sec-tenant-restriction-access-policy header was '
        'in requires";error_category="insufficiant_claims"'
    )
    diagnostics = parse_ms_diagnostics(value)
    assert diagnostics.known is not None
    assert diagnostics.known.category == "insufficient_claims"
    assert diagnostics.category == "insufficiant_claims"  # the evidence keeps what was sent
    assert diagnostics_category("Insufficient-Claims") == "insufficient_claims"
    # A category that names something else is still not guessed at.
    assert parse_ms_diagnostics('2000020;reason="x";error_category="invalid_user"').known is None


def test_a_non_ascii_reason_is_decoded_not_garbled() -> None:
    reason = "Le jeton a expiré"
    wire = f'2000002;reason="{reason}";error_category="invalid_token"'.encode().decode("latin-1")
    assert parse_ms_diagnostics(wire).reason == reason
    # Text that is not UTF-8 underneath stays as it was read.
    assert parse_ms_diagnostics('2000002;reason="caf\xe9"').reason == "caf\xe9"
