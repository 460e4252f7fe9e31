"""Each rule family says which rules it raises (``RULES``), next to the code that raises them: the list and the code
must agree, and every listed rule is in the catalogue."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import inspector.checks
from inspector.rules import CATALOGUE

FAMILIES = [
    name
    for info in pkgutil.iter_modules(inspector.checks.__path__)
    if hasattr(importlib.import_module(name := f"inspector.checks.{info.name}"), "RULES")
]


def _raised(module: str) -> set[str]:
    """The rule IDs the module's source passes to ``finding(...)``."""
    # Found by its name, not its __file__: a compiled module's names its extension (tests/test_compiled.py).
    source = Path(inspector.__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py").read_text("utf-8")
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "finding"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def test_the_families_are_found() -> None:
    assert {name.rsplit(".", 1)[1] for name in FAMILIES} == {
        "credentials",
        "fallback",
        "handshakes",
        "principals",
        "responses",
        "trust_store",
    }


@pytest.mark.parametrize("module", FAMILIES)
def test_a_family_declares_exactly_the_rules_it_raises(module: str) -> None:
    declared = importlib.import_module(module).RULES
    assert len(set(declared)) == len(declared)
    assert set(declared) == _raised(module)
    assert all(rule in CATALOGUE for rule in declared)
