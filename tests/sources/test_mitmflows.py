from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mitmproxy import connection, http, tcp
from mitmproxy.io import FlowWriter, tnetstring

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.writers import flow_from_exchange, write_flows
from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, InputError, Notice, Provenance
from inspector.sources import mitmflows
from inspector.sources.mitmflows import exchange_from_flow, read_flows
from tests.lab.kit import LAB_NOW, session_kit

T0 = LAB_NOW.timestamp()


def _flow(
    *,
    headers: tuple[tuple[bytes, bytes], ...] = ((b"Host", b"mail.contoso.com"), (b"Authorization", b"Bearer x")),
    host: str = "mail.contoso.com",
    authority: bytes = b"",
    path: bytes = b"/EWS/Exchange.asmx",
    version: bytes = b"HTTP/1.1",
    content: bytes | None = b"<soap/>",
    response: bool = True,
) -> http.HTTPFlow:
    client = connection.Client(peername=("10.0.0.10", 50110), sockname=("10.0.0.2", 443), timestamp_start=T0)
    server = connection.Server(address=("exch01.internal", 444), peername=("10.0.0.9", 444))
    flow = http.HTTPFlow(client, server)
    flow.request = http.Request(
        host, 444, b"POST", b"https", authority, path, version, headers, content, None, T0 + 0.25, T0 + 0.3
    )
    if response:
        flow.response = http.Response(
            version, 401, b"Unauthorized", ((b"WWW-Authenticate", b"Bearer"),), b"", None, T0 + 0.5, T0 + 0.6
        )
    return flow


def _write(path: Path, *flows: object) -> Path:
    buffer = io.BytesIO()
    writer = FlowWriter(buffer)  # type: ignore[no-untyped-call]
    for flow in flows:
        writer.add(flow)  # type: ignore[arg-type]
    path.write_bytes(buffer.getvalue())
    return path


def _frame(flow: http.HTTPFlow) -> bytes:
    return tnetstring.dumps(flow.get_state())


def test_flow_becomes_an_exchange(tmp_path: Path) -> None:
    flow = _flow()
    (exchange,) = read_flows(_write(tmp_path / "cap.mitm", flow))
    assert isinstance(exchange, HttpExchange)
    assert exchange.id == "cap.mitm:1"
    assert exchange.provenance == Provenance(kind="mitm", source="cap.mitm", entry=0, flow_id=flow.id)
    assert exchange.time == datetime.fromtimestamp(T0 + 0.25, UTC)
    assert exchange.response_time == datetime.fromtimestamp(T0 + 0.5, UTC)
    assert exchange.request.target == "/EWS/Exchange.asmx"
    assert exchange.request.headers == (("Host", "mail.contoso.com"), ("Authorization", "Bearer x"))
    assert exchange.request.body is None
    assert exchange.client == Endpoint("10.0.0.10", 50110)
    assert exchange.server == Endpoint("10.0.0.9", 444)
    assert exchange.scheme == "https"
    assert exchange.response is not None and exchange.response.status == 401
    assert exchange.response.header("www-authenticate") == "Bearer"


def test_the_clients_host_header_wins_over_the_rewritten_upstream() -> None:
    # Reverse mode: mitmproxy's request.host is the upstream; the Host header is what the client addressed.
    flow = _flow(host="10.0.0.99", headers=((b"Host", b"mail.contoso.com"), (b"X-Raw", b"caf\xe9")))
    exchange = exchange_from_flow(flow, exchange_id="live:1", source="live", entry=None, kind="live")
    assert exchange.host == "mail.contoso.com"
    assert exchange.request.header("x-raw") == "caf\xe9"  # wire bytes as latin-1
    assert exchange.provenance.kind == "live" and exchange.provenance.flow_id == flow.id


def test_http2_authority_becomes_host_only_when_absent() -> None:
    flow = _flow(version=b"HTTP/2.0", authority=b"mail.contoso.com", headers=((b"accept", b"*/*"),))
    exchange = exchange_from_flow(flow, exchange_id="x", source="s", entry=0, kind="mitm")
    assert exchange.request.headers == (("Host", "mail.contoso.com"), ("accept", "*/*"))
    assert exchange.request.target == "/EWS/Exchange.asmx"
    both = _flow(version=b"HTTP/2.0", authority=b"a.example", headers=((b"host", b"b.example"),))
    exchange = exchange_from_flow(both, exchange_id="x", source="s", entry=0, kind="mitm")
    assert exchange.request.header_all("host") == ["b.example"]


def test_absolute_form_target_is_kept_as_sent() -> None:
    flow = _flow(authority=b"mail.contoso.com:443", path=b"/EWS/Exchange.asmx?x=1")
    exchange = exchange_from_flow(flow, exchange_id="x", source="s", entry=0, kind="mitm")
    assert exchange.request.target == "https://mail.contoso.com:443/EWS/Exchange.asmx?x=1"


