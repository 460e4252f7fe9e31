"""Write exchanges as captures: HAR 1.2 files and mitmproxy flow files, deterministic for the same input.

What the formats cannot say natively is kept in fields the readers know: HAR has no client address or server
port, so entries carry ``_clientIPAddress``, ``_clientPort`` and ``_serverPort`` (HAR allows custom fields that
start with an underscore).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mitmproxy import connection, http
from mitmproxy.io import FlowWriter

from inspector.model import Endpoint, Headers, HttpExchange, HttpResponse

CREATOR = {"name": "oauth-inspector lab", "version": "1"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


# --- HAR -----------------------------------------------------------------------------------------------------


def har_document(exchanges: Iterable[HttpExchange]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": dict(CREATOR), "entries": [_har_entry(e) for e in exchanges]}}


def write_har(exchanges: Iterable[HttpExchange], path: Path) -> Path:
    # ASCII output with \u escapes: header text (latin-1) and bodies (surrogate-escaped bytes) survive exactly.
    path.write_text(json.dumps(har_document(exchanges), indent=1) + "\n", encoding="ascii")
    return path


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _har_headers(headers: Headers) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def _authority(exchange: HttpExchange) -> str:
    return exchange.host or (str(exchange.server) if exchange.server else "localhost")


def _url(exchange: HttpExchange) -> str:
    target = exchange.request.target
    if "://" in target:
        return target
    return f"{exchange.scheme}://{_authority(exchange)}{target}"


def _mime(headers: Headers) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value
    return ""


def _milliseconds(exchange: HttpExchange) -> float:
    if exchange.response_time is None or exchange.time is None:
        return 0.0
    return (exchange.response_time - exchange.time) / timedelta(milliseconds=1)


def _har_entry(exchange: HttpExchange) -> dict[str, Any]:
    request = exchange.request
    query = urlsplit(_url(exchange)).query
    har_request: dict[str, Any] = {
        "method": request.method,
        "url": _url(exchange),
        "httpVersion": request.version,
        "headers": _har_headers(request.headers),
        "queryString": [{"name": n, "value": v} for n, v in parse_qsl(query, keep_blank_values=True)],
        "cookies": [],
        "headersSize": -1,
        "bodySize": len(request.body) if request.body is not None else -1,
    }
    if request.body is not None:
        har_request["postData"] = {
            "mimeType": _mime(request.headers),
            "text": request.body.decode("utf-8", errors="surrogateescape"),
        }
    elapsed = _milliseconds(exchange)
    entry: dict[str, Any] = {
        "startedDateTime": _iso(exchange.time) if exchange.time is not None else "",  # unknown, as it was read
        "time": elapsed,
        "request": har_request,
        "response": _har_response(exchange.response),
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": 0, "wait": elapsed, "receive": 0},
    }
    if exchange.server is not None:
        entry["serverIPAddress"] = exchange.server.host
        if exchange.server.port is not None:
            entry["_serverPort"] = exchange.server.port
    if exchange.client is not None:
        entry["_clientIPAddress"] = exchange.client.host
        if exchange.client.port is not None:
            entry["_clientPort"] = exchange.client.port
    return entry


def _har_response(response: HttpResponse | None) -> dict[str, Any]:
    if response is None:  # browsers record a request without response as status 0
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "headers": [],
            "cookies": [],
            "content": {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        }
    content: dict[str, Any] = {"size": len(response.body or b""), "mimeType": _mime(response.headers)}
    if response.body is not None:
        try:
            content["text"] = response.body.decode("utf-8")
        except UnicodeDecodeError:
            content |= {"text": base64.b64encode(response.body).decode("ascii"), "encoding": "base64"}
    return {
        "status": response.status,
        "statusText": response.reason,
        "httpVersion": response.version,
        "headers": _har_headers(response.headers),
        "cookies": [],
        "content": content,
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": len(response.body) if response.body is not None else -1,
    }


# --- mitmproxy flows -----------------------------------------------------------------------------------------


def _latin1(headers: Headers) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in headers)


def _address(endpoint: Endpoint | None) -> tuple[str, int]:
    if endpoint is None:
        return ("", 0)
    return (endpoint.host, endpoint.port or 0)


def _stable_id(exchange: HttpExchange, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"oauth-inspector-lab:{exchange.id}:{what}"))


def flow_from_exchange(exchange: HttpExchange) -> http.HTTPFlow:
    """A mitmproxy HTTP flow for the exchange, as mitmproxy records one in reverse-proxy mode with
    ``keep_host_header`` (the Host header is the client's). Ids and timestamps come from the exchange."""
    request = exchange.request
    if exchange.time is None:
        raise ValueError(f"a mitmproxy flow needs a time, and exchange {exchange.id} has none")
    timestamp = exchange.time.timestamp()
    tls = exchange.scheme == "https"
    authority = _authority(exchange)
    parts = urlsplit(f"//{authority}")
    hostname = parts.hostname or authority
    port = exchange.server.port if exchange.server and exchange.server.port else _DEFAULT_PORTS[exchange.scheme]
    target = request.target
    wire_authority = b""
    if "://" in target:  # absolute-form: mitmproxy keeps the authority apart from the path
        absolute = urlsplit(target)
        wire_authority = absolute.netloc.encode("latin-1")
        target = target.split(absolute.netloc, 1)[1] or "/"
    client = connection.Client(
        peername=_address(exchange.client),
        sockname=_address(exchange.server),
        timestamp_start=timestamp,
        id=_stable_id(exchange, "client"),
        tls=tls,
        sni=hostname if tls else None,
    )
    server = connection.Server(
        address=(hostname, port),
        peername=_address(exchange.server) if exchange.server else None,
        timestamp_start=timestamp,
        id=_stable_id(exchange, "server"),
        tls=tls,
        sni=hostname if tls else None,
    )
    flow = http.HTTPFlow(client, server)
    flow.id = _stable_id(exchange, "flow")
    flow.timestamp_created = timestamp
    flow.request = http.Request(
        host=hostname,
        port=port,
        method=request.method.encode("latin-1"),
        scheme=exchange.scheme.encode("ascii"),
        authority=wire_authority,
        path=target.encode("latin-1"),
        http_version=request.version.encode("latin-1"),
        headers=_latin1(request.headers),
        content=request.body,
        trailers=None,
        timestamp_start=timestamp,
        timestamp_end=timestamp,
    )
    response = exchange.response
    if response is not None:
        at = (exchange.response_time or exchange.time).timestamp()
        flow.response = http.Response(
            http_version=response.version.encode("latin-1"),
            status_code=response.status,
            reason=response.reason.encode("latin-1"),
            headers=_latin1(response.headers),
            content=response.body,
            trailers=None,
            timestamp_start=at,
            timestamp_end=at,
        )
    return flow


def write_flows(exchanges: Iterable[HttpExchange], path: Path) -> Path:
    with path.open("wb") as fo:
        writer = FlowWriter(fo)  # type: ignore[no-untyped-call]  # mitmproxy leaves __init__ unannotated
        for exchange in exchanges:
            writer.add(flow_from_exchange(exchange))
    return path
