"""The detailed view of one token for ``oauth-inspector token``: both tokens decoded, the verdict, the findings."""

from __future__ import annotations

import json

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from inspector.analyze import ExchangeResult
from inspector.report.console import SEVERITY_STYLE
from inspector.report.serialize import jwt_data
from inspector.rules import CATALOGUE, Finding
from inspector.text import safe
from inspector.tokens import Jwt


def jwt_panel(title: str, jwt: Jwt, *, show_secrets: bool) -> Panel:
    """One JWT's header and claims in a panel (times also in UTC); the signature only with ``show_secrets``."""
    data = jwt_data(jwt, show_secrets=show_secrets)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text("header"), Text(safe(json.dumps(data["header"], ensure_ascii=True), 4000)))
    times = data.get("times_utc", {})
    for name, value in data["claims"].items():
        shown = Text(safe(value if isinstance(value, str) else json.dumps(value, ensure_ascii=True), 1000))
        if name in times:
            shown.append(f"  ({times[name]})", style="dim")
        grid.add_row(Text(safe(name, 80)), shown)
    if not show_secrets and jwt.signature_segment:
        grid.add_row(Text("signature"), Text("dropped (--show-secrets shows it)", style="dim"))
    return Panel(grid, title=title, title_align="left")


def print_token(console: Console, result: ExchangeResult, findings: list[Finding], *, show_secrets: bool) -> None:
    auth = result.auth
    report = auth.token
    if report is None:
        line = Text(f"Authorization scheme {safe(auth.scheme or '-', 40)}")
        if auth.user:
            line.append(f", user {safe(auth.user, 200)}")
        console.print(line)
    else:
        decoded = report.decoded
        if decoded.outer is not None:
            title = "outer token (unsigned)" if decoded.outer.is_unsigned else "token"
            console.print(jwt_panel(title, decoded.outer, show_secrets=show_secrets))
        if decoded.actor is not None:
            console.print(jwt_panel("actor token (the signed one)", decoded.actor, show_secrets=show_secrets))
        verdict = Text("kind ")
        verdict.append(report.kind, style="bold")
        if report.issuer:
            verdict.append(f", issuer {safe(report.issuer, 200)}")
        if report.realm:
            verdict.append(f", realm {safe(report.realm, 200)}")
        if report.signature:
            style = (
                "green"
                if report.signature == "valid"
                else "bold red"
                if report.signature != "unknown-key"
                else "yellow"
            )
            verdict.append(", signature ")
            verdict.append(report.signature, style=style)
        if report.key is not None:
            verdict.append(f" with {safe(report.key.label(), 300)}")
        console.print(verdict)
    if not findings:
        console.print(Text("No findings.", style="green"))
        return
    for item in findings:
        line = Text()
        line.append(f"{item.severity.upper():7} ", style=SEVERITY_STYLE[item.severity])
        line.append(item.rule, style="bold")
        line.append("  " + safe(item.message, 1000))
        console.print(line)
        console.print(Text("        " + CATALOGUE[item.rule].help, style="dim"))
