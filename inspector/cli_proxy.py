"""``oauth-inspector proxy``: start mitmproxy with the addon, the trust options already set."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from inspector.cli import selection_options, trust_options
from inspector.cli_common import exit_on_error
from inspector.model import ConfigError
from inspector.settings import TrustArguments, build_settings


@click.command(context_settings={"max_content_width": 110})
@click.option(
    "--reverse",
    metavar="URL",
    default=None,
    help="Reverse-proxy mode in front of this server (e.g. https://exchange.contoso.com). Without it, mitmproxy "
    "is a regular HTTP(S) proxy for clients configured to use it.",
)
@click.option("--listen-host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--listen-port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port.")
@click.option("--web", is_flag=True, help="Start mitmweb (the browser UI) instead of mitmdump.")
@trust_options
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a JSONL report: one line per exchange with its findings, flushed as it goes (+FILE appends).",
)
@selection_options
@click.option("--dry-run", is_flag=True, help="Print the mitmproxy command instead of running it.")
@click.argument("mitmproxy_args", nargs=-1, type=click.UNPROCESSED)
def proxy(
    reverse: str | None,
    listen_host: str,
    listen_port: int,
    web: bool,
    trust: TrustArguments,
    report: Path | None,
    only_rules: tuple[str, ...],
    min_severity: str | None,
    only_hosts: tuple[str, ...],
    only_clients: tuple[str, ...],
    ignores: tuple[str, ...],
    dry_run: bool,
    mitmproxy_args: tuple[str, ...],
) -> None:
    """Inspect OAuth live: run mitmdump (or mitmweb) with the oauth-inspector addon.

    Every passing flow is judged as it happens: findings are logged, flows are marked (red circle: error,
    warning sign: warning) and commented, the full verdict is kept in the flow's metadata (saved with -w), and
    --report writes JSONL. In reverse mode mitmproxy keeps the client's Host header (keep_host_header), which
    Exchange needs to accept token audiences and the inspector needs to judge them. Everything after -- goes to
    mitmproxy unchanged, e.g. `-- -w flows.mitm`.

    With Extended Protection (on by default from Exchange 2019 CU14), NTLM and Kerberos to Exchange fail through
    a TLS-intercepting proxy, while OAuth keeps working: such failures are the proxy's doing.

    \b
    Examples:
      oauth-inspector proxy --reverse https://exchange.contoso.com --cert OAuthCert.cer --realm <tenant id>
      oauth-inspector proxy --web --cert OAuthCert.cer --report oauth.jsonl -- -w flows.mitm
    """
    from inspector.proxy import build_plan, check_port_free, launch, report_target, selection_sets
    from inspector.selection import build_selection

    with exit_on_error():
        # Refuse what the addon would refuse, before mitmproxy starts and buries the message in its log.
        settings = build_settings(trust, output_format=None, now=datetime.now(UTC))
        chosen = {"rules": only_rules, "hosts": only_hosts, "clients": only_clients, "ignores": ignores}
        build_selection(**chosen, severity=min_severity, configured=list(settings.ignores))
        if report is not None and not report_target(report)[1].parent.is_dir():
            raise ConfigError(f"Cannot write the report {report}: its folder does not exist")
        plan = build_plan(
            reverse=reverse,
            listen_host=listen_host,
            listen_port=listen_port,
            web=web,
            trust=trust,
            report=report,
            mitmproxy_args=(*selection_sets(chosen, min_severity), *mitmproxy_args),
        )
    for line in plan.banner:
        click.echo(line)
    click.echo("  Command:       " + " ".join(_quoted(a) for a in plan.argv))
    if dry_run:
        return
    with exit_on_error():
        check_port_free(listen_host, listen_port)
    sys.exit(launch(plan.argv))


def _quoted(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
