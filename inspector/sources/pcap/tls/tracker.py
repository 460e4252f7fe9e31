"""The TLS side of one capture: the key log (with what the file's own Decryption Secrets Blocks add), the
sessions' outcomes counted for the ``capture-encrypted`` notice, the audit rules, and the facts handed to
whoever asked for them (``oauth-inspector tls``)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.model import Notice
from inspector.sources.pcap.ordering import OrderedOutput
from inspector.sources.pcap.tls.audit import TlsAudit
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.pcap.tls.session import TlsSession

if TYPE_CHECKING:
    from inspector.sources.pcap.connections import Connection

LISTED = 10
"""Client randoms and servers named one by one in the notice; the rest are counted."""
MAX_NAMES = 256

_HINT = (
    "give the key log with --keylog (SSLKEYLOGFILE of a client you control, mitmproxy's "
    "MITMPROXY_SSLKEYLOGFILE, a TLS-terminating load balancer's export), or "
    "run `oauth-inspector proxy` or capture behind the TLS terminator"
)


@dataclass(frozen=True, slots=True)
class TlsCounts:
    """A tracker's counts (picklable): what shards of one capture read in parallel add up into one notice."""

    total: int
    decrypted: int
    undecrypted: int
    by_status: dict[str, int]
    snis: dict[str, int]
    servers: dict[str, int]
    missing_randoms: list[str]
    missing: int
    unsupported: dict[str, int]
    secrets_blocks: int

    @staticmethod
    def merged(parts: Sequence[TlsCounts]) -> TlsCounts:
        by_status: dict[str, int] = {}
        snis: dict[str, int] = {}
        servers: dict[str, int] = {}
        unsupported: dict[str, int] = {}
        randoms: list[str] = []
        for part in parts:
            for table, more in ((by_status, part.by_status), (snis, part.snis), (servers, part.servers)):
                for key, n in more.items():
                    if key in table or len(table) < MAX_NAMES:
                        table[key] = table.get(key, 0) + n
            for key, n in part.unsupported.items():
                unsupported[key] = unsupported.get(key, 0) + n
            randoms = sorted({*randoms, *part.missing_randoms})[:LISTED]
        return TlsCounts(
            sum(p.total for p in parts),
            sum(p.decrypted for p in parts),
            sum(p.undecrypted for p in parts),
            by_status,
            snis,
            servers,
            randoms,
            sum(p.missing for p in parts),
            unsupported,
            max(p.secrets_blocks for p in parts),
        )

    def encrypted_notice(self, source: str) -> Notice | None:
        """``capture-encrypted`` of the capture ``source`` from these counts alone."""
        tracker = TlsTracker(OrderedOutput(source, source), source, None, None)
        for name in TlsCounts.__slots__:
            value = getattr(self, name)
            setattr(tracker, name, value.copy() if isinstance(value, dict | list) else value)
        return tracker.encrypted_notice()


