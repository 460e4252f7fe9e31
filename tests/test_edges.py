"""Edges that do not lean on each other: what a module loads says what it depends on."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(done.stdout.split())


def test_the_addon_loads_no_cli() -> None:
    loaded = _loaded_after("inspector.live.addon")
    assert "inspector.live.addon" in loaded
    assert not {"click", "rich.table", "inspector.cli", "inspector.cli_common", "inspector.report.console"} & loaded


def test_the_progress_display_does_not_load_the_run_loop() -> None:
    loaded = _loaded_after("inspector.report.progress")
    assert "inspector.report.progress" in loaded
    assert "inspector.run" not in loaded


def test_the_text_helpers_load_no_renderer() -> None:
    loaded = _loaded_after("inspector.text")
    assert not {name for name in loaded if name.split(".")[0] in ("rich", "click")}


def test_provisioning_reaches_exchange_and_graph_without_verify_oauth() -> None:
    for module in ("inspector.provision.exchange", "inspector.provision.graph"):
        loaded = _loaded_after(module)
        assert "inspector.remote.psrp" in loaded or "inspector.remote.graph" in loaded
        assert not {name for name in loaded if name.startswith("inspector.verifyoauth")}, module
