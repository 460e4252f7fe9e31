"""What a check reports: a stable ID, PASS/WARN/FAIL/SKIP, why, and for WARN/FAIL the cmdlet or step that fixes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
STATUSES: tuple[Status, ...] = ("PASS", "WARN", "FAIL", "SKIP")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    title: str
    needs: str
    """The options that feed it, for SKIP messages and the README."""


# Stable IDs: never renamed or reused (issue 5). Order is the order they run and print in.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("cert.readable", "The exported auth certificate can be read", "--cert (or a bundle carrying it)"),
    CheckSpec("cert.validity", "The auth certificate is valid now and not about to expire", "--cert"),
    CheckSpec("cert.key-size", "The auth certificate has an RSA key of at least 2048 bits", "--cert"),
    CheckSpec(
        "cert.is-current",
        "The certificate is Exchange's current auth certificate; a next one is also uploaded",
        "--cert with --exchange-config or --psrp",
    ),
    CheckSpec("exchange.partner-app", "A partner application for the caller exists, enabled, with a linked account",
              "--exchange-config or --psrp"),
    CheckSpec("exchange.app-account", "The linked account exists and is hidden from address lists",
              "--exchange-config or --psrp"),
    CheckSpec("exchange.roles", "UserApplication and ArchiveApplication are assigned to the linked account",
              "--exchange-config or --psrp"),
    CheckSpec("exchange.auth-server", "An ACS auth server for the realm (seed step 1)", "--exchange-config or --psrp"),
    CheckSpec("exchange.oauth-vdirs", "EWS and Autodiscover virtual directories accept OAuth",
              "--exchange-config or --psrp"),
    CheckSpec("exchange.metadata", "Exchange serves its auth metadata document, listing the certificate",
              "--exchange"),
    CheckSpec("exchange.challenge", "EWS answers an unauthenticated request with Exchange's Bearer challenge",
              "--exchange"),
    CheckSpec("entra.sp-key", "The Skype for Business Online service principal holds the certificate as a Verify key",
              "--sp-credentials or --graph"),
    CheckSpec("traffic.s2s", "Captured S2S tokens come from the expected issuer and realm and verify", "--capture"),
)  # fmt: skip
CHECK_IDS: tuple[str, ...] = tuple(spec.id for spec in CHECKS)


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    status: Status
    reason: str
    remedy: str | None = None
    """For WARN/FAIL: the exact cmdlet or step that fixes it."""
    evidence: dict[str, object] = field(default_factory=dict)
    """What the verdict rests on (thumbprints, dates, URLs, statuses). Never secrets."""


def passed(check_id: str, reason: str, **evidence: object) -> Check:
    return Check(check_id, "PASS", reason, None, evidence)


def warned(check_id: str, reason: str, remedy: str, **evidence: object) -> Check:
    return Check(check_id, "WARN", reason, remedy, evidence)


def failed(check_id: str, reason: str, remedy: str, **evidence: object) -> Check:
    return Check(check_id, "FAIL", reason, remedy, evidence)


def skipped(check_id: str, reason: str, **evidence: object) -> Check:
    return Check(check_id, "SKIP", reason, None, evidence)


def summary(checks: list[Check]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for check in checks:
        counts[check.status] += 1
    return counts


def exit_status(checks: list[Check], *, strict: bool) -> int:
    """0 no FAIL (and no WARN with ``--strict``), 1 otherwise. Usage errors (2) never reach here."""
    if any(c.status == "FAIL" for c in checks):
        return 1
    if strict and any(c.status == "WARN" for c in checks):
        return 1
    return 0
