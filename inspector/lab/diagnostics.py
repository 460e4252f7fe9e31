"""The ``x-ms-diagnostics`` the lab's Exchange answers a refused token with (reference §3.3), keyed by the rule that
makes it refuse the token.

One table for both sides of the lab: the live server judges a token with the engine and answers for the rules it
raised; the recorded captures answer for the rules each scenario is known to raise. So both say the same thing
for the same token.
"""

from __future__ import annotations

from collections.abc import Iterable

PARSE_ERROR = '2000001;reason="OAuth token submitted with the request cannot be parsed.";error_category="invalid_token"'
GENERIC_REJECTION = '2000001;reason="The token is invalid.";error_category="invalid_token"'
"""What Exchange says when no more telling reason applies."""
INVALID_SIGNATURE = '2000000;reason="The token has an invalid signature.";error_category="invalid_signature"'
BY_RULE: tuple[tuple[str, str], ...] = (
    ("token-malformed", PARSE_ERROR),
    ("token-opaque", PARSE_ERROR),
    ("auth-header-malformed", PARSE_ERROR),
    ("signature-invalid", INVALID_SIGNATURE),
    ("signing-key-unknown", INVALID_SIGNATURE),
    ("signing-key-wrong-issuer", INVALID_SIGNATURE),
    ("issuer-unexpected", "2000009;reason=\"The issuer of the token is unknown. Issuer was '{iss}'.\";"
     'error_category="invalid_issuer"'),
    ("realm-mismatch", "2000004;reason=\"The tenant for tenant guid '{realm}' does not exist.\";"
     'error_category="invalid_tenant"'),
    ("audience-mismatch", "2000003;reason=\"The audience claim value is invalid '{aud}'.\";"
     'error_category="invalid_resource"'),
)  # fmt: skip
"""Rule -> diagnostics, most telling first; ``{iss}``, ``{realm}`` and ``{aud}`` are filled in."""
ACCEPTED_WARNINGS = frozenset({"dangerous-header"})
"""Findings Exchange lets pass (it ignores a ``jku``); any other finding on a token makes the lab reject it."""


def accepted(rules: Iterable[str]) -> bool:
    """Whether Exchange takes a token that raises these rules."""
    return all(rule in ACCEPTED_WARNINGS for rule in rules)


def rejection(rules: Iterable[str], *, iss: str, realm: str, aud: str) -> str:
    """The diagnostics for a token refused for these rules: the most telling rule's, else the generic one."""
    raised = set(rules)
    for rule, text in BY_RULE:
        if rule in raised:
            return text.format(iss=iss, realm=realm, aud=aud)
    return GENERIC_REJECTION


def ssl_offloading(host: str) -> str:
    """The 2000003 answer of an Exchange behind SSL offloading (reference §3.1, verbatim but for the host)."""
    return (
        '2000003;reason="The hostname component of the audience claim value is invalid. '
        f"Expected 'https://{host}'. Actual 'http://{host}'.\";error_category=\"invalid_resource\""
    )
