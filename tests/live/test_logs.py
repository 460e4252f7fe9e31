"""The addon's log: one record per flow with its findings, never at ERROR, its own failures logged boundedly."""

from __future__ import annotations

import logging

import pytest

from inspector.live.logs import MAX_INTERNAL_ERROR_LOGS, InternalErrors, log_findings
from inspector.rules import finding


def test_a_flows_findings_are_one_record_at_warning_or_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="inspector.live")
    log_findings((finding("token-expired", "expired\x1b[2J"), finding("token-opaque", "opaque")), None)
    log_findings((finding("token-opaque", "opaque"),), None)
    first, second = caplog.records
    assert first.levelno == logging.WARNING
    assert second.levelno == logging.INFO
    text = first.getMessage()
    assert text.count("\n") == 1
    assert "oauth-inspector [token-expired] error: expired\\x1b[2J" in text


def test_internal_errors_are_counted_each_and_logged_up_to_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="inspector.live")
    errors = InternalErrors()
    items = [errors.failed(f"flow-{n}", ValueError("boom")) for n in range(MAX_INTERNAL_ERROR_LOGS + 10)]
    assert errors.count == MAX_INTERNAL_ERROR_LOGS + 10
    assert all(item.rule == "inspector-error" for item in items)
    assert items[0].evidence == {"flow": "flow-0", "error": "ValueError"}
    assert len(caplog.records) == MAX_INTERNAL_ERROR_LOGS + 1  # the bound, and the line saying so
    assert caplog.records[0].exc_info is not None  # the first with its traceback
    assert all(r.levelno < logging.ERROR for r in caplog.records)
