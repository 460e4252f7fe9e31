"""One token kit per test session: RSA key generation is the slow part, so keys are made once and shared."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit

LAB_NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

# The rule IDs the lab may expect (the catalogue), kept here so lab tests need not import the engine.
CATALOGUE = {
    "basic-credentials",
    "basic-fallback",
    "bearer-rejected",
    "token-malformed",
    "token-unsigned",
    "alg-not-allowed",
    "signature-invalid",
    "issuer-unexpected",
    "realm-mismatch",
    "issuer-nameid-mismatch",
    "audience-mismatch",
    "token-expired",
    "token-not-yet-valid",
    "signed-with-expired-cert",
    "cert-expired",
    "signing-key-unknown",
    "legacy-auth",
    "basic-offered",
    "oauth-not-offered",
    "cert-expiring",
    "cert-weak-key",
    "dangerous-header",
}


@cache
def session_kit() -> TokenKit:
    return TokenKit(
        auth_cert=exchange_auth_cert(now=LAB_NOW),
        acs_cert=acs_signing_cert(now=LAB_NOW),
        rogue_cert=exchange_auth_cert(now=LAB_NOW),
        now=LAB_NOW,
    )
