"""``oauth-inspector provision``: the seed article's setup steps, planned (PowerShell to read and run) or applied
(PowerShell remoting to Exchange, Microsoft Graph for the service principal).

Exit codes: 0 done, 1 stopped (a step failed at a boundary, a target was unreachable, the plan was blocked or not
confirmed), 2 usage or validation error (nothing was contacted or changed). Passwords come from the environment or
a prompt, never from options (the same variables as verify-oauth).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from inspector.cli_common import EXIT_USAGE, error, exit_on_error, output_options, report_console
from inspector.model import ConfigError
from inspector.provision import validate
from inspector.provision.render_ps1 import SCRIPT_NAMES
from inspector.provision.steps import Inputs, Plan, build_plan
from inspector.remote.graph import CLOUDS, GRAPH_CLI_CLIENT_ID
from inspector.remote.options import (
    GRAPH_CERT_PASSWORD_ENV,
    PSRP_PASSWORD_ENV,
    graph_settings,
    psrp_settings,
    timeout_option,
    tls_options,
)
from inspector.remote.psrp import AUTH_METHODS, SessionOpener, open_pypsrp
from inspector.text import safe

PROG = "oauth-inspector provision"
PLAN_FORMATS = ("ps1", "text", "json")
DEFAULT_AUDIT_LOG = Path("provision-audit.jsonl")
SESSION_OPENER: SessionOpener = open_pypsrp
"""How remoting sessions are opened (tests put an in-memory Exchange here)."""
GRAPH_BASE: str | None = None
"""Override of the cloud's Graph endpoint (tests point it at a local Graph double)."""


def _err(message: str) -> None:
    error(message, prog=PROG)


def _inputs(options: dict[str, Any], now: datetime) -> Inputs:
    cert = validate.certificate_file(options["cert"]) if options["cert"] else None
    if cert is not None:
        for problem in validate.certificate_usable(cert, now, force=options["force"]):
            _err(f"--force: going ahead although the certificate {problem}")
    return Inputs(
        domain=validate.domain(options["domain"]),
        domain_controller=validate.domain_controller(options["dc"]),
        tenant=validate.tenant(options["tenant"]) if options["tenant"] else None,
        cloud=validate.cloud(options["cloud"]),
        certificate=cert,
    )


def _common[F: Callable[..., Any]](func: F) -> F:
    decorators = [
        click.option("--domain", required=True, help="Your verified domain: the application account's address "
                     "is SfBOnline-ApplicationAccount@DOMAIN (seed step 2)."),
        click.option("--dc", required=True, help="FQDN of the domain controller every change is made on "
                     "(-DomainController), e.g. dc01.fabrikam.com."),
        click.option("--cloud", type=click.Choice(tuple(CLOUDS)), default="global", show_default=True,
                     help="National cloud of the tenant (Graph and sign-in endpoints)."),
        click.option("--cert", type=click.Path(path_type=Path, dir_okay=False), default=None,
                     help="The exported auth certificate (OAuthCert.cer: public part only)."),
        click.option("--force", is_flag=True, help="Go ahead with an expired, soon-expiring or weak certificate."),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
def provision() -> None:
    """Set up Exchange <-> Skype for Business Online OAuth (the seed article's steps) safely and repeatably.

    `plan` writes the steps as PowerShell (one script per host) or text/JSON; `apply` performs them through
    PowerShell remoting and Microsoft Graph, asking first, and ends with the matching verify-oauth checks.
    """


@provision.command()
@_common
@click.option("--tenant", default=None, help="Tenant ID or domain (for the Microsoft Graph script).")
@click.option("--format", "output_format", type=click.Choice(PLAN_FORMATS), default="ps1", show_default=True,
              help="ps1: two PowerShell scripts; text: the plan for a person; json: the steps as data.")  # fmt: skip
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="With --format ps1: the folder the two scripts are written to (default: the current folder); "
                   "their paths are printed.")  # fmt: skip
@click.option("--part", type=click.Choice(tuple(SCRIPT_NAMES)), default=None,
              help="With --format ps1: print this one script to standard output instead of writing files "
                   "(exchange: Exchange Management Shell; graph: Microsoft Graph PowerShell).")  # fmt: skip
@output_options
def plan(**options: Any) -> None:
    """Show the steps without connecting anywhere.

    The steps run on two hosts, so ps1 is two scripts: each is written to its own file (one script per file is
    what PowerShell can run), or one is printed with --part.
    """
    from inspector.provision import render_json, render_ps1, render_text

    output_format: str = options["output_format"]
    out_dir: Path | None = options["out_dir"]
    part: str | None = options["part"]
    with exit_on_error(prog=PROG):
        if output_format != "ps1" and (out_dir is not None or part is not None):
            given = "--out-dir" if out_dir is not None else "--part"
            raise ConfigError(f"{given} is for the PowerShell scripts (--format ps1); with --format "
                              f"{output_format} the plan goes to standard output: redirect it to a file")  # fmt: skip
        if out_dir is not None and part is not None:
            raise ConfigError("--part prints one script to standard output; --out-dir writes both: give one of them")
        the_plan = build_plan(_inputs(options, datetime.now(UTC)))
    if output_format == "json":
        import json

        click.echo(json.dumps(render_json.plan_json(the_plan), indent=2))
    elif output_format == "text":
        click.echo(render_text.plan_text(the_plan), nl=False)
    elif part is not None:
        click.echo(render_ps1.scripts(the_plan)[render_ps1.SCRIPT_NAMES[part]], nl=False)
    else:
        folder = out_dir or Path()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            scripts = render_ps1.scripts(the_plan)
            for part_name, name in SCRIPT_NAMES.items():
                (folder / name).write_text(scripts[name], encoding="utf-8", newline="\n")
                click.echo(f"{folder / name}  (run in {render_ps1.SCRIPT_WHERE[part_name]})")
        except OSError as exc:
            _err(f"Cannot write the scripts to {folder}: {exc.strerror or exc}")
            sys.exit(EXIT_USAGE)


