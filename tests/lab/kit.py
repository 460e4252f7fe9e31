"""One token kit per test session: RSA key generation is the slow part, so keys are made once and shared."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit

LAB_NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)

# What Exchange (the lab server, and the recorded lab captures) answers each token scenario with: 200, or 401 with
# this x-ms-diagnostics code.
ACCEPTED = {"healthy-user", "app-only", "acs-actor", "dangerous-header"}
DIAGNOSTIC_CODES = {
    "expired": 2000001,
    "not-yet-valid": 2000001,
    "wrong-principal": 2000009,
    "wrong-realm": 2000004,
    "forged-signature": 2000000,
    "unknown-key": 2000000,
    "naked-alg-none": 2000001,
    "unsigned-actor": 2000001,
    "hs256": 2000001,
    "issuer-nameid-mismatch": 2000001,
    "audience-host-mismatch": 2000003,
    "garbage": 2000001,
}


@cache
def session_kit() -> TokenKit:
    return TokenKit(
        auth_cert=exchange_auth_cert(now=LAB_NOW),
        acs_cert=acs_signing_cert(now=LAB_NOW),
        rogue_cert=exchange_auth_cert(now=LAB_NOW),
        now=LAB_NOW,
    )
