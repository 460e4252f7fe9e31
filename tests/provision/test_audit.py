"""The audit log: each record is on disk when ``write`` returns, runs are told apart, secrets cannot be logged, and
an interruption is recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.provision.audit import AuditLog, read_records


def test_records_are_on_disk_as_soon_as_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = datetime(2026, 4, 21, 9, 30, 12, tzinfo=UTC)
    with AuditLog(path, clock=lambda: clock) as audit:
        audit.start("apply", domain="fabrikam.com")
        audit.write("action", action="2.1", outcome="created", sent=["New-MailUser -Name 'x'"])
        lines = path.read_text(encoding="utf-8").splitlines()  # read while the log is still open
        assert len(lines) == 2
        first = json.loads(lines[0])
        assert first["event"] == "start" and first["time"] == "2026-04-21T09:30:12Z" and first["run"] == audit.run_id
        assert first["format"] == "oauth-inspector.provision.audit" and first["domain"] == "fabrikam.com"
    with AuditLog(path) as again:
        again.write("start")
    assert [r["event"] for r in read_records(path, again.run_id)] == ["start"]
    assert len(read_records(path)) == 3


def test_secret_fields_are_refused(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl") as audit:
        for name in ("password", "access_token", "client_secret", "private_key"):
            with pytest.raises(AssertionError, match="looks like a secret"):
                audit.write("start", **{name: "x"})
    assert (tmp_path / "a.jsonl").read_text() == ""


def test_an_interruption_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    audit = AuditLog(path)
    audit.write("begin", action="3.1")
    audit.__exit__(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert [r["event"] for r in read_records(path)] == ["begin", "stopped"]


def test_an_unwritable_log_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot write the audit log"):
        AuditLog(tmp_path / "missing" / "a.jsonl")
