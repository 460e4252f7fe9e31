"""Tests mirror the code (as mitmproxy's ``filename_matching``): every module of ``inspector/`` has a test file at the
same place under ``tests/`` that imports it, or is on the short list below that says why not."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "inspector"
TESTS = ROOT / "tests"

# Modules without a test file of their own, and why. Keep it short: a new module gets a test file.
ALLOWED: dict[str, str] = {}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def _dotted(module: Path) -> str:
    return ".".join(module.relative_to(ROOT).with_suffix("").parts)


def _imports(test: Path, dotted: str) -> bool:
    """Whether the test file imports the module (``import a.b.c``, ``from a.b.c import``, ``from a.b import c``)."""
    package, _, name = dotted.rpartition(".")
    text = test.read_text(encoding="utf-8")
    pattern = rf"(?m)^\s*(?:from {re.escape(dotted)} import|import {re.escape(dotted)}\b|from {re.escape(package)} import .*\b{re.escape(name)}\b)"
    return re.search(pattern, text) is not None


def _test_files(module: Path) -> list[Path]:
    """``tests/<same folder>/test_<name>.py`` or ``test_<name>_<aspect>.py``; or ``test_<family>.py`` for a module
    named ``<family>_<member>`` (``test_render.py`` for ``render_json.py``), if it imports the module."""
    folder = TESTS / module.parent.relative_to(PACKAGE)
    name = module.stem
    found = []
    for test in sorted(folder.glob("test_*.py")):
        stem = test.stem.removeprefix("test_")
        own = stem == name or stem.startswith(name + "_")
        if own or (name.startswith(stem + "_") and _imports(test, _dotted(module))):
            found.append(test)
    return found


def test_every_module_has_its_test_file() -> None:
    missing = [
        str(module.relative_to(ROOT))
        for module in _modules()
        if str(module.relative_to(ROOT)) not in ALLOWED and not _test_files(module)
    ]
    assert not missing, "modules without a test file at the mirrored place (tests/<folder>/test_<name>.py): " + str(
        missing
    )


def test_the_allow_list_holds_only_modules_that_exist_and_lack_tests() -> None:
    for path in ALLOWED:
        module = ROOT / path
        assert module.is_file(), path
        assert not _test_files(module), f"{path} has a test file now: take it off the list"


def test_every_test_folder_mirrors_a_package_folder() -> None:
    # test doubles, fuzz harnesses, tests that need real loopback servers and processes, and test data
    helpers = {"doubles", "fuzz", "lab_live"}
    for folder in (p for p in TESTS.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        relative = folder.relative_to(TESTS)
        if relative.parts[0] in helpers or {"golden", "data"} & set(relative.parts):
            continue
        assert (PACKAGE / relative).is_dir(), f"tests/{relative} mirrors no inspector/{relative}"
