"""The option table: one row per trust/policy option, and every front end generated from it agrees with it."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.model import ConfigError
from inspector.policy import DEFAULT_SKEW, SFB_ONLINE
from inspector.rules import SEVERITIES
from inspector.settings import BY_PARAM, CONFIG_KEYS, FAIL_ON_CHOICES, OPTIONS, TrustArguments, build_settings

NOW = datetime(2026, 4, 21, tzinfo=UTC)


def test_every_trust_argument_is_a_row_of_the_table() -> None:
    assert [row.param for row in OPTIONS] == [f.name for f in fields(TrustArguments)]
    assert len({row.flag for row in OPTIONS}) == len(OPTIONS)
    assert all(row.help and row.flag.startswith("--") for row in OPTIONS)


def test_fail_on_is_a_severity_worst_first_or_never() -> None:
    assert FAIL_ON_CHOICES == (*SEVERITIES, "never") == ("error", "warning", "info", "never")
    assert BY_PARAM["fail_on"].choices == FAIL_ON_CHOICES


def test_the_cli_offers_every_row_with_its_help() -> None:
    text = " ".join(CliRunner().invoke(main, ["analyze", "--help"], terminal_width=400).output.split())
    for row in OPTIONS:
        assert row.flag in text
        assert " ".join(row.help.split())[:40] in text


def test_config_keys_come_from_the_table() -> None:
    assert CONFIG_KEYS == {
        "cert": "paths",
        "metadata": "paths",
        "thumbprint": "strings",
        "realm": "strings",
        "issuer": "strings",
        "skew": "int",
        "audience-principal": "strings",
        "fail-on": "str",
        "format": "str",
        "keylog": "paths",  # analyze's TLS key logs: a file key, not a trust option row
        "ignore": "tables",  # [[ignore]] entries: rule, optional host, a reason (inspector/selection.py)
    }


def test_defaults_apply_when_neither_the_command_line_nor_the_file_gives_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = build_settings(TrustArguments(), output_format=None, now=NOW)
    assert settings.policy.skew == DEFAULT_SKEW
    assert settings.policy.expected_issuers == {SFB_ONLINE}
    assert settings.fail_on == "error"
    assert settings.output_format == "table"


def test_the_file_fills_in_and_the_command_line_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oauth-inspector.toml").write_text('skew = 30\nfail-on = "info"\nrealm = "Contoso.com"\n')
    monkeypatch.chdir(tmp_path)
    from_file = build_settings(TrustArguments(), output_format=None, now=NOW)
    assert (from_file.policy.skew, from_file.fail_on, from_file.policy.realms) == (30, "info", {"contoso.com"})
    given = TrustArguments(skew=0, fail_on="never", realms=("fabrikam.com",))
    both = build_settings(given, output_format=None, now=NOW)
    assert (both.policy.skew, both.fail_on, both.policy.realms) == (0, "never", {"contoso.com", "fabrikam.com"})


def test_a_bad_fail_on_in_the_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oauth-inspector.toml").write_text('fail-on = "sometimes"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="fail-on must be error, warning, info or never, not 'sometimes'"):
        build_settings(TrustArguments(), output_format=None, now=NOW)


@pytest.mark.parametrize(
    ("param", "value", "problem"),
    [
        ("skew", -1, "oauth_skew must be between 0 and 86400 seconds, not -1"),
        ("skew", 86400, None),
        ("fail_on", "sometimes", "oauth_fail_on must be one of error, warning, info, never, not 'sometimes'"),
        ("fail_on", "info", None),
    ],
)
def test_a_value_outside_the_rows_bounds_or_choices_is_named(param: str, value: object, problem: str | None) -> None:
    assert BY_PARAM[param].problem(value) == problem


def test_repetition_is_said_once_as_each_program_takes_the_option() -> None:
    cert = BY_PARAM["certs"]
    assert cert.help == cert.meaning + " Repeatable."
    assert cert.help_in("verify-oauth") == cert.meaning + " Given once."
    assert BY_PARAM["realms"].help_in("verify-oauth") == BY_PARAM["realms"].help
    assert BY_PARAM["skew"].help == BY_PARAM["skew"].meaning
    assert not any("Repeatable" in row.meaning for row in OPTIONS)
