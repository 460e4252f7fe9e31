"""The lab's TLS capture: real TLS 1.3 and 1.2 records from Python's ssl over memory, its key log embedded, read
back to the very exchanges it was made from."""

from __future__ import annotations

from pathlib import Path

from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.samples import SAMPLE_CLOCK
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tls_capture import write_tls_lab_pcapng
from inspector.lab.tokens import TokenKit
from inspector.model import HttpExchange, Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.facts import TlsFacts


def test_the_tls_capture_decrypts_to_its_exchanges(tmp_path: Path) -> None:
    now = SAMPLE_CLOCK
    kit = TokenKit(auth_cert=exchange_auth_cert(now=now), acs_cert=acs_signing_cert(now=now), now=now)
    exchanges = [exchange for exchange, _ in lab_exchanges(kit, source="lab")]
    path = write_tls_lab_pcapng(exchanges, tmp_path / "lab-tls.pcapng", now=now, seed=5)
    facts: list[TlsFacts] = []
    items = list(read_capture(path, on_tls=facts.append))
    read = [item for item in items if isinstance(item, HttpExchange)]
    assert [(e.request.method, e.request.target) for e in read] == [
        (e.request.method, e.request.target) for e in exchanges
    ]
    assert [e.request.headers for e in read] == [e.request.headers for e in exchanges]
    assert [e.time for e in read] == [e.time for e in exchanges]
    assert not [item for item in items if isinstance(item, Notice)]
    assert {f.version for f in facts} == {"TLS 1.3", "TLS 1.2"}
    assert {f.decrypted_with for f in facts} == {"dsb"}
