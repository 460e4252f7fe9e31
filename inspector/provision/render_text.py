"""The plan as text for a person (``provision plan --format text``) and the run on a console (``provision apply``).

Commands are written by ``render_ps1`` so they read the same here, in the scripts and in the audit log. Every
string that came from a server goes through ``safe`` and reaches rich as ``Text``, never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from inspector.provision.render_ps1 import command_text, condition_text
from inspector.provision.state import ActionResult, ActionState
from inspector.provision.steps import Action, Ensure, ExportCertificate, Inspect, MergeKey, Plan, ReadBackKey, Step
from inspector.remote.graph import CLOUDS
from inspector.text import safe
from inspector.verifyoauth.model import Check
from inspector.verifyoauth.report import render_table

TARGETS = {"exchange": "Exchange, PowerShell remoting", "graph": "Microsoft Graph"}
STATUS_WORDS = {
    "done": "already done",
    "create": "will create",
    "change": "will change",
    "later": "decided later",
    "blocked": "BLOCKED",
    "found": "found",
    "missing": "missing",
    "read": "read",
    "check": "will check",
}
_STYLE = {"done": "green", "create": "yellow", "change": "yellow", "later": "yellow", "blocked": "bold red",
          "found": "green", "missing": "red", "read": "cyan", "check": "cyan"}  # fmt: skip
_OUTCOME_STYLE = {"already": "green", "created": "yellow", "changed": "yellow", "verified": "green", "missing": "red"}


def graph_url(plan: Plan, app_id: str) -> str:
    return f"{CLOUDS[plan.inputs.cloud].graph}/v1.0/servicePrincipals(appId='{app_id}')"


def action_lines(plan: Plan, action: Action) -> list[tuple[str, str]]:
    """(label, text) pairs describing what the action reads, when it is done, and what it changes."""
    inputs = plan.inputs
    if isinstance(action, Inspect):
        return [
            ("check", command_text(action.probe, inputs, probe=True)),
            ("expect", condition_text(action.expect)),
            ("if missing", action.missing),
        ]
    if isinstance(action, Ensure):
        lines = [("guard", command_text(action.probe, inputs, probe=True))]
        lines += [("refuse if", f"{condition_text(r.when)}: {r.message}") for r in action.refusals]
        lines += [("done when", condition_text(action.done)), ("change", command_text(action.change, inputs))]
        return lines
    if isinstance(action, ExportCertificate):
        return [
            ("read", f"{command_text(action.config)} -> {action.thumbprint_property}"),
            ("read", f"{command_text(action.certificate)} -> {action.data_property} (DER, SHA-1 checked)"),
            ("apply", "the bytes come back over the remoting session; the script writes " + action.file),
        ]
    url = graph_url(plan, action.app_id)
    if isinstance(action, MergeKey):
        return [
            ("read", f"GET {url}?$select=id,appId,keyCredentials"),
            ("done when", "the certificate's thumbprint is already a Verify key"),
            ("change", f"PATCH {url} keyCredentials = every existing key (key, type, usage) + the certificate "
                       "(AsymmetricX509Cert, Verify, its own start and end dates)"),
        ]  # fmt: skip
    assert isinstance(action, ReadBackKey)
    return [
        ("read", f"GET {url}?$select=id,appId,keyCredentials"),
        ("check", "the thumbprint is a Verify key with the certificate's dates; every earlier key is still there"),
    ]


def _header(plan: Plan) -> list[str]:
    inputs = plan.inputs
    cloud = CLOUDS[inputs.cloud]
    lines = [
        "Provisioning plan: Exchange <-> Skype for Business Online OAuth (seed steps 1-6)",
        f"  domain {inputs.domain}, domain controller {inputs.domain_controller}, "
        f"tenant {inputs.tenant or '(not given)'}, cloud {inputs.cloud} ({cloud.graph}, sign-in {cloud.login})",
    ]
    cert = inputs.certificate
    if cert is not None:
        lines.append(
            f"  certificate {cert.source}: {cert.subject}, thumbprint {cert.thumbprint}, "
            f"valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d}"
        )
    return lines


def _step_title(step: Step) -> str:
    kind = "; plan only" if step.plan_only else ""
    return f"Step {step.number}. {step.title}  [{TARGETS[step.target]}{kind}]"


def plan_text(plan: Plan, states: Mapping[str, ActionState] | None = None) -> str:
    lines = _header(plan)
    for step in plan.steps:
        lines += ["", _step_title(step)]
        if step.note:
            lines.append(f"  {step.note}")
        for action in step.actions:
            state = states.get(action.id) if states else None
            status = f"  [{STATUS_WORDS[state.status]}: {safe(state.detail, 300)}]" if state else ""
            lines.append(f"  {action.id} {action.title}{status}")
            lines += [f"      {label + ':':<11} {text}" for label, text in action_lines(plan, action)]
        lines.append(f"  verify-oauth checks: {', '.join(step.checks)}")
        lines.append("  seed article:")
        lines += [f"      {line}" for line in step.seed]
    return "\n".join(lines) + "\n"


class ConsoleReporter:
    """``Reporter`` on a rich console: the plan as a table, a progress bar while actions run, the checks."""

    def __init__(self, console: Console, audit_path: Path | None = None) -> None:
        self.console = console
        self.audit_path = audit_path
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def plan(self, plan: Plan, states: Mapping[str, ActionState]) -> None:
        for line in _header(plan):
            self.console.print(Text(safe(line, 1000)))
        table = Table(show_header=True, header_style="bold", expand=False)
        table.add_column("step", no_wrap=True)
        table.add_column("action", no_wrap=True)
        table.add_column("state", no_wrap=True)
        table.add_column("what", overflow="fold")
        for step, action in plan.actions():
            state = states.get(action.id)
            if state is None:
                continue
            what = Text(safe(state.detail, 500))
            if state.remedy and state.status in ("blocked", "missing"):
                what.append("\nnext: ", style="bold")
                what.append(safe(state.remedy, 1000))
            table.add_row(
                Text(str(step.number)),
                Text(action.id),
                Text(STATUS_WORDS[state.status], style=_STYLE[state.status]),
                what,
            )
        self.console.print(table)

    def begin(self, total: int) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=self.console, transient=True
        )
        self._progress.start()
        self._task = self._progress.add_task("provisioning", total=total)

    def done(self, step: Step, action: Action, result: ActionResult) -> None:
        line = Text(f"{action.id} ")
        line.append(result.outcome, style=_OUTCOME_STYLE.get(result.outcome, "cyan"))
        line.append(f": {safe(result.detail, 500)}")
        if self._progress is not None and self._task is not None:
            self._progress.console.print(line)
            self._progress.update(self._task, advance=1, description=f"step {step.number}")
        else:
            self.console.print(line)

    def end(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def stopped(self, message: str, remedy: str, done: list[ActionResult]) -> None:
        self.console.print(Text(safe(message, 2000), style="bold red"))
        if done:
            self.console.print(Text("Done before stopping: " + ", ".join(f"{r.action_id} {r.outcome}" for r in done)))
        out = Text("Next: ", style="bold")
        out.append(safe(remedy, 2000))
        self.console.print(out)
        if self.audit_path is not None:
            self.console.print(Text(f"Audit log: {self.audit_path}"))

    def note(self, text: str) -> None:
        self.console.print(Text(safe(text, 2000)))

    def checks(self, checks: list[Check]) -> None:
        self.console.print(Text("verify-oauth checks for these steps:", style="bold"))
        render_table(checks, self.console, strict=False)
