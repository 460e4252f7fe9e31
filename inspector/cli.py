"""The ``oauth-inspector`` command. The only module that builds a rich Console; the engine stays sans-IO.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or configuration error, 3 unreadable input.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from rich.console import Console

from inspector import __version__
from inspector.analyze import Analyzer
from inspector.cli_common import (
    EXIT_UNREADABLE,
    EXIT_USAGE,
    click_option,
    error,
    exit_on_error,
    output_options,
    report_console,
    run_console_script,
)
from inspector.model import ConfigError, InputError
from inspector.report.console import ConsoleReport
from inspector.report.token_view import print_token
from inspector.report.writers import JsonlWriter, JsonWriter, ReportWriter, SarifWriter, tell_unread
from inspector.rules import CATALOGUE, SEVERITIES, Rule, at_or_above, markdown_table
from inspector.selection import Selection, build_selection, selected
from inspector.settings import FORMATS, OPTIONS, TrustArguments, build_settings
from inspector.tally import Totals
from inspector.text import quoted
from inspector.trust import Trust

if TYPE_CHECKING:
    from inspector.model import UnreadInput
    from inspector.rotation import Configuration
    from inspector.run import RunOutcome
    from inspector.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS = 0, 1
TABLE_ROWS = 500
"""The table's default row cap (a terminal is no place for 100,000 rows); ``--limit`` sets it, ``--all`` lifts it."""