class TlsTracker:
    def __init__(
        self,
        out: OrderedOutput,
        source: str,
        keylog: KeyLog | None,
        on_tls: Callable[[TlsFacts], None] | None,
    ) -> None:
        self._out = out
        self._source = source
        self._keylog = keylog
        self._own_keylog = False
        self._on_tls = on_tls
        self._audit = TlsAudit(source)
        self.total = 0
        self.decrypted = 0
        self.undecrypted = 0
        self.by_status: dict[str, int] = {}
        self.snis: dict[str, int] = {}
        self.servers: dict[str, int] = {}
        self.missing_randoms: list[str] = []
        self.missing = 0
        self.unsupported: dict[str, int] = {}
        self.secrets_blocks = 0

    def counts(self) -> TlsCounts:
        return TlsCounts(
            self.total,
            self.decrypted,
            self.undecrypted,
            dict(self.by_status),
            dict(self.snis),
            dict(self.servers),
            list(self.missing_randoms),
            self.missing,
            dict(self.unsupported),
            self.secrets_blocks,
        )

    @property
    def keylog(self) -> KeyLog | None:
        """The keys this tracker opens sessions with: the user's and the secrets blocks read so far."""
        return self._keylog

    def session(self, conn: Connection, frame: int, ts: int) -> TlsSession:
        return TlsSession(conn, self._keylog, frame, ts, self._closed)

    def add_secrets(self, text: bytes) -> None:
        """The key log text of a pcapng Decryption Secrets Block (it applies to the rest of this file)."""
        if self._keylog is None:
            self._keylog = KeyLog()
        elif not self._own_keylog:
            self._keylog = self._keylog.copy()  # the user's key log is shared by every file: do not grow it
        self._own_keylog = True
        self._keylog.add_text(text, "dsb", f"{self._source} (decryption secrets block)")
        self.secrets_blocks += 1

    def count_unread(self, server: str) -> None:
        """A TLS connection no session followed (its start was not captured as TLS): hidden, with no facts."""
        self.total += 1
        self.undecrypted += 1
        self.by_status["no-handshake"] = self.by_status.get("no-handshake", 0) + 1
        _count(self.servers, server)

    def _closed(self, session: TlsSession) -> None:
        facts = session.facts
        self.total += 1
        status = facts.status
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if status == "decrypted" and not session.failed:
            self.decrypted += 1
        elif not session.carried_data:
            pass  # only alerts crossed: nothing was hidden
        else:
            self.undecrypted += 1
            _count(self.servers, facts.server or str(session.conn.endpoints[1]))
            if facts.sni:
                _count(self.snis, facts.sni)
            if status == "no-keys" and facts.client_random:
                self.missing += 1
                # The first few in order of value, not of closing: what shards of one capture keep is the same.
                randoms = self.missing_randoms
                if len(randoms) < LISTED or facts.client_random < randoms[-1]:
                    bisect.insort(randoms, facts.client_random)
                    del randoms[LISTED:]
            if status == "unsupported-suite" and facts.cipher:
                _count(self.unsupported, facts.cipher)
        for notice in self._audit.judge(facts):
            self._out.notice(facts.frame, notice)
        if self._on_tls is not None:
            self._on_tls(facts)

    def encrypted_notice(self, still_open: Sequence[TlsSession] = ()) -> Notice | None:
        """``capture-encrypted``: how many TLS connections stayed unread, to which names, and which keys were
        missing. Sessions ``still_open`` (the reader closes every connection first) count by what they showed."""
        hidden_open = [s for s in still_open if s.carried_data and (s.facts.status != "decrypted" or s.failed)]
        for session in hidden_open:
            _count(self.servers, session.facts.server or str(session.conn.endpoints[1]))
        count = self.undecrypted + len(hidden_open)
        if not count:
            return None
        # Most hidden first, then by name: the same list whichever order the connections closed in (shards).
        servers = [name for name, _ in sorted(self.servers.items(), key=lambda item: (-item[1], item[0]))][:LISTED]
        parts = [f"servers: {', '.join(servers)}{', ...' if len(self.servers) > len(servers) else ''}"]
        if self.snis:
            named = sorted(self.snis.items(), key=lambda item: (-item[1], item[0]))[:LISTED]
            parts.append("SNI " + ", ".join(f"{name} ({n})" for name, n in named))
        if self.missing:
            listed = ", ".join(r[:16] + "…" for r in self.missing_randoms)
            parts.append(f"no key for {self.missing} client random{'s' if self.missing != 1 else ''} ({listed})")
        if self.unsupported:
            parts.append(
                "cipher suites this reader does not decrypt: "
                + ", ".join(f"{name} ({n})" for name, n in sorted(self.unsupported.items()))
            )
        failed = self.by_status.get("decrypt-failed", 0)
        if failed:
            parts.append(f"{failed} whose keys did not open the records")
        of = f" of {self.total + len(still_open)}" if self.decrypted else ""
        return Notice(
            rule="capture-encrypted",
            message=(
                f"{count}{of} TLS connection{'s' if count != 1 else ''} in this capture could not be inspected "
                f"({'; '.join(parts)}); {_HINT}"
            ),
            source=self._source,
            evidence={
                "tls_connections": count,
                "tls_total": self.total + len(still_open),
                "decrypted": self.decrypted,
                "servers": servers,
                "snis": dict(sorted(self.snis.items())),
                "missing_keys": self.missing,
                "missing_client_randoms": list(self.missing_randoms),
                "unsupported_suites": dict(sorted(self.unsupported.items())),
                "by_status": dict(sorted(self.by_status.items())),
                "hint": _HINT,
            },
        )


def _count(table: dict[str, int], key: str) -> None:
    if key in table or len(table) < MAX_NAMES:
        table[key] = table.get(key, 0) + 1
