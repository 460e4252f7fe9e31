"""The checks end to end through ``gather`` and ``run_checks`` (the runner): a healthy setup passes everything, and a
certificate alone runs the certificate checks and skips the rest, naming the option each needs. Each family of checks
has its own file (test_checks_cert.py, _exchange, _entra, _traffic) with a fixture that makes each check WARN or FAIL
with the right remedy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.verifyoauth import runner
from inspector.verifyoauth.context import Context, Request
from inspector.verifyoauth.model import CHECK_IDS, Check
from tests.verifyoauth.conftest import check_map, context


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


def test_a_check_that_breaks_fails_naming_the_bug_and_the_others_still_run(
    cert_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Context) -> Check:
        raise ValueError("boom \x1b[31m")

    monkeypatch.delenv("OAUTH_INSPECTOR_DEBUG", raising=False)
    monkeypatch.setitem(runner.CHECK_FUNCTIONS, "cert.validity", broken)
    checks = {c.id: c for c in runner.run_checks(context(Request(cert=cert_file)))}
    assert list(checks) == list(CHECK_IDS)
    assert checks["cert.validity"].status == "FAIL"
    assert "internal error in this check: ValueError: boom" in checks["cert.validity"].reason
    assert "\x1b" not in checks["cert.validity"].reason
    assert "bug in verify-oauth" in (checks["cert.validity"].remedy or "")
    assert checks["cert.readable"].status == checks["cert.key-size"].status == "PASS"
    monkeypatch.setenv("OAUTH_INSPECTOR_DEBUG", "1")
    with pytest.raises(ValueError, match="boom"):
        runner.run_checks(context(Request(cert=cert_file)))
