"""The ``oauth-inspector`` command. The only module that builds a rich Console; the engine stays sans-IO.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or configuration error, 3 unreadable input.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console

from inspector import __version__
from inspector.analyze import Analyzer, ExchangeResult, Totals
from inspector.cli_common import EXIT_UNREADABLE, error, exit_on_error, run_console_script
from inspector.config import config_for
from inspector.model import ConfigError, InputError
from inspector.policy import DEFAULT_SKEW, SFB_ONLINE, Policy
from inspector.report.console import ConsoleReport
from inspector.report.token_view import print_token
from inspector.report.writers import JsonlWriter, JsonWriter, ReportWriter, SarifWriter
from inspector.rules import CATALOGUE, Finding, at_or_above
from inspector.trust import Trust, build_trust, normalise_thumbprint

EXIT_CLEAN, EXIT_FINDINGS = 0, 1
FORMATS = ("table", "json", "jsonl", "sarif")


@dataclass(frozen=True, slots=True)
class Settings:
    trust: Trust
    policy: Policy
    fail_on: str
    output_format: str


@dataclass(frozen=True, slots=True)
class TrustArguments:
    """The trust options as given (on the command line, or as the mitmproxy addon's options), before the
    configuration file is merged in. The field names are the options' parameter names."""

    certs: tuple[Path, ...] = ()
    metadata: tuple[Path, ...] = ()
    thumbprints: tuple[str, ...] = ()
    realms: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    skew: int | None = None
    config_path: Path | None = None
    fail_on: str | None = None
    show_secrets: bool = False


_TRUST_FIELDS = tuple(f.name for f in fields(TrustArguments))


def trust_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that judges tokens, handed to the command as one ``trust`` argument
    (a :class:`TrustArguments`)."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        trust = TrustArguments(**{name: kwargs.pop(name) for name in _TRUST_FIELDS})
        return func(*args, trust=trust, **kwargs)

    decorators = [
        click.option(
            "--cert",
            "certs",
            multiple=True,
            type=click.Path(path_type=Path),
            help="Trusted certificate (.cer DER or PEM, PEM bundle), e.g. the exported OAuthCert.cer. "
            "Trusted for any issuer. Repeatable.",
        ),
        click.option(
            "--metadata",
            "metadata",
            multiple=True,
            type=click.Path(path_type=Path),
            help="Auth metadata document (Exchange /autodiscover/metadata/json/1, ACS or SfB "
            "/metadata/json/1). Its keys are trusted only for the issuer it names. Repeatable.",
        ),
        click.option(
            "--thumbprint",
            "thumbprints",
            multiple=True,
            help="Expected auth certificate thumbprint (hex, as Get-AuthConfig prints it). Repeatable.",
        ),
        click.option(
            "--realm",
            "realms",
            multiple=True,
            help="Expected realm: the tenant ID (SfB Online) or SIP domain (SfB Server). Repeatable.",
        ),
        click.option(
            "--issuer",
            "issuers",
            multiple=True,
            help=f"Expected calling principal (GUID or whole iss). Default {SFB_ONLINE} "
            "(Skype for Business Online). Repeatable.",
        ),
        click.option(
            "--skew",
            type=click.IntRange(0, 86400),
            default=None,
            help=f"Allowed clock skew in seconds for nbf/exp (default {DEFAULT_SKEW}).",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            help="Configuration file (default: the nearest oauth-inspector.toml or pyproject.toml "
            "[tool.oauth-inspector] from the current folder up).",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(["error", "warning", "info", "never"]),
            default=None,
            help="Exit 1 when a finding at or above this severity is reported (default: error).",
        ),
        click.option(
            "--show-secrets",
            is_flag=True,
            help="Show Basic passwords, raw credentials and token signatures (off by default).",
        ),
    ]
    wrapped: Callable[..., Any] = command
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped


def build_settings(given: TrustArguments, *, output_format: str | None, now: datetime) -> Settings:
    """The trust options merged with the configuration file's, checked (a :class:`ConfigError` if not usable)."""
    config = config_for(given.config_path)
    all_thumbprints = [*config.strings("thumbprint"), *given.thumbprints]
    for value in all_thumbprints:
        normalise_thumbprint(value)
    trust = build_trust(
        certs=[*config.paths("cert"), *given.certs],
        metadata=[*config.paths("metadata"), *given.metadata],
        thumbprints=all_thumbprints,
    )
    issuer_list = [i.strip().lower() for i in (*config.strings("issuer"), *given.issuers) if i.strip()]
    policy = Policy(
        expected_issuers=frozenset(issuer_list or [SFB_ONLINE]),
        realms=frozenset(r.strip().lower() for r in (*config.strings("realm"), *given.realms) if r.strip()),
        skew=given.skew if given.skew is not None else config.scalar("skew", DEFAULT_SKEW),
        now=now,
    )
    chosen_fail_on = given.fail_on or config.scalar("fail-on", "error")
    if chosen_fail_on not in ("error", "warning", "info", "never"):
        raise ConfigError(f"fail-on must be error, warning, info or never, not {chosen_fail_on!r}")
    chosen_format = output_format or config.scalar("format", "table")
    if chosen_format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, not {chosen_format!r}")
    return Settings(trust, policy, chosen_fail_on, chosen_format)


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        handle = path.open("w", encoding="utf-8", newline="\n")
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def _stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def exit_code(totals: Totals, fail_on: str, unreadable: bool) -> int:
    if unreadable:
        return EXIT_UNREADABLE
    if fail_on != "never" and any(at_or_above(sev, fail_on) and n for sev, n in totals.severities.items()):
        return EXIT_FINDINGS
    return EXIT_CLEAN


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        import importlib

        module, _, name = target.partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="oauth-inspector")
