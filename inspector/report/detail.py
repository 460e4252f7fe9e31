"""``oauth-inspector show``: one exchange whole, like ``tshark -V`` — who, when and where from, both heads
(redacted), the tokens decoded with their verdict, and every finding with its help.

It is a report writer like the others: the whole input runs through the analyzer (findings that need more than one
exchange, such as a fallback, are only known that way) and this writer keeps the one exchange asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.redact import redact_target
from inspector.report.serialize import header_list, provenance_data, utc_iso
from inspector.report.token_request_view import print_token_request
from inspector.report.token_view import print_token
from inspector.report.writers import Record, Records
from inspector.rules import Finding
from inspector.tally import Totals
from inspector.text import quoted, safe


class ExchangeNotFound(LookupError):
    """The exchange asked for is not in the input."""


class DetailWriter:
    """Keeps the exchange whose id is ``wanted`` (and every finding about it) and prints it on close."""

    def __init__(self, console: Console, wanted: str, *, show_secrets: bool) -> None:
        self.console = console
        self.wanted = wanted
        self.show_secrets = show_secrets
        self.result: ExchangeResult | None = None
        self.later: list[Finding] = []
        self.seen = 0
        self.first_ids: list[str] = []

    def exchange(self, result: ExchangeResult) -> None:
        self.seen += 1
        if len(self.first_ids) < 3:
            self.first_ids.append(result.exchange.id)
        if result.exchange.id == self.wanted and self.result is None:
            self.result = result

    def finding(self, item: Finding) -> None:
        if item.exchange == self.wanted:
            self.later.append(item)

    def record_factory(self) -> Callable[[], Records]:
        raise NotImplementedError("show reads one input in one process")

    def absorb(self, record: Record) -> None:
        raise NotImplementedError("show reads one input in one process")

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:  # noqa: ARG002
        # (the protocol's signature; one exchange has no totals and no inventory)
        if self.result is None:
            known = ", ".join(self.first_ids) + (", …" if self.seen > len(self.first_ids) else "")
            hint = f" (its ids: {known})" if known else " (it holds no exchange)"
            raise ExchangeNotFound(f"no exchange {quoted(self.wanted)} in the input{hint}")
        print_exchange(self.console, self.result, self.later, show_secrets=self.show_secrets)

    def shown_findings(self) -> list[Finding]:
        """The findings about the exchange shown (what decides the exit code)."""
        return [*(self.result.findings if self.result else ()), *self.later]


def print_exchange(console: Console, result: ExchangeResult, later: list[Finding], *, show_secrets: bool) -> None:
    exchange = result.exchange
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column(overflow="fold")
    provenance = provenance_data(exchange.provenance)
    facts.add_row("exchange", Text(safe(exchange.id, 300)))
    facts.add_row("source", Text(safe(", ".join(f"{k} {v}" for k, v in provenance.items()), 500)))
    facts.add_row("time", Text(utc_iso(exchange.time) or "unknown"))
    client = str(exchange.client) if exchange.client else "unknown"
    server = str(exchange.server) if exchange.server else "unknown"
    facts.add_row("client -> server", Text(safe(f"{client} -> {server}", 300)))
    console.print(facts)
    request = exchange.request
    target = request.target if show_secrets else redact_target(request.target)
    console.print(Text(f"\nrequest: {safe(request.method, 40)} {safe(target, 2000)}", style="bold"))
    _print_headers(console, request.headers, show_secrets=show_secrets)
    response = exchange.response
    if response is None:
        console.print(Text("\nresponse: none captured", style="bold"))
    else:
        console.print(Text(f"\nresponse: {response.status} {safe(response.reason or '', 200)}", style="bold"))
        _print_headers(console, response.headers, show_secrets=show_secrets)
    console.print()
    if result.token_request is not None:
        print_token_request(console, result.token_request, show_secrets=show_secrets)
    print_token(console, result, [*result.findings, *later], show_secrets=show_secrets)


def _print_headers(console: Console, headers: tuple[tuple[str, str], ...], *, show_secrets: bool) -> None:
    for name, value in header_list(headers, show_secrets=show_secrets):
        line = Text("  ")
        line.append(safe(name, 200), style="cyan")
        line.append(": " + safe(value, 2000))
        console.print(line)
