"""The one PowerShell renderer: the steps as readable scripts, one per host.

``exchange_script`` is for the Exchange Management Shell (steps 1-4: step 1 only checked), ``graph_script`` for
Microsoft Graph PowerShell on an admin workstation (steps 5-6, replacing the retired MSOnline module). Every change
sits behind its probe (``Get-… -ErrorAction SilentlyContinue``) and the condition that says there is nothing to do,
so a second run changes nothing. The seed's own commands are kept above each step as comments.

``command_text`` and ``condition_text`` are also what the text and JSON plans show, so a command reads the same in
the script, the plan and the audit log.
"""

from __future__ import annotations

from inspector.policy import EXPIRING_DAYS
from inspector.provision.steps import (
    AllOf,
    Blank,
    Command,
    Condition,
    Ensure,
    ExportCertificate,
    Inputs,
    Inspect,
    IsTrue,
    MergeKey,
    Not,
    Plan,
    Present,
    ReadBackKey,
    Ref,
    Same,
    Setting,
    Step,
    Text,
    Value,
)
from inspector.remote.graph import CLOUDS

GRAPH_ENVIRONMENTS = {"global": "Global", "usgov": "USGov", "china": "China"}
"""``Connect-MgGraph -Environment`` names of the clouds ``remote.graph.CLOUDS`` knows."""
assert set(GRAPH_ENVIRONMENTS) == set(CLOUDS)
WRITE_SCOPE = "Application.ReadWrite.All"
INDENT = "    "


def literal(text: str) -> str:
    """A single-quoted PowerShell string: nothing inside is expanded."""
    return "'" + text.replace("'", "''") + "'"


def _expandable(parts: tuple[str | Setting, ...]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Setting):
            out.append(f"${part.name}")
        else:
            out.append(part.replace("`", "``").replace('"', '`"').replace("$", "`$"))
    return '"' + "".join(out) + '"'


def value_text(value: Value, inputs: Inputs | None = None) -> str:
    """A parameter value. With ``inputs``, settings are shown as the values given (the plan); without, as the
    script's parameters (``$DomainController``)."""
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, Setting):
        given = inputs.setting(value.name) if inputs else None
        return literal(given) if given is not None else f"${value.name}"
    if isinstance(value, Ref):
        return f"${value.var}.{value.property}"
    assert isinstance(value, Text)
    if inputs is not None:
        return literal("".join(p if isinstance(p, str) else (inputs.setting(p.name) or "") for p in value.parts))
    return _expandable(value.parts)


def command_text(command: Command, inputs: Inputs | None = None, *, probe: bool = False) -> str:
    """``Cmdlet -Name value …``; a probe gets ``-ErrorAction SilentlyContinue`` (absent is an answer, not an error)
    and its ``where`` filter."""
    words = [command.cmdlet]
    for name, value in command.parameters:
        words.append(f"-{name} {value_text(value, inputs)}")
    if probe:
        words.append("-ErrorAction SilentlyContinue")
    text = " ".join(words)
    if command.where is not None:
        prop, wanted = command.where
        text += f" | Where-Object {{ $_.{prop} -eq {literal(wanted)} }} | Select-Object -First 1"
    return text


def _text_of(var: str, prop: str) -> str:
    return f'"$(${var}.{prop})"'


def condition_text(condition: Condition) -> str:
    if isinstance(condition, Present):
        return f"$null -ne ${condition.var}"
    if isinstance(condition, IsTrue):
        return f"($null -ne ${condition.var}) -and (${condition.var}.{condition.property} -eq $true)"
    if isinstance(condition, Blank):
        return f"[string]::IsNullOrEmpty({_text_of(condition.var, condition.property)})"
    if isinstance(condition, Same):
        wanted = condition.value
        right = _text_of(wanted.var, wanted.property) if isinstance(wanted, Ref) else value_text(wanted)
        return f"{_text_of(condition.var, condition.property)} -eq {right}"
    if isinstance(condition, Not):
        return f"-not ({condition_text(condition.inner)})"
    assert isinstance(condition, AllOf)
    return " -and ".join(f"({condition_text(part)})" for part in condition.parts)


# --- the scripts ---------------------------------------------------------------------------------------------------


def _say(action_id: str, what: str, title: str) -> str:
    return f"Write-Host {literal(f'{action_id} {what}: {title}')}"


def _step_header(step: Step) -> list[str]:
    kind = " (plan only: checked, never changed)" if step.plan_only else ""
    lines = ["", f"# ---- Step {step.number}: {step.title}{kind} ----"]
    if step.note:
        lines.append(f"# {step.note}")
    lines.append("# The seed article's commands, for reference:")
    lines += [f"#   {line}" for line in step.seed]
    return lines