_SELECTION_OPTIONS = (
    click.option("--rule", "only_rules", multiple=True, help="Report only findings of this rule ID. Repeatable."),
    click.option(
        "--severity",
        "min_severity",
        type=click.Choice(SEVERITIES),
        default=None,
        help="Report only findings at or above this severity.",
    ),
    click.option("--host", "only_hosts", multiple=True, help="Report only exchanges with this Host. Repeatable."),
    click.option(
        "--client", "only_clients", multiple=True, help="Report only exchanges from this client address. Repeatable."
    ),
    click.option(
        "--ignore",
        "ignores",
        multiple=True,
        metavar="RULE[:HOST]",
        help="Suppress a rule (on one host): still reported, marked suppressed (SARIF suppressions), not counted "
        "for --fail-on. The configuration file's [[ignore]] list does the same with a written reason. Repeatable.",
    ),
)


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--rule``, ``--severity``, ``--host``, ``--client`` and ``--ignore`` (``selection.build_selection``), the
    same for ``analyze`` and the live ``proxy``."""
    for option in reversed(_SELECTION_OPTIONS):
        func = option(func)
    return func


def trust_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that judges tokens (the table in ``settings.OPTIONS``), handed to the
    command as one ``trust`` argument (a :class:`TrustArguments`)."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        trust = TrustArguments(**{row.param: kwargs.pop(row.param) for row in OPTIONS})
        return func(*args, trust=trust, **kwargs)

    wrapped: Callable[..., Any] = command
    for row in reversed(OPTIONS):
        wrapped = click_option(row)(wrapped)
    return wrapped


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
    return report_console()


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
@click.argument("inputs", nargs=-1, required=True, type=click.Path())  # str: --dask takes URLs (s3://…) too
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
    help="Table format: list every exchange, not only those with authentication or findings, and no row limit.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, None),
    default=None,
    help=f"Table format: at most this many rows (default {TABLE_ROWS}; --all lifts it). Other formats list all.",
)
@selection_options
@click.option(
    "--exchange", "only_exchanges", multiple=True, help="Report only this exchange id (as listed). Repeatable."
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=None,
    help="Run the timeline in this many processes (default: one): this one analyses and writes while the others "
    "read (two or more readers: each a shard of the connections of every capture); the report is the one "
    "process's, byte for byte. With --separately: files in parallel (default: the machine's cores).",
)
@click.option(
    "--separately",
    is_flag=True,
    help="Judge each input file as its own timeline (unrelated captures): connections and per-client state "
    "(fallback window, challenges, NTLM handshakes) end with each file. Default: the files are one timeline.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress display on stderr.")
@click.option(
    "--keylog",
    "keylogs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="TLS key log (NSS format, as SSLKEYLOGFILE or MITMPROXY_SSLKEYLOGFILE write it) to decrypt TLS in "
    "captures. Repeatable; also the configuration key `keylog`. Secrets embedded in a pcapng are read anyway.",
)
@click.option(
    "--tls-key",
    "tls_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A server's RSA private key (PEM, or PFX/P12 with its password in OAUTH_INSPECTOR_TLS_KEY_PASSWORD or "
    "asked for) to decrypt static-RSA TLS sessions; matched by the server certificate. Repeatable.",
)
@click.option(
    "--exchange-config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="verify-oauth bundle (export-script JSON): joins Get-AuthConfig and the auth certificates with the "
    "signers seen on the wire (signer-not-current, the rotation timeline).",
)
@click.option(
    "--sp-credentials",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Saved service principal keyCredentials JSON (as verify-oauth reads it): signer-not-on-sp, "
    "next-cert-not-published.",
)
@click.option(
    "--spool-limit",
    metavar="SIZE",
    default=None,
    help="Standard input, pipes and compressed files are copied (decompressed) to a temporary file first: at most "
    "this much (e.g. 500M, 64G; default 16G). What was copied is analysed and the input reported as not read to its "
    "end. The copy also stops before TMPDIR's disk would keep less than 1 GiB (or 5%) free.",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Watch the one folder given (a tcpdump -C/-G or dumpcap -b ring buffer): read each capture when it closes, "
    "as one timeline, until Ctrl-C or SIGTERM (then the open files are read to their end). JSONL is appended as "
    "results come; a JSON, SARIF or HTML -o file is rewritten whole after each capture.",
)
@click.option(
    "--follow-interval",
    type=click.FloatRange(0.05, 3600),
    default=1.0,
    show_default=True,
    help="--follow: seconds between looks at the folder.",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Read the files on a Dask cluster (tcp://scheduler:8786) or on a local one (`local`: --jobs worker "
    "processes on 127.0.0.1); inputs may be fsspec URLs (s3://, abfs://, file://). Needs the extra: "
    "pip install 'oauth-inspector[dask]'.",
)
def analyze(
    inputs: tuple[str, ...],
    trust: TrustArguments,
    output_format: str | None,
    output: Path | None,
    show_all: bool,
    jobs: int | None,
    separately: bool,
    quiet: bool,
    keylogs: tuple[Path, ...],
    tls_keys: tuple[Path, ...],
    exchange_config: Path | None,
    sp_credentials: Path | None,
    limit: int | None,
    only_rules: tuple[str, ...],
    min_severity: str | None,
    only_hosts: tuple[str, ...],
    only_clients: tuple[str, ...],
    only_exchanges: tuple[str, ...],
    ignores: tuple[str, ...],
    spool_limit: str | None,
    follow: bool,
    follow_interval: float,
    dask_address: str | None,
) -> None:
    """Analyse captures: pcap/pcapng, HAR, mitmproxy flow files and Fiddler archives (.saz), or folders of them
    (- reads standard input).

    The kind of each file is detected from its content, not its name; gzip, zstd and xz compression is read
    through. Pipes such as <(zcat x.pcap.gz) work. A folder's captures are read in capture-time order (ring
    buffers), and every file in it that is not read is listed with why. Exchange ids are the file's path relative
    to the common parent of the inputs, then the exchange's number: sub/trace.har:3.
    """
    from inspector.report.progress import ProgressView
    from inspector.run import run_parallel, run_sequential, run_timeline_parallel
    from inspector.sources.dispatch import collect_inputs
    from inspector.sources.naming import input_labels
    from inspector.sources.opening import is_stream
    from inspector.sources.pcap.tls.keylog import load_keys

    with exit_on_error(unreadable=(InputError,)):
        if spool_limit is not None:
            from inspector.sources.opening import SPOOL_LIMIT_ENV, parse_size

            # kept in the environment, which the --jobs workers inherit whatever their start method
            os.environ[SPOOL_LIMIT_ENV] = str(parse_size(spool_limit))
        output_format = format_for_output(output, output_format, FORMATS)
        settings = build_settings(trust, output_format=output_format, now=datetime.now(UTC))
        selection = build_selection(
            rules=only_rules,
            severity=min_severity,
            hosts=only_hosts,
            clients=only_clients,
            exchanges=only_exchanges,
            ignores=ignores,
            configured=list(settings.ignores),
        )
        _warn_skipped(settings.trust)
        keylog = load_keys([*settings.keylogs, *keylogs], list(tls_keys), _tls_key_password(tls_keys))
        configuration = load_configuration(exchange_config, sp_credentials)
        if follow:
            folder = _follow_folder(inputs, dask_address, separately=separately)
        if dask_address is not None and separately:
            raise ConfigError("--dask reads the inputs as one timeline: it does not take --separately")

    def make_writer(out: IO[str], sources: list[dict[str, Any]]) -> ReportWriter:
        """The report's writer on ``out`` (for --follow and --dask, which know their sources only as they read)."""
        return _writer(
            settings.output_format or "table",
            out,
            sources,
            show_secrets=trust.show_secrets,
            verbose=show_all,
            to_file=output is not None or out is not sys.stdout,
            max_rows=None if show_all and limit is None else (limit or TABLE_ROWS),
        )

    if dask_address is not None:
        from inspector.cli_dask import analyze_on_dask

        with exit_on_error():
            code = analyze_on_dask(
                list(inputs),
                dask_address,
                jobs or os.cpu_count() or 1,
                settings=settings,
                selection=selection,
                keylog=keylog,
                configuration=configuration,
                output=output,
                make_writer=make_writer,
            )
        sys.exit(code)
    if follow:
        from inspector.cli_follow import follow_folder

        with exit_on_error():
            code = follow_folder(
                folder,
                settings=settings,
                selection=selection,
                keylog=keylog,
                configuration=configuration,
                output=output,
                make_writer=make_writer,
                interval=follow_interval,
                tell=None if quiet or not sys.stderr.isatty() else error,
            )
        sys.exit(code)
    with exit_on_error(unreadable=(InputError,)):
        collected = collect_inputs([Path(name) for name in inputs])
        expanded = collected.inputs
    if settings.output_format != "table" or output is not None:  # the table's footer lists them itself
        for unread in collected.skipped:
            error(f"not read: {unread.file}: {unread.reason}")
    if not expanded:
        error("no capture, HAR or flow file found in " + ", ".join(str(p) for p in inputs))
        sys.exit(EXIT_UNREADABLE)
    analyzer = Analyzer(settings.trust, settings.policy)
    totals = Totals()
    # Standard input and pipes are read once, in this process.
    streams = any(is_stream(path) for path, _ in expanded)
    if separately:
        workers = 1 if streams else min(jobs or os.cpu_count() or 1, len(expanded))
    else:  # readers beside this process, when asked for (README, "--jobs N")
        workers = 1 if streams else jobs or 1
    stderr = Console(stderr=True, highlight=False)
    show_progress = not quiet and stderr.is_terminal
    labels = input_labels([path for path, _ in expanded])
    sources = [
        {"path": str(path), "kind": kind, "label": label} for (path, kind), label in zip(expanded, labels, strict=True)
    ]
    with exit_on_error(), _output(output) as out:
        writer = _writer(
            settings.output_format,
            out,
            sources,
            show_secrets=trust.show_secrets,
            verbose=show_all,
            to_file=output is not None,
            max_rows=None if show_all and limit is None else (limit or TABLE_ROWS),
        )
        for item in selected(selection, analyzer.trust_findings()):
            totals.add(item)
            writer.finding(item)
        view = ProgressView(stderr) if show_progress else None
        with view if view is not None else nullcontext():
            update = view.update if view is not None else None
            if workers > 1:
                # One timeline sharded by connection, or (--separately) whole files in parallel.
                outcome = (run_parallel if separately else run_timeline_parallel)(
                    expanded,
                    settings.trust,
                    settings.policy,
                    writer,
                    totals,
                    jobs=workers,
                    progress=update,
                    keylog=keylog,
                    selection=selection,
                )
            else:
                outcome = run_sequential(
                    expanded,
                    analyzer,
                    writer,
                    totals,
                    progress=update,
                    keylog=keylog,
                    selection=selection,
                    separately=separately,
                )
        for message in outcome.errors:
            error(message)
        finish_report(writer, totals, outcome, collected.skipped, selection, configuration, settings)
    sys.exit(exit_code(totals, settings.fail_on, bool(outcome.errors)))


