"""What a capture's TLS adds up to: ``capture-encrypted`` counts what stayed hidden (names, client randoms
without keys), and a connection that carried only an alert is not counted as hiding anything."""

from __future__ import annotations

from pathlib import Path

from inspector.model import Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.pcap.tls.tracker import LISTED
from tests.sources.pcap.capture_builder import Conversation, capture


def _hello(random: bytes, sni: bytes) -> bytes:
    name = b"\x00" + len(sni).to_bytes(2, "big") + sni
    ext = b"\x00\x00" + (len(name) + 2).to_bytes(2, "big") + len(name).to_bytes(2, "big") + name
    body = b"\x03\x03" + random + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00" + len(ext).to_bytes(2, "big") + ext
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message


SERVER_HELLO = b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\xc0\x2f\x00"
SERVER_FLIGHT = b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26" + SERVER_HELLO


def _conversation(port: int, client: bytes, server: bytes) -> Conversation:
    conv = Conversation(client=("10.0.0.1", port), server=("10.0.0.2", 443)).handshake()
    if client:
        conv.send(True, client)
    if server:
        conv.send(False, server)
    return conv.close()


def _notices(tmp_path: Path, *convs: Conversation, keylog: KeyLog | None = None) -> list[Notice]:
    path = tmp_path / "t.pcap"
    path.write_bytes(capture(*convs))
    return [item for item in read_capture(path, keylog=keylog) if isinstance(item, Notice)]


def test_missing_keys_are_named_by_client_random_and_sni(tmp_path: Path) -> None:
    convs = [
        _conversation(40000 + n, _hello(bytes([n]) * 32, b"mail.contoso.com"), SERVER_FLIGHT) for n in range(LISTED + 2)
    ]
    (notice,) = _notices(tmp_path, *convs)
    assert notice.rule == "capture-encrypted"
    assert notice.evidence["tls_connections"] == LISTED + 2
    assert notice.evidence["missing_keys"] == LISTED + 2
    assert notice.evidence["missing_client_randoms"] == [bytes([n]).hex() * 32 for n in range(LISTED)]
    assert notice.evidence["snis"] == {"mail.contoso.com": LISTED + 2}


def test_an_alert_alone_hides_nothing(tmp_path: Path) -> None:
    alert = b"\x15\x03\x03\x00\x02\x02\x28"
    assert _notices(tmp_path, _conversation(40000, b"", alert)) == []


def test_tls_the_http_parser_met_is_counted_too() -> None:
    """A TLS record only the HTTP parser saw (no TLS session followed the connection) is still hidden traffic."""
    from inspector.sources.pcap.budget import MemoryBudget
    from inspector.sources.pcap.connections import Connection, ConnectionTable
    from inspector.sources.pcap.ordering import OrderedOutput

    table = ConnectionTable(OrderedOutput("t", "t.pcap"), "t.pcap", keep_bodies=False, budget=MemoryBudget(1 << 20))
    conn = Connection(table, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), 50000, 443, 0)
    conn.on_tls(conn.parsers[0])
    conn.on_tls(conn.parsers[0])  # once per connection
    notice = table.encrypted_notice()
    assert notice is not None and notice.evidence["tls_connections"] == 1
    assert notice.evidence["servers"] == ["10.0.0.2:443"]
