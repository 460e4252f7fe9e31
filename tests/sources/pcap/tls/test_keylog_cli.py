"""The TLS options as a user meets them: unusable key files are configuration errors (exit 2), never a silent
zero; a key log from the configuration file is used like one given on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from tests.corpus import REPO

SAMPLE = REPO / "captures" / "lab" / "lab-tls.pcapng"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_key_log_without_usable_lines_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "keys.log"
    empty.write_text("# nothing here\nnot a key log line\n")
    code, _, err = run("analyze", str(SAMPLE), "--keylog", str(empty), "--quiet")
    assert code == 2
    assert "holds no CLIENT_RANDOM or TLS 1.3 traffic secret line" in err
    code, _, err = run("analyze", str(SAMPLE), "--keylog", str(tmp_path / "missing.log"), "--quiet")
    assert code == 2 and "Cannot read key log" in err


def test_a_file_that_is_not_an_rsa_key_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "server.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    code, _, err = run("analyze", str(SAMPLE), "--tls-key", str(bogus), "--quiet")
    assert code == 2 and "Cannot load TLS key" in err


def test_the_configuration_file_names_key_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A key log that does not belong to the sample: the embedded secrets still decrypt it, and the configured
    # file is read (a broken one would be exit 2).
    (tmp_path / "other.log").write_text(f"CLIENT_RANDOM {'ab' * 32} {'cd' * 48}\n")
    (tmp_path / "oauth-inspector.toml").write_text('keylog = ["other.log"]\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("analyze", str(SAMPLE), "--format", "json", "--quiet", "--fail-on", "never")
    assert code == 0
    document = json.loads(out)
    assert {e["tls"]["decrypted_with"] for e in document["exchanges"]} == {"dsb"}
    (tmp_path / "oauth-inspector.toml").write_text('keylog = ["absent.log"]\n')
    code, _, _ = run("analyze", str(SAMPLE), "--quiet")
    assert code == 2


def test_the_table_says_which_exchanges_were_decrypted_and_how() -> None:
    result = CliRunner().invoke(
        main, ["analyze", str(SAMPLE), "--quiet", "--all", "--fail-on", "never"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0
    assert "TLS 1.3 TLS_AES_256_GCM_SHA384 (dsb)" in result.stdout
    assert "TLS 1.2" in result.stdout


def test_key_logs_travel_to_jobs_workers(corpus: Path) -> None:
    folder = corpus / "tls/wireshark-notes"
    code, out, _ = run(
        "analyze", str(SAMPLE), str(folder / "tls12-cbc-suites.pcapng"),
        "--keylog", str(folder / "tls12-cbc-suites.keys"),
        "--jobs", "2", "--format", "json", "--quiet", "--fail-on", "never",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    used = [e["tls"]["decrypted_with"] for e in document["exchanges"]]
    assert used.count("dsb") == 23 and used.count("keylog") == 12
