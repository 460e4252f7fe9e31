"""Machine-readable outputs: one JSON document, JSON Lines, SARIF 2.1.0. All stream exchanges as they come.

Each writer gets ``exchange(result)`` and ``finding(f)`` calls (a finding not tied to an exchange: notices from the
sources, trust-store checks) and a final ``close(totals)``. The work of turning a result into output is done by the
writer's *records* (``record_factory()``): the expensive part (serialising) can then run in ``--jobs`` worker
processes, which send the parent small, ready-made records (mostly text) for ``absorb``.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol, runtime_checkable

from inspector import __version__
from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.model import UnreadInput
from inspector.report.serialize import (
    ExchangeEncoder,
    FindingEncoder,
    FindingTexts,
    dump_json,
    dumps_strict,
    finding_data,
    summary_data,
)
from inspector.rules import CATALOGUE, Finding
from inspector.tally import Totals

TOOL_NAME = "oauth-inspector"


class Record:
    """What a writer's records make of one result: picklable, cheap to send between processes. Each writer has
    its own kinds (small dataclasses), and absorbs only those."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ExchangeText(Record):
    """An exchange's JSON object and its findings' (the JSON document lists them apart)."""

    text: str
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FindingText(Record):
    """A finding not tied to an exchange, as JSON."""

    text: str


@dataclass(frozen=True, slots=True)
class Line(Record):
    """One JSONL line."""

    text: str


@dataclass(frozen=True, slots=True)
class SarifResults(Record):
    """The SARIF results of one exchange or finding, as JSON."""

    results: tuple[str, ...]


_dump = dump_json


class Records(Protocol):
    def exchange(self, result: ExchangeResult) -> Record: ...
    def finding(self, item: Finding) -> Record: ...


class ReportWriter(Protocol):
    def exchange(self, result: ExchangeResult) -> None: ...
    def finding(self, item: Finding) -> None: ...
    def record_factory(self) -> Callable[[], Records]: ...
    def absorb(self, record: Record) -> None: ...
    def close(self, totals: Totals, inventory: Inventory | None = None) -> None: ...


@runtime_checkable
class ReportsUnread(Protocol):
    """A writer that puts the inputs not read (or not to their end) into the report, so that a reader of the report
    alone can tell the analysis was partial."""

    def unread(self, errors: list[UnreadInput], skipped: list[UnreadInput]) -> None: ...


def tell_unread(writer: object, errors: list[UnreadInput], skipped: list[UnreadInput]) -> None:
    """Hand the writer the inputs that failed (``errors``) and the files not read (``skipped``), before ``close``."""
    if isinstance(writer, ReportsUnread):
        writer.unread(errors, skipped)


class _RecordWriter:
    """Feeds results through the writer's own records, so one process and many produce the same output."""

    _records: Records
    errors: tuple[UnreadInput, ...] = ()
    skipped: tuple[UnreadInput, ...] = ()

    def unread(self, errors: list[UnreadInput], skipped: list[UnreadInput]) -> None:
        self.errors, self.skipped = tuple(errors), tuple(skipped)

    def exchange(self, result: ExchangeResult) -> None:
        self.absorb(self._records.exchange(result))

    def finding(self, item: Finding) -> None:
        self.absorb(self._records.finding(item))

    def absorb(self, record: Record) -> None:
        raise NotImplementedError


class JsonRecords:
    def __init__(self, *, show_secrets: bool) -> None:
        self.encoder = ExchangeEncoder(show_secrets=show_secrets)
        self.findings = FindingEncoder()

    def exchange(self, result: ExchangeResult) -> Record:
        text = self.encoder.line(result, line_type=None)
        return ExchangeText(text, tuple(map(self.findings.text, result.findings)))

    def finding(self, item: Finding) -> Record:
        return FindingText(self.findings.text(item))


