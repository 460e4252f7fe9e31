"""JSON, JSONL and SARIF writers: whole documents, records that travel between processes, and redaction kept."""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import replace

import pytest

from inspector.analyze import ExchangeResult
from inspector.lab.scenarios import BASIC_PASSWORD
from inspector.report.serialize import dump_json
from inspector.report.writers import (
    ExchangeText,
    JsonlWriter,
    JsonWriter,
    Line,
    ReportWriter,
    SarifRecords,
    SarifResults,
    SarifWriter,
    _sarif_locations,
    _sarif_result_head,
)
from inspector.rules import CATALOGUE, finding
from inspector.tally import Totals

SOURCES = [{"path": "lab.pcapng", "kind": "pcap"}]


def _write(writer: ReportWriter, results: list[ExchangeResult], out: io.StringIO) -> str:
    totals = Totals()
    gap = finding("capture-gap", "a gap", evidence_source="lab.pcapng", source="lab.pcapng")
    writer.finding(gap)
    totals.add(gap)
    for result in results:
        writer.exchange(result)
        totals.add(result)
    writer.close(totals)
    return out.getvalue()


def test_the_json_document_lists_exchanges_then_every_finding_then_the_summary(
    lab_results: list[ExchangeResult],
) -> None:
    out = io.StringIO()
    document = json.loads(_write(JsonWriter(out, SOURCES, show_secrets=False), lab_results, out))
    assert list(document) == ["tool", "sources", "exchanges", "findings", "errors", "skipped", "summary"]
    assert document["sources"] == SOURCES
    assert len(document["exchanges"]) == len(lab_results)
    expected = 1 + sum(len(r.findings) for r in lab_results)
    assert len(document["findings"]) == expected == sum(document["summary"]["findings"].values())
    assert BASIC_PASSWORD not in out.getvalue()


def test_jsonl_is_one_line_per_exchange_and_finding_and_a_summary(lab_results: list[ExchangeResult]) -> None:
    out = io.StringIO()
    lines = [json.loads(line) for line in _write(JsonlWriter(out, show_secrets=False), lab_results, out).splitlines()]
    assert [line["type"] for line in lines] == ["finding"] + ["exchange"] * len(lab_results) + ["summary"]
    assert lines[-1]["exchanges"] == len(lab_results)
    exchange_findings = sum(len(line["findings"]) for line in lines if line["type"] == "exchange")
    assert exchange_findings == sum(len(r.findings) for r in lab_results)


def test_sarif_has_the_catalogue_and_a_located_result_per_finding(lab_results: list[ExchangeResult]) -> None:
    out = io.StringIO()
    document = json.loads(_write(SarifWriter(out), lab_results, out))
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(CATALOGUE)
    results = run["results"]
    assert len(results) == 1 + sum(len(r.findings) for r in lab_results)
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "lab.pcapng"
    assert run["properties"]["summary"]["exchanges"] == len(lab_results)
    assert out.getvalue().startswith('{\n  "$schema": ')
    assert out.getvalue().endswith("\n}\n")


def test_sarif_without_results_is_still_a_document() -> None:
    out = io.StringIO()
    writer = SarifWriter(out)
    writer.close(Totals())
    assert json.loads(out.getvalue())["runs"][0]["results"] == []


@pytest.mark.parametrize("make", [lambda out: JsonWriter(out, SOURCES, show_secrets=False), SarifWriter])
def test_records_made_elsewhere_give_the_same_document(make, lab_results: list[ExchangeResult]) -> None:  # type: ignore[no-untyped-def]
    """What --jobs does: records made by a worker's own factory, pickled, absorbed by the parent."""
    direct_out, relayed_out = io.StringIO(), io.StringIO()
    direct, relayed = make(direct_out), make(relayed_out)
    records = relayed.record_factory()()
    for result in lab_results:
        direct.exchange(result)
        relayed.absorb(pickle.loads(pickle.dumps(records.exchange(result))))  # noqa: S301 (our own record)
    direct.close(Totals())
    relayed.close(Totals())
    assert relayed_out.getvalue() == direct_out.getvalue()


def test_a_writer_refuses_another_writers_record() -> None:
    with pytest.raises(TypeError, match="not a JSONL record"):
        JsonlWriter(io.StringIO(), show_secrets=False).absorb(ExchangeText("{}", ()))
    writer = JsonWriter(io.StringIO(), SOURCES, show_secrets=False)
    with pytest.raises(TypeError, match="not a JSON record"):
        writer.absorb(Line("{}"))
    writer.close(Totals())


def test_a_sarif_result_is_made_of_its_findings_part_and_its_own_location(lab_results: list[ExchangeResult]) -> None:
    # The part before the location is made once per distinct finding: a token's finding copied for another
    # exchange, or for none, keeps its own location; the text is the whole result encoded at once.
    records = SarifRecords()
    base = finding("token-expired", "expired \ud800", "a.har:1", exp="2026\udfff", at=[1.5, None], n=float("nan"))
    copies = [base, replace(base, exchange="a.har:2"), replace(base, exchange=None), replace(base, suppressed="k")]
    for source, where in (("a.har", "a.har, entry 1"), (None, None), ("b.har", None)):
        for item in copies * 2:
            record = records._texts((item,), source, where)
            assert isinstance(record, SarifResults)
            whole = _sarif_result_head(item)
            locations = _sarif_locations(item.exchange, source, where)
            assert record.results == (dump_json(whole | ({"locations": locations} if locations else {})),)
    for result in lab_results:
        record = records.exchange(result)
        assert isinstance(record, SarifResults)
        assert [json.loads(text)["locations"][0]["logicalLocations"][0]["name"] for text in record.results] == [
            item.exchange for item in result.findings
        ]
