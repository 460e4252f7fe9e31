"""The counts a run keeps: totals for the summaries every output prints, and the progress display's state.

One tally per run, fed by whoever runs the analyzer (the run loop, the ``token`` command, the addon) with what it
publishes, and read by the renderers. The analyzer itself counts nothing: a result counted is a result published,
once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from inspector.analyze import ExchangeResult
from inspector.rules import Finding


@dataclass(slots=True)
class Totals:
    """Running counts for summaries: what was published, so every output agrees."""

    exchanges: int = 0
    schemes: dict[str, int] = field(default_factory=dict)
    signatures: dict[str, int] = field(default_factory=dict)
    severities: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    rules: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    """Findings reported as suppressed: counted here, not by severity (so not towards ``--fail-on``)."""

    def merge(self, other: Totals) -> None:
        self.exchanges += other.exchanges
        self.suppressed += other.suppressed
        for mine, theirs in (
            (self.schemes, other.schemes),
            (self.signatures, other.signatures),
            (self.severities, other.severities),
            (self.rules, other.rules),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value

    def add(self, item: ExchangeResult | Finding) -> None:
        """One published result: an exchange with its findings, or a finding of its own."""
        if isinstance(item, Finding):
            self.count((item,))
            return
        token = item.auth.token
        self.count_exchange(item.auth.scheme, token.signature if token else None, item.findings)

    def count_exchange(self, scheme: str | None, signature: str | None, findings: Iterable[Finding]) -> None:
        self.exchanges += 1
        shown = scheme or "none"
        self.schemes[shown] = self.schemes.get(shown, 0) + 1
        if signature is not None:
            self.signatures[signature] = self.signatures.get(signature, 0) + 1
        self.count(findings)

    def count(self, findings: Iterable[Finding]) -> None:
        for item in findings:
            if item.suppressed is not None:
                self.suppressed += 1
                continue
            self.severities[item.severity] = self.severities.get(item.severity, 0) + 1
            self.rules[item.rule] = self.rules.get(item.rule, 0) + 1


@dataclass(slots=True)
class RunState:
    """What the progress display shows."""

    files_total: int = 0
    files_done: int = 0
    current: str = ""
    bytes_read: int = 0
    bytes_total: int = 0
    packets: int = 0
    exchanges: int = 0
    findings: int = 0
