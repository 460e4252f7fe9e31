"""The run's tally: what is published is counted once, whoever publishes it (run loop, `token`, addon)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from inspector.analyze import AuthSummary, ExchangeResult
from inspector.cli import main
from inspector.lab.certs import exchange_auth_cert, new_rsa_key, write_cer
from inspector.rules import finding
from inspector.tally import Totals
from tests.builders import exchange


def _weak_cer(folder: Path) -> Path:
    return write_cer(folder / "weak.cer", exchange_auth_cert(now=datetime.now(UTC), key=new_rsa_key(1024)))


def test_token_counts_a_trust_finding_once(tmp_path: Path) -> None:
    """`token` used to count the trust store's findings twice in its summary (and so in its exit code)."""
    result = CliRunner().invoke(main, ["token", "Bearer abc", "--cert", str(_weak_cer(tmp_path)), "--format", "json"])
    document = json.loads(result.stdout)
    listed = [f["rule"] for f in document["findings"] if f["rule"] == "cert-weak-key"]
    assert listed == ["cert-weak-key"]
    assert document["summary"]["rules"]["cert-weak-key"] == 1
    warnings = sum(1 for f in document["findings"] if f["severity"] == "warning")
    assert document["summary"]["findings"]["warning"] == warnings == 1
    assert document["summary"]["exchanges"] == 1


def test_analyze_counts_a_trust_finding_once(tmp_path: Path) -> None:
    har = tmp_path / "empty.har"
    har.write_text('{"log": {"version": "1.2", "entries": []}}', encoding="utf-8")
    result = CliRunner().invoke(main, ["analyze", str(har), "--cert", str(_weak_cer(tmp_path)), "--format", "json"])
    document = json.loads(result.stdout)
    assert [f["rule"] for f in document["findings"]] == ["cert-weak-key"]
    assert document["summary"]["rules"] == {"cert-weak-key": 1}
    assert document["summary"]["findings"] == {"error": 0, "warning": 1, "info": 0}


def test_an_exchange_counts_its_scheme_signature_and_findings() -> None:
    totals = Totals()
    item = exchange("Basic dXNlcjpwYXNz")
    expired = finding("token-expired", "expired", "x:1")
    totals.add(ExchangeResult(item, AuthSummary("basic"), (expired,)))
    totals.add(ExchangeResult(item, AuthSummary(None)))
    totals.add(finding("capture-gap", "gap"))
    assert totals.exchanges == 2
    assert totals.schemes == {"basic": 1, "none": 1}
    assert totals.signatures == {}
    assert totals.severities == {"error": 1, "warning": 1, "info": 0}
    assert totals.rules == {"token-expired": 1, "capture-gap": 1}


def test_merge_adds_every_count() -> None:
    one, two = Totals(), Totals()
    one.add(finding("capture-gap", "gap"))
    two.add(finding("capture-gap", "gap"))
    two.add(finding("token-opaque", "opaque"))
    one.merge(two)
    assert one.rules == {"capture-gap": 2, "token-opaque": 1}
    assert one.severities == {"error": 0, "warning": 2, "info": 1}
