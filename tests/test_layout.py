"""Tests mirror the code (as mitmproxy's ``filename_matching``): every module of ``inspector/`` has a test file at the
same place under ``tests/`` that imports it, or is on the short list below that says why not."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "inspector"
TESTS = ROOT / "tests"

# Modules tested from another test file, each with the reason it has none of its own. Shrink it: a module that gets
# its own test file comes off (a test below says when).
ELSEWHERE: dict[str, str] = {
    # `python -m inspector`: a subprocess, beside the console scripts it must equal
    "inspector/__main__.py": "tests/test_entry_points.py",
    # command groups driven as a user drives them, where their servers and doubles live (tests/lab_live: real
    # loopback servers; tests/provision: the PSRP and Graph doubles and their fixtures)
    "inspector/cli_lab.py": "tests/lab_live/test_server.py",
    "inspector/cli_provision.py": "tests/provision/test_cli.py",
    # the proxy command and its mitmdump command line, tested with the addon's real mitmdump runs (tests/live)
    "inspector/cli_proxy.py": "tests/live/test_proxy.py",
    "inspector/proxy.py": "tests/live/test_proxy.py",
    # the lab's HTTP server and client only make sense against each other, over real loopback sockets
    "inspector/lab/client.py": "tests/lab_live/test_server.py",
    "inspector/lab/server.py": "tests/lab_live/test_server.py",
    # the `mitmdump -s` entry: only a real mitmdump loads it
    "inspector/live/mitm_script.py": "tests/lab_live/test_end_to_end.py",
    # the reverse-proxy Host rewrite: an addon hook, tested on the addon's flows
    "inspector/live/host.py": "tests/live/test_addon.py",
    # capture decoding below the reader: its input is a crafted capture, read through the reader
    "inspector/sources/pcap/budget.py": "tests/sources/pcap/test_tcp.py",
    "inspector/sources/pcap/ip.py": "tests/sources/pcap/test_links.py",
    "inspector/sources/pcap/packets.py": "tests/sources/pcap/test_links.py",
    "inspector/sources/pcap/tunnels.py": "tests/sources/pcap/test_links.py",
    # the cmdlets and properties the export script reads: the script's own test holds it to them
    "inspector/verifyoauth/collect.py": "tests/verifyoauth/test_export_script.py",
    # the executors' plan/result records and the seed steps as data: tested through what executes and renders them
    "inspector/provision/state.py": "tests/provision/test_exchange.py",
    "inspector/provision/steps.py": "tests/provision/test_render.py",
}

# Modules with no behaviour of their own to test, and why.
ALLOWED: dict[str, str] = {
    "inspector/policy.py": "the expected-traffic constants and their dataclass",
    "inspector/verifyoauth/model.py": "dataclasses of check results; CHECK_IDS is tested with the checks",
    "inspector/verifyoauth/remedies.py": "remedy texts the checks quote",
    "inspector/remote/errors.py": "one exception class (SourceError); every remote test raises or catches it",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def _dotted(module: Path) -> str:
    return ".".join(module.relative_to(ROOT).with_suffix("").parts)


def _imports(test: Path, dotted: str) -> bool:
    """Whether the test file imports the module (``import a.b.c``, ``from a.b.c import``, ``from a.b import c``)."""
    package, _, name = dotted.rpartition(".")
    text = test.read_text(encoding="utf-8")
    whole, parent, member = re.escape(dotted), re.escape(package), re.escape(name)
    listed = rf"(?:\([^)]*\b{member}\b|[^\n(]*\b{member}\b)"
    pattern = rf"(?m)^\s*(?:from {whole} import|import {whole}\b|from {parent} import {listed})"
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
        if str(module.relative_to(ROOT)) not in ALLOWED | ELSEWHERE and not _test_files(module)
    ]
    assert not missing, "modules without a test file at the mirrored place (tests/<folder>/test_<name>.py): " + str(
        missing
    )


def test_the_lists_hold_only_modules_that_exist_and_lack_a_test_file() -> None:
    assert not set(ALLOWED) & set(ELSEWHERE)
    for path in [*ALLOWED, *ELSEWHERE]:
        module = ROOT / path
        assert module.is_file(), path
        assert not _test_files(module), f"{path} has a test file now: take it off the list"
    for path, test in ELSEWHERE.items():
        assert (ROOT / test).is_file(), f"{path}: {test} does not exist"


def test_every_test_folder_mirrors_a_package_folder() -> None:
    # test doubles, fuzz harnesses, tests that need real loopback servers and processes, and test data
    helpers = {"doubles", "fuzz", "lab_live"}
    for folder in (p for p in TESTS.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        relative = folder.relative_to(TESTS)
        if relative.parts[0] in helpers or {"golden", "data"} & set(relative.parts):
            continue
        assert (PACKAGE / relative).is_dir(), f"tests/{relative} mirrors no inspector/{relative}"


def test_the_readme_layout_names_every_top_level_module_and_package() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    globs = re.findall(r"\b\w+\*\.py\b", block)  # "cli_*.py" names a family of modules
    missing = [
        path.name
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "__init__.py"
        and path.name not in block
        and not any(fnmatch.fnmatch(path.name, pattern) for pattern in globs)
    ]
    missing += [
        f"{p.name}/" for p in sorted(PACKAGE.iterdir()) if (p / "__init__.py").is_file() and f"{p.name}/" not in block
    ]
    assert not missing, f"README's Layout section does not name {missing}"
