"""TCP connections of a capture, driven segment by segment: both directions reassembled, requests paired with
responses, closed and reset connections leaving the table, late packets of a closed connection ignored."""

from __future__ import annotations

import socket

from inspector.model import HttpExchange, Notice
from inspector.sources.pcap.budget import MemoryBudget
from inspector.sources.pcap.connections import (
    ACK,
    FIN,
    IDLE_US,
    RESET_LINGER_US,
    RST,
    SYN,
    ConnectionTable,
)
from inspector.sources.pcap.ordering import OrderedOutput

CLIENT, SERVER = socket.inet_aton("10.0.0.7"), socket.inet_aton("10.0.0.9")
REQUEST = (
    b"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Bearer abc\r\n"
    b"Content-Length: 0\r\n\r\n"
)
RESPONSE = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n"


class _Conversation:
    """One client port talking to the server, sequence numbers kept as a stack would."""

    def __init__(self, table: ConnectionTable, port: int = 50000) -> None:
        self.table, self.port = table, port
        self.client_seq, self.server_seq = 1000, 5000
        self.frame = 0

    def _send(self, from_client: bool, flags: int, payload: bytes = b"", ts: int | None = None) -> None:
        self.frame += 1
        when = ts if ts is not None else self.frame
        if from_client:
            segment = (CLIENT, SERVER, self.port, 80, self.client_seq, self.server_seq, flags, payload)
            self.client_seq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        else:
            segment = (SERVER, CLIENT, 80, self.port, self.server_seq, self.client_seq, flags, payload)
            self.server_seq += len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.table.segment(segment, self.frame, when)

    def handshake(self) -> None:
        self._send(True, SYN)
        self._send(False, SYN | ACK)
        self._send(True, ACK)

    def exchange(self, request: bytes = REQUEST, response: bytes = RESPONSE) -> None:
        self._send(True, ACK, request)
        self._send(False, ACK, response)

    def close(self) -> None:
        self._send(True, FIN | ACK)
        self._send(False, FIN | ACK)


def _table() -> tuple[ConnectionTable, OrderedOutput]:
    out = OrderedOutput("cap", "cap.pcap")
    return ConnectionTable(out, "cap.pcap", keep_bodies=False, budget=MemoryBudget(1 << 30)), out


def _items(out: OrderedOutput) -> list[HttpExchange | Notice]:
    out.release(everything=True)
    return list(out.items)


def test_a_request_and_its_response_become_one_exchange_and_the_connection_leaves_on_close() -> None:
    table, out = _table()
    talk = _Conversation(table)
    talk.handshake()
    talk.exchange()
    assert len(table) == 1
    talk.close()
    assert len(table) == 0
    [item] = _items(out)
    assert isinstance(item, HttpExchange)
    assert (item.request.method, item.request.target, item.response and item.response.status) == (
        "POST",
        "/EWS/Exchange.asmx",
        401,
    )
    assert (str(item.client), str(item.server)) == ("10.0.0.7:50000", "10.0.0.9:80")
    assert item.provenance.connection == "10.0.0.7:50000 -> 10.0.0.9:80"
    assert item.provenance.request_frames == (4,)
    assert item.provenance.response_frames == (5,)


def test_keep_alive_pairs_responses_with_requests_in_order() -> None:
    table, out = _table()
    talk = _Conversation(table)
    talk.handshake()
    for path in ("/one", "/two", "/three"):
        talk.exchange(REQUEST.replace(b"/EWS/Exchange.asmx", path.encode()))
    talk.close()
    items = _items(out)
    assert [i.request.target for i in items if isinstance(i, HttpExchange)] == ["/one", "/two", "/three"]


def test_the_client_is_the_side_that_sends_a_request_even_without_the_handshake() -> None:
    table, out = _table()
    talk = _Conversation(table)
    talk.exchange()  # captured mid-stream: no SYN seen
    table.close_all(talk.frame)
    [item] = [i for i in _items(out) if isinstance(i, HttpExchange)]
    assert str(item.client) == "10.0.0.7:50000"


def test_a_late_packet_of_a_closed_connection_does_not_open_a_new_one() -> None:
    table, out = _table()
    talk = _Conversation(table)
    talk.handshake()
    talk.exchange()
    talk.close()
    talk._send(True, ACK)  # the last ACK, after both FINs
    assert len(table) == 0
    assert len([i for i in _items(out) if isinstance(i, HttpExchange)]) == 1


def test_reset_connections_close_once_quiet_and_idle_ones_are_swept() -> None:
    table, _ = _table()
    reset = _Conversation(table, port=50001)
    reset.handshake()
    reset._send(False, RST | ACK, ts=10)
    idle = _Conversation(table, port=50002)
    idle.handshake()
    assert len(table) == 2
    table.reap(10 + RESET_LINGER_US + 1, 99)
    assert len(table) == 1
    table.sweep(IDLE_US + 100, 100)
    assert len(table) == 0


def test_tls_is_counted_and_named_once_per_capture() -> None:
    table, _ = _table()
    talk = _Conversation(table)
    talk.handshake()
    talk._send(True, ACK, b"\x16\x03\x01\x00\x05hello")  # a TLS handshake record where HTTP was expected
    notice = table.encrypted_notice()
    assert notice is not None
    assert notice.rule == "capture-encrypted"
    assert notice.evidence["tls_connections"] == 1
    quiet, _ = _table()
    assert quiet.encrypted_notice() is None