def test_endpoints_fall_back_to_the_server_address_and_ipv6() -> None:
    flow = _flow()
    flow.server_conn.peername = None
    flow.client_conn.peername = ("2001:db8::5", 61000, 0, 0)  # type: ignore[assignment]  # what IPv6 sockets give
    exchange = exchange_from_flow(flow, exchange_id="x", source="s", entry=0, kind="mitm")
    assert exchange.server == Endpoint("exch01.internal", 444)
    assert exchange.client == Endpoint("2001:db8::5", 61000)


def test_bodies_are_raw_and_bounded() -> None:
    big = b"\x1f\x8b" + b"z" * (mitmflows.MAX_BODY_BYTES + 10)
    flow = _flow(content=big)
    exchange = exchange_from_flow(flow, exchange_id="x", source="s", entry=0, kind="mitm", keep_bodies=True)
    assert exchange.request.body == big[: mitmflows.MAX_BODY_BYTES]
    assert exchange.response is not None and exchange.response.body == b""


def test_no_response(tmp_path: Path) -> None:
    (exchange,) = read_flows(_write(tmp_path / "x.mitm", _flow(response=False)))
    assert isinstance(exchange, HttpExchange)
    assert exchange.response is None and exchange.response_time is None


def test_other_flows_are_skipped_but_counted_in_positions(tmp_path: Path) -> None:
    client = connection.Client(peername=("10.0.0.1", 1), sockname=("10.0.0.2", 2), timestamp_start=T0)
    tcp_flow = tcp.TCPFlow(client, connection.Server(address=("10.0.0.2", 2)))
    items = list(read_flows(_write(tmp_path / "mixed.mitm", _flow(), tcp_flow, _flow())))
    assert [i.id for i in items if isinstance(i, HttpExchange)] == ["mixed.mitm:1", "mixed.mitm:3"]
    assert len(items) == 2


def test_lab_written_flows(tmp_path: Path) -> None:
    pairs = lab_exchanges(session_kit())
    path = write_flows([e for e, _ in pairs], tmp_path / "lab.mitm")
    read = list(read_flows(path))
    # The lab names its exchanges lab:N; read back, they are named after the file (inspector.sources.naming).
    assert [i.id for i in read if isinstance(i, HttpExchange)] == [e.id.replace("lab:", "lab.mitm:") for e, _ in pairs]
    first = read[0]
    assert isinstance(first, HttpExchange)
    assert first.request.headers == pairs[0][0].request.headers
    assert first.provenance.flow_id is not None


def test_truncated_file_yields_flows_before_the_damage(tmp_path: Path) -> None:
    frames = [_frame(_flow()) for _ in range(3)]
    data = b"".join(frames)
    for cut in range(len(frames[0]) + len(frames[1]) + 1, len(data), 97):
        path = tmp_path / "cut.mitm"
        path.write_bytes(data[:cut])
        items: list[object] = []
        with pytest.raises(InputError) as raised:
            items.extend(read_flows(path))
        assert [i.id for i in items if isinstance(i, HttpExchange)] == ["cut.mitm:1", "cut.mitm:2"]
        message = str(raised.value)
        offset = len(frames[0]) + len(frames[1])
        assert message.startswith(f"Cannot read mitmproxy flow file {path}: ")
        assert f"flow 2 at offset {offset}" in message and "2 flows before it were read" in message


@pytest.mark.parametrize("tail", [b"x", b"123", b"12:abc", b"99999999999999:", b"5:ab"])
def test_corrupt_tail(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "tail.mitm"
    path.write_bytes(_frame(_flow()) + tail)
    items: list[object] = []
    with pytest.raises(InputError, match="flow 1 at offset"):
        items.extend(read_flows(path))
    assert len(items) == 1


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (tnetstring.dumps([1, 2]), "not a dict"),
        (tnetstring.dumps({"type": "nonsense", "version": 21}), "cannot load it"),
        (tnetstring.dumps({"version": None}), "cannot load it"),
        (tnetstring.dumps({"type": "http", "version": 99999}), "cannot load it"),
    ],
)
def test_bad_flow_gives_a_notice_and_the_rest_is_read(tmp_path: Path, frame: bytes, reason: str) -> None:
    path = tmp_path / "bad.mitm"
    first = _frame(_flow())
    path.write_bytes(first + frame + _frame(_flow()))
    items = list(read_flows(path))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]
    notice = items[1]
    assert isinstance(notice, Notice)
    assert notice.rule == "input-malformed" and notice.exchange_id == "bad.mitm:2"
    assert reason in notice.message and f"offset {len(first)}" in notice.message


def test_deeply_nested_flow_is_a_notice(tmp_path: Path) -> None:
    nested = b"0:]"
    for _ in range(5000):
        nested = str(len(nested)).encode() + b":" + nested + b"]"
    body = b"4:type;" + nested
    frame = str(len(body)).encode() + b":" + body + b"}"
    path = tmp_path / "deep.mitm"
    path.write_bytes(frame + _frame(_flow()))
    items = list(read_flows(path))
    assert [type(i) for i in items] == [Notice, HttpExchange]
    assert isinstance(items[0], Notice) and "nested more than" in items[0].message


