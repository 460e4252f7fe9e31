from __future__ import annotations

from pathlib import Path

import click
import pytest

from inspector.cli_common import (
    DEBUG_ENV,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    error,
    exit_on_error,
    run_console_script,
)
from inspector.model import ConfigError, InputError


def _command(exc: BaseException) -> click.Command:
    @click.command()
    def boom() -> None:
        raise exc

    return boom


def _run(exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> int | str | None:
    monkeypatch.setattr("sys.argv", ["tool"])
    with pytest.raises(SystemExit) as exited:
        run_console_script(_command(exc), prog="tool")
    return exited.value.code


def test_a_bug_ends_in_one_line_and_exit_4(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert _run(RuntimeError("unexpected\x1b[2J"), monkeypatch) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("tool: internal error: RuntimeError: unexpected") and err.count("\n") == 1
    assert "\x1b" not in err and "Traceback" not in err and f"{DEBUG_ENV}=1" in err


class _Interrupted(click.Command):
    """Ctrl-C where click does not turn it into its own "Aborted!" (while starting up or shutting down)."""

    def main(self, *_args: object, **_kwargs: object) -> None:  # type: ignore[override]
        raise KeyboardInterrupt


def test_ctrl_c_ends_with_130(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_console_script(_Interrupted("tool"), prog="tool")
    assert exited.value.code == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "tool: interrupted\n"


def test_debug_lets_the_exception_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")
    monkeypatch.setattr("sys.argv", ["tool"])
    with pytest.raises(RuntimeError, match="unexpected"):
        run_console_script(_command(RuntimeError("unexpected")), prog="tool")


def test_the_commands_own_exit_codes_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(SystemExit(1), monkeypatch) == 1


def test_configuration_errors_exit_2_and_unreadable_inputs_3(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited, exit_on_error(prog="p", unreadable=(InputError,)):
        raise ConfigError("bad --skew")
    assert exited.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exited, exit_on_error(unreadable=(InputError,)):
        raise InputError("cannot read x.pcap")
    assert exited.value.code == EXIT_UNREADABLE
    assert capsys.readouterr().err == "p: bad --skew\noauth-inspector: cannot read x.pcap\n"


def test_other_errors_are_not_taken_for_usage_errors() -> None:
    with pytest.raises(InputError), exit_on_error():
        raise InputError("not named as unreadable")
    with pytest.raises(ValueError), exit_on_error(unreadable=(InputError,)):
        raise ValueError("a bug")


def test_error_escapes_and_bounds_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    error("[bold]x[/bold]\x07" + "y" * 5000, prog="p")
    err = capsys.readouterr().err
    assert err.startswith("p: [bold]x[/bold]") and "\x07" not in err and len(err) < 2100


def test_ctrl_c_inside_a_command_ends_with_130_not_clicks_aborted_1(tmp_path: Path) -> None:
    """A real process waiting on a pipe, interrupted (found by review: click's "Aborted!" gave exit 1, the exit code
    of findings)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ, TMPDIR=str(tmp_path))
    with subprocess.Popen(["sleep", "60"], stdout=subprocess.PIPE) as writer:
        command = [sys.executable, "-m", "inspector", "analyze", "-", "--format", "json"]
        with subprocess.Popen(
            command, stdin=writer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        ) as run:
            deadline = time.monotonic() + 45
            while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)  # its spool of standard input appears: it is inside the command, reading
            run.send_signal(signal.SIGINT)
            _, err = run.communicate(timeout=30)
        writer.kill()
    assert run.returncode == EXIT_INTERRUPTED, err
    assert err.decode().strip().endswith("oauth-inspector: interrupted") and "Aborted" not in err.decode()
