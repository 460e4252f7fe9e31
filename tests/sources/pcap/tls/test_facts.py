"""A connection's audit record as JSON: every field, times as ISO 8601."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from inspector.sources.pcap.tls.facts import CertificateFacts, TlsFacts


def test_as_dict_is_json() -> None:
    when = datetime(2026, 11, 2, tzinfo=UTC)
    facts = TlsFacts("a -> b", "b", 4, when, sni="mail.contoso.com", version="TLS 1.2", alpn="h2")
    facts.certificates.append(CertificateFacts("CN=x", "CN=y", ("x",), ("x",), when, when, "00"))
    data = json.loads(json.dumps(facts.as_dict()))
    assert data["time"] == "2026-11-02T00:00:00+00:00"
    assert data["certificates"][0]["sans"] == ["x"]
    assert data["status"] == "no-handshake" and data["alpn"] == "h2"
