"""Certificate hygiene of the trust store: weak keys, expired and expiring certificates."""

from __future__ import annotations

from inspector.policy import Policy
from inspector.rules import Finding, RuleId, finding
from inspector.trust import Trust

RULES: tuple[RuleId, ...] = ("cert-weak-key", "cert-expired", "cert-expiring")


def trust_store_findings(trust: Trust, policy: Policy) -> list[Finding]:
    """Each distinct key judged at ``policy.now`` (expiry is skipped when the caller gave no moment)."""
    out: list[Finding] = []
    seen: set[str | None] = set()
    for key in trust.keys:
        if key.x5t in seen:
            continue
        seen.add(key.x5t)
        bits = key.rsa_bits
        if bits is not None and bits < policy.min_rsa_bits:
            out.append(
                finding(
                    "cert-weak-key",
                    f"{key.label()} has a {bits}-bit RSA key (at least {policy.min_rsa_bits} expected)",
                    key=key.label(),
                    bits=bits,
                )
            )
        now = policy.now
        if now is None or key.not_after is None:
            continue
        if key.not_after < now:
            out.append(
                finding(
                    "cert-expired",
                    f"{key.label()} expired on {key.not_after:%Y-%m-%d}",
                    key=key.label(),
                    not_after=key.not_after.isoformat(),
                )
            )
        elif (key.not_after - now).days < policy.expiring_days:
            days = (key.not_after - now).days
            out.append(
                finding(
                    "cert-expiring",
                    f"{key.label()} expires on {key.not_after:%Y-%m-%d}, in {days} days",
                    key=key.label(),
                    not_after=key.not_after.isoformat(),
                    days_left=days,
                )
            )
    return out