def _inspect(action: Inspect) -> list[str]:
    return [
        f"# {action.id} {action.title}",
        f"${action.var} = {command_text(action.probe, probe=True)}",
        f"if ({condition_text(action.expect)}) {{",
        INDENT + _say(action.id, "found", action.title),
        "} else {",
        INDENT + f"Write-Warning {literal(f'{action.id} missing: {action.title}. {action.missing}')}",
        "}",
    ]


def _ensure(action: Ensure) -> list[str]:
    lines = [f"# {action.id} {action.title}", f"${action.var} = {command_text(action.probe, probe=True)}"]
    for refusal in action.refusals:
        message = f"{action.id} refused: {refusal.message}. Next: {refusal.remedy}"
        lines += [f"if ({condition_text(refusal.when)}) {{", f"{INDENT}throw {literal(message)}", "}"]
    target = f"${action.var}" if action.rebind else "$null"
    lines += [
        f"if ({condition_text(action.done)}) {{",
        INDENT + _say(action.id, "already done", action.title),
        "} else {",
        f"{INDENT}{target} = {command_text(action.change)}",
        INDENT + _say(action.id, action.outcome, action.title),
        "}",
    ]
    return lines


def _export(action: ExportCertificate) -> list[str]:
    too_late = (
        f"{action.id} refused: the auth certificate expires on $($authCert.NotAfter) (less than {EXPIRING_DAYS} "
        "days away). Next: renew it (see MonitorExchangeAuthCertificate.ps1), or run with -Force"
    )
    no_current = f"{action.id}: Get-AuthConfig names no current auth certificate. Next: create one (KB 2617816)"
    return [
        f"# {action.id} {action.title}",
        f"$authConfig = {command_text(action.config)}",
        f"$thumbprint = $authConfig.{action.thumbprint_property}",
        "if ([string]::IsNullOrEmpty($thumbprint)) {",
        f"{INDENT}throw {literal(no_current)}",
        "}",
        f"$authCert = {command_text(action.certificate)}",
        f"if ($authCert.NotAfter -lt (Get-Date).AddDays({EXPIRING_DAYS}) -and -not $Force) {{",
        f'{INDENT}throw "{too_late}"',
        "}",
        f"$certBytes = $authCert.{action.data_property}  # the public certificate (DER); the private key stays put",
        "$existing = $null",
        "if (Test-Path -LiteralPath $CertFile) {",
        f"{INDENT}try {{ $existing = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new("
        "[System.IO.File]::ReadAllBytes($CertFile)) } catch { $existing = $null }",
        "}",
        "if (($null -ne $existing) -and ($existing.Thumbprint -eq $thumbprint)) {",
        f'{INDENT}Write-Host "{action.id} already done: $CertFile holds $thumbprint"',
        "} else {",
        f"{INDENT}$null = New-Item -ItemType Directory -Force -Path (Split-Path -Parent $CertFile)",
        f"{INDENT}[System.IO.File]::WriteAllBytes($CertFile, $certBytes)",
        f'{INDENT}Write-Host "{action.id} written: $CertFile ($thumbprint)"',
        "}",
        'Write-Host "Copy $CertFile to the machine that runs the Microsoft Graph script (steps 5-6)."',
    ]


_KEY_THUMBPRINT = [
    "function Get-KeyThumbprint([byte[]]$Key) {",
    "    # Graph returns the certificate (DER); keys uploaded as the bytes of base64 text are decoded once more.",
    "    if ($null -eq $Key -or $Key.Length -eq 0) { return $null }",
    "    try {",
    "        if ($Key[0] -ne 0x30) { $Key = [System.Convert]::FromBase64String([System.Text.Encoding]::ASCII"
    ".GetString($Key)) }",
    "        return [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($Key).Thumbprint",
    "    } catch { return $null }",
    "}",
    "function Get-Keys($ServicePrincipalId) {",
    "    # key data comes back only when one object is read with -Property (Graph's $select)",
    "    @((Get-MgServicePrincipal -ServicePrincipalId $ServicePrincipalId -Property keyCredentials).KeyCredentials)",
    "}",
]


