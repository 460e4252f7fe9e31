"""The three outputs: a table for a person (rich), JSON for scripts, JUnit XML for CI systems.

All text goes through ``safe`` (control and bidi characters escaped): reasons quote what servers answered, and
neither a terminal nor an XML parser may be handed raw bytes from the wire. rich gets ``Text`` objects, never markup.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector import __version__
from inspector.jsonable import json_native
from inspector.text import safe
from inspector.verifyoauth.model import CHECKS, Check, summary

FORMATS = ("table", "json", "junit")
_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim"}
_LIMIT = 4000
_TITLES = {spec.id: spec.title for spec in CHECKS}


def _clean(value: object) -> Any:
    """Evidence made safe for any output: strings escaped and capped, containers walked (bounded)."""
    if isinstance(value, str):
        return safe(value, _LIMIT)
    if isinstance(value, float) and not math.isfinite(value):
        return json_native(value)  # strict JSON has no NaN or Infinity: "NaN", "Infinity" as strings
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {safe(k, 200): _clean(v) for k, v in list(value.items())[:200]}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in list(value)[:200]]
    return safe(value, _LIMIT)


def _multiline(text: str) -> str:
    """``safe`` escapes newlines; remedies are deliberately multi-line, so escape line by line."""
    return "\n".join(safe(line, _LIMIT) for line in text.splitlines())


def render_table(checks: list[Check], console: Console, *, strict: bool) -> None:
    table = Table(show_header=True, header_style="bold", show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("reason / fix", overflow="fold")
    for check in checks:
        cell = Text(_multiline(check.reason))
        if check.remedy:
            cell.append("\nfix: ", style="bold")
            cell.append(_multiline(check.remedy))
        table.add_row(Text(check.status, style=_STYLE[check.status]), Text(check.id), cell)
    console.print(table)
    counts = summary(checks)
    line = Text(", ".join(f"{n} {status}" for status, n in counts.items()))
    if strict and counts["WARN"]:
        line.append("  (--strict: warnings fail)")
    console.print(line)


def to_json(checks: list[Check], *, generated: datetime, strict: bool) -> dict[str, Any]:
    return {
        "tool": "verify-oauth",
        "version": __version__,
        "generated": generated.isoformat().replace("+00:00", "Z"),
        "strict": strict,
        "summary": summary(checks),
        "checks": [
            {
                "id": c.id,
                "title": _TITLES.get(c.id, c.id),
                "status": c.status,
                "reason": _multiline(c.reason),
                "remedy": _multiline(c.remedy) if c.remedy else None,
                "evidence": _clean(c.evidence),
            }
            for c in checks
        ],
    }


def write_json(checks: list[Check], out: IO[str], *, generated: datetime, strict: bool) -> None:
    json.dump(to_json(checks, generated=generated, strict=strict), out, indent=2, ensure_ascii=False, allow_nan=False)
    out.write("\n")


def to_junit(checks: list[Check], *, generated: datetime, strict: bool) -> str:
    """One testcase per check: FAIL a failure, SKIP skipped, WARN a failure only with ``--strict`` (else a note)."""
    counts = summary(checks)
    failures = counts["FAIL"] + (counts["WARN"] if strict else 0)
    suite = ET.Element(
        "testsuite",
        name="verify-oauth",
        tests=str(len(checks)),
        failures=str(failures),
        errors="0",
        skipped=str(counts["SKIP"]),
        timestamp=generated.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for check in checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"verify-oauth.{check.id.split('.')[0]}", name=check.id, time="0"
        )
        reason = safe(check.reason, _LIMIT)
        details = _multiline(f"{check.reason}\nfix: {check.remedy}" if check.remedy else check.reason)
        if check.status == "FAIL" or (check.status == "WARN" and strict):
            failure = ET.SubElement(case, "failure", message=reason, type=check.status)
            failure.text = details
        elif check.status == "SKIP":
            ET.SubElement(case, "skipped", message=reason)
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{check.status}: {details}"
    root = ET.Element("testsuites", name="verify-oauth", tests=str(len(checks)), failures=str(failures))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
