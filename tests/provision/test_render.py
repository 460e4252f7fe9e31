"""The rendered plan: golden files for the two scripts, the text and the JSON (``UPDATE_GOLDEN=1`` rewrites them),
and the guards: every change in a script sits behind its probe and the condition that says there is nothing to do."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from inspector import __version__
from inspector.provision.render_json import plan_json
from inspector.provision.render_ps1 import (
    GRAPH_ENVIRONMENTS,
    command_text,
    condition_text,
    exchange_script,
    graph_script,
    literal,
)
from inspector.provision.render_text import plan_text
from inspector.provision.steps import STEPS, CertificateFacts, Ensure, Inspect, Plan, build_plan
from inspector.provision.validate import certificate_file
from tests.provision.conftest import Certs, inputs

GOLDEN = Path(__file__).parent / "golden"
CHANGING = re.compile(r"\b(New|Set|Update|Remove|Add)-[A-Za-z]+")


def _iso(cert: CertificateFacts, name: str) -> str:
    moment = cert.not_before if name == "start" else cert.not_after
    return moment.strftime("%Y-%m-%d")


def check_golden(name: str, text: str, cert: CertificateFacts | None = None) -> None:
    """Compare with the golden file, the certificate's variable parts replaced by placeholders."""
    if cert is not None:
        for value, placeholder in (
            (cert.thumbprint, "@THUMBPRINT@"),
            (cert.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"), "@NOT_BEFORE@"),
            (cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), "@NOT_AFTER@"),
            (_iso(cert, "start"), "@START@"),
            (_iso(cert, "end"), "@END@"),
        ):
            text = text.replace(value, placeholder)
    text = text.replace(f'"tool_version": "{__version__}"', '"tool_version": "@VERSION@"')
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites)"


@pytest.fixture
def cert(certs: Certs, tmp_path: Path) -> CertificateFacts:
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(certs.auth.der)
    return certificate_file(path)


def plain_plan() -> Plan:
    return build_plan(inputs(tenant="fabrikam.onmicrosoft.com"))


def test_golden_exchange_script() -> None:
    check_golden("exchange.ps1", exchange_script(plain_plan()))


def test_golden_graph_script() -> None:
    check_golden("graph.ps1", graph_script(plain_plan()))


def test_golden_graph_script_usgov_with_cert(cert: CertificateFacts) -> None:
    plan = build_plan(inputs(tenant=None, cloud="usgov", certificate=cert))
    script = graph_script(plan)
    assert "Connect-MgGraph -Environment USGov" in script
    assert "[Parameter(Mandatory = $true)][string]$TenantId" in script
    assert f"[string]$ExpectedThumbprint = '{cert.thumbprint}'" in script
    check_golden("graph-usgov-cert.ps1", script, cert)


def test_golden_text_and_json(cert: CertificateFacts) -> None:
    plan = build_plan(inputs(cloud="china", certificate=cert))
    check_golden("plan.txt", plan_text(plan), cert)
    document = plan_json(plan)
    assert document["inputs"]["graph"] == "https://microsoftgraph.chinacloudapi.cn"
    assert document["inputs"]["login"] == "https://login.chinacloudapi.cn"
    check_golden("plan.json", json.dumps(document, indent=2) + "\n", cert)


def _index(lines: list[str], text: str, start: int = 0) -> int:
    for index in range(start, len(lines)):
        if lines[index].strip() == text.strip():
            return index
    raise AssertionError(f"not found after line {start}: {text}")


def test_every_exchange_change_is_guarded() -> None:
    plan = plain_plan()
    lines = exchange_script(plan).splitlines()
    guarded = 0
    for step in STEPS:
        for action in step.actions:
            if isinstance(action, Ensure):
                probe = _index(lines, f"${action.var} = {command_text(action.probe, probe=True)}")
                assert "-ErrorAction SilentlyContinue" in lines[probe]
                refusals = [_index(lines, f"if ({condition_text(r.when)}) {{", probe) for r in action.refusals]
                check = _index(lines, f"if ({condition_text(action.done)}) {{", probe)
                assert all(probe < r < check for r in refusals)
                otherwise = _index(lines, "} else {", check)
                target = f"${action.var}" if action.rebind else "$null"
                change = _index(lines, f"{target} = {command_text(action.change)}", otherwise)
                assert lines[change].startswith("    ") and change == otherwise + 1
                guarded += 1
            elif isinstance(action, Inspect):
                _index(lines, f"${action.var} = {command_text(action.probe, probe=True)}")
    changes = [
        line for line in lines if CHANGING.search(line) and not line.lstrip().startswith(("#", "Write-", "throw"))
    ]
    # one per Ensure, plus the export's folder (New-Item) and nothing else
    assert len(changes) == guarded + 1 and any("New-Item" in c for c in changes)
    step_1 = "\n".join(lines[_index(lines, "# ---- Step 1: OAuth between Exchange and Exchange Online (plan only: "
                                    "checked, never changed) ----"):_index(lines, "# ---- Step 2: The application "
                                    "account for Skype for Business Online ----")])  # fmt: skip
    assert not CHANGING.search(re.sub(r"(?m)^#.*$", "", step_1).replace("Write-", ""))


