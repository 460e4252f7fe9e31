"""The checks end to end through ``gather`` and ``run_checks``: a healthy setup passes everything, and a
certificate alone runs the certificate checks and skips the rest, naming the option each needs. Each family of checks
has its own file (test_checks_cert.py, _exchange, _entra, _traffic) with a fixture that makes each check WARN or FAIL
with the right remedy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspector.verifyoauth.context import Request
from inspector.verifyoauth.model import CHECK_IDS
from tests.verifyoauth.conftest import check_map


def test_healthy_setup_passes_every_check(full_request: Callable[..., Request]) -> None:
    checks = check_map(full_request())
    assert list(checks) == list(CHECK_IDS)
    assert {c.id: c.status for c in checks.values()} == dict.fromkeys(CHECK_IDS, "PASS"), {
        c.id: c.reason for c in checks.values() if c.status != "PASS"
    }
    assert all(c.remedy is None for c in checks.values())
    assert "2 of 2 S2S token(s)" in checks["traffic.s2s"].reason


def test_certificate_alone_runs_the_certificate_checks_and_skips_the_rest(cert_file: Path) -> None:
    checks = check_map(Request(cert=cert_file))
    assert [c.id for c in checks.values() if c.status == "PASS"] == ["cert.readable", "cert.validity", "cert.key-size"]
    skipped = {c.id: c.reason for c in checks.values() if c.status == "SKIP"}
    assert "--exchange-config" in skipped["cert.is-current"]
    assert "--exchange-config" in skipped["exchange.partner-app"]
    assert "--exchange https://" in skipped["exchange.metadata"]
    assert "--sp-credentials" in skipped["entra.sp-key"] and "--graph" in skipped["entra.sp-key"]
    assert "--capture" in skipped["traffic.s2s"]
