"""verify-oauth's three outputs from checks made here: JUnit counts what CI must fail on, JSON is strict and carries
titles and evidence, the table shows the fix; wire text arrives escaped in every one."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from rich.console import Console

from inspector.verifyoauth.model import Check
from inspector.verifyoauth.report import render_table, to_json, to_junit, write_json

GENERATED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CHECKS = [
    Check("cert.readable", "PASS", "read OAuthCert.cer"),
    Check("cert.validity", "WARN", "expires in 20 days", "Set-AuthConfig -NewCertificateThumbprint …"),
    Check("exchange.challenge", "FAIL", "server said \x1b[31mno\x1b[0m", "Check EWS", {"ratio": float("nan")}),
    Check("traffic.s2s", "SKIP", "no --capture"),
]


def _suite(strict: bool) -> ET.Element:
    root = ET.fromstring(to_junit(CHECKS, generated=GENERATED, strict=strict))  # noqa: S314 - our own output
    suite = root.find("testsuite")
    assert suite is not None
    return suite


def test_junit_fails_on_fail_and_on_warn_only_when_strict() -> None:
    plain, strict = _suite(strict=False), _suite(strict=True)
    assert (plain.get("tests"), plain.get("failures"), plain.get("skipped")) == ("4", "1", "1")
    assert strict.get("failures") == "2"
    cases = {case.get("name"): case for case in plain.iter("testcase")}
    assert cases["cert.validity"].find("failure") is None
    assert "WARN: expires in 20 days" in (cases["cert.validity"].findtext("system-out") or "")
    failure = cases["exchange.challenge"].find("failure")
    assert failure is not None and "\x1b" not in (failure.get("message") or "") + (failure.text or "")
    assert "fix: Check EWS" in (failure.text or "")
    assert cases["traffic.s2s"].find("skipped") is not None
    assert cases["exchange.challenge"].get("classname") == "verify-oauth.exchange"


def test_json_is_strict_with_titles_summary_and_escaped_text() -> None:
    out = io.StringIO()
    write_json(CHECKS, out, generated=GENERATED, strict=True)

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    document = json.loads(out.getvalue(), parse_constant=refuse)
    assert document == json.loads(json.dumps(to_json(CHECKS, generated=GENERATED, strict=True)))
    assert document["generated"] == "2026-11-02T09:30:00Z" and document["strict"] is True
    assert document["summary"] == {"PASS": 1, "WARN": 1, "FAIL": 1, "SKIP": 1}
    failed = document["checks"][2]
    assert failed["title"] == "EWS answers an unauthenticated request with Exchange's Bearer challenge"
    assert "\x1b" not in failed["reason"] and failed["evidence"] == {"ratio": "NaN"}
    assert document["checks"][0]["remedy"] is None


def test_table_shows_each_fix_and_what_strict_does() -> None:
    out = io.StringIO()
    render_table(CHECKS, Console(file=out, width=200, force_terminal=False), strict=True)
    text = out.getvalue()
    assert "fix: Set-AuthConfig -NewCertificateThumbprint" in text
    assert "1 PASS, 1 WARN, 1 FAIL, 1 SKIP  (--strict: warnings fail)" in text
    assert "\x1b" not in text
