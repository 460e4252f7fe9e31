"""Inputs that could not be read are part of the report in every format, so a reader of the report alone (a CI job)
can tell the analysis was partial."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import main
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"


def _inputs(tmp_path: Path) -> list[str]:
    cut = tmp_path / "cut.pcapng"
    data = SAMPLES.joinpath("lab.pcapng").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.txt").write_text("a note beside the captures")
    return [str(tmp_path), str(SAMPLES / "lab.har")]


def _run(tmp_path: Path, fmt: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["analyze", *_inputs(tmp_path), "--format", fmt, "-q"])
    return result.exit_code, result.stdout


def test_json_lists_the_failed_input_with_what_was_read_and_the_skipped_file(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "json")
    assert code == 3
    document = json.loads(out)
    [failure] = document["errors"]
    assert failure["file"].endswith("cut.pcapng") and "truncated" in failure["reason"]
    read = sum(1 for e in document["exchanges"] if e["source"] == failure["file"])
    assert failure["exchanges_read"] == read > 0
    assert [Path(s["file"]).name for s in document["skipped"]] == ["notes.txt"]


def test_jsonl_has_an_error_line_and_a_skipped_line(tmp_path: Path) -> None:
    _, out = _run(tmp_path, "jsonl")
    types = [json.loads(line)["type"] for line in out.splitlines()]
    assert types.count("error") == 1 and types.count("skipped") == 1 and types[-1] == "summary"


def test_sarif_has_tool_execution_notifications_and_an_unsuccessful_invocation(tmp_path: Path) -> None:
    _, out = _run(tmp_path, "sarif")
    [invocation] = json.loads(out)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    levels = {
        n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1]: n["level"]
        for n in invocation["toolExecutionNotifications"]
    }
    assert levels == {"cut.pcapng": "error", "notes.txt": "note"}


def test_a_clean_run_is_a_successful_invocation() -> None:
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES / "lab.har"), "--format", "sarif", "-q"])
    [invocation] = json.loads(result.stdout)["runs"][0]["invocations"]
    assert invocation == {"executionSuccessful": True, "toolExecutionNotifications": []}


def test_the_table_footer_says_the_analysis_is_partial(tmp_path: Path) -> None:
    _, out = _run(tmp_path, "table")
    assert "Not read to the end (1; the analysis is partial):" in out
    assert "cut.pcapng" in out and "exchanges read before" in out
    assert "Not read (1):" in out and "notes.txt" in out


def test_html_lists_them_too(tmp_path: Path) -> None:
    _, out = _run(tmp_path, "html")
    assert "Not read to the end (1)" in out and "Not read (1)" in out
