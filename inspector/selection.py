"""What a run reports: filters (``--rule``, ``--severity``, ``--host``, ``--client``, ``--exchange``) narrow every
output format alike, and suppressions (``--ignore RULE[:HOST]``, the configuration file's ``ignore`` list with a
written reason) keep a finding in the report marked as suppressed, never silently dropped.

Applied to each published result before it is counted and written, so every format, the summary and the exit
code agree: a filtered-out finding is not reported; a suppressed one is reported as suppressed and does not count
towards ``--fail-on``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from inspector.analyze import ExchangeResult
from inspector.model import ConfigError, HttpExchange
from inspector.rules import CATALOGUE, Finding, at_or_above

COMMAND_LINE_REASON = "suppressed on the command line (--ignore)"


@dataclass(frozen=True, slots=True)
class Suppression:
    rule: str
    host: str | None
    reason: str

    def matches(self, item: Finding, host: str | None) -> bool:
        if item.rule != self.rule:
            return False
        return self.host is None or (host is not None and host.lower() == self.host)


@dataclass(frozen=True, slots=True)
class Selection:
    rules: frozenset[str] = frozenset()
    severity: str | None = None
    hosts: frozenset[str] = frozenset()
    clients: frozenset[str] = frozenset()
    exchanges: frozenset[str] = frozenset()
    suppressions: tuple[Suppression, ...] = ()

    @property
    def narrows_exchanges(self) -> bool:
        return bool(self.hosts or self.clients or self.exchanges)

    def __bool__(self) -> bool:
        return bool(self.rules or self.severity or self.narrows_exchanges or self.suppressions)

    def wants_exchange(self, exchange: HttpExchange) -> bool:
        if self.exchanges and exchange.id not in self.exchanges:
            return False
        if self.hosts and (exchange.host or "").lower() not in self.hosts:
            return False
        client = exchange.client.host if exchange.client else None
        return not self.clients or (client or "").lower() in self.clients

    def _finding(self, item: Finding, host: str | None) -> Finding | None:
        if self.rules and item.rule not in self.rules:
            return None
        if self.severity is not None and not at_or_above(item.severity, self.severity):
            return None
        for suppression in self.suppressions:
            if suppression.matches(item, host):
                return replace(item, suppressed=suppression.reason)
        return item

    def apply(self, item: ExchangeResult | Finding) -> ExchangeResult | Finding | None:
        """The result as reported, or ``None`` when the filters leave it out."""
        if isinstance(item, Finding):
            if self.narrows_exchanges and not self._standalone_matches(item):
                return None
            host = item.evidence.get("host")
            return self._finding(item, host if isinstance(host, str) else None)
        if self.narrows_exchanges and not self.wants_exchange(item.exchange):
            return None
        kept = tuple(f for f in (self._finding(f, item.exchange.host) for f in item.findings) if f is not None)
        return item if kept == item.findings else replace(item, findings=kept)

    def _standalone_matches(self, item: Finding) -> bool:
        """A finding of its own (a source's notice, a trust or inventory finding) passes the exchange filters only
        when it names a wanted exchange or host."""
        if self.exchanges and item.exchange not in self.exchanges:
            return False
        host = item.evidence.get("host")
        return not self.hosts or (isinstance(host, str) and host.lower() in self.hosts)


def parse_ignore(value: str) -> Suppression:
    """``RULE`` or ``RULE:HOST`` as ``--ignore`` takes it."""
    rule, _, host = value.strip().partition(":")
    _known(rule.strip().lower(), f"--ignore {value}")
    return Suppression(rule.strip().lower(), host.strip().lower() or None, COMMAND_LINE_REASON)


def parse_config_ignores(entries: list[Any], where: str) -> list[Suppression]:
    """The configuration file's ``[[ignore]]`` tables: ``rule``, optional ``host``, and a ``reason`` (required:
    a suppression nobody can explain later is a finding hidden)."""
    out: list[Suppression] = []
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: ignore entry {index} must be a table with rule, reason and optional host")
        unknown = set(entry) - {"rule", "host", "reason"}
        if unknown:
            raise ConfigError(f"{where}: ignore entry {index} has unknown key(s) {', '.join(sorted(unknown))}")
        rule, host, reason = entry.get("rule"), entry.get("host"), entry.get("reason")
        if not isinstance(rule, str) or not rule.strip():
            raise ConfigError(f"{where}: ignore entry {index} needs a rule (an ID from `oauth-inspector rules`)")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where}: ignore entry {index} ({rule}) needs a reason: say why it is accepted")
        if host is not None and not isinstance(host, str):
            raise ConfigError(f"{where}: ignore entry {index} ({rule}): host must be a string")
        _known(rule.strip().lower(), f"{where}: ignore entry {index}")
        out.append(Suppression(rule.strip().lower(), host.strip().lower() if host else None, reason.strip()))
    return out


def _known(rule: str, where: str) -> None:
    if rule not in CATALOGUE:
        import difflib

        near = difflib.get_close_matches(rule, list(CATALOGUE), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; `oauth-inspector rules` lists them all"
        raise ConfigError(f"{where}: no rule {rule}{hint}")


def build_selection(
    *,
    rules: tuple[str, ...] = (),
    severity: str | None = None,
    hosts: tuple[str, ...] = (),
    clients: tuple[str, ...] = (),
    exchanges: tuple[str, ...] = (),
    ignores: tuple[str, ...] = (),
    configured: list[Suppression] | None = None,
) -> Selection:
    for rule in rules:
        _known(rule.strip().lower(), f"--rule {rule}")
    return Selection(
        rules=frozenset(r.strip().lower() for r in rules),
        severity=severity,
        hosts=frozenset(h.strip().lower() for h in hosts),
        clients=frozenset(c.strip().lower() for c in clients),
        exchanges=frozenset(e.strip() for e in exchanges),
        suppressions=(*(configured or []), *(parse_ignore(v) for v in ignores)),
    )


def selected(selection: Selection | None, findings: Iterable[Finding]) -> Iterator[Finding]:
    """Findings as the filters and suppressions report them (a suppressed one marked, a filtered one left out)."""
    for item in findings:
        chosen = selection.apply(item) if selection else item
        if isinstance(chosen, Finding):
            yield chosen
