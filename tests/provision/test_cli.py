"""``oauth-inspector provision``: plan output and files, exit codes, refused input before anything is contacted, a
remoting endpoint refusing the credentials (real pypsrp against a loopback WSMan server), and a whole apply with
the in-memory Exchange and the Graph double behind the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from inspector import cli_provision
from inspector.cli import main
from inspector.provision.audit import read_records
from inspector.remote.options import PSRP_PASSWORD_ENV
from tests.doubles.psrp import opener_for
from tests.provision.conftest import TOKEN, Certs
from tests.provision.exchange_double import SFB, ExchangeState
from tests.provision.wsman_refusing import RefusingWsman
from tests.verifyoauth.graph_double import GraphDouble

BASE = ["provision"]
NAMES = ["--domain", "fabrikam.com", "--dc", "dc01.fabrikam.com"]
PASSWORD = "Corr3ct-Horse!"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [*BASE, *args], env=env, catch_exceptions=False)


def flat(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_plan_writes_one_script_per_file_and_prints_where_each_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plan", *NAMES, "--tenant", "fabrikam.onmicrosoft.com")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Provision-SfBOnline-Exchange.ps1  (run in the Exchange Management Shell (Exchange server))",
        "Provision-SfBOnline-Graph.ps1  (run in PowerShell with Microsoft Graph PowerShell (admin workstation))",
    ]
    exchange = (tmp_path / "Provision-SfBOnline-Exchange.ps1").read_text(encoding="utf-8")
    graph = (tmp_path / "Provision-SfBOnline-Graph.ps1").read_text(encoding="utf-8")
    assert "[string]$DomainController = 'dc01.fabrikam.com'" in exchange
    for script in (exchange, graph):  # each file is one script: one param() block, #Requires only at its top
        assert script.count("\nparam(") + script.startswith("param(") == 1
        assert all(line.startswith("#Requires") for line in script.splitlines() if "#Requires" in line)
    assert "Connect-MgGraph" in graph and "Connect-MgGraph" not in exchange


@pytest.mark.parametrize("part", ["exchange", "graph"])
def test_plan_part_prints_exactly_that_script(part: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plan", *NAMES, "--tenant", "fabrikam.onmicrosoft.com", "--part", part)
    assert result.exit_code == 0
    invoke("plan", *NAMES, "--tenant", "fabrikam.onmicrosoft.com")
    name = {"exchange": "Provision-SfBOnline-Exchange.ps1", "graph": "Provision-SfBOnline-Graph.ps1"}[part]
    assert result.output == (tmp_path / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "json", "--out-dir", "x"], "--out-dir is for the PowerShell scripts"),
        (["--format", "text", "--part", "graph"], "--part is for the PowerShell scripts"),
        (["--out-dir", "x", "--part", "graph"], "give one of them"),
    ],
)
def test_plan_options_that_do_not_go_together_are_refused(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plan", *NAMES, *args)
    assert result.exit_code == 2
    assert message in flat(result)
    assert list(tmp_path.iterdir()) == []


def test_plan_formats_and_files(tmp_path: Path) -> None:
    document = json.loads(invoke("plan", *NAMES, "--format", "json", "--cloud", "usgov").output)
    assert document["inputs"]["graph"] == "https://graph.microsoft.us" and len(document["steps"]) == 6
    text = invoke("plan", *NAMES, "--format", "text").output
    assert text.startswith("Provisioning plan") and "Step 6." in text
    result = invoke("plan", *NAMES, "--out-dir", str(tmp_path / "scripts"))
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "scripts").iterdir()) == [
        "Provision-SfBOnline-Exchange.ps1",
        "Provision-SfBOnline-Graph.ps1",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "fabrikam.com", "--dc", "dc 01.fabrikam.com"], "contains a space"),
        (["--domain", "fabrikam", "--dc", "dc01.fabrikam.com"], "single label"),
        (["--domain", "admin@fabrikam.com", "--dc", "dc01.fabrikam.com"], "is an address"),
        ([*NAMES, "--tenant", "not a tenant"], "contains a space"),
    ],
)
def test_bad_names_are_usage_errors(args: list[str], message: str) -> None:
    for command in ("plan", "apply"):
        extra = ["--psrp", "https://ex01/PowerShell", "--tenant", "fabrikam.com", "--yes"] if command == "apply" else []
        if command == "apply" and "--tenant" in args:
            extra = ["--psrp", "https://ex01/PowerShell", "--yes"]
        result = invoke(command, *args, *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_certificate_files_are_checked(certs: Certs, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

    pfx = tmp_path / "auth.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(b"a", certs.auth.key, certs.auth.certificate, None, NoEncryption())
    )
    result = invoke("plan", *NAMES, "--cert", str(pfx))
    assert result.exit_code == 2 and "PKCS#12/PFX" in result.output
    expiring = tmp_path / "expiring.cer"
    expiring.write_bytes(certs.expiring.der)
    result = invoke("plan", *NAMES, "--cert", str(expiring))
    assert result.exit_code == 2 and "--force" in result.output
    result = invoke("plan", *NAMES, "--cert", str(expiring), "--force", "--format", "text")
    assert result.exit_code == 0 and "going ahead although the certificate expires" in flat(result)


def test_apply_needs_a_terminal_or_yes(tmp_path: Path) -> None:
    result = invoke("apply", *NAMES, "--psrp", "https://ex01/PowerShell", "--tenant", "fabrikam.com",
                    "--audit-log", str(tmp_path / "a.jsonl"))  # fmt: skip
    assert result.exit_code == 2 and "--yes" in result.output
    assert not (tmp_path / "a.jsonl").exists()  # refused before anything, the log included


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--insecure", "--ca-bundle", "ca.pem"], "either --ca-bundle or --insecure"),
        (["--psrp-user", "FABRIKAM\\admin"], PSRP_PASSWORD_ENV),
        (["--graph-cert", "absent.pem"], "Cannot read --graph-cert"),
    ],
)
def test_remoting_and_graph_options_are_checked_before_anything(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(PSRP_PASSWORD_ENV, raising=False)
    result = invoke("apply", *NAMES, "--psrp", "https://ex01/PowerShell", "--tenant", "fabrikam.com", "--yes",
                    "--audit-log", str(tmp_path / "a.jsonl"), *args)  # fmt: skip
    assert result.exit_code == 2 and message in result.output
    assert result.output.startswith("oauth-inspector provision: ")
    assert not (tmp_path / "a.jsonl").exists()


@pytest.fixture
def app_pem(certs: Certs, tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_bytes(certs.other.key_pem + certs.other.pem)
    return path


def test_remoting_that_refuses_the_credentials(app_pem: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with RefusingWsman() as wsman:
        result = invoke(
            "apply", *NAMES, "--psrp", wsman.url, "--psrp-auth", "ntlm", "--psrp-user", "FABRIKAM\\admin",
            "--tenant", "fabrikam.onmicrosoft.com", "--graph-cert", str(app_pem), "--yes", "--timeout", "5",
            "--audit-log", str(audit),
            env={PSRP_PASSWORD_ENV: PASSWORD},
        )  # fmt: skip
        traffic = wsman.traffic
        kinds = list(wsman.kinds)
    assert result.exit_code == 1, result.output
    assert kinds[:2] == [1, 3]  # a real NTLM handshake reached its AUTHENTICATE before the refusal
    output = flat(result)
    assert "refused the credentials of FABRIKAM\\admin (ntlm, HTTP 401). Nothing was changed" in output
    assert "Next: Check --psrp-user and its password" in output and "RemotePowerShellEnabled" in output
    records = read_records(audit)
    stopped = [r for r in records if r["event"] == "stopped"]
    assert stopped and stopped[0]["changed"] is False and "RemotePowerShellEnabled" in stopped[0]["next"]
    for text in (result.output, audit.read_text(encoding="utf-8")):
        assert PASSWORD not in text
    assert PASSWORD.encode() not in traffic and PASSWORD.encode("utf-16-le") not in traffic


@pytest.fixture
def wired(
    monkeypatch: pytest.MonkeyPatch, certs: Certs, exchange: ExchangeState, graph: GraphDouble
) -> tuple[ExchangeState, GraphDouble]:
    """The CLI's remoting and Graph pointed at the in-memory Exchange and the Graph double."""
    import inspector.remote.graph as verify_graph

    monkeypatch.setattr(cli_provision, "SESSION_OPENER", opener_for(exchange))
    monkeypatch.setattr(cli_provision, "GRAPH_BASE", graph.url)
    monkeypatch.setattr(verify_graph, "msal_token_provider", lambda *_, **__: lambda: TOKEN)
    return exchange, graph


