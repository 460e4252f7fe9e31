"""Running the analyzer over the inputs: one process or several give the same report and totals; an unreadable
input is reported and the others still run; the progress display is fed."""

from __future__ import annotations

import io
import json
from pathlib import Path

from inspector.analyze import Analyzer
from inspector.policy import Policy
from inspector.report.writers import JsonWriter
from inspector.run import run_parallel, run_sequential
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import expand_inputs
from inspector.tally import RunState, Totals
from inspector.trust import build_trust
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"
REALM = json.loads((SAMPLES / "expected.json").read_text())["realm"]


def _inputs(tmp_path: Path) -> list[tuple[Path, InputKind | None]]:
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": {"version": "1.2", "entries": [{"request": ', encoding="utf-8")
    return expand_inputs([SAMPLES / "lab.har", broken, SAMPLES / "lab.pcapng"])


def _trust():  # type: ignore[no-untyped-def]
    return build_trust(certs=[SAMPLES / "OAuthCert.cer"], metadata=[SAMPLES / "acs-metadata.json"])


def test_one_process_and_several_give_the_same_report(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    policy = Policy(realms=frozenset({REALM}))
    sequential_out, parallel_out = io.StringIO(), io.StringIO()
    sequential_totals, parallel_totals = Totals(), Totals()
    writer = JsonWriter(sequential_out, [], show_secrets=False)
    states: list[RunState] = []
    first = run_sequential(
        inputs, Analyzer(_trust(), policy), writer, sequential_totals, progress=states.append, separately=True
    )
    writer.close(sequential_totals)
    writer = JsonWriter(parallel_out, [], show_secrets=False)
    second = run_parallel(inputs, _trust(), policy, writer, parallel_totals, jobs=2)
    writer.close(parallel_totals)
    assert parallel_out.getvalue() == sequential_out.getvalue()
    assert parallel_totals == sequential_totals
    assert sequential_totals.exchanges > 20
    assert len(first.errors) == len(second.errors) == 1
    assert "broken.har" in first.errors[0]
    assert states[-1].files_done == states[-1].files_total == 3
    assert states[-1].exchanges == sequential_totals.exchanges


def test_the_totals_count_what_was_written(tmp_path: Path) -> None:
    out = io.StringIO()
    totals = Totals()
    writer = JsonWriter(out, [], show_secrets=False)
    run_sequential(expand_inputs([SAMPLES / "lab.mitm"]), Analyzer(_trust(), Policy()), writer, totals)
    writer.close(totals)
    document = json.loads(out.getvalue())
    assert len(document["exchanges"]) == totals.exchanges == document["summary"]["exchanges"]
    assert len(document["findings"]) == sum(totals.severities.values())
