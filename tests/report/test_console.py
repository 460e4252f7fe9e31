"""The table a person reads: rows for authenticated exchanges, findings with their help, a summary; wire text inert."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from inspector.analyze import ExchangeResult
from inspector.lab.scenarios import BASIC_PASSWORD
from inspector.report.console import SHOWN_PER_RULE, ConsoleReport
from inspector.rules import CATALOGUE, finding
from inspector.tally import Totals


def _render(results: list[ExchangeResult], *, max_rows: int = 500, verbose: bool = False) -> str:
    out = io.StringIO()
    report = ConsoleReport(Console(file=out, width=200, force_terminal=False), verbose=verbose, max_rows=max_rows)
    totals = Totals()
    for result in results:
        report.exchange(result)
        totals.add(result)
    report.close(totals)
    return out.getvalue()


def test_rows_findings_with_help_and_a_summary(lab_results: list[ExchangeResult]) -> None:
    text = _render(lab_results)
    assert "Exchanges with authentication" in text
    assert "basic-credentials" in text
    assert CATALOGUE["basic-credentials"].help[:60] in " ".join(text.split())
    assert f"{len(lab_results)} exchanges" in text
    assert "Findings: " in text
    assert BASIC_PASSWORD not in text


def test_past_the_row_limit_only_a_count_is_shown(lab_results: list[ExchangeResult]) -> None:
    text = _render(lab_results, max_rows=3)
    rows = sum(
        1
        for r in lab_results
        if r.auth.scheme or r.findings or (r.exchange.response and r.exchange.response.status == 401)
    )
    assert f"... and {rows - 3} more exchanges" in text


def test_a_rule_shows_its_first_findings_and_counts_the_rest() -> None:
    out = io.StringIO()
    report = ConsoleReport(Console(file=out, width=200, force_terminal=False))
    totals = Totals()
    for n in range(SHOWN_PER_RULE + 5):
        item = finding("capture-gap", f"gap number {n}")
        report.finding(item)
        totals.add(item)
    report.close(totals)
    text = out.getvalue()
    assert "gap number 9" in text
    assert "gap number 10" not in text
    assert "... 5 more" in text
    assert f"({SHOWN_PER_RULE + 5})" in text


def test_wire_text_reaches_the_terminal_inert(lab_results: list[ExchangeResult]) -> None:
    """Escape sequences and rich markup from a capture are shown, not obeyed."""
    result = next(r for r in lab_results if r.auth.scheme == "bearer")
    request = dataclasses.replace(result.exchange.request, target="/ews\x1b[31m[bold]red[/bold]\u202e")
    hostile = dataclasses.replace(result, exchange=dataclasses.replace(result.exchange, request=request))
    out = io.StringIO()
    report = ConsoleReport(Console(file=out, width=200, force_terminal=True))
    report.exchange(hostile)
    report.close(Totals())
    text = out.getvalue()
    assert "\\x1b[31m[bold]red[/bold]\\u202e" in text
    assert "\x1b[31m[bold]" not in text
    assert "\u202e" not in text
