"""The README's example outputs and its rule table, made by running the commands they show (so they cannot drift).

    uv run python docs/readme_examples.py          # rewrite the README's example blocks (and docs/examples/)
    uv run python docs/readme_examples.py --check  # exit 1 if anything is out of date (tests/test_readme.py)

Each block sits between ``<!-- example NAME -->`` and ``<!-- /example -->`` in README.md. Long outputs are cut to
the lines worth reading; a cut is shown as ``…`` on a line of its own.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
LAB = "captures/lab"
TRUST = f"--cert {LAB}/OAuthCert.cer --metadata {LAB}/acs-metadata.json --realm 5de110f8-2e0f-4d45-891d-bcf2218e253d"
REQUEST_FILE = "docs/examples/request.txt"
CUT = "…"

Select = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class Example:
    name: str
    command: str
    """As shown after ``$ uv run``; run as it reads (``< FILE`` feeds standard input)."""
    columns: int
    select: Select


def _everything(lines: list[str]) -> list[str]:
    return lines


def _severity_block(lines: list[str], rule: str) -> list[str]:
    start = next(i for i, line in enumerate(lines) if re.match(rf"(ERROR|WARNING|INFO)\s+{re.escape(rule)}\s", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"(ERROR|WARNING|INFO)\s+\S", lines[i])), len(lines)
    )
    return lines[start:end]


def _table_rows(lines: list[str], ids: list[str]) -> list[str]:
    kept: list[str] = []
    keep = False
    for line in lines:
        row = re.match(r"│ (\S+)\s+│", line)
        if row:
            keep = row.group(1) in ids
        elif not line.startswith("│"):
            keep = False
        if keep:
            kept.append(line)
    return kept


def _analyze(lines: list[str]) -> list[str]:
    head = lines[:4]
    rows = _table_rows(lines, ["lab.har:1", "lab.har:2", "lab.har:9", "lab.har:20"])
    findings = _severity_block(lines, "basic-fallback") + _severity_block(lines, "signature-invalid")
    tail = [line for line in lines if line.strip()][-2:]
    return [*head, *rows, CUT, *findings, CUT, *tail]


def _outbound(lines: list[str]) -> list[str]:
    head = lines[:4]
    rows = _table_rows(lines, ["outbound:2", "outbound:15"])
    refused = _severity_block(lines, "token-request-failed")[:4]
    tail = [line for line in lines if line.strip()][-2:]
    return [*head, *rows, CUT, *refused, CUT, *tail]


EXAMPLES = [
    Example("analyze", f"oauth-inspector analyze {LAB}/lab.har {TRUST}", 130, _analyze),
    Example(
        "token",
        f"oauth-inspector token - --cert {LAB}/OAuthCert.cer --at 2026-11-02T09:31:00Z < {REQUEST_FILE}",
        120,
        _everything,
    ),
    Example("show", f"oauth-inspector show {LAB}/lab.har lab.har:20 {TRUST}", 120, _everything),
    Example("rules", "oauth-inspector rules basic-fallback", 120, _everything),
    Example(
        "outbound",
        "oauth-inspector analyze captures/outbound/outbound.saz --cert captures/outbound/OAuthCert.cer",
        150,
        _outbound,
    ),
]


def request_text() -> str:
    """A healthy request of the lab capture as Fiddler's Raw view shows it (what people paste into ``token``)."""
    har = json.loads((REPO / LAB / "lab.har").read_text(encoding="utf-8"))
    request = har["log"]["entries"][1]["request"]
    path = re.sub(r"^https?://[^/]+", "", request["url"])
    lines = [f"{request['method']} {path} HTTP/1.1", *(f"{h['name']}: {h['value']}" for h in request["headers"])]
    return "\n".join(lines) + "\n\n" + request.get("postData", {}).get("text", "") + "\n"


def run(example: Example) -> list[str]:
    from inspector.cli import main

    words = shlex.split(example.command)
    stdin = None
    if "<" in words:
        where = words.index("<")
        stdin = (REPO / words[where + 1]).read_text(encoding="utf-8")
        words = words[:where]
    assert words[0] == "oauth-inspector"
    previous = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner().invoke(main, words[1:], input=stdin, env={"COLUMNS": str(example.columns)})
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return example.select(lines)


def block(example: Example) -> str:
    shown = "\n".join(["$ uv run " + example.command, *run(example)])
    return f"<!-- example {example.name} -->\n```\n{shown}\n```\n<!-- /example -->"


RULES_BEGIN = "<!-- rule-catalogue:"
RULES_END = "<!-- /rule-catalogue -->"


def updated_readme(text: str) -> str:
    from inspector.rules import markdown_table

    start = text.index("\n", text.index(RULES_BEGIN)) + 1
    text = text[:start] + markdown_table() + "\n" + text[text.index(RULES_END) :]
    for example in EXAMPLES:
        pattern = re.compile(rf"<!-- example {example.name} -->\n.*?<!-- /example -->", re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no block <!-- example {example.name} -->")
        made = block(example)
        text = pattern.sub(lambda _match, made=made: made, text, count=1)
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    request_path = REPO / REQUEST_FILE
    wanted_request = request_text()
    # The request file must be current before the token example reads it.
    if not check:
        request_path.write_text(wanted_request, encoding="utf-8")
    stale = []
    if not request_path.is_file() or request_path.read_text(encoding="utf-8") != wanted_request:
        stale.append(REQUEST_FILE)
    current = README.read_text(encoding="utf-8")
    wanted = updated_readme(current)
    if wanted != current:
        stale.append("README.md")
        if not check:
            README.write_text(wanted, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(stale)}; run: uv run python docs/readme_examples.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
