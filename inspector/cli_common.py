"""What every console script and command group shares: one-line error messages, the exit codes for the tool's own
failures, and the last safety net around a console script.

Each program keeps its own prefix (``oauth-inspector``, ``oauth-inspector provision``, ``verify-oauth``) so a
message says which one spoke.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from inspector.model import ConfigError
from inspector.text import safe

if TYPE_CHECKING:
    from rich.console import Console

    from inspector.settings import Option

PROG = "oauth-inspector"
EXIT_USAGE, EXIT_UNREADABLE, EXIT_INTERNAL = 2, 3, 4
EXIT_INTERRUPTED = 130
DEBUG_ENV = "OAUTH_INSPECTOR_DEBUG"
REPORT_WIDTH_OFF_TERMINAL = 200
"""Columns of a table written to a file or a pipe (rich would wrap at 80); ``COLUMNS`` still wins."""


def report_console(file: IO[str] | None = None) -> Console:
    """The console every command prints its report on: a terminal gets its own width and colours; a file or a pipe
    gets plain text as wide as a wide terminal, so a table saved or piped is not wrapped into 80 columns."""
    from rich.console import Console

    console = Console(file=file, highlight=False, soft_wrap=False, force_terminal=False if file is not None else None)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console.width = REPORT_WIDTH_OFF_TERMINAL
    return console


def error(message: str, *, prog: str = PROG) -> None:
    """One line on standard error, escaped (messages can carry text from files and the wire)."""
    click.echo(f"{prog}: {safe(message, 2000)}", err=True)


@contextmanager
def exit_on_error(*, prog: str = PROG, unreadable: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """A :class:`ConfigError` raised inside ends the program with its message and exit 2; the ``unreadable``
    kinds (an input that cannot be read or reached) with exit 3."""
    try:
        yield
    except ConfigError as exc:
        error(str(exc), prog=prog)
        sys.exit(EXIT_USAGE)
    except unreadable as exc:
        error(str(exc), prog=prog)
        sys.exit(EXIT_UNREADABLE)


def run_console_script(main: click.Command, *, prog: str = PROG) -> None:
    """Run ``main`` with a last safety net, so a bug ends in one clear line (exit 4), not a traceback; Ctrl-C
    ends with 130. ``OAUTH_INSPECTOR_DEBUG`` set lets the traceback through."""
    try:
        # Not click's standalone mode: it turns Ctrl-C inside a command into "Aborted!" and exit 1, which is the
        # exit code of findings; its usage errors are shown here as it would show them.
        code = main(standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        error("interrupted", prog=prog)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug; please report it "
            f"(set {DEBUG_ENV}=1 to see where it happened)",
            prog=prog,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)  # --help and --version end in click's Exit(0)


def output_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output FILE`` and ``-q/--quiet`` for a command that prints a report, the same as ``analyze``'s:
    the report goes to FILE instead of standard output (a table written to a file keeps a wide width), and
    ``--quiet`` keeps standard error to errors alone (these commands print no progress or notes anyway)."""

    @functools.wraps(func)
    def command(*args: Any, output: Path | None, quiet: bool, **kwargs: Any) -> Any:
        del quiet  # accepted for one vocabulary across commands; nothing here prints progress
        if output is None:
            return func(*args, **kwargs)
        try:
            handle = output.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            error(f"Cannot write {output}: {exc.strerror or exc}")
            sys.exit(EXIT_USAGE)
        with handle, redirect_stdout(handle):
            return func(*args, **kwargs)

    wrapped = click.option("--quiet", "-q", is_flag=True, help="No progress or notes on standard error.")(command)
    return click.option(
        "--output",
        "-o",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Write the report to this file instead of standard output.",
    )(wrapped)


def click_option(row: Option, program: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click spelling of one row of the trust/policy option table (``settings.OPTIONS``), as ``program`` takes
    it (``verify-oauth``; None: oauth-inspector's commands)."""
    help = row.help_in(program)
    if row.kind == "flag":
        return click.option(row.flag, row.param, is_flag=True, help=help)
    kind: click.ParamType[Any] | None = None
    if row.kind == "path":
        kind = click.Path(path_type=Path, dir_okay=False) if row.file_only else click.Path(path_type=Path)
    elif row.kind == "int" and row.bounds is not None:
        kind = click.IntRange(*row.bounds)
    elif row.kind == "choice":
        kind = click.Choice(row.choices)
    if row.repeatable:
        return click.option(row.flag, row.param, multiple=True, type=kind, help=help)
    return click.option(row.flag, row.param, type=kind, default=None, help=help)
