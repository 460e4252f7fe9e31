"""``oauth-inspector lab``: the local lab: sample captures, and a live server and client to run through a proxy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli_common import output_options
from inspector.lab.responder import FAULTS, TOKEN_FAULTS

if TYPE_CHECKING:
    from inspector.lab.folder import LabDir


@click.group()
def lab() -> None:
    """A local simulated Exchange and S2S client: samples, demo traffic, test fixtures."""


@lab.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--outbound",
    is_flag=True,
    help="Write the outbound-leg samples instead: Exchange's token requests to Entra/ACS and errors inside answer "
    "bodies, as HAR, .mitm, pcapng and a Fiddler .saz.",
)
def samples(folder: Path, outbound: bool) -> None:
    """Write the sample captures (HAR, .mitm, pcapng), their certificate, ACS metadata and expected findings to
    FOLDER.

    New keys are generated each time, so the files change; expected.json changes with them.
    """
    from inspector.lab.samples import write_outbound_samples, write_samples

    for path in write_outbound_samples(folder) if outbound else write_samples(folder):
        click.echo(str(path))


DEFAULT_LAB_DIR = Path("oauth-lab")


@lab.command()
@click.option(
    "--listen-host",
    "host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (keep it on loopback).",
)
@click.option(
    "--listen-port",
    "port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port; 0 picks a free one.",
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a generated certificate (tls-cert.pem in --cert-dir).")
@click.option(
    "--realm", default=None, help="The realm (tenant ID) the server trusts. Default: the folder's, else the lab's."
)
@click.option(
    "--exchange-host",
    default=None,
    help="The Exchange name tokens are minted for and the server expects in Host. Default: mail.contoso.com.",
)
@click.option("--offer-basic", is_flag=True, help="Offer and accept Basic beside Bearer (to demonstrate fallback).")
@click.option(
    "--offer-ntlm",
    is_flag=True,
    help="Offer Negotiate and NTLM beside Bearer, as Exchange does by default, and accept an NTLM handshake.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    type=click.Choice(sorted({**FAULTS, **TOKEN_FAULTS})),
    help="Misbehave on purpose: ssl-offloading (refuse every token with 2000003), stale-metadata (2000000), "
    "sp-key-missing (the token endpoint double refuses every client assertion with AADSTS700027).",
)
@click.option(
    "--cert-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_LAB_DIR,
    show_default=True,
    help="Folder for the lab's certificates, metadata and (lab-only) keys; reused when it exists.",
)
@click.option("--quiet", is_flag=True, help="Do not print a line per request.")
def serve(
    host: str,
    port: int,
    tls: bool,
    realm: str | None,
    exchange_host: str | None,
    offer_basic: bool,
    offer_ntlm: bool,
    faults: tuple[str, ...],
    cert_dir: Path,
    quiet: bool,
) -> None:
    """Run a local Exchange-like server: EWS that demands Bearer and judges tokens with the engine, and the
    Exchange auth metadata document. Ctrl-C stops it."""
    import signal
    import threading
    from datetime import UTC, datetime

    from inspector.cli_common import exit_on_error
    from inspector.lab.folder import prepare_lab_dir
    from inspector.lab.responder import ServerOptions
    from inspector.lab.server import LabServer

    with exit_on_error():
        lab_dir = prepare_lab_dir(cert_dir, realm=realm, host=exchange_host, tls=tls, now=datetime.now(UTC))
        server = LabServer(
            lab_dir,
            host=host,
            port=port,
            tls=tls,
            options=ServerOptions(offer_basic, offer_ntlm, frozenset(faults)),
            log=None if quiet else (lambda line: click.echo(f"  {line}")),
        )
        url = server.start()

    def stop_on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # a service manager's stop, handled as Ctrl-C

    signal.signal(signal.SIGTERM, stop_on_term)
    try:  # from here on Ctrl-C stops cleanly, even while the banner is still being written
        _print_banner(url, lab_dir, cert_dir, host, offer_basic, offer_ntlm, faults)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _print_banner(
    url: str, lab_dir: LabDir, folder: Path, host: str, offer_basic: bool, offer_ntlm: bool, faults: tuple[str, ...]
) -> None:
    from inspector.lab.folder import ACS_METADATA_FILE, AUTH_CERT_FILE
    from inspector.lab.server import is_loopback
    from inspector.policy import EWS_PATH, METADATA_PATH

    click.echo(f"oauth-inspector lab: Exchange-like server listening on {url}")
    click.echo(f"  EWS:       {url}{EWS_PATH}  (tokens for {lab_dir.host}, realm {lab_dir.realm})")
    click.echo(f"  Metadata:  {url}{METADATA_PATH}")
    click.echo(f"  Token:     {url}/{lab_dir.realm}/oauth2/token  (answers as Entra does; ACS: /tokens/OAuth/2)")
    offers = ["Bearer", *(["Basic"] if offer_basic else []), *(["Negotiate", "NTLM"] if offer_ntlm else [])]
    click.echo(f"  Offers:    {', '.join(offers)}" + (f"; faults: {', '.join(faults)}" if faults else ""))
    click.echo(
        f"  Trust it:  --cert {folder / AUTH_CERT_FILE} --metadata {folder / ACS_METADATA_FILE} --realm {lab_dir.realm}"
    )
    click.echo(f"  Drive it:  oauth-inspector lab drive --target {url} --cert-dir {folder}")
    if not is_loopback(host):
        click.echo("  Warning:   this server accepts lab tokens minted with keys in plain files; keep it on loopback.")
    click.echo("  Ctrl-C stops it.")


@lab.command()
@click.option("--target", required=True, help="The lab server's URL, or the reverse proxy in front of it.")
@click.option("--proxy", default=None, help="Send through this HTTP proxy (http://host:port), e.g. mitmproxy.")
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    default=("all",),
    show_default=True,
    help="Scenario to play (repeatable): metadata, probe, a token scenario (healthy-user, expired, ...), "
    "basic-fallback, ntlm, token-requests (Exchange asking the Entra double for tokens), or all.",
)
@click.option(
    "--cert-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_LAB_DIR,
    show_default=True,
    help="The folder `lab serve` wrote (its keys mint the tokens).",
)
@click.option(
    "--ca-bundle",
    "ca_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="CA certificates (PEM) to trust for HTTPS (e.g. ~/.mitmproxy/mitmproxy-ca-cert.pem).",
)
@click.option("--insecure", is_flag=True, help="Do not verify HTTPS certificates.")
@click.option("--same-client", is_flag=True, help="Send every scenario from one source address.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
    help="table, or jsonl: one JSON object per request.",
)
@click.option(
    "--keylog",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="With an https:// target: append the TLS session keys to this NSS key log, so a capture of the traffic "
    "can be decrypted with `analyze --keylog`.",
)
@output_options
def drive(
    target: str,
    proxy: str | None,
    scenarios: tuple[str, ...],
    cert_dir: Path,
    ca_file: str | None,
    insecure: bool,
    same_client: bool,
    output_format: str,
    keylog: Path | None,
) -> None:
    """Play Skype for Business Online's calls against the lab: every token-kit scenario, a Basic fallback and an
    NTLM handshake, reporting what the server said and what the inspector should report."""
    import json
    from datetime import UTC, datetime

    from inspector.cli_common import exit_on_error
    from inspector.lab.client import drive as play
    from inspector.lab.folder import read_lab_dir
    from inspector.text import safe

    as_json = output_format == "jsonl"
    with exit_on_error(unreadable=(ConnectionError,)):
        lab_dir = read_lab_dir(cert_dir)
        results = play(
            lab_dir,
            target=target,
            proxy=proxy,
            scenarios=scenarios,
            now=datetime.now(UTC),
            ca_file=ca_file,
            insecure=insecure,
            separate_clients=not same_client,
            keylog=keylog,
        )
        if not as_json:
            click.echo(f"{'scenario':<24}{'client':<12}what the server said")
        for item in results:
            step = item.step
            if as_json:
                record = {
                    "scenario": step.scenario,
                    "client": step.client,
                    "source": item.source,
                    "method": step.method,
                    "path": step.path,
                    "status": item.status,
                    "said": item.said(),
                    "expects": list(step.expects),
                }
                click.echo(json.dumps(record, ensure_ascii=True))
                continue
            line = f"{step.scenario:<24}{item.source or step.client:<12}{safe(item.said(), 160)}"
            if step.expects:
                line += f"  (inspector: {', '.join(step.expects)})"
            click.echo(line)
