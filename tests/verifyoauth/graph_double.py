"""A local Microsoft Graph double on 127.0.0.1: ``GET /v1.0/servicePrincipals(appId='…')`` with Graph's documented
behaviour, awkward parts included: ``key`` only with ``$select`` on a single object, a Graph error body for an
unknown appId (404), 401 without a token, and switchable 403 (insufficient privileges) and 500."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_PATH = re.compile(r"^/v1\.0/servicePrincipals\(appId='([^']*)'\)$")


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-04-21T09:30:12",
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


@dataclass
class GraphState:
    principals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """appId -> keyCredentials (with ``key``)."""
    mode: str = "normal"
    """``normal``, ``forbidden`` (403) or ``error`` (500)."""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true")
        self.send_header("request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        parts = urlsplit(self.path)
        match = _PATH.match(unquote(parts.path))
        if match is None:
            self._send(400, graph_error("BadRequest", f"Resource not found for the segment '{parts.path}'."))
            return
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or len(authorization) < 10:
            self._send(401, graph_error("InvalidAuthenticationToken", "Access token is empty."))
            return
        if state.mode == "forbidden":
            self._send(
                403, graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            )
            return
        if state.mode == "error":
            self._send(500, graph_error("UnknownError", ""))
            return
        app_id = match.group(1)
        if app_id not in state.principals:
            self._send(
                404,
                graph_error(
                    "Request_ResourceNotFound",
                    f"Resource '{app_id}' does not exist or one of its queried reference-property objects "
                    "are not present.",
                ),
            )
            return
        select = parse_qs(parts.query).get("$select", [""])[0]
        credentials = [dict(c) for c in state.principals[app_id]]
        if "keyCredentials" in select.split(","):
            document: dict[str, Any] = {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals(keyCredentials)/$entity",
                "keyCredentials": credentials,
            }
        else:  # without $select Graph returns the whole object and never the key data
            for credential in credentials:
                credential["key"] = None
            document = {"appId": app_id, "displayName": "Skype for Business Online", "keyCredentials": credentials}
        self._send(200, document)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: GraphState


class GraphDouble:
    def __init__(self) -> None:
        self.state = GraphState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> GraphDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
