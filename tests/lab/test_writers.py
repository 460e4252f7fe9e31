"""Lab writers: valid HAR 1.2 and mitmproxy flow files that the readers turn back into the same exchanges."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.io import FlowReader

from inspector.bodies import kept_body
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import har_document, write_flows, write_har
from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, Provenance
from inspector.sources.har import read_har
from inspector.sources.mitmflows import read_flows
from tests.lab.kit import LAB_NOW

HAR_ENTRY_FIELDS = {"startedDateTime", "time", "request", "response", "cache", "timings"}
HAR_REQUEST_FIELDS = {
    "method",
    "url",
    "httpVersion",
    "headers",
    "queryString",
    "cookies",
    "headersSize",
    "bodySize",
}
HAR_RESPONSE_FIELDS = {
    "status",
    "statusText",
    "httpVersion",
    "headers",
    "cookies",
    "content",
    "redirectURL",
    "headersSize",
    "bodySize",
}


def _odd_exchanges() -> list[HttpExchange]:
    """Exchanges the lab does not make: latin-1 header bytes, a binary body, a query, no response, IPv6."""
    return [
        HttpExchange(
            id="odd:1",
            request=HttpRequest(
                method="GET",
                target="/owa/?a=1&b=%C3%A9&c",
                headers=(
                    ("Host", "mail.contoso.com:8443"),
                    ("X-Name", "Ren\xe9e \xff"),
                    ("x-dup", "1"),
                    ("X-Dup", "2"),
                ),
                body=b"\xff\xfe binary \x00",
            ),
            response=HttpResponse(
                status=302,
                reason="Found",
                headers=(("Location", "/owa/auth"),),
                body=b"\x89PNG\r\n\x1a\n",
            ),
            time=LAB_NOW + timedelta(microseconds=123457),
            provenance=Provenance(kind="lab", source="odd"),
            client=Endpoint("2001:db8::5", 61000),
            server=Endpoint("2001:db8::9", 8443),
            scheme="https",
            response_time=LAB_NOW + timedelta(milliseconds=50, microseconds=123457),
        ),
        HttpExchange(
            id="odd:2",
            request=HttpRequest(method="POST", target="/EWS/Exchange.asmx", headers=(("Host", "mail.contoso.com"),)),
            response=None,
            time=LAB_NOW + timedelta(seconds=1),
            provenance=Provenance(kind="lab", source="odd"),
            server=Endpoint("10.0.0.9", 80),
            scheme="http",
        ),
    ]


def _comparable(exchange: HttpExchange) -> HttpExchange:
    return dataclasses.replace(exchange, id="", provenance=Provenance(kind="lab", source=""))


@pytest.fixture
def exchanges(kit: TokenKit) -> list[HttpExchange]:
    return [e for e, _ in lab_exchanges(kit)] + _odd_exchanges()


def test_har_is_valid_har_1_2(exchanges: list[HttpExchange]) -> None:
    log = har_document(exchanges)["log"]
    assert log["version"] == "1.2"
    assert log["creator"]["name"] and log["creator"]["version"]
    assert len(log["entries"]) == len(exchanges)
    for entry in log["entries"]:
        assert entry.keys() >= HAR_ENTRY_FIELDS
        assert entry["request"].keys() >= HAR_REQUEST_FIELDS
        assert entry["response"].keys() >= HAR_RESPONSE_FIELDS
        assert {"send", "wait", "receive"} <= entry["timings"].keys()
        assert entry["request"]["url"].startswith(("https://", "http://"))
    first = log["entries"][0]
    assert first["startedDateTime"] == "2025-06-02T09:30:00.000000Z"
    assert first["serverIPAddress"] == "10.0.0.9"
    odd = log["entries"][-2]["request"]
    assert odd["queryString"] == [{"name": "a", "value": "1"}, {"name": "b", "value": "é"}, {"name": "c", "value": ""}]


def test_mitmproxy_reads_the_har_too(exchanges: list[HttpExchange], tmp_path: Path) -> None:
    path = write_har(exchanges[:3], tmp_path / "lab.har")
    with path.open("rb") as fo:
        flows = list(FlowReader(fo).stream())
    assert all(isinstance(f, http.HTTPFlow) for f in flows)
    assert [f.request.path for f in flows if isinstance(f, http.HTTPFlow)] == [e.request.target for e in exchanges[:3]]


@pytest.mark.parametrize("keep_bodies", [True, False])
def test_har_round_trip(exchanges: list[HttpExchange], tmp_path: Path, keep_bodies: bool) -> None:
    path = write_har(exchanges, tmp_path / "lab.har")
    read = list(read_har(path, keep_bodies=keep_bodies))
    assert all(isinstance(item, HttpExchange) for item in read)
    assert [e.id for e in read] == [f"lab.har:{n}" for n in range(1, len(exchanges) + 1)]  # type: ignore[union-attr]
    expected = exchanges if keep_bodies else [_without_bodies(e) for e in exchanges]
    assert [_comparable(e) for e in read] == [_comparable(e) for e in expected]  # type: ignore[arg-type]


@pytest.mark.parametrize("keep_bodies", [True, False])
def test_flows_round_trip(exchanges: list[HttpExchange], tmp_path: Path, keep_bodies: bool) -> None:
    path = write_flows(exchanges, tmp_path / "lab.mitm")
    read = list(read_flows(path, keep_bodies=keep_bodies))
    assert all(isinstance(item, HttpExchange) for item in read)
    expected = exchanges if keep_bodies else [_without_bodies(e) for e in exchanges]
    assert [_comparable(e) for e in read] == [_comparable(e) for e in expected]  # type: ignore[arg-type]


def test_flows_are_real_mitmproxy_flows(exchanges: list[HttpExchange], tmp_path: Path) -> None:
    path = write_flows(exchanges, tmp_path / "lab.mitm")
    with path.open("rb") as fo:
        flows = list(FlowReader(fo).stream())
    assert all(isinstance(f, http.HTTPFlow) for f in flows)
    first = flows[0]
    assert isinstance(first, http.HTTPFlow)
    assert first.request.pretty_host == "mail.contoso.com"
    assert first.client_conn.peername == ("10.0.0.10", 50110)
    assert first.server_conn.peername == ("10.0.0.9", 443)
    assert first.request.timestamp_start == LAB_NOW.timestamp()
    ids = [f.id for f in flows]
    assert len(set(ids)) == len(ids)


def test_writers_are_deterministic(exchanges: list[HttpExchange], tmp_path: Path) -> None:
    assert write_flows(exchanges, tmp_path / "a.mitm").read_bytes() == (
        write_flows(exchanges, tmp_path / "b.mitm").read_bytes()
    )
    assert (
        write_har(exchanges, tmp_path / "a.har").read_bytes() == write_har(exchanges, tmp_path / "b.har").read_bytes()
    )
    json.loads((tmp_path / "a.har").read_text(encoding="ascii"))


def _without_bodies(exchange: HttpExchange) -> HttpExchange:
    """What a source keeps without ``keep_bodies``: the bounded prefix of the bodies a rule reads, nothing else."""
    request, response = exchange.request, exchange.response
    return dataclasses.replace(
        exchange,
        request=dataclasses.replace(request, body=kept_body(request.headers, request.body, request=True)),
        response=dataclasses.replace(response, body=kept_body(response.headers, response.body)) if response else None,
    )