def test_export_and_graph_guards() -> None:
    plan = plain_plan()
    exchange = exchange_script(plan).splitlines()
    written = _index(exchange, "[System.IO.File]::WriteAllBytes($CertFile, $certBytes)")
    assert _index(exchange, "if (($null -ne $existing) -and ($existing.Thumbprint -eq $thumbprint)) {") < written
    assert _index(exchange, "if ($authCert.NotAfter -lt (Get-Date).AddDays(60) -and -not $Force) {") < written
    graph = graph_script(plan).splitlines()
    update = [
        i for i, line in enumerate(graph) if "Update-MgServicePrincipal" in line and not line.lstrip().startswith("#")
    ]
    assert len(update) == 1
    assert _index(graph, "if ($present.Count -gt 0) {") < _index(graph, "if ($blind.Count -gt 0) {") < update[0]
    assert _index(graph, "if ($cer.HasPrivateKey) {") < update[0]
    keep = _index(graph, "$keep = @($before | ForEach-Object { @{ Key = $_.Key; Type = $_.Type; Usage = $_.Usage } })")
    assert keep < update[0] and "(@($keep) + @($new))" in graph[update[0]]
    assert (
        _index(
            graph,
            "$lost = @($before | Where-Object { $t = Get-KeyThumbprint $_.Key; $t -and ($kept -notcontains $t) })",
        )
        > update[0]
    )


def code_only(text: str) -> str:
    """PowerShell with comments and string contents removed (a small scanner: block and line comments,
    single-quoted strings with '' escapes, double-quoted strings with backtick escapes)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("<#", i):
            i = text.index("#>", i) + 2
        elif c == "#":
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif c == "'":
            i += 1
            while not (text[i] == "'" and text[i + 1 : i + 2] != "'"):
                i += 2 if text[i] == "'" else 1
            i += 1
            out.append("''")
        elif c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "`" else 1
            i += 1
            out.append('""')
        else:
            out.append(c)
            i += 1
    return "".join(out)


@pytest.mark.parametrize("script", ["exchange", "graph"])
def test_scripts_are_balanced(script: str) -> None:
    text = exchange_script(plain_plan()) if script == "exchange" else graph_script(plain_plan())
    code = code_only(text)
    assert code.count("{") == code.count("}") and code.count("(") == code.count(")")
    assert text.count("<#") == text.count("#>") == 1


def test_values_are_quoted_for_powershell() -> None:
    assert literal("it's") == "'it''s'"
    plan = build_plan(inputs(domain="o-brien.com"))
    assert '-ExternalEmailAddress "SfBOnline-ApplicationAccount@$Domain"' in exchange_script(plan)
    assert "'SfBOnline-ApplicationAccount@o-brien.com'" in plan_text(plan)


@pytest.mark.parametrize(("cloud", "environment", "graph"), [
    ("global", "Global", "https://graph.microsoft.com"),
    ("usgov", "USGov", "https://graph.microsoft.us"),
    ("china", "China", "https://microsoftgraph.chinacloudapi.cn"),
])  # fmt: skip
def test_cloud_in_script_and_plan(cloud: str, environment: str, graph: str) -> None:
    plan = build_plan(inputs(cloud=cloud))
    assert GRAPH_ENVIRONMENTS[cloud] == environment
    assert f"Connect-MgGraph -Environment {environment} " in graph_script(plan)
    assert f"PATCH {graph}/v1.0/servicePrincipals(appId='00000004-0000-0ff1-ce00-000000000000')" in plan_text(plan)
