"""Outputs as users expect them: filters on every format, suppressions reported (never dropped), the table's row
limit, --show-secrets alike in every format, the format taken from -o's extension."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.scenarios import BASIC_PASSWORD
from tests.corpus import REPO

SAMPLES = REPO / "captures" / "lab"
HAR = str(SAMPLES / "lab.har")
TRUST = ["--cert", str(SAMPLES / "OAuthCert.cer"), "--metadata", str(SAMPLES / "acs-metadata.json")]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["analyze", HAR, *TRUST, "-q", *args])
    return result.exit_code, result.stdout


def findings_of(fmt: str, *args: str) -> list[tuple[str, str | None]]:
    """(rule, suppression reason) of every finding a format reports."""
    _, out = run("--format", fmt, *args)
    if fmt == "json":
        return [(f["rule"], (f.get("suppressed") or {}).get("reason")) for f in json.loads(out)["findings"]]
    if fmt == "jsonl":
        lines = [json.loads(line) for line in out.splitlines()]
        found = [f for line in lines if line["type"] == "exchange" for f in line.get("findings", [])]
        found += [line for line in lines if line["type"] == "finding"]
        return [(f["rule"], (f.get("suppressed") or {}).get("reason")) for f in found]
    results = json.loads(out)["runs"][0]["results"]
    return [(r["ruleId"], r["suppressions"][0]["justification"] if "suppressions" in r else None) for r in results]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif"])
def test_rule_and_severity_filters_apply_to_every_format(fmt: str) -> None:
    assert {rule for rule, _ in findings_of(fmt, "--rule", "basic-fallback", "--rule", "token-expired")} == {
        "basic-fallback",
        "token-expired",
    }
    rules = {rule for rule, _ in findings_of(fmt, "--severity", "error")}
    assert rules and "signing-key-unknown" not in rules and "basic-fallback" in rules  # a warning is left out


def test_exchange_host_and_client_filters_narrow_the_exchanges() -> None:
    _, out = run("--format", "json", "--exchange", "lab.har:20")
    document = json.loads(out)
    assert [e["id"] for e in document["exchanges"]] == ["lab.har:20"]
    assert {f["exchange"] for f in document["findings"]} <= {"lab.har:20", None}
    _, out = run("--format", "json", "--host", "nowhere.example")
    assert json.loads(out)["exchanges"] == []
    _, out = run("--format", "json")
    client = json.loads(out)["exchanges"][0]["client"]
    address = client.rsplit(":", 1)[0].strip("[]") if isinstance(client, str) else client["host"]
    _, out = run("--format", "json", "--client", address)
    assert json.loads(out)["exchanges"]


def test_filters_in_the_table_too() -> None:
    _, out = run("--rule", "basic-fallback")
    assert "basic-fallback" in out and "signing-key-unknown" not in out


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif"])
def test_ignore_reports_the_findings_as_suppressed_and_they_do_not_fail_the_run(fmt: str) -> None:
    everything = findings_of(fmt)
    ignored = findings_of(fmt, "--ignore", "token-expired", "--ignore", "bearer-rejected:mail.contoso.com")
    assert len(ignored) == len(everything)  # nothing dropped
    suppressed = {rule for rule, reason in ignored if reason}
    assert suppressed == {"token-expired", "bearer-rejected"}
    assert all("--ignore" in reason for _, reason in ignored if reason)


def test_a_suppressed_error_does_not_count_for_fail_on() -> None:
    code, out = run("--format", "json", "--rule", "basic-fallback")
    assert code == 1
    code, out = run("--format", "json", "--rule", "basic-fallback", "--ignore", "basic-fallback")
    summary = json.loads(out)["summary"]
    assert code == 0 and summary["suppressed"] == 1 and summary["findings"]["error"] == 0


def test_fail_on_judges_what_the_filters_report() -> None:
    """ruff's model: a filter narrows the report and the exit code alike; the close case is the same capture
    unfiltered, whose errors fail the run."""
    assert run("--format", "json")[0] == 1
    code, out = run("--format", "json", "--rule", "signing-key-unknown")
    summary = json.loads(out)["summary"]
    assert (code, summary["findings"]["error"], summary["rules"]) == (0, 0, {"signing-key-unknown": 1})
    assert run("--format", "json", "--rule", "signing-key-unknown", "--fail-on", "warning")[0] == 1
    assert run("--format", "json", "--severity", "warning", "--fail-on", "info")[0] == 1  # errors stay in
    assert run("--format", "json", "--exchange", "lab.har:1")[0] == 0  # a clean exchange alone
    assert run("--format", "json", "--exchange", "lab.har:1", "--exchange", "lab.har:20")[0] == 1


def test_the_configuration_ignore_list_needs_a_reason_and_reports_it(tmp_path: Path) -> None:
    config = tmp_path / "oauth-inspector.toml"
    config.write_text('[[ignore]]\nrule = "basic-fallback"\nreason = "legacy app, retired in 2027"\n')
    code, out = run("--format", "sarif", "--rule", "basic-fallback", "--config", str(config))
    [result] = json.loads(out)["runs"][0]["results"]
    assert code == 0 and result["suppressions"] == [
        {"kind": "external", "justification": "legacy app, retired in 2027"}
    ]
    config.write_text('[[ignore]]\nrule = "basic-fallback"\n')
    code, _ = run("--config", str(config))
    assert code == 2
    config.write_text('[[ignore]]\nrule = "basic-fallbak"\nreason = "typo"\n')
    result = CliRunner().invoke(main, ["analyze", HAR, "--config", str(config)])
    assert result.exit_code == 2 and "did you mean basic-fallback" in result.stderr


def test_an_unknown_rule_filter_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["analyze", HAR, "--rule", "no-such-rule"])
    assert result.exit_code == 2 and "no rule no-such-rule" in result.stderr


def test_limit_caps_the_table_and_all_lifts_it() -> None:
    _, capped = run("--limit", "3")
    assert "... and 20 more exchanges (--limit N shows N rows, --all every one)" in capped
    _, every = run("--all")
    assert "more exchanges" not in every and "lab.har:23" in every


def test_show_secrets_shows_the_basic_password_in_the_table_as_in_json() -> None:
    _, table = run()
    _, json_out = run("--format", "json")
    assert BASIC_PASSWORD not in table and BASIC_PASSWORD not in json_out
    _, table = run("--show-secrets")
    _, json_out = run("--format", "json", "--show-secrets")
    assert BASIC_PASSWORD in table and BASIC_PASSWORD in json_out


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("report.json", '{"tool"'),
        ("report.jsonl", '{"type"'),
        ("report.sarif", '{\n  "$schema"'),
        ("r.html", "<!DOCTYPE"),
    ],
)
def test_the_format_comes_from_the_output_extension(tmp_path: Path, name: str, first: str) -> None:
    target = tmp_path / name
    run("-o", str(target))
    assert target.read_text(encoding="utf-8").startswith(first)


def test_a_format_that_contradicts_the_extension_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", HAR, "-o", str(tmp_path / "report.sarif"), "--format", "json"])
    assert result.exit_code == 2
    assert "report.sarif names a .sarif file but --format is json" in result.stderr
    assert not (tmp_path / "report.sarif").exists()


def test_the_table_leaves_suppressed_findings_to_the_summary_line() -> None:
    _, out = run("--rule", "basic-fallback", "--ignore", "basic-fallback")
    assert "ERROR   basic-fallback" not in out
    assert "1 suppressed (--ignore / the configuration's ignore list)" in out


def test_html_marks_suppressed_findings_with_their_reason() -> None:
    _, out = run("--format", "html", "--rule", "basic-fallback", "--ignore", "basic-fallback")
    assert "(suppressed: suppressed on the command line (--ignore))" in out


def test_the_readme_analyze_table_lists_every_analyze_option() -> None:
    from pathlib import Path

    from inspector.cli import analyze

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `oauth-inspector analyze") :]
    section = section[: section.index("\n### ")]
    flags = [flag for param in analyze.params for flag in param.opts if flag.startswith("--")]
    assert [flag for flag in flags if f"`{flag}" not in section] == []
