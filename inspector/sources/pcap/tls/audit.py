"""The TLS rules judged from what every connection shows without keys: the negotiated version, and the server
certificate against the SNI and the capture's time. One notice per distinct fact (a server answering a thousand
connections with an expired certificate is one finding, not a thousand)."""

from __future__ import annotations

from inspector.model import Notice
from inspector.sources.pcap.tls.certificates import name_matches
from inspector.sources.pcap.tls.facts import TlsFacts

LEGACY_VERSIONS = frozenset({"SSL 3.0", "TLS 1.0", "TLS 1.1"})
MAX_REMEMBERED = 4096


class TlsAudit:
    def __init__(self, source: str) -> None:
        self.source = source
        self._seen: set[tuple[str, ...]] = set()

    def judge(self, facts: TlsFacts) -> list[Notice]:
        out: list[Notice] = []
        where = {"connection": facts.connection, "server": facts.server, "sni": facts.sni, "frame": facts.frame}
        if facts.version in LEGACY_VERSIONS and self._first("legacy", facts.server, facts.version):
            out.append(
                Notice(
                    "tls-version-legacy",
                    f"{facts.version} negotiated with {facts.server}"
                    f"{f' (SNI {facts.sni})' if facts.sni else ''} in {facts.connection} at frame {facts.frame}; "
                    "Microsoft 365 refuses TLS below 1.2",
                    self.source,
                    evidence={**where, "version": facts.version, "cipher": facts.cipher},
                )
            )
        if not facts.certificates:
            return out
        leaf = facts.certificates[0]
        if (leaf.not_after < facts.time or leaf.not_before > facts.time) and self._first("expired", leaf.sha256):
            state = "expired" if leaf.not_after < facts.time else "not yet valid"
            out.append(
                Notice(
                    "tls-cert-expired",
                    f"The certificate {facts.server} presented ({leaf.subject}) was {state} at the capture's time "
                    f"{facts.time.isoformat()} (valid {leaf.not_before.isoformat()} to {leaf.not_after.isoformat()}); "
                    f"first seen in {facts.connection} at frame {facts.frame}",
                    self.source,
                    evidence={
                        **where,
                        "subject": leaf.subject,
                        "issuer": leaf.issuer,
                        "not_before": leaf.not_before.isoformat(),
                        "not_after": leaf.not_after.isoformat(),
                        "sha256": leaf.sha256,
                    },
                )
            )
        if facts.sni:
            names = list(leaf.sans) or list(leaf.common_names)
            if not name_matches(facts.sni, names) and self._first("name", facts.sni, leaf.sha256):
                out.append(
                    Notice(
                        "tls-cert-name-mismatch",
                        f"The client asked for {facts.sni} but {facts.server} presented a certificate for "
                        f"{', '.join(names) or leaf.subject} in {facts.connection} at frame {facts.frame}",
                        self.source,
                        evidence={**where, "names": names, "subject": leaf.subject, "sha256": leaf.sha256},
                    )
                )
        return out

    def _first(self, *key: str) -> bool:
        if key in self._seen:
            return False
        if len(self._seen) < MAX_REMEMBERED:
            self._seen.add(key)
        return True