def finish_report(
    writer: ReportWriter,
    totals: Totals,
    outcome: RunOutcome,
    skipped: list[UnreadInput],
    selection: Selection,
    configuration: Configuration,
    settings: Settings,
) -> None:
    """The end of an analysis report: what the run's trust inventory reveals, the inputs not read, then ``close``."""
    from inspector.inventory_rules import inventory_findings
    from inspector.rotation import join_findings, rotation_timeline

    judged = inventory_findings(outcome.inventory)
    judged += join_findings(outcome.inventory, configuration, now=settings.policy.now)
    outcome.inventory.rotation = [
        entry.data() for entry in rotation_timeline(outcome.inventory, configuration, settings.trust)
    ]
    for item in selected(selection, judged):
        totals.add(item)
        writer.finding(item)
    tell_unread(writer, outcome.unread, skipped)
    writer.close(totals, outcome.inventory)


def _follow_folder(inputs: tuple[str, ...], dask_address: str | None, *, separately: bool) -> Path:
    """The folder ``--follow`` watches: the one input, a folder."""
    if dask_address is not None:
        raise ConfigError("--follow reads files as they close, one after another: it does not take --dask")
    if separately:
        raise ConfigError("--follow reads a ring buffer, one timeline by nature: it does not take --separately")
    if len(inputs) != 1 or not Path(inputs[0]).is_dir():
        raise ConfigError("--follow watches one folder: give exactly one folder (the ring buffer's)")
    return Path(inputs[0])


