"""``oauth-inspector tls``: the TLS connections of captures, with what each shows without keys (SNI, versions,
cipher suite, ALPN, the TLS <= 1.2 certificate chain) and the TLS findings. With ``--keylog`` it also says which
connections decrypt."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inspector.analyze import Analyzer
from inspector.cli_common import EXIT_UNREADABLE, error, exit_on_error, output_options
from inspector.model import InputError, Notice
from inspector.rules import SEVERITY_ORDER, Finding, at_or_above
from inspector.settings import FAIL_ON_CHOICES
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.text import safe

TLS_RULES = frozenset(
    {
        "tls-cert-expired",
        "tls-cert-name-mismatch",
        "tls-version-legacy",
        "tls-decrypt-failed",
        "tls-malformed",
        "capture-encrypted",
    }
)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--keylog",
    "keylogs",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="TLS key log (NSS format) to say which connections decrypt. Repeatable.",
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="error",
    show_default=True,
    help="Exit 1 when a TLS finding at or above this severity is reported.",
)
@output_options
def tls(inputs: tuple[Path, ...], keylogs: tuple[Path, ...], output_format: str, fail_on: str) -> None:
    """List the TLS connections of pcap/pcapng captures: SNI, offered and chosen versions, cipher suite, ALPN,
    the server certificate (subject, issuer, SANs, validity) and whether keys decrypt it; then the TLS findings
    (expired certificate, name mismatch, legacy version, keys missing or wrong)."""
    from inspector.sources.dispatch import expand_inputs
    from inspector.sources.pcap import read_capture
    from inspector.sources.pcap.tls.keylog import load_keylogs

    with exit_on_error():
        keylog = load_keylogs(list(keylogs))
    expanded = expand_inputs(list(inputs))
    captures = [path for path, kind in expanded if kind == "pcap"]
    for path, kind in expanded:
        if kind != "pcap":
            error(f"{path}: not a pcap or pcapng capture (only captures carry TLS handshakes); skipped")
    if not captures:
        error("no pcap or pcapng capture found in " + ", ".join(str(p) for p in inputs))
        sys.exit(EXIT_UNREADABLE)
    connections: list[tuple[str, TlsFacts]] = []
    findings: list[Finding] = []
    problems: list[str] = []
    for path in captures:
        source = str(path)

        def seen(facts: TlsFacts, source: str = source) -> None:
            connections.append((source, facts))

        try:
            for item in read_capture(path, keylog=keylog, on_tls=seen):
                if isinstance(item, Notice) and item.rule in TLS_RULES:
                    findings.append(Analyzer.notice_finding(item))
        except InputError as exc:
            problems.append(str(exc))
    if output_format == "json":
        document = {
            "connections": [{"source": source, **facts.as_dict()} for source, facts in connections],
            "findings": [
                {"rule": f.rule, "severity": f.severity, "message": f.message, "evidence": f.evidence} for f in findings
            ],
        }
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        _print(Console(highlight=False, soft_wrap=False), connections, findings)
    for message in problems:
        error(message)
    if problems:
        sys.exit(EXIT_UNREADABLE)
    if fail_on != "never" and any(at_or_above(f.severity, fail_on) for f in findings):
        sys.exit(1)


def _print(console: Console, connections: list[tuple[str, TlsFacts]], findings: list[Finding]) -> None:
    if not connections:
        console.print(Text("No TLS connection found.", style="dim"))
    else:
        table = Table(title=f"TLS connections ({len(connections)})", title_justify="left")
        for column in ("connection", "SNI", "version", "cipher", "ALPN", "certificate", "keys"):
            table.add_column(column, overflow="fold")
        for _, facts in connections:
            offered = ", ".join(facts.offered_versions)
            version = facts.version or "?"
            if offered and offered != version:
                version += f" (offered {offered})"
            alpn = facts.alpn or (f"offered {', '.join(facts.offered_alpn)}" if facts.offered_alpn else "-")
            table.add_row(
                Text(safe(f"{facts.connection} frame {facts.frame}", 120)),
                Text(safe(facts.sni or "-", 100)),
                Text(safe(version, 60)),
                Text(safe(facts.cipher or "?", 60)),
                Text(safe(alpn, 60)),
                _certificate_cell(facts),
                Text(safe(facts.status + (f" ({facts.decrypted_with})" if facts.decrypted_with else ""), 40)),
            )
        console.print(table)
    for finding in sorted(findings, key=lambda f: -SEVERITY_ORDER[f.severity]):
        style = {"error": "red", "warning": "yellow"}.get(finding.severity, "")
        line = Text(f"{finding.severity:7} {finding.rule}: ", style=style)
        line.append(safe(finding.message, 1000))
        console.print(line)


def _certificate_cell(facts: TlsFacts) -> Text:
    if not facts.certificates:
        if facts.certificate_error:
            return Text(safe(f"unreadable: {facts.certificate_error}", 200))
        return Text("not seen (TLS 1.3 without keys, or resumed)" if facts.version == "TLS 1.3" else "-", style="dim")
    leaf = facts.certificates[0]
    cell = Text(safe(leaf.subject, 200))
    if leaf.sans:
        cell.append("\nSANs " + safe(", ".join(leaf.sans), 300))
    cell.append(f"\nissuer {safe(leaf.issuer, 200)}")
    cell.append(f"\nvalid {leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d}")
    return cell