@provision.command()
@_common
@click.option(
    "--psrp", "psrp_url", required=True, help="Exchange's remote PowerShell, e.g. https://ex01.fabrikam.com/PowerShell."
)
@click.option(
    "--psrp-auth",
    type=click.Choice(AUTH_METHODS),
    default="negotiate",
    show_default=True,
    help="Remoting authentication (a Kerberos ticket, or --psrp-user).",
)
@click.option(
    "--psrp-user",
    default=None,
    help=f"Remoting account (DOMAIN\\user), a member of Organization "
    f"Management; its password from ${PSRP_PASSWORD_ENV} or a prompt.",
)
@click.option("--tenant", required=True, help="Tenant ID or domain, e.g. fabrikam.onmicrosoft.com.")
@click.option(
    "--graph-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"App-only sign-in: PEM (key and certificate) or PFX of an app with Application.ReadWrite.All; "
    f"password from ${GRAPH_CERT_PASSWORD_ENV}. Without it: device code (a person signs in).",
)
@click.option(
    "--graph-client-id",
    default=GRAPH_CLI_CLIENT_ID,
    show_default=True,
    help="App to sign in with (default: Microsoft Graph Command Line Tools).",
)
@click.option("--yes", is_flag=True, help="Do not ask before changing anything (automation).")
@click.option("--dry-run", is_flag=True, help="Stop after the plan: read everything, change nothing.")
@click.option(
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_AUDIT_LOG,
    show_default=True,
    help="JSONL file every action and its result is appended to.",
)
@timeout_option
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CA certificates (PEM) to trust for HTTPS.",
)
@click.option("--insecure", is_flag=True, help="Do not verify Exchange's TLS certificate (remoting).")
def apply(**options: Any) -> None:  # fmt: skip
    """Perform the steps: plan (read only), ask, change, verify.

    Steps 2-4 run on Exchange through PowerShell remoting (the certificate comes back over the session), steps
    5-6 through Microsoft Graph (the certificate is merged into the service principal's keys, never replacing
    them). Every action and its result is appended to the audit log.
    """
    from inspector.provision.apply import ApplyOptions, Provisioner, verification
    from inspector.provision.audit import AuditLog
    from inspector.provision.exchange import exchange_shell
    from inspector.provision.graph import GraphKeyStore, once
    from inspector.provision.render_ps1 import WRITE_SCOPE
    from inspector.provision.render_text import ConsoleReporter
    from inspector.remote.graph import msal_token_provider
    from inspector.verifyoauth.graph import GraphSource
    from inspector.verifyoauth.psrp import PsrpSource

    now = datetime.now(UTC)
    with exit_on_error(prog=PROG):
        inputs = _inputs(options, now)
        tls = tls_options(insecure=options["insecure"], ca_bundle=options["ca_bundle"])
        if not (options["yes"] or options["dry_run"] or sys.stdin.isatty()):
            raise ConfigError("apply asks before changing anything: run it in a terminal, or pass --yes "
                              "(or --dry-run to see the plan only)")  # fmt: skip
        settings = psrp_settings(
            options["psrp_url"], options["psrp_auth"], options["psrp_user"], tls=tls, timeout=options["timeout"]
        )
        graph = graph_settings(
            tenant=inputs.tenant or "",
            cloud=inputs.cloud,
            client_id=options["graph_client_id"],
            certificate=options["graph_cert"],
            timeout=options["timeout"],
            ca_bundle=options["ca_bundle"],
            delegated_scope=WRITE_SCOPE,
        )
        if options["graph_cert"] is None and not sys.stderr.isatty():
            raise ConfigError("without --graph-cert, sign-in uses a device code, which needs a person at a "
                              "terminal: use --graph-cert for automation")  # fmt: skip
        audit = AuditLog(options["audit_log"])

    the_plan: Plan = build_plan(inputs)
    token = once(msal_token_provider(graph, show=lambda text: click.echo(safe(text, 1000), err=True)))
    console = report_console()
    opener = SESSION_OPENER
    with audit:
        audit.start(
            "apply",
            domain=inputs.domain,
            domain_controller=inputs.domain_controller,
            tenant=inputs.tenant,
            cloud=inputs.cloud,
            psrp=settings.url,
            psrp_auth=settings.auth,
            psrp_user=settings.username,
            graph_sign_in="certificate" if options["graph_cert"] else "device code",
            yes=options["yes"],
            dry_run=options["dry_run"],
            force=options["force"],
        )
        provisioner = Provisioner(
            plan=the_plan,
            open_exchange=lambda: exchange_shell(settings, opener),
            keys=GraphKeyStore(graph, token, graph_base=GRAPH_BASE),
            audit=audit,
            reporter=ConsoleReporter(console, options["audit_log"]),
            confirm=lambda question: click.confirm(question, default=False, err=True),
            verify=verification(
                the_plan,
                exchange_source=PsrpSource(settings, opener=opener),
                sp_source=GraphSource(graph, token, graph_base=GRAPH_BASE),
                cert=options["cert"],
            ),
            options=ApplyOptions(yes=options["yes"], dry_run=options["dry_run"], force=options["force"]),
        )
        try:
            code = provisioner.run()
        except ConfigError as exc:
            _err(str(exc))
            code = EXIT_USAGE
    sys.exit(code)