_EXTENSION_FORMATS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".sarif": "sarif",
    ".html": "html",
    ".htm": "html",
}


def format_for_output(output: Path | None, given: str | None, allowed: tuple[str, ...]) -> str | None:
    """``--format``, else the one ``-o``'s extension names (.json, .jsonl, .sarif, .html); a mismatch between the
    two is refused (a CI job that uploads report.sarif must not get a table)."""
    if output is None:
        return given
    implied = _EXTENSION_FORMATS.get(output.suffix.lower())
    if implied is not None and implied not in allowed:
        implied = None
    if given is None:
        return implied
    if implied is not None and implied != given:
        raise ConfigError(
            f"-o {output.name} names a .{output.suffix.lower().lstrip('.')} file but --format is {given}: "
            f"drop --format (the extension gives {implied}) or name the file for {given}"
        )
    return given


def _tls_key_password(paths: tuple[Path, ...]) -> bytes | None:
    """The password of PFX/P12 (or encrypted PEM) server keys: the environment's, else asked for at a terminal."""
    from inspector.sources.pcap.tls.server_keys import PASSWORD_ENV

    if not paths:
        return None
    given = os.environ.get(PASSWORD_ENV)
    if given is not None:
        return given.encode()
    protected = [p for p in paths if p.suffix.lower() in (".pfx", ".p12")]
    if protected and sys.stdin.isatty():
        return str(click.prompt(f"Password for {protected[0].name}", hide_input=True, default="")).encode() or None
    return None


def load_configuration(exchange_config: Path | None, sp_credentials: Path | None) -> Configuration:
    """``--exchange-config`` and ``--sp-credentials`` read by verify-oauth's readers (a :class:`ConfigError` when
    given but unusable)."""
    from inspector.remote.errors import SourceError
    from inspector.rotation import Configuration
    from inspector.verifyoauth.bundle import load_bundle
    from inspector.verifyoauth.sources import FileSource

    try:
        exchange = load_bundle(exchange_config) if exchange_config is not None else None
        configuration = Configuration(exchange)
        if sp_credentials is not None:
            keys = FileSource(sp_credentials).load(configuration.exchange_principal())
            configuration = Configuration(exchange, keys)
    except SourceError as exc:
        raise ConfigError(str(exc)) from exc
    return configuration


