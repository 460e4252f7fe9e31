"""The README's CLI conventions table (options, formats, exit codes per command), made from the click commands
themselves so that it cannot drift.

    uv run python docs/cli_conventions.py          # rewrite the table in README.md
    uv run python docs/cli_conventions.py --check  # exit 1 if it is out of date (tests/test_cli_conventions.py)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
START, END = "<!-- cli-conventions -->", "<!-- /cli-conventions -->"

# What each command's exit codes mean (the one thing click cannot tell). A command missing here fails the check.
EXIT_CODES = {
    "oauth-inspector analyze": "0 clean, 1 findings ≥ `--fail-on`, 2 usage, 3 unreadable input",
    "oauth-inspector show": "0 clean, 1 findings ≥ `--fail-on`, 2 usage or no such exchange, 3 unreadable input",
    "oauth-inspector token": "0 clean, 1 findings ≥ `--fail-on`, 2 usage or nothing usable pasted, 3 over 1 MiB",
    "oauth-inspector rules": "0, 2 unknown rule ID",
    "oauth-inspector tls": "0 clean, 1 TLS findings ≥ `--fail-on`, 2 usage, 3 unreadable input",
    "oauth-inspector lab samples": "0",
    "oauth-inspector lab serve": "0 stopped, 2 usage or busy port",
    "oauth-inspector lab drive": "0 done, 2 usage, 3 lab server unreachable",
    "oauth-inspector proxy": "mitmproxy's own when it ran, 2 usage or busy port",
    "oauth-inspector provision plan": "0, 2 usage",
    "oauth-inspector provision apply": (
        "0 done, nothing to do or `--dry-run`; 1 stopped (a step failed, a target unreachable, declined); 2 usage"
    ),
    "verify-oauth": "0 no FAIL (and no WARN with `--strict`), 1 a FAIL, 2 usage",
    "verify-oauth export-script": "0, 2 usage",
}


def commands() -> Iterator[tuple[str, click.Command]]:
    from inspector.cli import main
    from inspector.verifyoauth.cli import main as verify_main

    def walk(command: click.Command, name: str) -> Iterator[tuple[str, click.Command]]:
        if isinstance(command, click.Group):
            if command.callback is not None and command is verify_main:
                yield name, command
            context = click.Context(command)
            for sub in command.list_commands(context):
                found = command.get_command(context, sub)
                if found is not None:
                    yield from walk(found, f"{name} {sub}")
        else:
            yield name, command

    yield from walk(main, "oauth-inspector")
    yield from walk(verify_main, "verify-oauth")


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in param.opts:
            return param
    return None


def row(name: str, command: click.Command) -> str:
    fmt = _option(command, "--format")
    formats = "\\|".join(fmt.type.choices) if fmt is not None and isinstance(fmt.type, click.Choice) else "—"
    output = "`-o FILE`" if _option(command, "--output") else "—"
    quiet = "`-q`" if _option(command, "--quiet") else "—"
    secrets = "`--show-secrets`" if _option(command, "--show-secrets") else "—"
    fail_on = "`--fail-on`" if _option(command, "--fail-on") else "—"
    return f"| `{name}` | {formats} | {output} | {quiet} | {fail_on} | {secrets} | {EXIT_CODES.get(name, '?')} |"


def table() -> str:
    head = [
        "| command | `--format` | output | quiet | `--fail-on` | secrets | exit codes |",
        "|---|---|---|---|---|---|---|",
    ]
    return "\n".join([*head, *(row(name, command) for name, command in commands())])


def missing_exit_codes() -> list[str]:
    return [name for name, _ in commands() if name not in EXIT_CODES]


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    wanted = f"{before}{START}\n{table()}\n{END}{after}"
    if "--check" in argv:
        return 0 if wanted == text and not missing_exit_codes() else 1
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