class _Spool:
    """JSON texts kept on disk until the document's end, so memory does not grow with the size of the input."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in drain()
        self.count = 0

    def add(self, text: str) -> None:
        self._file.write(text if not self.count else ",\n" + text)
        self.count += 1

    def extend(self, texts: tuple[str, ...]) -> None:
        """``add`` of each, in one write (an exchange's findings)."""
        if texts:
            joined = ",\n".join(texts)
            self._file.write(joined if not self.count else ",\n" + joined)
            self.count += len(texts)

    def drain(self, out: IO[str]) -> None:
        self._file.seek(0)
        shutil.copyfileobj(self._file, out)
        self._file.close()


class JsonWriter(_RecordWriter):
    """``{"tool", "sources", "exchanges", "findings", "inventory", "summary"}``; exchanges streamed, findings
    spooled to disk until the end (they come after the exchanges in the document)."""

    def __init__(self, out: IO[str], sources: list[dict[str, Any]], *, show_secrets: bool) -> None:
        self.out = out
        self.show_secrets = show_secrets
        self.findings = _Spool()
        self._records = JsonRecords(show_secrets=show_secrets)
        self._first = True
        tool = {"name": TOOL_NAME, "version": __version__}
        out.write(f'{{"tool":{_dump(tool)},"sources":{_dump(sources)},"exchanges":[\n')

    def record_factory(self) -> Callable[[], Records]:
        return functools.partial(JsonRecords, show_secrets=self.show_secrets)

    def absorb(self, record: Record) -> None:
        if isinstance(record, ExchangeText):
            self.out.write(record.text if self._first else ",\n" + record.text)
            self._first = False
            self.findings.extend(record.findings)
        elif isinstance(record, FindingText):
            self.findings.add(record.text)
        else:
            raise TypeError(f"not a JSON record: {record!r}")

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:
        self.out.write('\n],\n"findings":[\n')
        self.findings.drain(self.out)
        self.out.write("\n],\n")
        if inventory is not None:
            self.out.write(f'"inventory":{_dump(inventory.data())},\n')
        errors = [e.data() for e in self.errors]
        skipped = [s.data() for s in self.skipped]
        self.out.write(f'"errors":{_dump(errors)},\n"skipped":{_dump(skipped)},\n')
        self.out.write(f'"summary":{_dump(summary_data(totals))}}}\n')
        self.out.flush()


class JsonlRecords:
    def __init__(self, *, show_secrets: bool) -> None:
        self.encoder = ExchangeEncoder(show_secrets=show_secrets)
        self.findings = FindingEncoder()

    def exchange(self, result: ExchangeResult) -> Record:
        # "findings" is the line's last member: its texts (each distinct finding encoded once) close the object.
        line = self.encoder.line(result)
        return Line(f'{line[:-1]},"findings":[{",".join(map(self.findings.text, result.findings))}]}}')

    def finding(self, item: Finding) -> Record:
        return Line(_dump({"type": "finding", **finding_data(item)}))


class JsonlWriter(_RecordWriter):
    """One line per exchange (with its findings), per stand-alone finding, and a last summary line."""

    def __init__(self, out: IO[str], *, show_secrets: bool, flush_each: bool = False) -> None:
        self.out = out
        self.show_secrets = show_secrets
        self.flush_each = flush_each
        self._records = JsonlRecords(show_secrets=show_secrets)

    def record_factory(self) -> Callable[[], Records]:
        return functools.partial(JsonlRecords, show_secrets=self.show_secrets)

    def absorb(self, record: Record) -> None:
        if not isinstance(record, Line):
            raise TypeError(f"not a JSONL record: {record!r}")
        self.out.write(record.text + "\n")
        if self.flush_each:
            self.out.flush()

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:
        if inventory is not None:
            self.absorb(Line(_dump({"type": "inventory", **inventory.data()})))
        for item in self.errors:
            self.absorb(Line(_dump({"type": "error", **item.data()})))
        for item in self.skipped:
            self.absorb(Line(_dump({"type": "skipped", **item.data()})))
        self.absorb(Line(_dump({"type": "summary", **summary_data(totals)})))
        self.out.flush()


_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_RULE_INDEX = {rule_id: i for i, rule_id in enumerate(CATALOGUE)}


def _sarif_result_head(item: Finding) -> dict[str, Any]:
    """A finding's SARIF result up to its location: the same for every exchange that carries the finding."""
    result: dict[str, Any] = {
        "ruleId": item.rule,
        "ruleIndex": _RULE_INDEX[item.rule],
        "level": _SARIF_LEVEL[item.severity],
        "message": {"text": item.message},
        "properties": {"evidence": item.evidence},
    }
    if item.suppressed is not None:
        # SARIF 2.1.0 §3.35: a suppressed result stays in the log with its justification.
        result["suppressions"] = [{"kind": "external", "justification": item.suppressed}]
    return result


def _sarif_locations(exchange: str | None, source: str | None, where: str | None) -> list[dict[str, Any]] | None:
    """A result's ``locations``: the file, and the exchange by its id and where it was read."""
    location: dict[str, Any] = {}
    if source:
        location["physicalLocation"] = {"artifactLocation": {"uri": source}}
    if exchange:
        location["logicalLocations"] = [
            {"name": exchange, "kind": "object", **({"fullyQualifiedName": where} if where else {})}
        ]
    return [location] if location else None


def _result_head_text(item: Finding) -> str:
    """The text of :func:`_sarif_result_head` without its closing brace."""
    return dump_json(_sarif_result_head(item))[:-1]


class SarifRecords:
    """Results as text, each finding's part before its location made once per distinct finding
    (:class:`FindingTexts`) and the locations once per exchange. Strict per value (dump_json), so the parts joined
    are the text of the whole."""

    def __init__(self) -> None:
        self._heads = FindingTexts(_result_head_text)

    def _texts(self, findings: tuple[Finding, ...], source: str | None, where: str | None) -> SarifResults:
        texts = []
        located: tuple[str | None, str] | None = None
        for item in findings:
            if located is None or located[0] != item.exchange:
                locations = _sarif_locations(item.exchange, source, where)
                located = (item.exchange, "}" if locations is None else f',"locations":{dump_json(locations)}}}')
            texts.append(self._heads.get(item) + located[1])
        return SarifResults(tuple(texts))

    def exchange(self, result: ExchangeResult) -> Record:
        provenance = result.exchange.provenance
        where = provenance.describe() if result.findings else None
        return self._texts(result.findings, provenance.source, where)

    def finding(self, item: Finding) -> Record:
        source = item.evidence.get("source")
        return self._texts((item,), source if isinstance(source, str) else None, None)


def _sarif_notification(item: UnreadInput, level: str) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "level": level,
        "message": {"text": item.reason},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": item.file}}}],
    }
    if item.exchanges_read is not None:
        notification["properties"] = {"exchanges_read": item.exchanges_read}
    return notification