def _writer(
    output_format: str,
    out: IO[str],
    sources: list[dict[str, Any]],
    *,
    show_secrets: bool,
    verbose: bool,
    to_file: bool,
    max_rows: int | None = TABLE_ROWS,
) -> ReportWriter:
    if output_format == "json":
        return JsonWriter(out, sources, show_secrets=show_secrets)
    if output_format == "jsonl":
        return JsonlWriter(out, show_secrets=show_secrets)
    if output_format == "sarif":
        return SarifWriter(out)
    if output_format == "html":
        from inspector.report.html import HtmlWriter

        return HtmlWriter(out, sources, show_secrets=show_secrets)
    console = report_console(out) if to_file else _stdout_console()
    return ConsoleReport(console, verbose=verbose, max_rows=max_rows, show_secrets=show_secrets)


@main.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.argument("exchange_id", metavar="EXCHANGE-ID")
@trust_options
@output_options
def show(capture: Path, exchange_id: str, trust: TrustArguments) -> None:
    """Print one exchange of a capture whole: both heads (redacted), the tokens decoded with their verdict, and
    every finding with its help (EXCHANGE-ID as `analyze` prints it, e.g. lab.har:7, or just its number 7)."""
    from inspector.report.detail import DetailWriter, ExchangeNotFound
    from inspector.run import run_sequential
    from inspector.sources.dispatch import expand_inputs

    with exit_on_error(unreadable=(InputError,)):
        settings = build_settings(trust, output_format=None, now=datetime.now(UTC))
        _warn_skipped(settings.trust)
        expanded = expand_inputs([capture])
    if not expanded:
        error(f"no capture, HAR or flow file found in {capture}")
        sys.exit(EXIT_UNREADABLE)
    analyzer = Analyzer(settings.trust, settings.policy)
    totals = Totals()
    from inspector.sources.naming import exchange_id as make_id
    from inspector.sources.naming import input_labels

    wanted = exchange_id.strip()
    if wanted.isdigit() and len(expanded) == 1:  # the number alone names an exchange of the one file read
        wanted = make_id(input_labels([expanded[0][0]])[0], int(wanted))
    writer = DetailWriter(_stdout_console(), wanted, show_secrets=trust.show_secrets)
    for item in analyzer.trust_findings():
        totals.add(item)
    outcome = run_sequential(expanded, analyzer, writer, totals)
    for message in outcome.errors:
        error(message)
    from inspector.inventory_rules import inventory_findings

    # What the whole run's trust inventory reveals, shown with the exchange it names first.
    writer.later += [
        f for f in inventory_findings(outcome.inventory) if f.evidence.get("first_exchange") == writer.wanted
    ]
    try:
        writer.close(totals)
    except ExchangeNotFound as exc:
        error(str(exc))
        sys.exit(EXIT_UNREADABLE if outcome.errors else EXIT_USAGE)
    shown = Totals()
    for item in writer.shown_findings():
        shown.add(item)
    sys.exit(exit_code(shown, settings.fail_on, bool(outcome.errors)))


@main.command()
@click.argument("value")
@trust_options
@output_options
@click.option(
    "--host",
    default=None,
    help="The Host the token was sent to, or its URL (checks the audience); default: the Host of a pasted request.",
)
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
    """Decode and check one token (VALUE, or - to read standard input).

    VALUE may be a bare token, an Authorization header value, an ``Authorization:`` line among other headers, or a
    whole request copied from Fiddler, Burp or a browser (its Authorization and Host are taken)."""
    from inspector.token_input import judge_pasted

    with exit_on_error():
        at = _parse_time(at_time) if at_time else datetime.now(UTC)
        settings = build_settings(trust, output_format=None, now=at)  # certificates judged then too
    _warn_skipped(settings.trust)
    text = _pasted_from_stdin() if value == "-" else value
    if len(text) > 1024 * 1024:
        error("the token given is over 1 MiB; that is not an S2S token")
        sys.exit(EXIT_UNREADABLE)
    analyzer = Analyzer(settings.trust, settings.policy)
    trust_findings = analyzer.trust_findings()
    with exit_on_error():
        result = judge_pasted(text, analyzer, at=at, host=host)
    totals = Totals()
    for item in trust_findings:
        totals.add(item)
    totals.add(result)
    findings = [*trust_findings, *result.findings]
    if (output_format or "table") == "json":
        from inspector.inventory import Inventory
        from inspector.report.writers import JsonWriter as _Json

        writer = _Json(sys.stdout, [{"path": "token", "kind": "token"}], show_secrets=trust.show_secrets)
        for item in trust_findings:
            writer.finding(item)
        writer.exchange(result)
        inventory = Inventory()  # the same key as analyze's report: the token's signer, as one exchange saw it
        inventory.observe(result)
        writer.close(totals, inventory)
    else:
        print_token(_stdout_console(), result, findings, show_secrets=trust.show_secrets)
    sys.exit(exit_code(totals, settings.fail_on, unreadable=False))