def test_apply_end_to_end(wired: tuple[ExchangeState, GraphDouble], app_pem: Path, tmp_path: Path) -> None:
    exchange, graph = wired
    audit = tmp_path / "audit.jsonl"
    args = [
        *("apply", *NAMES, "--psrp", "https://ex01.fabrikam.com/PowerShell", "--psrp-auth", "kerberos"),
        *("--tenant", "fabrikam.onmicrosoft.com", "--graph-cert", str(app_pem), "--audit-log", str(audit)),
    ]
    dry = invoke(*args, "--dry-run")
    assert dry.exit_code == 0 and "will create" in dry.output and "--dry-run: nothing changed" in flat(dry)
    assert exchange.changes_sent() == []
    first = invoke(*args, "--yes")
    assert first.exit_code == 0, first.output
    output = flat(first)
    assert "2.1 created" in output and "5.1 changed" in output and "6.1 verified" in output
    assert "entra.sp-key" in output and "exchange.partner-app" in output
    assert len(graph.state.principals[SFB]) == 3
    second = invoke(*args, "--yes")
    assert second.exit_code == 0 and "Nothing to change" in flat(second)
    assert [r["event"] for r in read_records(audit)].count("start") == 3


def test_apply_with_graph_refusing(wired: tuple[ExchangeState, GraphDouble], app_pem: Path, tmp_path: Path) -> None:
    exchange, graph = wired
    graph.state.mode = "forbidden"
    result = invoke("apply", *NAMES, "--psrp", "https://ex01.fabrikam.com/PowerShell", "--psrp-auth", "kerberos",
                    "--tenant", "fabrikam.onmicrosoft.com", "--graph-cert", str(app_pem), "--yes",
                    "--audit-log", str(tmp_path / "a.jsonl"))  # fmt: skip
    assert result.exit_code == 1
    output = flat(result)
    assert "Insufficient privileges" in output and "Application.ReadWrite.All" in output
    assert "Nothing was changed" in output and exchange.changes_sent() == []


def test_a_dry_run_audits_what_it_read(wired: tuple[ExchangeState, GraphDouble], app_pem: Path, tmp_path: Path) -> None:
    """A dry run reads Exchange and Graph: the audit log says who ran it, what was read (the plan's states) and
    that nothing changed."""
    exchange, _ = wired
    audit = tmp_path / "audit.jsonl"
    args = [
        *("apply", *NAMES, "--psrp", "https://ex01.fabrikam.com/PowerShell", "--psrp-auth", "kerberos"),
        *("--tenant", "fabrikam.onmicrosoft.com", "--graph-cert", str(app_pem), "--audit-log", str(audit)),
    ]
    assert invoke(*args, "--dry-run").exit_code == 0
    records = read_records(audit)
    assert [r["event"] for r in records] == ["start", "plan", "stopped", "finish"]
    assert records[0]["dry_run"] is True
    assert {a["action"] for a in records[1]["actions"]} >= {"2.1", "5.1"}  # what the reads found, per action
    assert records[2]["changed"] is False and records[-1]["exit"] == 0
    assert exchange.changes_sent() == []
