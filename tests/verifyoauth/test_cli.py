"""The console script: formats, exit codes, usage errors, the export script, hostile text, no tracebacks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from inspector.cli_common import EXIT_INTERNAL
from inspector.settings import BY_PARAM
from inspector.verifyoauth import cli
from inspector.verifyoauth.export_script import export_script
from inspector.verifyoauth.model import CHECK_IDS
from tests.verifyoauth.conftest import DATA, Material, render, write_json


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(material: Material, cert_file: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "cert": str(cert_file),
        "bundle": str(write_json(tmp_path / "bundle.json", render("bundle-healthy.json", material.current))),
        "sp": str(write_json(tmp_path / "sp.json", render("sp-graph-select.json", material.current))),
    }


def test_json_report_and_exit_0(files: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke(
        "--cert",
        files["cert"],
        "--exchange-config",
        files["bundle"],
        "--sp-credentials",
        files["sp"],
        "--format",
        "json",
    )
    assert code == 0
    document = json.loads(out)
    assert [c["id"] for c in document["checks"]] == list(CHECK_IDS)
    assert document["summary"] == {"PASS": 10, "WARN": 0, "FAIL": 0, "SKIP": 3}
    assert set(document["checks"][0]) == {"id", "title", "status", "reason", "remedy", "evidence"}


def test_junit_to_a_file_and_strict(
    files: dict[str, str], material: Material, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle: dict[str, Any] = render("bundle-healthy.json", material.current)
    bundle["LinkedAccounts"][1]["Recipient"]["HiddenFromAddressListsEnabled"] = False
    write_json(Path(files["bundle"]), bundle)
    report = tmp_path / "verify.xml"
    code, out, _ = invoke(
        "--cert", files["cert"], "--exchange-config", files["bundle"], "--format", "junit", "-o", str(report)
    )
    assert code == 0 and out == ""
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314 - our own report
    assert suite is not None and suite.get("tests") == str(len(CHECK_IDS)) and suite.get("failures") == "0"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["exchange.metadata"].find("skipped") is not None
    assert "WARN" in (cases["exchange.app-account"].findtext("system-out") or "")
    code, _, _ = invoke(
        "--cert",
        files["cert"],
        "--exchange-config",
        files["bundle"],
        "--format",
        "junit",
        "-o",
        str(report),
        "--strict",
    )
    assert code == 1
    strict = ET.parse(report).getroot().find("testsuite")  # noqa: S314 - our own report
    assert strict is not None and strict.get("failures") == "1"
    failure = next(c for c in strict.iter("testcase") if c.get("name") == "exchange.app-account").find("failure")
    assert failure is not None and "HiddenFromAddressListsEnabled $True" in (failure.text or "")


def test_fail_is_exit_1_and_the_table_shows_the_fix(
    files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    wide = {"COLUMNS": "400"}
    code, out, _ = invoke("--cert", files["cert"], "--exchange-config", str(DATA / "bundle-truncated.json"), env=wide)
    assert code == 1
    assert "FAIL" in out and "truncated" in out and "fix:" in out and "Traceback" not in out
    assert re.search(r"\d+ PASS, 0 WARN, \d+ FAIL, \d+ SKIP", out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange-config", "a.json", "--psrp", "https://ex01/PowerShell"], "either --exchange-config or --psrp"),
        (["--sp-credentials", "a.json", "--graph"], "either --sp-credentials or --graph"),
        (["--graph"], "--graph needs --graph-tenant"),
        (["--graph-tenant", "contoso.com"], "go with --graph"),
        (["--insecure", "--ca-bundle", "ca.pem"], "either --ca-bundle or --insecure"),
        (["--exchange", "ftp://mail.contoso.com"], "must be an http(s) URL"),
        (["--ca-bundle", "absent.pem"], "Cannot use --ca-bundle"),
        (["--psrp", "https://ex01/PowerShell", "--psrp-auth", "basic"], "needs --psrp-user"),
        (["--psrp", "https://ex01/PowerShell", "--psrp-user", "admin"], "VERIFY_OAUTH_PSRP_PASSWORD"),
        (["--metadata", "absent.json"], "Cannot read metadata document"),
        (["--graph", "--graph-tenant", "t", "--graph-cert", "absent.pem"], "Cannot read --graph-cert"),
        (["--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_are_exit_2(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(*args)
    assert code == 2, (out, err)
    assert message in err


def test_config_file_is_shared_with_the_rest_of_the_tool(
    files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "oauth-inspector.toml").write_text(
        f'cert = "{Path(files["cert"]).name}"\nrealm = "00c118a9-2de9-41d3-b39a-81648a7a5e4d"\nformat = "sarif"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("--exchange-config", files["bundle"])
    assert code == 1  # the configured realm is not the bundle's ACS realm
    assert "cert.readable" in out and "another realm" in out  # table: "sarif" is analyze's, not ours
    (tmp_path / "oauth-inspector.toml").write_text("unknown = 1\n", encoding="utf-8")
    assert invoke()[0] == 2


def test_hostile_text_is_escaped(
    material: Material, cert_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle: dict[str, Any] = render("bundle-healthy.json", material.current)
    bundle["PartnerApplications"] = [{"Name": "evil\x1b[31m[bold]red[/bold]\u202e", "ApplicationIdentifier": "x"}]
    path = write_json(tmp_path / "b.json", bundle)
    for fmt in ("table", "json", "junit"):
        code, out, _ = invoke("--cert", str(cert_file), "--exchange-config", str(path), "--format", fmt)
        assert code == 1
        assert "\x1b" not in out and "\u202e" not in out
        assert "\\x1b" in out or "\\\\x1b" in out


def test_no_secret_reaches_any_output(files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "Sup3r-Secret-Pw"
    for fmt in ("table", "json", "junit"):
        code, out, err = invoke(
            "--psrp",
            "http://127.0.0.1:9/PowerShell",
            "--psrp-auth",
            "basic",
            "--psrp-user",
            "CONTOSO\\admin",
            "--timeout",
            "2",
            "--format",
            fmt,
            env={cli.PSRP_PASSWORD_ENV: secret},
        )
        assert code == 1 and secret not in out + err
        assert "PowerShell remoting to http://127.0.0.1:9/PowerShell failed" in out.replace("\n", " ") or fmt == "table"


def test_export_script_command() -> None:
    code, out, _ = invoke("export-script")
    assert code == 0 and out == export_script()


def test_run_never_shows_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(cli, "gather", boom)
    monkeypatch.setattr("sys.argv", ["verify-oauth"])
    monkeypatch.delenv("OAUTH_INSPECTOR_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.run()
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: unexpected" in err and "Traceback" not in err


# --- the export script ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--cert", "Cannot read the auth certificate absent.cer: no such file"),
        ("--exchange-config", "Cannot read --exchange-config absent.cer: no such file"),
        ("--sp-credentials", "Cannot read --sp-credentials absent.cer: no such file"),
        ("--capture", "Cannot read --capture absent.cer: no such file"),
    ],
)
def test_a_missing_input_file_is_a_usage_error_not_a_row_of_fails(
    option: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(option, "absent.cer")
    assert code == 2
    assert message in err
    assert "FAIL" not in out


def test_a_repeated_cert_is_refused_not_reduced_to_the_last(
    files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("--cert", files["cert"], "--cert", files["cert"])
    assert code == 2
    assert "--cert was given 2 times" in err


def test_thumbprint_option_is_checked_and_reaches_the_checks(
    files: dict[str, str], material: Material, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("--thumbprint", "not-hex")
    assert code == 2 and "thumbprint" in err.lower()
    seen: list[tuple[str, ...]] = []
    real_gather = cli.gather

    def spy(request: Any, now: Any) -> Any:
        seen.append(request.thumbprints)
        return real_gather(request, now)

    monkeypatch.setattr(cli, "gather", spy)
    code, _, _ = invoke("--cert", files["cert"], "--thumbprint", material.current.thumbprint, "--format", "json")
    assert code in (0, 1)
    assert seen == [(material.current.thumbprint,)]


def test_an_invalid_format_in_the_configuration_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "oauth-inspector.toml").write_text('format = "xml"\n')
    code, _, err = invoke()
    assert code == 2 and "not 'xml'" in err
    (tmp_path / "oauth-inspector.toml").write_text('format = "sarif"\n')  # analyze's: verify-oauth prints its table
    code, _, err = invoke()
    assert code != 2, err


def test_the_trust_options_are_rows_of_the_one_table() -> None:
    params = {param.name: param for param in cli.main.params}
    for name in ("certs", "thumbprints", "realms", "issuers", "metadata", "skew", "config_path"):
        row, option = BY_PARAM[name], params[name]
        assert isinstance(option, click.Option)
        assert (option.opts, option.help, option.multiple) == ([row.flag], row.help_in("verify-oauth"), row.repeatable)
    assert "Given once." in params["certs"].help  # type: ignore[attr-defined]