def _pasted_from_stdin() -> str:
    """What ``token -`` reads; a capture file given there is refused (exit 2), pointing at ``analyze``."""
    from inspector.sources.detect import ZIP_MAGICS, detect_kind_of_head
    from inspector.sources.opening import compression_of

    raw = sys.stdin.buffer.read(1024 * 1024 + 1)
    kind = detect_kind_of_head(raw[:4096])
    if kind is not None or raw.startswith(ZIP_MAGICS) or compression_of(raw) is not None:
        what = {"pcap": "a pcap/pcapng capture", "har": "a HAR file", "mitm": "a mitmproxy flow file"}.get(
            kind or "", "an archive or a compressed file"
        )
        error(f"standard input is {what}, not a token; to judge the traffic in it: oauth-inspector analyze - < FILE")
        sys.exit(EXIT_USAGE)
    return raw.decode("utf-8", errors="replace")


def _warn_skipped(trust: Trust) -> None:
    """Trust files that could not be used are said on standard error; the run goes on with the others."""
    for reason in trust.skipped:
        error(f"warning: skipped: {reason}")


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--at {quoted(value)} is not an ISO 8601 time such as 2026-04-21T10:30:00Z") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command()
@click.argument("rule_ids", nargs=-1, metavar="[ID]...")
@output_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    help="Output format (markdown is what the README's catalogue is made from).",
)
def rules(rule_ids: tuple[str, ...], output_format: str) -> None:
    """List the rule catalogue (ID, severity, title and help), or only the rules named."""
    import json

    with exit_on_error():
        chosen = _chosen_rules(rule_ids)
    if rule_ids:
        if output_format == "json":
            data = [{"id": r.id, "severity": r.severity, "title": r.title, "help": r.help} for r in chosen]
            click.echo(json.dumps(data, indent=2))
            return
        for r in chosen:  # one rule: plain text, as wide as its help, easy to read and to paste
            click.echo(f"{r.id} ({r.severity}): {r.title}\n\n{r.help}\n")
        return
    if output_format == "json":
        data = [{"id": r.id, "severity": r.severity, "title": r.title, "help": r.help} for r in CATALOGUE.values()]
        click.echo(json.dumps(data, indent=2))
        return
    if output_format == "markdown":
        click.echo(markdown_table())
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True)
    for column in ("ID", "severity", "title", "help"):
        table.add_column(column, overflow="fold")
    for r in CATALOGUE.values():
        table.add_row(Text(r.id), Text(r.severity), Text(r.title), Text(r.help))
    _stdout_console().print(table)


def _chosen_rules(rule_ids: tuple[str, ...]) -> list[Rule]:
    import difflib

    chosen = []
    for rule_id in rule_ids:
        rule = CATALOGUE.get(rule_id.strip().lower())
        if rule is None:
            near = difflib.get_close_matches(rule_id.lower(), list(CATALOGUE), n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else "; `oauth-inspector rules` lists them all"
            raise ConfigError(f"no rule {quoted(rule_id)}{hint}")
        chosen.append(rule)
    return chosen


# Command groups with heavy imports (mitmproxy, pypsrp, msal) load only when they are invoked, so that
# `analyze` on a capture does not pay for them.
_LAZY_COMMANDS = {
    "lab": "inspector.cli_lab:lab",
    "proxy": "inspector.cli_proxy:proxy",
    "provision": "inspector.cli_provision:provision",
    "tls": "inspector.cli_tls:tls",
}


def run() -> None:
    """The console script: ``main`` with a last safety net, so a bug ends in one clear line, not a traceback."""
    run_console_script(main)