def _merge(action: MergeKey) -> list[str]:
    return [
        f"# {action.id} {action.title}",
        f'$sp = Get-MgServicePrincipal -Filter "AppId eq {literal(action.app_id)}"',
        "if ($null -eq $sp) {",
        INDENT
        + "throw "
        + literal(
            f"{action.id}: no service principal {action.app_id}. Next: New-MgServicePrincipal -AppId {action.app_id}"
        ),
        "}",
        "$before = Get-Keys $sp.Id",
        "$present = @($before | Where-Object { (Get-KeyThumbprint $_.Key) -eq $cer.Thumbprint })",
        "if ($present.Count -gt 0) {",
        INDENT + _say(action.id, "already done", action.title),
        "} else {",
        INDENT + "$blind = @($before | Where-Object { $null -eq $_.Key -or $_.Key.Length -eq 0 })",
        INDENT + "if ($blind.Count -gt 0) {",
        INDENT * 2
        + "throw "
        + literal(
            f"{action.id} refused: some keys came back without their data; sending the list would drop them. "
            "Next: inspect them in the Entra admin center"
        ),
        INDENT + "}",
        INDENT + "# A PATCH replaces the whole list: every existing key goes back, with key, type and usage only.",
        INDENT + "$keep = @($before | ForEach-Object { @{ Key = $_.Key; Type = $_.Type; Usage = $_.Usage } })",
        INDENT + "$new = @{",
        INDENT * 2 + "Key = $cer.RawData; Type = 'AsymmetricX509Cert'; Usage = 'Verify'; DisplayName = $cer.Subject",
        INDENT * 2 + "StartDateTime = $cer.NotBefore.ToUniversalTime(); EndDateTime = $cer.NotAfter.ToUniversalTime()",
        INDENT + "}",
        INDENT + "Update-MgServicePrincipal -ServicePrincipalId $sp.Id -KeyCredentials (@($keep) + @($new))",
        INDENT + _say(action.id, "changed", action.title),
        "}",
    ]


def _read_back(action: ReadBackKey) -> list[str]:
    return [
        f"# {action.id} {action.title}",
        "$after = Get-Keys $sp.Id",
        "$mine = @($after | Where-Object { (Get-KeyThumbprint $_.Key) -eq $cer.Thumbprint })",
        "if ($mine.Count -eq 0) {",
        INDENT + "throw " + literal(f"{action.id}: the certificate is not among the keys. Next: run this script again"),
        "}",
        "$kept = @($after | ForEach-Object { Get-KeyThumbprint $_.Key })",
        "$lost = @($before | Where-Object { $t = Get-KeyThumbprint $_.Key; $t -and ($kept -notcontains $t) })",
        "if ($lost.Count -gt 0) {",
        INDENT + 'throw "' + action.id + ": $($lost.Count) key(s) that were there before are gone. Next: upload them "
        'again from their certificates"',
        "}",
        "foreach ($key in $mine) {",
        INDENT
        + "if ($key.Usage -ne 'Verify') { Write-Warning "
        + literal(f"{action.id}: the key is not a Verify key")
        + " }",
        INDENT + "if ([Math]::Abs(($key.EndDateTime - $cer.NotAfter.ToUniversalTime()).TotalDays) -gt 1) {",
        INDENT * 2 + "Write-Warning " + literal(f"{action.id}: the key's end date is not the certificate's"),
        INDENT + "}",
        "}",
        "$mine | Format-List KeyId, DisplayName, Type, Usage, StartDateTime, EndDateTime",
        _say(action.id, "verified", action.title),
    ]


def _action_lines(step: Step) -> list[str]:
    lines: list[str] = []
    for action in step.actions:
        lines.append("")
        if isinstance(action, Inspect):
            lines += _inspect(action)
        elif isinstance(action, Ensure):
            lines += _ensure(action)
        elif isinstance(action, ExportCertificate):
            lines += _export(action)
        elif isinstance(action, MergeKey):
            lines += _merge(action)
        else:
            lines += _read_back(action)
    return lines


def _param(name: str, value: str | None, kind: str = "string") -> str:
    if value is None:
        return f"[Parameter(Mandatory = $true)][{kind}]${name}"
    return f"[{kind}]${name} = {value}"


