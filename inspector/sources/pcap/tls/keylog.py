"""NSS key log files (``SSLKEYLOGFILE``) and the same text from pcapng Decryption Secrets Blocks.

Lines are ``LABEL <client random hex> <secret hex>``; ``#`` starts a comment. The labels read are
``CLIENT_RANDOM`` (the TLS <= 1.2 master secret) and the TLS 1.3 traffic secrets (0-RTT's early one too);
others (exporter secrets, ``RSA``) are counted and skipped.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from pathlib import Path

from inspector.model import ConfigError

MASTER = "CLIENT_RANDOM"
CLIENT_HS = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HS = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_AP = "CLIENT_TRAFFIC_SECRET_0"
SERVER_AP = "SERVER_TRAFFIC_SECRET_0"
CLIENT_EARLY = "CLIENT_EARLY_TRAFFIC_SECRET"
LABELS = frozenset({MASTER, CLIENT_HS, SERVER_HS, CLIENT_AP, SERVER_AP, CLIENT_EARLY})
MAX_KEYLOG_BYTES = 512 << 20
"""A key log larger than this is not one (a 2,000-connection TLS 1.3 log is under 2 MB)."""


@dataclass(frozen=True, slots=True)
class Secret:
    value: bytes
    origin: str
    """``keylog`` or ``dsb``: what the exchange's ``tls.decrypted_with`` says."""
    where: str
    """The file the line came from, for messages."""


@dataclass(slots=True)
class KeyLog:
    secrets: dict[bytes, dict[str, Secret]] = field(default_factory=dict)
    skipped: int = 0
    """Lines that were not a readable entry with a label this reader uses."""
    rsa_keys: list[tuple[bytes, str]] = field(default_factory=list)
    """Servers' RSA private keys (PKCS#8 DER, file name) for static-RSA sessions (``--tls-key``)."""

    def __len__(self) -> int:
        return len(self.secrets)

    def add_text(self, text: bytes, origin: str, where: str) -> int:
        """Read key log lines; the number of entries taken."""
        taken = 0
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            parts = line.split()
            if len(parts) != 3:
                self.skipped += 1
                continue
            label = parts[0].decode("ascii", "replace")
            if label not in LABELS:
                self.skipped += 1
                continue
            try:
                client_random = binascii.unhexlify(parts[1])
                value = binascii.unhexlify(parts[2])
            except (binascii.Error, ValueError):
                self.skipped += 1
                continue
            if len(client_random) != 32 or not value or len(value) > 64:
                self.skipped += 1
                continue
            self.secrets.setdefault(client_random, {})[label] = Secret(value, origin, where)
            taken += 1
        return taken

    def lookup(self, client_random: bytes, label: str) -> Secret | None:
        entry = self.secrets.get(client_random)
        return entry.get(label) if entry is not None else None

    def copy(self) -> KeyLog:
        return KeyLog({random: dict(entry) for random, entry in self.secrets.items()}, self.skipped, self.rsa_keys)


def load_keys(keylogs: list[Path], server_keys: list[Path], password: bytes | None = None) -> KeyLog | None:
    """Key logs and servers' RSA keys together (``ConfigError`` for any that cannot be used)."""
    from inspector.sources.pcap.tls.server_keys import load_server_key

    keys = load_keylogs(keylogs)
    if server_keys:
        keys = keys or KeyLog()
        keys.rsa_keys = [(load_server_key(path, password), path.name) for path in server_keys]
    return keys


def load_keylogs(paths: list[Path]) -> KeyLog | None:
    """The key log files named by the user, merged; ``ConfigError`` for one that cannot be read or holds no
    usable line (a wrong file named by mistake must not quietly decrypt nothing)."""
    if not paths:
        return None
    keys = KeyLog()
    for path in paths:
        try:
            size = path.stat().st_size
            if size > MAX_KEYLOG_BYTES:
                raise ConfigError(f"Key log {path} is {size} bytes: too large to be a key log")
            text = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"Cannot read key log {path}: {exc.strerror or exc}") from exc
        if not keys.add_text(text, "keylog", path.name):
            raise ConfigError(
                f"Key log {path} holds no CLIENT_RANDOM or TLS 1.3 traffic secret line; is it an NSS key log "
                "(SSLKEYLOGFILE)?"
            )
    return keys
