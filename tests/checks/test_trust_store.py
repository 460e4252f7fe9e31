"""Certificate hygiene of the trust store: each rule fires, and a healthy certificate raises none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from inspector.analyze import Analyzer
from inspector.checks.trust_store import trust_store_findings
from inspector.lab.certs import LabCert, exchange_auth_cert, new_rsa_key, write_cer
from inspector.policy import Policy
from inspector.trust import build_trust
from tests.builders import CLOCK


def _hygiene(cert: LabCert, tmp_path: Path) -> list[str]:
    trust = build_trust(certs=[write_cer(tmp_path / "c.cer", cert)])
    return [f.rule for f in Analyzer(trust, Policy(now=CLOCK)).trust_findings()]


def test_certificate_hygiene(tmp_path: Path) -> None:
    expired = exchange_auth_cert(now=CLOCK, not_before=CLOCK - timedelta(days=400), not_after=CLOCK - timedelta(days=1))
    expiring = exchange_auth_cert(
        now=CLOCK, not_before=CLOCK - timedelta(days=400), not_after=CLOCK + timedelta(days=30)
    )
    healthy = exchange_auth_cert(now=CLOCK)
    weak = exchange_auth_cert(now=CLOCK, key=new_rsa_key(1024))
    assert _hygiene(expired, tmp_path) == ["cert-expired"]
    assert _hygiene(expiring, tmp_path) == ["cert-expiring"]
    assert _hygiene(healthy, tmp_path) == []
    assert _hygiene(weak, tmp_path) == ["cert-weak-key"]


def test_hygiene_needs_a_moment_to_judge_expiry(tmp_path: Path) -> None:
    expired = exchange_auth_cert(now=CLOCK, not_before=CLOCK - timedelta(days=400), not_after=CLOCK - timedelta(days=1))
    trust = build_trust(certs=[write_cer(tmp_path / "c.cer", expired)])
    assert Analyzer(trust, Policy(now=None)).trust_findings() == []


def test_the_analyzer_reports_the_family_as_is(tmp_path: Path) -> None:
    weak = build_trust(certs=[write_cer(tmp_path / "w.cer", exchange_auth_cert(now=CLOCK, key=new_rsa_key(1024)))])
    policy = Policy(now=CLOCK)
    assert Analyzer(weak, policy).trust_findings() == trust_store_findings(weak, policy)
