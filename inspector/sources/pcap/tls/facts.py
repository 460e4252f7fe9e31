"""What one TLS connection showed on the wire, with or without keys: the audit record of ``oauth-inspector tls``
and the input of the TLS rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["decrypted", "no-keys", "decrypt-failed", "unsupported-suite", "no-handshake", "incomplete"]


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    common_names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    sha256: str


@dataclass(slots=True)
class TlsFacts:
    connection: str
    server: str
    frame: int
    """The frame of the ClientHello (or of the first TLS record seen)."""
    time: datetime
    sni: str | None = None
    offered_versions: list[str] = field(default_factory=list)
    version: str | None = None
    cipher: str | None = None
    offered_alpn: list[str] = field(default_factory=list)
    alpn: str | None = None
    certificates: list[CertificateFacts] = field(default_factory=list)
    certificate_error: str | None = None
    resumed: bool = False
    retry: bool = False
    """A HelloRetryRequest preceded the ServerHello."""
    status: Status = "no-handshake"
    decrypted_with: str | None = None
    client_random: str | None = None
    requests: int = 0
    """HTTP requests read from the decrypted stream."""

    def as_dict(self) -> dict[str, object]:
        return {
            "connection": self.connection,
            "server": self.server,
            "frame": self.frame,
            "time": self.time.isoformat(),
            "sni": self.sni,
            "offered_versions": self.offered_versions,
            "version": self.version,
            "cipher": self.cipher,
            "offered_alpn": self.offered_alpn,
            "alpn": self.alpn,
            "resumed": self.resumed,
            "hello_retry": self.retry,
            "status": self.status,
            "decrypted_with": self.decrypted_with,
            "client_random": self.client_random,
            "requests": self.requests,
            "certificates": [
                {
                    "subject": c.subject,
                    "issuer": c.issuer,
                    "sans": list(c.sans),
                    "not_before": c.not_before.isoformat(),
                    "not_after": c.not_after.isoformat(),
                    "sha256": c.sha256,
                }
                for c in self.certificates
            ],
            "certificate_error": self.certificate_error,
        }
