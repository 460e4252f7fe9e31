"""The addon's report file: lines written as they come, ``+`` appends, a summary at the end, and a write failure
stops reporting once without reaching the flow."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from mitmproxy import exceptions

from inspector.live.report_file import ReportFile
from inspector.rules import finding
from inspector.tally import Totals


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lines_go_to_the_file_at_once_and_the_summary_last(tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    report = ReportFile(str(path), show_secrets=False)
    report.write_line('{"type":"exchange","id":"live:1"}')
    assert _lines(path) == [{"type": "exchange", "id": "live:1"}]  # before any flush or close
    item = finding("capture-gap", "gap")
    report.write(item)
    totals = Totals()
    totals.add(item)
    report.close(totals)
    lines = _lines(path)
    assert [line["type"] for line in lines] == ["exchange", "finding", "summary"]
    assert lines[-1]["rules"] == {"capture-gap": 1}
    report.write_line("{}")  # closed: ignored
    assert len(_lines(path)) == 3


def test_a_leading_plus_appends(tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    path.write_text('{"type":"old"}\n', encoding="utf-8")
    report = ReportFile(f"+{path}", show_secrets=False)
    report.write_line('{"type":"new"}')
    report.close(None)  # never judged: no summary
    assert [line["type"] for line in _lines(path)] == ["old", "new"]


def test_an_unwritable_place_is_an_options_error(tmp_path: Path) -> None:
    with pytest.raises(exceptions.OptionsError, match="oauth_report: cannot write"):
        ReportFile(str(tmp_path / "missing" / "report.jsonl"), show_secrets=False)


def test_a_write_failure_stops_reporting_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="inspector.live")
    report = ReportFile(str(tmp_path / "report.jsonl"), show_secrets=False)
    assert report.file is not None
    report.file.close()  # the descriptor is gone under the writer
    report.write_line("{}")
    report.write(finding("capture-gap", "gap"))
    assert report.file is None
    assert [r.getMessage() for r in caplog.records if "reporting stops" in r.getMessage()] != []
    assert len([r for r in caplog.records if "reporting stops" in r.getMessage()]) == 1
