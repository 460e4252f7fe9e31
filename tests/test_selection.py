"""Filters and suppressions on results, before they are counted and written."""

from __future__ import annotations

import pytest

from inspector.model import ConfigError
from inspector.rules import Finding
from inspector.selection import build_selection, parse_config_ignores


def _finding(rule: str = "basic-credentials", severity: str = "error", host: str | None = None) -> Finding:
    return Finding(rule, severity, "m", "x:1", {"host": host} if host else {})  # type: ignore[arg-type]


def test_rule_and_severity_filters() -> None:
    only = build_selection(rules=("basic-credentials",))
    assert only.apply(_finding()) is not None and only.apply(_finding("signing-key-unknown", "warning")) is None
    errors = build_selection(severity="error")
    assert errors.apply(_finding("signing-key-unknown", "warning")) is None


def test_a_suppression_marks_and_keeps() -> None:
    selection = build_selection(ignores=("basic-credentials:mail.contoso.com",))
    marked = selection.apply(_finding(host="MAIL.contoso.com"))
    assert isinstance(marked, Finding) and marked.suppressed is not None and "--ignore" in marked.suppressed
    other = selection.apply(_finding(host="other.contoso.com"))
    assert isinstance(other, Finding) and other.suppressed is None


def test_configured_suppressions_need_a_reason_and_a_known_rule() -> None:
    [entry] = parse_config_ignores([{"rule": "basic-offered", "reason": "legacy"}], "cfg")
    assert entry.reason == "legacy" and entry.host is None
    with pytest.raises(ConfigError, match="needs a reason"):
        parse_config_ignores([{"rule": "basic-offered"}], "cfg")
    with pytest.raises(ConfigError, match="did you mean basic-offered"):
        parse_config_ignores([{"rule": "basic-ofered", "reason": "x"}], "cfg")
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config_ignores([{"rule": "basic-offered", "reason": "x", "until": "2027"}], "cfg")
