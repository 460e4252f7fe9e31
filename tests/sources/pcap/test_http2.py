"""HTTP/2 read passively from both directions: bytes written by a real HTTP/2 stack (the ``h2`` library, client
and server in memory) become one exchange per stream, fed whole or in any pieces; broken frames stop a direction
with ``http-malformed``."""

from __future__ import annotations

import pytest

from inspector.model import BODY_KEEP_LIMIT, Endpoint, HttpExchange, Notice, SourceItem
from inspector.sources.pcap.http2 import PREFACE, Http2Reader
from inspector.sources.pcap.ordering import OrderedOutput

h2_connection = pytest.importorskip("h2.connection")
h2_config = pytest.importorskip("h2.config")
h2_events = pytest.importorskip("h2.events")


class _Table:
    def __init__(self, keep_bodies: bool) -> None:
        self.out = OrderedOutput("h2", "h2.pcap")
        self.source = "h2.pcap"
        self.keep_bodies = keep_bodies


class _Connection:
    """What the reader asks of a capture connection: where exchanges and notices go, and its names."""

    def __init__(self, keep_bodies: bool = False) -> None:
        self.table = _Table(keep_bodies)
        self.endpoints = (Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 443))

    def label(self) -> str:
        return "10.0.0.1:50000 -> 10.0.0.2:443"

    def direction(self, side: int) -> str:
        return "client-to-server" if side == 0 else "server-to-client"

    def exchange_tls(self) -> None:
        return None


def _conversation() -> tuple[bytes, bytes]:
    """Three requests (one with a body) and their responses, as a real HTTP/2 client and server write them."""
    client = h2_connection.H2Connection(config=h2_config.H2Configuration(client_side=True))
    server = h2_connection.H2Connection(config=h2_config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    sent, answered = bytearray(), bytearray()
    for stream_id, path in ((1, "/one"), (3, "/ews"), (5, "/two")):
        headers = [(":method", "POST" if path == "/ews" else "GET"), (":path", path), (":scheme", "https")]
        headers += [(":authority", "mail.contoso.com"), ("authorization", f"Bearer token-{stream_id}")]
        client.send_headers(stream_id, headers, end_stream=path != "/ews")
        if path == "/ews":
            client.send_data(stream_id, b"<soap/>" * 100, end_stream=True)
    sent += client.data_to_send()
    for event in server.receive_data(bytes(sent)):
        if isinstance(event, h2_events.RequestReceived):
            server.send_headers(event.stream_id, [(":status", "200"), ("content-type", "text/plain")])
            server.send_data(event.stream_id, b"ok", end_stream=True)
    answered += server.data_to_send()
    return bytes(sent), bytes(answered)


def _read(client: bytes, server: bytes, step: int, keep_bodies: bool = False) -> list[SourceItem]:
    conn = _Connection(keep_bodies)
    reader = Http2Reader(conn, 0)
    # The client's bytes, then the server's: a response never travels before its request.
    for start in range(0, len(client), step):
        reader.data(0, client[start : start + step], 1 + start, start)
    for start in range(0, len(server), step):
        reader.data(1, server[start : start + step], 100_000 + start, start)
    reader.close()
    conn.table.out.release(everything=True)
    return conn.table.out.items


@pytest.mark.parametrize("step", [1, 7, 100, 100_000])
def test_each_stream_is_an_exchange_whatever_the_pieces(step: int) -> None:
    client, server = _conversation()
    assert client.startswith(PREFACE)
    items = _read(client, server, step, keep_bodies=True)
    exchanges = [item for item in items if isinstance(item, HttpExchange)]
    assert [(e.request.method, e.request.target) for e in exchanges] == [
        ("GET", "/one"),
        ("POST", "/ews"),
        ("GET", "/two"),
    ]
    assert [e.request.header("authorization") for e in exchanges] == [
        "Bearer token-1",
        "Bearer token-3",
        "Bearer token-5",
    ]
    assert {(e.host, e.request.version) for e in exchanges} == {("mail.contoso.com", "HTTP/2")}
    assert [e.response.status if e.response else None for e in exchanges] == [200, 200, 200]
    assert exchanges[1].request.body == b"<soap/>" * 100
    assert exchanges[0].response is not None and exchanges[0].response.body == b"ok"
    assert not [item for item in items if isinstance(item, Notice)]


def test_a_client_without_the_preface_or_a_broken_frame_is_malformed() -> None:
    items = _read(b"GET / HTTP/1.1\r\n\r\n" + bytes(40), b"", 1000)
    assert [item.rule for item in items if isinstance(item, Notice)] == ["http-malformed"]
    _, server = _conversation()
    # A HEADERS frame whose block is not HPACK: the direction stops (its compression state is lost).
    broken = PREFACE + b"\x00\x00\x04\x01\x05\x00\x00\x00\x01" + b"\xff\xff\xff\xff"
    items = _read(broken, server, 1000)
    notices = [item for item in items if isinstance(item, Notice)]
    assert [n.rule for n in notices] == ["http-malformed"]
    assert "header block" in notices[0].message


def test_without_keep_bodies_the_bodies_rules_read_are_kept_as_a_prefix() -> None:
    """The outbound leg over decrypted HTTP/2: a token request's form and the JSON/XML answers are kept (up to
    BODY_KEEP_LIMIT; the cut is bodies.py's), an EWS request's XML and a plain-text answer are not."""
    client = h2_connection.H2Connection(config=h2_config.H2Configuration(client_side=True))
    server = h2_connection.H2Connection(config=h2_config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    requests = (
        (1, "/t/oauth2/token", "application/x-www-form-urlencoded", b"grant_type=client_credentials"),
        (3, "/EWS/Exchange.asmx", "text/xml", b"<soap/>"),
    )
    for stream_id, path, kind, body in requests:
        headers = [(":method", "POST"), (":path", path), (":scheme", "https"), (":authority", "h")]
        client.send_headers(stream_id, [*headers, ("content-type", kind)])
        client.send_data(stream_id, body, end_stream=True)
    sent = client.data_to_send()
    answers = {1: ("application/json", b'{"error":"invalid_client"}' * 2300), 3: ("text/plain", b"ok")}
    for event in server.receive_data(sent):
        if isinstance(event, h2_events.RequestReceived):
            kind, body = answers[event.stream_id]
            server.send_headers(event.stream_id, [(":status", "200"), ("content-type", kind)])
            for start in range(0, len(body), 16_000):
                server.send_data(event.stream_id, body[start : start + 16_000])
            server.end_stream(event.stream_id)
    token, ews = [i for i in _read(sent, server.data_to_send(), 1000) if isinstance(i, HttpExchange)]
    assert token.request.body == b"grant_type=client_credentials"
    assert token.response is not None and token.response.body is not None
    assert token.response.body == answers[1][1] and len(token.response.body) < BODY_KEEP_LIMIT
    assert ews.request.body is None and ews.response is not None and ews.response.body is None