def exchange_script(plan: Plan) -> str:
    inputs = plan.inputs
    steps = [s for s in plan.steps if s.target == "exchange"]
    numbers = f"{steps[0].number}-{steps[-1].number}"
    lines = [
        "<#",
        ".SYNOPSIS",
        f"    Steps {numbers} of 'Configure Integration and OAuth between Skype for Business Online and Exchange",
        "    Server' on the Exchange side: the application account, its roles, the partner application and the auth",
        "    certificate export. Made by `oauth-inspector provision plan`.",
        ".DESCRIPTION",
        "    Run in the Exchange Management Shell as a member of Organization Management. Every change is guarded by",
        "    a read first: running the script again changes nothing. Step 1 is only checked.",
        "#>",
        "[CmdletBinding()]",
        "param(",
        f"    {_param('Domain', literal(inputs.domain))},",
        f"    {_param('DomainController', literal(inputs.domain_controller))},",
        f"    {_param('CertFile', _cert_file(steps))},",
        "    [switch]$Force",
        ")",
        "$ErrorActionPreference = 'Stop'",
    ]
    for step in steps:
        lines += _step_header(step)
        lines += _action_lines(step)
    return "\n".join(lines) + "\n"


def _cert_file(steps: list[Step]) -> str:
    """The export's file, expanded by PowerShell (it names ``$env:SYSTEMDRIVE``)."""
    files = [a.file for s in steps for a in s.actions if isinstance(a, ExportCertificate)]
    return f'"{files[0]}"' if files else "'.\\OAuthCert.cer'"


def graph_script(plan: Plan) -> str:
    inputs = plan.inputs
    steps = [s for s in plan.steps if s.target == "graph"]
    cert = inputs.certificate
    expected = literal(cert.thumbprint) if cert else "''"
    cert_file = literal(f".\\{cert.source}" if cert else ".\\OAuthCert.cer")
    refuse_expiring = (
        f"the certificate expires on $($cer.NotAfter) (less than {EXPIRING_DAYS} days away). "
        "Next: renew Exchange's auth certificate first, or run with -Force"
    )
    lines = [
        "<#",
        ".SYNOPSIS",
        f"    Steps {steps[0].number}-{steps[-1].number} of 'Configure Integration and OAuth between Skype for "
        "Business Online and Exchange",
        "    Server' with Microsoft Graph PowerShell (the MSOnline module of the article is retired): upload the",
        "    Exchange auth certificate to the Skype for Business Online service principal and check it arrived.",
        "    Made by `oauth-inspector provision plan`.",
        ".DESCRIPTION",
        f"    Needs the Microsoft.Graph.Applications module and an account that may consent to {WRITE_SCOPE}",
        "    (Application Administrator, or an owner of the service principal). The keys already on the service",
        "    principal are kept; running the script again changes nothing.",
        "#>",
        "#Requires -Modules Microsoft.Graph.Authentication, Microsoft.Graph.Applications",
        "[CmdletBinding()]",
        "param(",
        f"    {_param('TenantId', literal(inputs.tenant) if inputs.tenant else None)},",
        f"    {_param('CertFile', cert_file)},",
        f"    {_param('ExpectedThumbprint', expected)},",
        "    [switch]$Force",
        ")",
        "$ErrorActionPreference = 'Stop'",
        "",
        *_KEY_THUMBPRINT,
        "",
        "# The certificate exported by the Exchange script (step 4): public part only.",
        "$cer = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new("
        "(Resolve-Path -LiteralPath $CertFile).Path)",
        "if ($cer.HasPrivateKey) {",
        f'{INDENT}throw "$CertFile carries a private key. Next: give the public certificate (.cer) only"',
        "}",
        "if ($ExpectedThumbprint -and $cer.Thumbprint -ne $ExpectedThumbprint) {",
        f'{INDENT}throw "$CertFile is $($cer.Thumbprint), not $ExpectedThumbprint. Next: export it again (step 4)"',
        "}",
        f"if ($cer.NotAfter.ToUniversalTime() -lt [DateTime]::UtcNow.AddDays({EXPIRING_DAYS}) -and -not $Force) {{",
        f'{INDENT}throw "{refuse_expiring}"',
        "}",
        f"Connect-MgGraph -Environment {GRAPH_ENVIRONMENTS[inputs.cloud]} -TenantId $TenantId "
        f"-Scopes {literal(WRITE_SCOPE)} -NoWelcome",
    ]
    for step in steps:
        lines += _step_header(step)
        lines += _action_lines(step)
    return "\n".join(lines) + "\n"


SCRIPT_NAMES = {"exchange": "Provision-SfBOnline-Exchange.ps1", "graph": "Provision-SfBOnline-Graph.ps1"}
SCRIPT_WHERE = {
    "exchange": "the Exchange Management Shell (Exchange server)",
    "graph": "PowerShell with Microsoft Graph PowerShell (admin workstation)",
}


def scripts(plan: Plan) -> dict[str, str]:
    """File name -> script, one per host."""
    return {SCRIPT_NAMES["exchange"]: exchange_script(plan), SCRIPT_NAMES["graph"]: graph_script(plan)}
