"""A report rendered whole at any moment: the same document as the writer it stands for, again and again, and a
file replaced atomically (never half-written, no temporary left)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO

import pytest

from inspector.analyze import ExchangeResult
from inspector.report.snapshot import SnapshotReport
from inspector.report.writers import JsonWriter, ReportWriter, SarifWriter
from inspector.tally import Totals

SOURCES = [{"path": "lab.pcapng", "kind": "pcap"}]


def _json(out: IO[str]) -> ReportWriter:
    return JsonWriter(out, SOURCES, show_secrets=False)


def test_a_snapshot_is_the_document_the_writer_itself_writes(lab_results: list[ExchangeResult]) -> None:
    direct, totals = io.StringIO(), Totals()
    writer = _json(direct)
    snapshot = SnapshotReport(_json)
    for result in lab_results:
        for target in (writer, snapshot):
            target.exchange(result)
        totals.add(result)
    writer.close(totals)
    first, again = io.StringIO(), io.StringIO()
    snapshot.render(first, lambda w: w.close(totals))
    snapshot.render(again, lambda w: w.close(totals))
    assert first.getvalue() == again.getvalue() == direct.getvalue()
    snapshot.close(totals)


def test_it_takes_more_after_a_snapshot(lab_results: list[ExchangeResult], tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    snapshot = SnapshotReport(SarifWriter)
    totals = Totals()
    counts = []
    for result in lab_results[:5]:
        snapshot.exchange(result)
        totals.add(result)
        snapshot.write_file(target, lambda w: w.close(totals))
        counts.append(len(json.loads(target.read_text(encoding="utf-8"))["runs"][0]["results"]))
    snapshot.close(totals)
    assert counts == sorted(counts)
    assert counts[-1] == sum(len(r.findings) for r in lab_results[:5]) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["report.sarif"]
    plain = tmp_path / "plain"
    plain.write_text("")  # as `analyze -o` creates a report: the umask's mode
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_a_failed_snapshot_leaves_the_last_good_file(lab_results: list[ExchangeResult], tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    snapshot = SnapshotReport(_json)
    snapshot.exchange(lab_results[0])
    snapshot.write_file(target, lambda w: w.close(Totals()))
    good = target.read_text(encoding="utf-8")

    def broken(writer: ReportWriter) -> None:
        writer.close(Totals())
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        snapshot.write_file(target, broken)
    snapshot.close(Totals())
    assert target.read_text(encoding="utf-8") == good
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_report_that_cannot_be_written_is_a_usage_error(lab_results: list[ExchangeResult], tmp_path: Path) -> None:
    """The folder of ``-o`` gone while following: a clear message (exit 2 in the command), not an internal error."""
    from inspector.model import ConfigError

    snapshot = SnapshotReport(lambda target: JsonWriter(target, [], show_secrets=False))
    for result in lab_results:
        snapshot.exchange(result)
    with pytest.raises(ConfigError, match=r"Cannot write .*gone/report\.json"):
        snapshot.write_file(tmp_path / "gone" / "report.json", lambda writer: writer.close(Totals()))
    snapshot.close(Totals())
