"""The trust inventory as tables a person reads (wire text through ``safe``, into ``Text``, never markup)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from inspector.inventory import Inventory, Names
from inspector.report.serialize import utc_iso
from inspector.text import safe

MAX_ROWS = 50


def _names(names: Names, limit: int = 4) -> str:
    shown = [safe(n, 60) for n in names.items[:limit]]
    more = len(names.items) - len(shown) + names.more
    return ", ".join(shown) + (f" (+{more})" if more else "") if shown else "-"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{safe(k, 20)} {v}" for k, v in sorted(counts.items())) or "-"


def _span(first: Any, last: Any) -> str:
    a, b = utc_iso(first), utc_iso(last)
    if a is None or b is None:
        return "-"
    return a[:19].replace("T", " ") if a == b else f"{a[:19].replace('T', ' ')} to {b[:19].replace('T', ' ')}"


def _day(value: str | None) -> str:
    return value[:10] if value else "?"


def _line(indent: str, *parts: tuple[str, str]) -> Text:
    text = Text(indent)
    for value, style in parts:
        text.append(value, style=style)
    return text


def print_inventory(console: Console, inventory: Inventory) -> None:
    """One block per signer and per challenge: the values are long (GUID@GUID), so lines, not narrow columns."""
    if not inventory.signers and not inventory.challenges:
        return
    console.print()
    console.print(Text("Trust inventory: who signed tokens for whom", style="bold"))
    for signer in list(inventory.signers.values())[:MAX_ROWS]:
        issuer, x5t, kid, realm, aud_principal, aud_host = signer.key
        servers = Names()
        servers.merge(signer.fe_servers)
        servers.merge(signer.be_servers)
        key = f"x5t {safe(x5t, 60)}" if x5t else "no x5t"
        if kid and kid != x5t:
            key += f" kid {safe(kid, 60)}"
        console.print(
            _line(
                "  ", (safe(issuer or "?", 120), "bold"), (f"  signed with {key}; realm {safe(realm or '?', 80)}", "")
            ),
        )
        console.print(
            _line(
                "      ",
                (f"audience {safe(aud_principal or '?', 60)} / {safe(aud_host or '?', 80)}; ", ""),
                (f"clients {_names(signer.clients)} -> {_names(signer.hosts)}; servers {_names(servers)}", ""),
            )
        )
        console.print(
            _line(
                "      ",
                (f"{signer.exchanges} exchanges, {_span(signer.first_seen, signer.last_seen)} UTC; ", ""),
                (f"signatures: {_counts(signer.verdicts)}; statuses: {_counts(signer.statuses)}", "dim"),
            )
        )
    if len(inventory.signers) > MAX_ROWS:
        console.print(Text(f"  ... and {len(inventory.signers) - MAX_ROWS} more signers (--format json)", style="dim"))
    if inventory.challenges:
        console.print(Text("Trust inventory: Bearer challenges (what each server trusts)", style="bold"))
    for challenge in list(inventory.challenges.values())[:MAX_ROWS]:
        host, client_id, trusted, authorization_uri = challenge.key
        console.print(
            _line(
                "  ",
                (safe(host, 80), "bold"),
                (f"  client_id {safe(client_id or '-', 80)}; {challenge.count} challenge(s) from ", ""),
                (_names(challenge.servers), ""),
            )
        )
        console.print(_line("      ", ("trusted_issuers: " + (", ".join(safe(t, 120) for t in trusted) or "-"), "")))
        shown = safe(authorization_uri, 120) if authorization_uri else "(none)"
        console.print(_line("      ", ("authorization_uri: " + shown, "")))
    if len(inventory.challenges) > MAX_ROWS:
        console.print(Text(f"  ... and {len(inventory.challenges) - MAX_ROWS} more challenges", style="dim"))
    if inventory.rotation:
        console.print(Text("Rotation timeline: every certificate seen or configured", style="bold"))
    for cert in inventory.rotation[:MAX_ROWS]:
        roles = ", ".join(safe(r, 80) for r in cert["roles"])
        console.print(_line("  ", (safe(cert["thumbprint"], 60), "bold"), ("  " + roles, "")))
        parts = [f"valid {_day(cert['not_before'])} to {_day(cert['not_after'])}"]
        if cert["effective"]:
            parts.append(f"effective {_day(cert['effective'])}")
        if cert["exchanges"]:
            parts.append(f"on the wire {_day(cert['first_seen'])} to {_day(cert['last_seen'])} ({cert['exchanges']})")
        if cert["on_service_principal"] is not None:
            parts.append("on the service principal" if cert["on_service_principal"] else "NOT on the service principal")
        console.print(_line("      ", ("; ".join(parts), "")))
    if inventory.signers_dropped or inventory.challenges_dropped:
        console.print(
            Text(
                f"  Inventory full: {inventory.signers_dropped} exchanges and {inventory.challenges_dropped} "
                "challenges not described",
                style="dim",
            )
        )
