"""Machine-readable outputs: one JSON document, JSON Lines, SARIF 2.1.0. All stream exchanges as they come.

Each writer gets ``exchange(result)`` and ``finding(f)`` calls (a finding not tied to an exchange: notices from the
sources, trust-store checks) and a final ``close(totals)``.
"""

from __future__ import annotations

import json
from typing import IO, Any, Protocol

from inspector import __version__
from inspector.analyze import ExchangeResult, Totals
from inspector.report.serialize import ExchangeEncoder, dump_json, finding_data, summary_data
from inspector.rules import CATALOGUE, Finding

TOOL_NAME = "oauth-inspector"


_dump = dump_json


class ReportWriter(Protocol):
    def exchange(self, result: ExchangeResult) -> None: ...
    def finding(self, item: Finding) -> None: ...
    def close(self, totals: Totals) -> None: ...


class JsonWriter:
    """``{"tool", "sources", "exchanges", "findings", "summary"}``; exchanges streamed, findings kept until the end."""

    def __init__(self, out: IO[str], sources: list[dict[str, Any]], *, show_secrets: bool) -> None:
        self.out = out
        self.show_secrets = show_secrets
        self.findings: list[dict[str, Any]] = []
        self.encoder = ExchangeEncoder(show_secrets=show_secrets)
        self._first = True
        tool = {"name": TOOL_NAME, "version": __version__}
        out.write(f'{{"tool":{_dump(tool)},"sources":{_dump(sources)},"exchanges":[\n')

    def exchange(self, result: ExchangeResult) -> None:
        prefix = "" if self._first else ",\n"
        self._first = False
        self.out.write(prefix + self.encoder.dumps(self.encoder.exchange_dict(result)))
        self.findings.extend(finding_data(f) for f in result.findings)

    def finding(self, item: Finding) -> None:
        self.findings.append(finding_data(item))

    def close(self, totals: Totals) -> None:
        self.out.write("\n],\n")
        self.out.write('"findings":[\n' + ",\n".join(_dump(f) for f in self.findings) + "\n],\n")
        self.out.write(f'"summary":{_dump(summary_data(totals))}}}\n')
        self.out.flush()


class JsonlWriter:
    """One line per exchange (with its findings), per stand-alone finding, and a last summary line."""

    def __init__(self, out: IO[str], *, show_secrets: bool, flush_each: bool = False) -> None:
        self.out = out
        self.show_secrets = show_secrets
        self.flush_each = flush_each
        self.encoder = ExchangeEncoder(show_secrets=show_secrets)

    def _line(self, value: dict[str, Any]) -> None:
        self.out.write(_dump(value) + "\n")
        if self.flush_each:
            self.out.flush()

    def exchange(self, result: ExchangeResult) -> None:
        data = {"type": "exchange", **self.encoder.exchange_dict(result)}
        data["findings"] = [finding_data(f) for f in result.findings]
        self.out.write(self.encoder.dumps(data) + "\n")
        if self.flush_each:
            self.out.flush()

    def finding(self, item: Finding) -> None:
        self._line({"type": "finding", **finding_data(item)})

    def close(self, totals: Totals) -> None:
        self._line({"type": "summary", **summary_data(totals)})
        self.out.flush()


_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


class SarifWriter:
    """SARIF 2.1.0 with the rule catalogue as the driver's rules; a result per finding, located by its source."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.results: list[dict[str, Any]] = []
        self.sources: dict[str, str] = {}
        self._rule_index = {rule_id: i for i, rule_id in enumerate(CATALOGUE)}

    def exchange(self, result: ExchangeResult) -> None:
        for item in result.findings:
            self.sources[item.exchange or ""] = result.exchange.provenance.source
            self._add(item, result.exchange.provenance.source, result.exchange.provenance.describe())

    def finding(self, item: Finding) -> None:
        source = item.evidence.get("source")
        self._add(item, source if isinstance(source, str) else None, None)

    def _add(self, item: Finding, source: str | None, where: str | None) -> None:
        result: dict[str, Any] = {
            "ruleId": item.rule,
            "ruleIndex": self._rule_index[item.rule],
            "level": _SARIF_LEVEL[item.severity],
            "message": {"text": item.message},
            "properties": {"evidence": item.evidence},
        }
        location: dict[str, Any] = {}
        if source:
            location["physicalLocation"] = {"artifactLocation": {"uri": source}}
        if item.exchange:
            location["logicalLocations"] = [
                {"name": item.exchange, "kind": "object", **({"fullyQualifiedName": where} if where else {})}
            ]
        if location:
            result["locations"] = [location]
        self.results.append(result)

    def close(self, totals: Totals) -> None:
        rules = [
            {
                "id": rule.id,
                "name": "".join(part.capitalize() for part in rule.id.split("-")),
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": rule.help},
                "help": {"text": rule.help},
                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.severity]},
            }
            for rule in CATALOGUE.values()
        ]
        document = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": TOOL_NAME,
                            "version": __version__,
                            "rules": rules,
                        }
                    },
                    "results": self.results,
                    "properties": {"summary": summary_data(totals)},
                }
            ],
        }
        self.out.write(json.dumps(document, ensure_ascii=True, indent=2, default=str) + "\n")
        self.out.flush()