def test_a_flow_of_millions_of_tiny_values_is_not_parsed(tmp_path: Path) -> None:
    values = b"0:~" * (mitmflows.MAX_FLOW_VALUES + 1)
    body = b"4:type;" + str(len(values)).encode() + b":" + values + b"]"
    frame = str(len(body)).encode() + b":" + body + b"}"
    path = tmp_path / "many.mitm"
    path.write_bytes(frame + _frame(_flow()))
    items = list(read_flows(path))
    assert [type(i) for i in items] == [Notice, HttpExchange]
    assert isinstance(items[0], Notice) and f"more than {mitmflows.MAX_FLOW_VALUES} values" in items[0].message


@pytest.mark.parametrize(
    "body",
    [b"4:type;4:http", b"4:type;x:http;", b"4:type;9:http;", b"4:type;3:]]]]"],
)
def test_malformed_structure_inside_a_frame(tmp_path: Path, body: bytes) -> None:
    frame = str(len(body)).encode() + b":" + body + b"}"
    path = tmp_path / "shape.mitm"
    path.write_bytes(frame + _frame(_flow()))
    items = list(read_flows(path))
    assert [type(i) for i in items] == [Notice, HttpExchange]


def test_notices_are_capped_then_summed_up(tmp_path: Path) -> None:
    bad = tnetstring.dumps({"type": "nonsense", "version": 21})
    path = tmp_path / "bad.mitm"
    path.write_bytes(bad * (mitmflows.MAX_FLOW_NOTICES + 7) + _frame(_flow()))
    items = list(read_flows(path))
    notices = [i for i in items if isinstance(i, Notice)]
    assert len(notices) == mitmflows.MAX_FLOW_NOTICES + 1
    assert notices[-1].evidence["count"] == 7
    assert isinstance(items[-2], HttpExchange)


def test_oversized_flow_is_skipped(tmp_path: Path) -> None:
    small = _frame(_flow(content=b""))
    big = _frame(_flow(content=b"x" * 5000))
    path = tmp_path / "big.mitm"
    path.write_bytes(small + big + small)
    items = list(read_flows(path, max_flow_bytes=len(small) + 100))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]
    assert isinstance(items[1], Notice) and "over the" in items[1].message
    assert isinstance(items[2], HttpExchange) and items[2].id == "big.mitm:3"


def test_a_har_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.mitm"
    path.write_text(json.dumps({"log": {"entries": []}}), encoding="utf-8")
    with pytest.raises(InputError, match="read it as HAR"):
        list(read_flows(path))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.mitm").write_bytes(b"")
    assert list(read_flows(tmp_path / "empty.mitm")) == []
    with pytest.raises(InputError, match="check the path"):
        list(read_flows(tmp_path / "absent.mitm"))


def test_a_flow_without_usable_time_is_kept_with_its_time_unknown(tmp_path: Path) -> None:
    flow = _flow()
    flow.request.timestamp_start = float("inf")
    items = list(read_flows(_write(tmp_path / "t.mitm", flow, _flow())))
    assert [type(i) for i in items] == [HttpExchange, Notice, HttpExchange]
    kept, notice = items[0], items[1]
    assert isinstance(kept, HttpExchange) and kept.time is None
    assert isinstance(notice, Notice) and notice.rule == "input-malformed" and notice.exchange_id == kept.id
    assert "timestamp" in notice.message and "time is unknown" in notice.message


def test_round_trip_of_an_exchange_through_a_flow() -> None:
    exchange = HttpExchange(
        id="e:1",
        request=HttpRequest("GET", "/x?y=1", headers=(("Host", "h.example:8080"), ("X", "\xff"))),
        response=HttpResponse(204, "No Content"),
        time=LAB_NOW,
        provenance=Provenance(kind="lab", source="e"),
        client=Endpoint("10.0.0.1", 1234),
        server=Endpoint("10.0.0.2", 8080),
        response_time=LAB_NOW + timedelta(milliseconds=3),
    )
    back = exchange_from_flow(flow_from_exchange(exchange), exchange_id="e:1", source="e", entry=0, kind="mitm")
    assert (back.request, back.response, back.time, back.client, back.server, back.scheme) == (
        exchange.request,
        exchange.response,
        exchange.time,
        exchange.client,
        exchange.server,
        exchange.scheme,
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), keep=st.booleans())
def test_random_bytes_never_crash(tmp_path: Path, data: bytes, keep: bool) -> None:
    path = tmp_path / "random.mitm"
    path.write_bytes(_frame(_flow()) + data if keep else data)
    try:
        items = list(read_flows(path))
    except InputError:
        return
    assert all(isinstance(i, HttpExchange | Notice) for i in items)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), byte=st.integers(min_value=0, max_value=255))
def test_a_flipped_byte_never_crashes(tmp_path: Path, position: int, byte: int) -> None:
    data = bytearray(_frame(_flow()) * 2)
    data[position % len(data)] = byte
    path = tmp_path / "flipped.mitm"
    path.write_bytes(bytes(data))
    try:
        items = list(read_flows(path))
    except InputError:
        return
    assert all(isinstance(i, HttpExchange | Notice) for i in items)
