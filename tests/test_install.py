"""The README's install recipes, run for real: ``uv tool install`` of the project, and mitmproxy with the package.

They resolve from the package index (or uv's cache) and skip only where uv itself is absent.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# `uv run` names its own executable in $UV; a pyenv shim found on PATH may not resolve from another folder.
UV = os.environ.get("UV") or shutil.which("uv")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(UV is None, reason="uv is not on PATH: the install recipes need it"),
]


def _tool_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    # The pure wheel: the compiled one (what these recipes build where a C compiler is at hand) takes a minute to
    # build, and tests/test_compiled.py builds it and tests it.
    env["OAUTH_INSPECTOR_PURE"] = "1"
    env["UV_TOOL_DIR"] = str(tmp_path / "tools")
    env["UV_TOOL_BIN_DIR"] = str(tmp_path / "bin")
    return env


def _install(tmp_path: Path, *args: str) -> None:
    assert UV is not None
    done = subprocess.run(
        [UV, "tool", "install", "--quiet", *args],
        check=False,
        cwd=REPO,
        env=_tool_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_uv_tool_install_gives_both_commands(tmp_path: Path) -> None:
    _install(tmp_path, str(REPO))
    for command in ("oauth-inspector", "verify-oauth"):
        done = subprocess.run([str(tmp_path / "bin" / command), "--help"], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [str(tmp_path / "bin" / "oauth-inspector"), "analyze", str(REPO / "captures" / "lab" / "lab.har")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "basic-fallback" in done.stdout


def test_standalone_mitmproxy_with_the_package_loads_the_addon(tmp_path: Path) -> None:
    _install(tmp_path, "mitmproxy", "--with", str(REPO))
    done = subprocess.run(
        [
            str(tmp_path / "bin" / "mitmdump"),
            "-n",
            "-r",
            str(REPO / "captures" / "lab" / "lab.mitm"),
            "-s",
            str(REPO / "addons" / "oauth_inspector.py"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=120,
    )
    assert "oauth-inspector [basic-fallback]" in done.stdout + done.stderr
    assert "No module named" not in done.stdout + done.stderr
