"""One vocabulary across commands: the README's conventions table is what the click commands really are, every
command that prints a report takes -o and -q, and -o really writes the report to the file."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from click.testing import CliRunner

from inspector.cli import main
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"

# Commands that do not print a report: servers that log while they run, an interactive run with its own audit
# log, and a command that writes sample files.
NOT_REPORTS = {
    "oauth-inspector lab serve",
    "oauth-inspector proxy",
    "oauth-inspector provision apply",
    "oauth-inspector lab samples",
}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_conventions", REPO / "docs" / "cli_conventions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cli_conventions"] = module
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_what_the_commands_are() -> None:
    script = _script()
    assert script.missing_exit_codes() == [], "add the command's exit codes to docs/cli_conventions.py"
    assert script.main(["--check"]) == 0, "run: uv run python docs/cli_conventions.py"


def test_every_command_that_prints_a_report_takes_output_and_quiet() -> None:
    script = _script()
    names = {name for name, _ in script.commands()}
    assert names >= NOT_REPORTS
    for name, command in script.commands():
        if name in NOT_REPORTS:
            continue
        assert script._option(command, "--output") is not None, f"{name} has no -o/--output"
        assert script._option(command, "-o") is not None and script._option(command, "-q") is not None, name


def test_output_writes_the_report_to_the_file(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        ("rules.json", ["rules", "basic-fallback", "--format", "json"]),
        ("show.txt", ["show", str(SAMPLES / "lab.har"), "20", "--cert", str(SAMPLES / "OAuthCert.cer")]),
        ("tls.json", ["tls", str(SAMPLES / "lab-tls.pcapng"), "--format", "json"]),
    ]
    for name, args in cases:
        target = tmp_path / name
        result = runner.invoke(main, [*args, "-o", str(target), "-q"])
        assert result.stdout == "", name
        assert target.stat().st_size > 0, name
    assert json.loads((tmp_path / "rules.json").read_text())[0]["id"] == "basic-fallback"
    assert "lab.har:20" in (tmp_path / "show.txt").read_text()