def _sarif_invocation(errors: tuple[UnreadInput, ...], skipped: tuple[UnreadInput, ...]) -> dict[str, Any]:
    """The run's invocation: unsuccessful when an input failed, with a notification per input not (fully) read."""
    notifications = [_sarif_notification(e, "error") for e in errors]
    notifications += [_sarif_notification(s, "note") for s in skipped]
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _indented(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(..., indent=2)`` writes it ``level`` objects deep (JSON strings hold no newline:
    every newline in the text is the layout's)."""
    return dumps_strict(value, indent=2).replace("\n", "\n" + "  " * level)


class SarifWriter(_RecordWriter):
    """SARIF 2.1.0 with the rule catalogue as the driver's rules; a result per finding, located by its source.
    Results are spooled to disk until the end, so memory does not grow with the input."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.results = _Spool()
        self._records = SarifRecords()

    def record_factory(self) -> Callable[[], Records]:
        return SarifRecords

    def absorb(self, record: Record) -> None:
        if not isinstance(record, SarifResults):
            raise TypeError(f"not a SARIF record: {record!r}")
        self.results.extend(record.results)

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:
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
        driver = {"name": TOOL_NAME, "version": __version__, "rules": rules}
        # The document around the results, written as json.dumps(..., indent=2) writes it; the results between
        # come from the spool.
        self.out.write(
            f'{{\n  "$schema": {_dump(SARIF_SCHEMA)},\n  "version": "2.1.0",\n  "runs": [\n    {{\n'
            f'      "tool": {_indented({"driver": driver}, 3)},\n      "results": [\n'
        )
        self.results.drain(self.out)
        properties: dict[str, Any] = {"summary": summary_data(totals)}
        if inventory is not None:
            properties["inventory"] = inventory.data()
        summary = _indented(properties, 3)
        invocations = _indented([_sarif_invocation(self.errors, self.skipped)], 3)
        self.out.write(f'\n],\n      "invocations": {invocations},\n      "properties": {summary}\n    }}\n  ]\n}}\n')
        self.out.flush()