def main() -> None:
    """See from the wire whether Microsoft server-to-server OAuth really works.

    Decodes the S2S tokens in Authorization headers (the unsigned outer token and the signed actor token),
    verifies them against the exported auth certificate and metadata documents, checks issuer, realm,
    audience and times, and flags fallbacks to Basic, NTLM and Negotiate.
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@trust_options
@click.option(
    "--format", "output_format", type=click.Choice(FORMATS), default=None, help="Output format (default: table)."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Table format: list every exchange, not only those with authentication or findings.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=None,
    help="Analyse several files in parallel with this many processes (default: the machine's cores).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
def analyze(
    inputs: tuple[Path, ...],
    trust: TrustArguments,
    output_format: str | None,
    output: Path | None,
    show_all: bool,
    jobs: int | None,
    quiet: bool,
) -> None:
    """Analyse captures: pcap/pcapng, HAR, mitmproxy flow files and Fiddler archives (.saz), or folders of them.

    The kind of each file is detected from its content, not its name.
    """
    from inspector.report.progress import ProgressView
    from inspector.run import run_parallel, run_sequential
    from inspector.sources.dispatch import expand_inputs

    with exit_on_error(unreadable=(InputError,)):
        settings = build_settings(trust, output_format=output_format, now=datetime.now(UTC))
        expanded = expand_inputs(list(inputs))
    if not expanded:
        error("no capture, HAR or flow file found in " + ", ".join(str(p) for p in inputs))
        sys.exit(EXIT_UNREADABLE)
    analyzer = Analyzer(settings.trust, settings.policy)
    workers = min(jobs or os.cpu_count() or 1, len(expanded))
    stderr = Console(stderr=True, highlight=False)
    show_progress = not quiet and stderr.is_terminal
    sources = [{"path": str(path), "kind": kind} for path, kind in expanded]
    with exit_on_error(), _output(output) as out:
        writer = _writer(
            settings.output_format,
            out,
            sources,
            show_secrets=trust.show_secrets,
            verbose=show_all,
            to_file=output is not None,
        )
        for item in analyzer.trust_findings():
            writer.finding(item)
        view = ProgressView(stderr) if show_progress else None
        with view if view is not None else nullcontext():
            update = view.update if view is not None else None
            if workers > 1:
                outcome = run_parallel(
                    expanded,
                    settings.trust,
                    settings.policy,
                    writer,
                    analyzer.totals,
                    jobs=workers,
                    progress=update,
                )
            else:
                outcome = run_sequential(expanded, analyzer, writer, progress=update)
        for message in outcome.errors:
            error(message)
        writer.close(analyzer.totals)
    sys.exit(exit_code(analyzer.totals, settings.fail_on, bool(outcome.errors)))


def _emit(writer: ReportWriter, result: ExchangeResult | Finding) -> None:
    if isinstance(result, Finding):
        writer.finding(result)
    else:
        writer.exchange(result)


def _writer(
    output_format: str,
    out: IO[str],
    sources: list[dict[str, Any]],
    *,
    show_secrets: bool,
    verbose: bool,
    to_file: bool,
) -> ReportWriter:
    if output_format == "json":
        return JsonWriter(out, sources, show_secrets=show_secrets)
    if output_format == "jsonl":
        return JsonlWriter(out, show_secrets=show_secrets)
    if output_format == "sarif":
        return SarifWriter(out)
    console = (
        Console(file=out, highlight=False, soft_wrap=False, force_terminal=False) if to_file else (_stdout_console())
    )
    return ConsoleReport(console, verbose=verbose)


@main.command()
@click.argument("value")
@trust_options
@click.option("--host", default=None, help="The Host the token was sent to (checks the audience).")
@click.option(
    "--at",
    "at_time",
    default=None,
    help="Judge token times at this moment (ISO 8601, e.g. 2026-04-21T10:30:00Z); default: now.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Output format (default: table).",
)
def token(
    value: str,
    trust: TrustArguments,
    host: str | None,
    at_time: str | None,
    output_format: str | None,
) -> None:
    """Decode and check one token or whole Authorization header value (VALUE, or - to read standard input)."""
    from inspector.token_input import judge_pasted

    with exit_on_error():
        at = _parse_time(at_time) if at_time else datetime.now(UTC)
        settings = build_settings(trust, output_format=None, now=datetime.now(UTC))
    text = sys.stdin.read(1024 * 1024 + 1) if value == "-" else value
    if len(text) > 1024 * 1024:
        error("the token given is over 1 MiB; that is not an S2S token")
        sys.exit(EXIT_UNREADABLE)
    analyzer = Analyzer(settings.trust, settings.policy)
    trust_findings = analyzer.trust_findings()
    result = judge_pasted(text, analyzer, at=at, host=host)
    analyzer.totals.count(trust_findings)
    findings = [*trust_findings, *result.findings]
    if (output_format or "table") == "json":
        from inspector.report.writers import JsonWriter as _Json

        writer = _Json(sys.stdout, [{"path": "token", "kind": "token"}], show_secrets=trust.show_secrets)
        for item in trust_findings:
            writer.finding(item)
        writer.exchange(result)
        writer.close(analyzer.totals)
    else:
        print_token(_stdout_console(), result, findings, show_secrets=trust.show_secrets)
    sys.exit(exit_code(analyzer.totals, settings.fail_on, unreadable=False))


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--at {value!r} is not an ISO 8601 time such as 2026-04-21T10:30:00Z") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    help="Output format (markdown is what the README's catalogue is made from).",
)
def rules(output_format: str) -> None:
    """List the rule catalogue: ID, severity, title and help."""
    import json

    if output_format == "json":
        data = [{"id": r.id, "severity": r.severity, "title": r.title, "help": r.help} for r in CATALOGUE.values()]
        click.echo(json.dumps(data, indent=2))
        return
    if output_format == "markdown":
        click.echo("| ID | severity | title | what it means and what to do |")
        click.echo("|---|---|---|---|")
        for r in CATALOGUE.values():
            click.echo(f"| `{r.id}` | {r.severity} | {r.title} | {r.help.replace('|', '\\|')} |")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True)
    for column in ("ID", "severity", "title", "help"):
        table.add_column(column, overflow="fold")
    for r in CATALOGUE.values():
        table.add_row(Text(r.id), Text(r.severity), Text(r.title), Text(r.help))
    _stdout_console().print(table)


# Command groups with heavy imports (mitmproxy, pypsrp, msal) load only when they are invoked, so that
# `analyze` on a capture does not pay for them.
_LAZY_COMMANDS = {
    "lab": "inspector.cli_lab:lab",
    "proxy": "inspector.cli_proxy:proxy",
    "provision": "inspector.cli_provision:provision",
}


def run() -> None:
    """The console script: ``main`` with a last safety net, so a bug ends in one clear line, not a traceback."""
    run_console_script(main)
