"""The addon's plain-text views: the running totals with a verdict, and one flow's tokens and findings, inert."""

from __future__ import annotations

from inspector.live.render import flow_text, summary_text
from inspector.rules import finding
from inspector.tally import Totals


def _totals() -> Totals:
    totals = Totals()
    totals.count_exchange("bearer", "valid", ())
    totals.count_exchange("bearer", "invalid", (finding("signature-invalid", "bad"),))
    totals.add(finding("token-opaque", "opaque"))
    return totals


def test_the_summary_counts_and_judges_at_the_fail_on_threshold() -> None:
    text = summary_text(_totals(), fail_on="error", internal_errors=2, repeats=1)
    assert text.startswith("oauth-inspector summary: 2 exchanges judged (1 of them repeats")
    assert "signatures:   invalid 1, valid 1" in text
    assert "findings:     error 1, warning 0, info 1" in text
    assert "signature-invalid" in text and "internal errors: 2" in text
    assert text.endswith("verdict: FAIL: 1 finding(s) at or above error")
    assert summary_text(Totals(), fail_on="info").endswith("verdict: PASS: no finding at or above info")
    assert "verdict" not in summary_text(_totals(), fail_on="never")


def test_a_flows_text_escapes_what_came_from_the_wire() -> None:
    data = {
        "method": "POST",
        "host": "mail\x1b[2J",
        "target": "/ews",
        "status": 401,
        "auth": {
            "scheme": "bearer",
            "token": {"kind": "s2s-user", "issuer": "x", "outer": {"header": {}, "claims": {"aud": "a\u202eb"}}},
        },
        "findings": [{"severity": "error", "rule": "token-expired", "message": "expired\x07"}],
    }
    text = flow_text("f1", data)
    assert "mail\\x1b[2J" in text and "\x1b" not in text
    assert "a\\u202eb" in text and "\u202e" not in text
    assert "expired\\x07" in text
    assert "signature: [dropped]" in text
    assert flow_text("f2", {"findings": []}).endswith("auth: none\n  findings: none")
