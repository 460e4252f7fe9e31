"""The whole command on mutated lab captures (HAR, .mitm, pcapng), every format: exit 0, 1 or 3 (never 4, never a
traceback), the JSON outputs complete and strict even when the input is damaged, the table terminal-safe."""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from inspector.cli import main
from tests.fuzz.harness import CAPTURES, Timed, assert_terminal_safe, fuzz, mutated, seeds
from tests.hostile import strict_json, strict_json_lines

LAB = seeds(CAPTURES / "lab.har", CAPTURES / "lab.mitm", CAPTURES / "lab.pcapng")


@fuzz(40)
@given(mutated(LAB, max_edits=4), st.sampled_from(["json", "jsonl", "sarif", "table"]))
def test_mutated_captures_through_the_command(data: bytes, output_format: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "capture"
        path.write_bytes(data)
        with Timed():
            result = CliRunner().invoke(main, ["analyze", str(path), "--format", output_format, "--quiet"])
    assert result.exit_code in (0, 1, 3), (result.exit_code, result.stderr[-300:])  # 3: unreadable, still reported
    assert "Traceback" not in result.stderr
    if output_format == "jsonl":
        strict_json_lines(result.stdout)
    elif output_format in ("json", "sarif"):
        strict_json(result.stdout)
    else:
        assert_terminal_safe(result.stdout.replace("\n", " "))
