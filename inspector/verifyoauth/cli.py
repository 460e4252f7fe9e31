"""The ``verify-oauth`` console script: ``verify-oauth [options]`` runs the checks, ``verify-oauth export-script``
prints the read-only PowerShell that makes the bundle.

Exit codes: 0 no FAIL (and no WARN with ``--strict``), 1 a FAIL, 2 usage or configuration error (4: a bug, said in
one line; ``OAUTH_INSPECTOR_DEBUG=1`` shows where). Passwords come from the environment or a prompt, never options.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from inspector import __version__
from inspector.cli_common import (
    EXIT_USAGE,
    click_option,
    error,
    exit_on_error,
    output_options,
    report_console,
    run_console_script,
)
from inspector.model import ConfigError
from inspector.policy import DEFAULT_SKEW
from inspector.remote.graph import CLOUDS, GRAPH_CLI_CLIENT_ID, msal_token_provider
from inspector.remote.http import TlsOptions
from inspector.remote.options import (
    GRAPH_CERT_PASSWORD_ENV,
    PSRP_PASSWORD_ENV,
    graph_settings,
    psrp_settings,
    timeout_option,
    tls_options,
)
from inspector.remote.psrp import AUTH_METHODS
from inspector.settings import BY_PARAM, file_config
from inspector.settings import FORMATS as ANALYZE_FORMATS
from inspector.text import safe
from inspector.trust import normalise_thumbprint
from inspector.verifyoauth.context import Request, gather, principal_guids
from inspector.verifyoauth.export_script import export_script
from inspector.verifyoauth.graph import GraphSource
from inspector.verifyoauth.http_probe import exchange_base
from inspector.verifyoauth.model import exit_status
from inspector.verifyoauth.psrp import PsrpSource
from inspector.verifyoauth.report import FORMATS, render_table, to_junit, write_json
from inspector.verifyoauth.runner import run_checks
from inspector.verifyoauth.sources import BundleSource, ExchangeConfigSource, FileSource, ServicePrincipalSource

PROG = "verify-oauth"


def _err(message: str) -> None:
    error(message, prog=PROG)


def _exchange_source(
    bundle: Path | None, psrp: str | None, auth: str, user: str | None, tls: TlsOptions, timeout: float
) -> ExchangeConfigSource | None:
    if bundle and psrp:
        raise ConfigError("give either --exchange-config or --psrp, not both")
    if bundle:
        return BundleSource(bundle)
    if psrp:
        return PsrpSource(psrp_settings(psrp, auth, user, tls=tls, timeout=timeout))
    return None


def _sp_source(
    sp_file: Path | None,
    graph: bool,
    tenant: str | None,
    cloud: str,
    client_id: str,
    graph_cert: Path | None,
    ca_bundle: Path | None,
    timeout: float,
) -> ServicePrincipalSource | None:
    if sp_file and graph:
        raise ConfigError("give either --sp-credentials or --graph, not both")
    if sp_file:
        return FileSource(sp_file)
    if not graph:
        if tenant or graph_cert:
            raise ConfigError("--graph-tenant and --graph-cert go with --graph")
        return None
    if not tenant:
        raise ConfigError("--graph needs --graph-tenant (the tenant ID or a verified domain such as contoso.com)")
    settings = graph_settings(
        tenant=tenant, cloud=cloud, client_id=client_id, certificate=graph_cert, timeout=timeout, ca_bundle=ca_bundle
    )
    if graph_cert is None and not sys.stdin.isatty() and not sys.stderr.isatty():
        raise ConfigError("--graph without --graph-cert signs in with a device code, which needs a person: "
                          "use --graph-cert for automation, or --sp-credentials with saved JSON")  # fmt: skip
    provider = msal_token_provider(settings, show=lambda message: click.echo(safe(message, 1000), err=True))
    return GraphSource(settings, provider)


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="verify-oauth")
@click_option(BY_PARAM["certs"], PROG)
@click_option(BY_PARAM["thumbprints"], PROG)
@click_option(BY_PARAM["realms"], PROG)
@click_option(BY_PARAM["issuers"], PROG)
@click_option(BY_PARAM["metadata"], PROG)
@click.option(
    "--exchange",
    "exchange_url",
    default=None,
    help="Exchange's external URL, e.g. https://mail.contoso.com: probes its metadata and EWS challenge.",
)
@click.option(
    "--exchange-config",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The JSON bundle written by the export script (`verify-oauth export-script`).",
)
@click.option(
    "--psrp",
    "psrp_url",
    default=None,
    help="Read the configuration live through PowerShell remoting, e.g. https://ex01.contoso.com/PowerShell.",
)
@click.option(
    "--psrp-auth",
    type=click.Choice(AUTH_METHODS),
    default="negotiate",
    show_default=True,
    help="Remoting authentication (Kerberos ticket or --psrp-user).",
)
@click.option(
    "--psrp-user",
    default=None,
    help=f"Remoting account (DOMAIN\\user); its password from ${PSRP_PASSWORD_ENV} or a prompt.",
)
@click.option(
    "--sp-credentials",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Saved JSON of GET /servicePrincipals(appId='…')?$select=keyCredentials or of "
    "Get-MgServicePrincipal … | ConvertTo-Json.",
)
@click.option("--graph", is_flag=True, help="Read the service principal live from Microsoft Graph (msal sign-in).")
@click.option("--graph-tenant", default=None, help="Tenant ID or domain for --graph.")
@click.option(
    "--graph-cloud",
    type=click.Choice(tuple(CLOUDS)),
    default="global",
    show_default=True,
    help="National cloud of the tenant.",
)
@click.option(
    "--graph-client-id",
    default=GRAPH_CLI_CLIENT_ID,
    show_default=True,
    help="App to sign in with (default: Microsoft Graph Command Line Tools, a public client).",
)
@click.option(
    "--graph-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"App-only sign-in for automation: PEM (key and certificate) or PFX; password from "
    f"${GRAPH_CERT_PASSWORD_ENV}. Without it: device code.",
)
@click.option(
    "--capture",
    "captures",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Capture with the S2S traffic (pcap/pcapng, HAR, mitmproxy flows, Fiddler .saz, or a folder). Repeatable.",
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default=None, help="Output (default: table).")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report to this file.",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress or notes on standard error (errors and sign-in prompts stay)."
)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@timeout_option
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CA certificates (PEM) to trust for HTTPS, e.g. an internal CA.",
)
@click.option("--insecure", is_flag=True, help="Do not verify Exchange's TLS certificate (probes and remoting).")
@click_option(BY_PARAM["skew"], PROG)
@click_option(BY_PARAM["config_path"], PROG)
@click.pass_context
def main(ctx: click.Context, /, **options: Any) -> None:  # fmt: skip
    """Check that Exchange <-> Skype for Business Online OAuth is set up right and works.

    Runs named checks, one line each (PASS, WARN, FAIL or SKIP) with the reason and, for WARN/FAIL, the cmdlet
    or step that fixes it. Checks whose inputs are not given are skipped, naming the option that enables them.
    --cert is the one current auth certificate; without --realm, the realm of Exchange's ACS auth server is expected.
    """
    if ctx.invoked_subcommand is not None:
        return
    now = datetime.now(UTC)
    with exit_on_error(prog=PROG):
        request, output_format = _request(options)
        context = gather(request, now)
    checks = run_checks(context)
    strict: bool = options["strict"]
    output: Path | None = options["output"]
    try:
        handle = output.open("w", encoding="utf-8", newline="\n") if output else None
    except OSError as exc:
        _err(f"Cannot write {output}: {exc.strerror or exc}")
        sys.exit(EXIT_USAGE)
    out = handle or sys.stdout
    try:
        if output_format == "json":
            write_json(checks, out, generated=now, strict=strict)
        elif output_format == "junit":
            out.write(to_junit(checks, generated=now, strict=strict))
        else:
            console = report_console(handle)
            render_table(checks, console, strict=strict)
    finally:
        if handle is not None:
            handle.close()
    sys.exit(exit_status(checks, strict=strict))


def _request(options: dict[str, Any]) -> tuple[Request, str]:
    config = file_config(options["config_path"])
    tls = tls_options(insecure=options["insecure"], ca_bundle=options["ca_bundle"])
    timeout: float = options["timeout"]
    certs: tuple[Path, ...] = options["certs"] or tuple(config.paths("cert"))
    if len(certs) > 1:
        raise ConfigError(
            f"verify-oauth checks one auth certificate, the current one; --cert was given {len(certs)} times "
            "(the next certificate is checked from Get-AuthConfig through --exchange-config or --psrp)"
        )
    cert = certs[0] if certs else None
    thumbprints = (*config.strings("thumbprint"), *options["thumbprints"])
    for value in thumbprints:
        normalise_thumbprint(value)
    issuers = (*config.strings("issuer"), *options["issuers"])
    output_format = options["output_format"] or config.scalar("format", "table")
    if output_format not in FORMATS:
        if output_format not in ANALYZE_FORMATS:
            raise ConfigError(
                f"format in the configuration file must be one of {', '.join(sorted({*FORMATS, *ANALYZE_FORMATS}))}, "
                f"not {output_format!r}"
            )
        output_format = "table"  # a format only `oauth-inspector analyze` writes (the file serves both commands)
    principals = principal_guids(tuple(issuers))
    request = Request(
        cert=cert,
        metadata=(*config.paths("metadata"), *options["metadata"]),
        thumbprints=thumbprints,
        realms=(*config.strings("realm"), *options["realms"]),
        issuers=principals,
        skew=options["skew"] if options["skew"] is not None else config.scalar("skew", DEFAULT_SKEW),
        exchange_url=exchange_base(options["exchange_url"]) if options["exchange_url"] else None,
        exchange_source=_exchange_source(
            options["exchange_config"], options["psrp_url"], options["psrp_auth"], options["psrp_user"], tls, timeout
        ),
        sp_source=_sp_source(
            options["sp_credentials"],
            options["graph"],
            options["graph_tenant"],
            options["graph_cloud"],
            options["graph_client_id"],
            options["graph_cert"],
            options["ca_bundle"],
            timeout,
        ),
        captures=tuple(options["captures"]),
        timeout=timeout,
        tls=tls,
    )
    _must_exist(
        [("the auth certificate", path) for path in certs]
        + [("--exchange-config", options["exchange_config"]), ("--sp-credentials", options["sp_credentials"])]
        + [("--capture", path) for path in options["captures"]]
    )
    return request, output_format


def _must_exist(named: list[tuple[str, Path | None]]) -> None:
    """A file that is not there is a usage error (exit 2) before anything is contacted, not a row of FAILs."""
    for what, path in named:
        if path is not None and not path.exists():
            raise ConfigError(f"Cannot read {what} {path}: no such file")


@main.command("export-script")
@output_options
def export_script_command() -> None:
    """Print the read-only PowerShell script that writes the Exchange bundle (for --exchange-config).

    Save it (verify-oauth export-script > Export-OAuthBundle.ps1), run it in the Exchange Management Shell, copy
    the JSON it writes here.
    """
    click.echo(export_script(), nl=False)


def run() -> None:
    """The console script, with a last safety net: a bug ends in one clear line, not a traceback."""
    run_console_script(main, prog=PROG)
