"""The table a person reads: one line per interesting exchange, the findings with their help, and a summary.

Everything from the wire goes through :func:`safe` and into ``rich.text.Text`` (never markup strings), so neither
rich markup (``[bold]``) nor control characters (ESC sequences) from a capture can reach the terminal.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.model import HttpExchange, UnreadInput
from inspector.redact import redact_target
from inspector.report.writers import Record
from inspector.rules import CATALOGUE, SEVERITIES, Finding
from inspector.tally import Totals
from inspector.text import safe

_WORST_FIRST = {severity: rank for rank, severity in enumerate(SEVERITIES)}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_VERDICT_STYLE = {
    "valid": "green",
    "invalid": "bold red",
    "unknown-key": "yellow",
    "unsigned": "bold red",
    "not-allowed": "bold red",
}


def _auth_cell(result: ExchangeResult, show_secrets: bool = False) -> Text:
    auth = result.auth
    request = result.token_request
    if auth.scheme is None and request is not None:  # the outbound leg: the assertion is the credential
        cell = Text("token request")
        assertion = request.assertion
        if assertion is not None and assertion.signature:
            cell.append(" client-assertion ")
            cell.append(assertion.signature, style=_VERDICT_STYLE.get(assertion.signature, ""))
        return cell
    if auth.scheme is None:
        return Text("-", style="dim")
    cell = Text(safe(auth.scheme, 20))
    token = auth.token
    if token is not None:
        cell.append(f" {token.kind}")
        if token.signature:
            cell.append(" ")
            cell.append(token.signature, style=_VERDICT_STYLE.get(token.signature, ""))
    elif auth.user:
        cell.append(f" {safe(auth.user, 60)}")
    credentials = auth.credentials
    if show_secrets and credentials is not None:  # --show-secrets: what JSON shows, the table shows too
        if credentials.basic_password is not None:
            cell.append(f" password {safe(credentials.basic_password, 120)}", style="bold red")
        elif token is None and credentials.credentials:
            cell.append(f"\n{safe(credentials.credentials, 400)}", style="dim")
    return cell


def _request_cell(exchange: HttpExchange, *, show_secrets: bool) -> Text:
    target = exchange.request.target if show_secrets else redact_target(exchange.request.target)
    cell = Text(f"{safe(exchange.request.method, 16)} {safe(target, 120)}")
    tls = exchange.tls
    if tls is not None:
        # Decrypted from a capture: say how, so nobody mistakes it for traffic that crossed the wire in clear.
        cell.append(f"\n{safe(tls.version, 10)} {safe(tls.cipher, 60)} ({safe(tls.decrypted_with, 10)})", style="dim")
    return cell


def _worst(findings: tuple[Finding, ...]) -> Text:
    """Every rule an exchange raised, worst first, each in its severity's colour (suppressed ones left out: the
    summary line counts them)."""
    findings = tuple(f for f in findings if f.suppressed is None)
    if not findings:
        return Text("ok", style="green")
    seen: dict[str, str] = {}
    for item in sorted(findings, key=lambda f: _WORST_FIRST[f.severity]):
        seen.setdefault(item.rule, item.severity)
    cell = Text()
    for index, (rule, severity) in enumerate(seen.items()):
        if index:
            cell.append(", ")
        cell.append(rule, style=SEVERITY_STYLE[severity])
    return cell


SHOWN_PER_RULE = 10


@dataclass(frozen=True, slots=True)
class TableRecord(Record):
    """What the table keeps of one result: the result itself while there is room for its row, whether it earns a
    row at all, and its findings."""

    result: ExchangeResult | None
    row: bool
    findings: tuple[Finding, ...]


class ConsoleRecords:
    """Keeps what the table shows: results worth a row (at most ``max_rows`` of them) and every finding."""

    def __init__(self, *, verbose: bool, max_rows: int) -> None:
        self.verbose = verbose
        self.max_rows = max_rows
        self.rows = 0

    def exchange(self, result: ExchangeResult) -> Record:
        response = result.exchange.response
        interesting = bool(
            result.findings
            or result.auth.scheme is not None
            or result.token_request is not None
            or (response is not None and response.status == 401)
        )
        if not (interesting or self.verbose):
            return TableRecord(None, False, result.findings)
        self.rows += 1
        # Past the table's size only the count travels (a --jobs worker would otherwise ship every result).
        return TableRecord(result if self.rows <= self.max_rows else None, True, result.findings)

    def finding(self, item: Finding) -> Record:
        return TableRecord(None, False, (item,))


class ConsoleReport:
    """Collects interesting exchanges and prints them when the run ends (a table needs all its rows)."""

    def __init__(
        self, console: Console, *, verbose: bool = False, max_rows: int | None = 500, show_secrets: bool = False
    ) -> None:
        self.console = console
        self.show_secrets = show_secrets
        self.verbose = verbose
        self.max_rows = max_rows if max_rows is not None else sys.maxsize
        self.rows: list[ExchangeResult] = []
        self.hidden = 0
        self.by_rule: dict[str, list[Finding]] = {}
        """The first findings of each rule (what the report prints); counts come from the totals."""
        self._records = ConsoleRecords(verbose=verbose, max_rows=self.max_rows)

    def record_factory(self) -> Callable[[], ConsoleRecords]:
        return functools.partial(ConsoleRecords, verbose=self.verbose, max_rows=self.max_rows)

    def exchange(self, result: ExchangeResult) -> None:
        self.absorb(self._records.exchange(result))

    def finding(self, item: Finding) -> None:
        self.absorb(self._records.finding(item))

    def absorb(self, record: Record) -> None:
        if not isinstance(record, TableRecord):
            raise TypeError(f"not a table record: {record!r}")
        result, findings = record.result, record.findings
        if record.row:
            if result is not None and len(self.rows) < self.max_rows:
                self.rows.append(result)
            else:
                self.hidden += 1
        for item in findings:
            if item.suppressed is not None:  # counted in the summary line, listed in JSON/SARIF with the reason
                continue
            kept = self.by_rule.setdefault(item.rule, [])
            if len(kept) < SHOWN_PER_RULE:
                kept.append(item)

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:
        console = self.console
        if self.rows:
            days = sorted({r.exchange.time.strftime("%Y-%m-%d") for r in self.rows if r.exchange.time is not None})
            span = "time unknown" if not days else days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
            table = Table(title=f"Exchanges with authentication ({span}, UTC)", title_justify="left")
            table.add_column("id", no_wrap=True)
            table.add_column("time", no_wrap=True)
            table.add_column("client -> host", overflow="fold", ratio=2)
            table.add_column("request", overflow="fold", ratio=3)
            table.add_column("status", no_wrap=True)
            table.add_column("auth", overflow="fold", ratio=2)
            table.add_column("findings", overflow="fold", ratio=3)
            for result in self.rows:
                exchange = result.exchange
                status = exchange.response.status if exchange.response else None
                client = exchange.client.host if exchange.client else "?"
                when = exchange.time
                stamp = (
                    "unknown"
                    if when is None
                    else when.strftime("%H:%M:%S")
                    if len(days) == 1
                    else when.strftime("%m-%d %H:%M:%S")
                )
                table.add_row(
                    Text(safe(exchange.id, 40)),
                    Text(stamp),
                    Text(f"{safe(client, 45)} -> {safe(exchange.host or '?', 60)}"),
                    _request_cell(exchange, show_secrets=self.show_secrets),
                    Text(str(status) if status is not None else "-", style="red" if status == 401 else ""),
                    _auth_cell(result, self.show_secrets),
                    _worst(result.findings),
                )
            console.print(table)
            if self.hidden:
                console.print(
                    Text(f"... and {self.hidden} more exchanges (--limit N shows N rows, --all every one)", style="dim")
                )
        else:
            console.print(Text("No authenticated exchanges found.", style="dim"))
        if inventory is not None:
            from inspector.report.inventory_table import print_inventory

            print_inventory(console, inventory)
        self._print_findings(totals)
        self._print_summary(totals)
        self._print_unread()

    errors: tuple[UnreadInput, ...] = ()
    skipped: tuple[UnreadInput, ...] = ()

    def unread(self, errors: list[UnreadInput], skipped: list[UnreadInput]) -> None:
        self.errors, self.skipped = tuple(errors), tuple(skipped)

    def _print_unread(self) -> None:
        """The footer: inputs that failed (the analysis is partial) and files that were not read, each with why."""
        errors, skipped = self.errors, self.skipped
        if errors:
            self.console.print(Text(f"Not read to the end ({len(errors)}; the analysis is partial):", style="bold red"))
            for item in errors:
                read = f" ({item.exchanges_read} exchanges read before)" if item.exchanges_read else ""
                self.console.print(Text(f"    {safe(item.file, 200)}: {safe(item.reason, 400)}{read}"))
        if skipped:
            self.console.print(Text(f"Not read ({len(skipped)}):", style="dim"))
            for item in skipped:
                self.console.print(Text(f"    {safe(item.file, 200)}: {safe(item.reason, 400)}", style="dim"))

    def _print_findings(self, totals: Totals) -> None:
        if not self.by_rule:
            return
        console = self.console
        console.print()
        for rule_id, items in sorted(self.by_rule.items(), key=lambda kv: (_WORST_FIRST[kv[1][0].severity], kv[0])):
            rule = CATALOGUE[rule_id]
            count = max(totals.rules.get(rule_id, 0), len(items))
            head = Text()
            head.append(f"{rule.severity.upper():7} ", style=SEVERITY_STYLE[rule.severity])
            head.append(rule.id, style="bold")
            head.append(f"  {rule.title} ({count})")
            console.print(head)
            for item in items:
                line = Text("    ")
                if item.exchange:
                    line.append(safe(item.exchange, 40) + ": ", style="dim")
                line.append(safe(item.message, 400))
                console.print(line)
            if count > len(items):
                console.print(Text(f"    ... {count - len(items)} more", style="dim"))
            console.print(Text("    " + rule.help, style="dim"))

    def _print_summary(self, totals: Totals) -> None:
        console = self.console
        console.print()
        line = Text(f"{totals.exchanges} exchanges")
        if totals.schemes:
            schemes = ", ".join(f"{k} {v}" for k, v in sorted(totals.schemes.items()) if k != "none")
            if schemes:
                line.append(f"; auth: {schemes}")
        if totals.signatures:
            line.append("; signatures: ")
            for i, (verdict, count) in enumerate(sorted(totals.signatures.items())):
                if i:
                    line.append(", ")
                line.append(f"{verdict} {count}", style=_VERDICT_STYLE.get(verdict, ""))
        console.print(line)
        sev = totals.severities
        closing = Text("Findings: ")
        closing.append(f"{sev.get('error', 0)} errors", style="bold red" if sev.get("error") else "green")
        closing.append(f", {sev.get('warning', 0)} warnings", style="yellow" if sev.get("warning") else "")
        closing.append(f", {sev.get('info', 0)} info")
        if totals.suppressed:
            closing.append(f"; {totals.suppressed} suppressed (--ignore / the configuration's ignore list)")
        console.print(closing)
