"""The ways in besides the console scripts: ``python -m inspector`` and the standalone mitmproxy addon file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "addons" / "oauth_inspector.py"


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "rules", "--format", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert '"basic-fallback"' in done.stdout


def test_python_dash_m_exit_codes_match_the_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", str(REPO / "no-such-capture.pcap")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (2, 3)
    assert "Traceback" not in done.stderr


def test_addon_outside_the_project_environment_says_how_to_install() -> None:
    # mitmproxy runs scripts in its own Python; one without this project's site-packages stands in for it.
    code = f"import runpy; runpy.run_path({str(ADDON)!r})"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "oauth-inspector is not installed in the Python that runs this mitmproxy" in done.stderr
    assert "uv tool install mitmproxy --with" in done.stderr
    assert "No module named" not in done.stderr


def test_addon_loads_where_the_package_is_installed() -> None:
    code = f"import runpy; names = runpy.run_path({str(ADDON)!r}); print(type(names['addons'][0]).__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OAuthInspector"


@pytest.mark.parametrize(
    ("script", "variable"),
    [("oauth-inspector", "_OAUTH_INSPECTOR_COMPLETE"), ("verify-oauth", "_VERIFY_OAUTH_COMPLETE")],
)
def test_shell_completion_as_the_readme_shows(script: str, variable: str) -> None:
    executable = Path(sys.executable).parent / script
    done = subprocess.run(
        [str(executable)], env={**os.environ, variable: "bash_source"}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "complete -o nosort -F" in done.stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f'eval "$({variable}=bash_source {script})"' in readme
