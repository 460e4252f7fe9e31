"""The data model's one behaviour of its own: how its items cross between processes (pickling)."""

from __future__ import annotations

import copyreg
import pickle
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, Provenance, TlsInfo

AT = datetime(2026, 12, 7, 15, 0, 1, 250000, tzinfo=UTC)


def _every_field_set() -> HttpExchange:
    """An exchange whose every field (and its parts' fields) differs from its default."""
    return HttpExchange(
        id="cap.pcap:7",
        request=HttpRequest("POST", "/EWS/Exchange.asmx", "HTTP/1.0", (("Host", "mail"), ("X", "1")), b"<soap/>"),
        response=HttpResponse(401, "Unauthorized", "HTTP/1.0", (("WWW-Authenticate", "Bearer"),), b"denied"),
        time=AT,
        provenance=Provenance(
            kind="pcap",
            source="cap.pcap",
            entry=3,
            flow_id="f-1",
            connection="10.0.0.1:50000 -> 10.0.0.2:443",
            request_frames=(4, 5),
            response_frames=(6,),
        ),
        client=Endpoint("10.0.0.1", 50000),
        server=Endpoint("10.0.0.2", 443),
        scheme="https",
        response_time=AT,
        tls=TlsInfo("TLS 1.3", "TLS_AES_128_GCM_SHA256", "mail", "h2", "keylog"),
    )


def test_an_exchange_comes_back_equal_through_pickle_field_for_field() -> None:
    item = _every_field_set()
    for part in (item, item.request, item.response, item.provenance, item.client, item.tls):
        assert part is not None
        for each in fields(part):  # the builder above misses no field: a new field must be set there too
            assert getattr(part, each.name) != each.default, f"{type(part).__name__}.{each.name}"
    back = pickle.loads(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - made just above
    assert back == item
    assert back.request.header("host") == "mail"


@pytest.mark.parametrize("cls", [Endpoint, Provenance, HttpRequest, HttpResponse, TlsInfo, HttpExchange])
def test_items_are_pickled_as_a_call_of_their_constructor(cls: type) -> None:
    # Not through the getstate/setstate dataclasses writes in Python for frozen slotted classes (slower).
    assert cls in copyreg.dispatch_table
    item = _every_field_set()
    part = {
        HttpExchange: item,
        HttpRequest: item.request,
        HttpResponse: item.response,
        Provenance: item.provenance,
        Endpoint: item.client,
        TlsInfo: item.tls,
    }[cls]
    constructor, arguments = copyreg.dispatch_table[cls](part)
    assert constructor is cls
    assert constructor(*arguments) == part
