"""Rules judged on the whole run's trust inventory, once it is complete (they compare exchanges with each other).

Their findings belong to the run, not to one exchange; the evidence names the first exchange of what they describe.
"""

from __future__ import annotations

from inspector.inventory import TRUNCATED, Inventory, SignerStats
from inspector.rules import Finding, finding


def wildcard_match(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters, nothing else is special; linear, whatever the wire sends (a regex
    with many ``.*`` backtracks polynomially)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == text
    head, *middle, tail = parts
    if len(head) + len(tail) > len(text) or not text.startswith(head) or not text.endswith(tail):
        return False
    pos, end = len(head), len(text) - len(tail)
    for part in middle:
        found = text.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def issuer_trusted(issuer: str, trusted: list[str]) -> bool:
    """Whether a ``trusted_issuers`` entry names the issuer: case-insensitive, ``*`` matches anything
    (``<principal>@*``, ``https://sts.windows.net/*/``)."""
    wanted = issuer.strip().lower()
    return any(wildcard_match(entry.lower(), wanted) for entry in trusted)


def _trusted_by_host(inventory: Inventory) -> dict[str, list[str]]:
    """Every issuer each host's challenges trust; a host one of whose lists was cut short is left out (unknown)."""
    out: dict[str, list[str]] = {}
    cut: set[str] = set()
    for challenge in inventory.challenges.values():
        host, _, trusted, _ = challenge.key
        if any(t.startswith(TRUNCATED) for t in trusted):
            cut.add(host)
        elif trusted:
            listed = out.setdefault(host, [])
            listed.extend(t for t in trusted if t not in listed)
    return {host: trusted for host, trusted in out.items() if host not in cut}


def _untrusted_issuers(inventory: Inventory) -> list[Finding]:
    trusted_by_host = _trusted_by_host(inventory)
    out: list[Finding] = []
    reported: set[tuple[str, str]] = set()
    for signer in inventory.signers.values():
        issuer = signer.key[0]
        if issuer is None:
            continue
        for host in signer.hosts.items:
            trusted = trusted_by_host.get(host)
            if trusted is None or (issuer.lower(), host) in reported or issuer_trusted(issuer, trusted):
                continue
            reported.add((issuer.lower(), host))
            out.append(
                finding(
                    "issuer-not-trusted-by-server",
                    f"Tokens from {issuer} were sent to {host}, whose Bearer challenge trusts only "
                    f"{', '.join(trusted)}",
                    None,
                    issuer=issuer,
                    host=host,
                    trusted_issuers=trusted,
                    exchanges=signer.exchanges,
                    first_exchange=signer.first_exchange,
                )
            )
    return out


def _missing_authorization_uri(inventory: Inventory) -> list[Finding]:
    hosts: dict[str, tuple[int, str]] = {}
    for challenge in inventory.challenges.values():
        host, _, _, authorization_uri = challenge.key
        if authorization_uri is None:
            count, first = hosts.get(host, (0, challenge.first_exchange))
            hosts[host] = (count + challenge.count, first)
    return [
        finding(
            "authorization-uri-missing",
            f"{host} sent {count} Bearer challenge(s) without authorization_uri",
            None,
            host=host,
            challenges=count,
            first_exchange=first,
        )
        for host, (count, first) in hosts.items()
    ]


def _concentrated(signer: SignerStats) -> Finding | None:
    rejecting = [name for name, (_, rejected) in signer.backends.items() if rejected]
    accepting = [name for name, (accepted, _) in signer.backends.items() if accepted]
    if len(rejecting) != 1:
        return None
    others = [name for name in accepting if name != rejecting[0]]
    if not others:
        return None
    server = rejecting[0]
    accepted, rejected = signer.backends[server]
    issuer = signer.key[0] or "?"
    return finding(
        "rejections-concentrated",
        f"{server} refused {rejected} valid token(s) from {issuer} that {', '.join(others)} accepted",
        None,
        server=server,
        rejected=rejected,
        accepted_there=accepted,
        accepted_by=others,
        issuer=signer.key[0],
        x5t=signer.key[1],
        first_exchange=signer.first_exchange,
    )


def inventory_findings(inventory: Inventory) -> list[Finding]:
    out = _untrusted_issuers(inventory)
    out += [f for f in map(_concentrated, inventory.signers.values()) if f is not None]
    out += _missing_authorization_uri(inventory)
    return out
