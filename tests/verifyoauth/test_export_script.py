"""The read-only script for the Exchange Management Shell: every cmdlet the checks read, nothing that writes."""

from __future__ import annotations

import re

from inspector.verifyoauth.collect import TOP_LEVEL, all_cmdlets
from inspector.verifyoauth.export_script import export_script


def _code_lines(script: str) -> list[str]:
    """The script without its comment-based help and comments."""
    body = script.split("#>", 1)[1]
    return [line for line in body.splitlines() if not line.strip().startswith("#")]


def test_export_script_is_read_only_and_complete() -> None:
    script = export_script()
    code = "\n".join(_code_lines(script))
    for cmdlet in all_cmdlets():
        assert cmdlet in code
    for query in TOP_LEVEL:
        for name in query.properties:
            assert f"'{name}'" in code
    used = set(re.findall(r"\b([A-Z][a-z]+)-[A-Z][A-Za-z]+\b", code))
    assert used <= {"Get", "Select", "ForEach", "Join", "New", "Invoke", "ConvertTo", "Write"}, used
    assert re.findall(r"\bNew-[A-Z]\w+", code) == ["New-Object"] * code.count("New-Object")
    assert "Errors" in code and "ConvertTo-Json -Depth 8" in code
    assert "$ErrorActionPreference = 'Stop'" in code


def test_export_script_brackets_balance() -> None:
    """A cheap parse: outside quoted strings every bracket closes in order (no PowerShell here to run it)."""
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for line in _code_lines(export_script()):
        text = re.sub(r"'[^']*'", "''", line)
        text = re.sub(r'"(?:[^"`]|`.)*"', '""', text)
        for char in text:
            if char in "({[":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], line
    assert stack == []
