"""The rule catalogue: one definition of each rule, its ID a type mypy checks, and the README's table made from it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.rules import (
    CATALOGUE,
    SEVERITIES,
    SEVERITY_ORDER,
    RuleId,
    at_or_above,
    finding,
    markdown_table,
)

ROOT = Path(__file__).resolve().parent.parent
_BEGIN = "<!-- rule-catalogue:"
_END = "<!-- /rule-catalogue -->"


def test_the_rule_id_type_and_the_catalogue_hold_the_same_ids_in_the_same_order() -> None:
    assert list(get_args(RuleId)) == list(CATALOGUE)


def test_every_rule_is_kebab_case_with_a_title_and_help() -> None:
    for rule_id, rule in CATALOGUE.items():
        assert rule.id == rule_id
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", rule_id), rule_id
        assert rule.severity in SEVERITIES
        assert rule.title and "\n" not in rule.title
        assert len(rule.help) > 40, rule_id


def test_a_finding_takes_its_severity_from_the_catalogue() -> None:
    item = finding("cert-weak-key", "weak", key="OAuthCert", bits=1024)
    assert (item.rule, item.severity, item.exchange) == ("cert-weak-key", "warning", None)
    assert item.evidence == {"key": "OAuthCert", "bits": 1024}
    with pytest.raises(KeyError):
        finding("no-such-rule", "x")  # type: ignore[arg-type]


def test_severity_order_is_worst_first_and_at_or_above_follows_it() -> None:
    assert SEVERITIES == ("error", "warning", "info")
    assert SEVERITY_ORDER["error"] > SEVERITY_ORDER["warning"] > SEVERITY_ORDER["info"]
    assert at_or_above("error", "warning")
    assert at_or_above("warning", "warning")
    assert not at_or_above("info", "warning")


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(_BEGIN)
    table = readme[readme.index("\n", start) + 1 : readme.index(_END)]
    printed = CliRunner().invoke(main, ["rules", "--format", "markdown"]).output
    assert printed == markdown_table() + "\n"
    assert table == printed, "README's rule table is stale: paste `oauth-inspector rules --format markdown` into it"


@pytest.mark.slow
def test_a_mistyped_rule_id_is_a_type_error(tmp_path: Path) -> None:
    """Before RuleId, a typo in ``Notice.rule`` became ``inspector-error`` at run time; now mypy refuses it."""
    sample = tmp_path / "typo.py"
    sample.write_text(
        "from inspector.model import Notice\n"
        "from inspector.rules import finding\n"
        'Notice(rule="capture-gpa", message="m", source="s")\n'
        'finding("token-expird", "m")\n'
        'Notice(rule="capture-gap", message="m", source="s")\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental", str(sample)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, done.stdout
    assert "capture-gpa" in errors[0] and "typo.py:3:" in errors[0]
    assert "token-expird" in errors[1] and "typo.py:4:" in errors[1]
