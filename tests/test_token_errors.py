"""The token-endpoint error codes: the table, and reading codes and thumbprints out of Entra/ACS messages."""

from __future__ import annotations

from inspector.token_errors import KEY_NOT_FOUND_CODES, KNOWN_TOKEN_ERRORS, error_codes, thumbprint_in

REQUIRED = {
    "AADSTS700027", "AADSTS50012", "AADSTS7000215", "AADSTS700016", "AADSTS500011",
    "AADSTS90002", "AADSTS700024", "AADSTS50013", "ACS50012", "ACS90019",
}  # fmt: skip


def test_the_table_holds_every_required_code_with_meaning_and_remedy() -> None:
    assert set(KNOWN_TOKEN_ERRORS) >= REQUIRED
    for code, known in KNOWN_TOKEN_ERRORS.items():
        assert known.code == code and known.meaning and known.remedy
    assert set(KNOWN_TOKEN_ERRORS) >= KEY_NOT_FOUND_CODES
    assert "provision step 5" in KNOWN_TOKEN_ERRORS["AADSTS700027"].remedy


def test_codes_are_read_in_order_once_in_any_case() -> None:
    text = "AADSTS70002: Error validating credentials. AADSTS50012: Client assertion … AADSTS70002 again"
    assert error_codes(text) == ["AADSTS70002", "AADSTS50012"]
    assert error_codes("acs50012: Authentication failed.") == ["ACS50012"]
    assert error_codes("XAADSTS50012 AADSTS12 nothing") == []
    assert len(error_codes(" ".join(f"AADSTS{n}" for n in range(10000, 10100)))) == 8


def test_the_thumbprint_the_client_used() -> None:
    hexed = "ab" + "0" * 38
    assert (
        thumbprint_in(f"[Reason - The key was not found., Thumbprint of key used by client: '{hexed}']")
        == hexed.upper()
    )
    assert thumbprint_in("Thumbprint of key used by client: 'not-hex'") is None
    assert thumbprint_in("no thumbprint here") is None
