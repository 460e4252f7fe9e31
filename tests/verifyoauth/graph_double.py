"""A local Microsoft Graph double on 127.0.0.1 with Graph's documented behaviour, awkward parts included.

Reading: ``GET /v1.0/servicePrincipals(appId='…')`` or ``/servicePrincipals/{id}``: ``key`` only with ``$select``
on a single object, a Graph error body for an unknown appId (404), 401 without a token, and switchable 403
(insufficient privileges) and 500.

Writing (reference §5.5):
- ``PATCH`` on either path replaces the *whole* ``keyCredentials`` list with what was sent (204 No Content). An entry
  that re-sends the ``keyId`` of an existing credential is refused ("Update to existing credential with KeyId …
  is not allowed"); ``key`` must be a certificate; dates, when sent, must lie within the certificate's validity
  ("Key credential end date is invalid."), and when left out are the certificate's own; ``customKeyIdentifier``
  defaults to the thumbprint and ``displayName`` to the subject.
- ``POST /servicePrincipals/{id}/addKey`` adds one key when ``proof`` is a JWT signed (RS256) by a key already on
  the service principal and valid now, with ``aud`` 00000002-0000-0000-c000-000000000000, ``iss`` the service
  principal's id and ``exp`` = ``nbf`` + 10 minutes; with no valid key it is refused.
- Modes: ``forbidden`` (403 for everything), ``read-only`` (reads work, writes 403), ``error`` (500). One-shot write
  faults: ``patch_fault`` ``error`` (500, nothing applied) or ``lost`` (applied, then the connection drops).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from inspector.remote.psjson import as_time
from tests.doubles.loopback import Loopback

_BY_APP_ID = re.compile(r"^/v1\.0/servicePrincipals\(appId='([^']*)'\)$")
_BY_ID = re.compile(r"^/v1\.0/servicePrincipals/([0-9a-fA-F-]{36})$")
_ADD_KEY = re.compile(r"^/v1\.0/servicePrincipals/([0-9a-fA-F-]{36})/addKey$")
GRAPH_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_LIFETIME = timedelta(minutes=10)


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


def object_id(app_id: str) -> str:
    """The service principal's object id in this double: stable per appId."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-double:{app_id}"))


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _certificate(value: object) -> x509.Certificate:
    if not isinstance(value, str) or not value:
        raise Refused(400, "Request_BadRequest", "Invalid certificate: Key value is null or empty.")
    try:
        raw = base64.b64decode(value, validate=True)
        if raw[:1] != b"\x30":  # the bytes of base64 text (the 2025 Teams procedure): decoded once more
            raw = base64.b64decode(raw, validate=True)
        return x509.load_der_x509_certificate(raw)
    except (binascii.Error, ValueError) as exc:
        raise Refused(400, "Request_BadRequest", "Invalid certificate: Key value is invalid certificate") from exc


@dataclass
class GraphState:
    principals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """appId -> keyCredentials (with ``key``)."""
    mode: str = "normal"
    """``normal``, ``forbidden`` (403), ``read-only`` (writes 403) or ``error`` (500)."""
    patch_fault: str | None = None
    """One-shot: ``error`` (the next PATCH answers 500, nothing applied) or ``lost`` (applied, no answer)."""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    """Bodies of the PATCH requests that were applied."""
    now: datetime | None = None
    """The double's clock (default: the wall clock)."""

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def app_of(self, object_or_app_id: str, by_id: bool) -> str | None:
        if not by_id:
            return object_or_app_id if object_or_app_id in self.principals else None
        return next((a for a in self.principals if object_id(a) == object_or_app_id.lower()), None)

    def credential(self, entry: dict[str, Any], existing: list[dict[str, Any]]) -> dict[str, Any]:
        """One keyCredential as Graph stores it, or :class:`Refused` the way Graph refuses it."""
        key_id = entry.get("keyId")
        if key_id and any(c.get("keyId") == key_id for c in existing):
            raise Refused(
                400, "Request_BadRequest", f"Update to existing credential with KeyId '{key_id}' is not allowed."
            )
        certificate = _certificate(entry.get("key"))
        if entry.get("type") != "AsymmetricX509Cert" or entry.get("usage") not in ("Verify", "Sign"):
            raise Refused(
                400,
                "Request_BadRequest",
                "Invalid value specified for property 'type' or 'usage' of resource 'KeyCredential'.",
            )
        valid_from, valid_to = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        start = as_time(entry["startDateTime"]) if entry.get("startDateTime") else valid_from
        end = as_time(entry["endDateTime"]) if entry.get("endDateTime") else valid_to
        if end is None or end > valid_to or end <= valid_from:
            raise Refused(400, "Request_BadRequest", "Key credential end date is invalid.")
        if start is None or start < valid_from:
            raise Refused(400, "Request_BadRequest", "Key credential start date is invalid.")
        der = certificate.public_bytes(serialization.Encoding.DER)
        return {
            "customKeyIdentifier": entry.get("customKeyIdentifier") or hashlib.sha1(der).hexdigest().upper(),  # noqa: S324
            "displayName": entry.get("displayName") or certificate.subject.rfc4514_string(),
            "endDateTime": _iso(end),
            "key": base64.b64encode(der).decode(),
            "keyId": str(uuid.uuid4()),
            "startDateTime": _iso(start),
            "type": entry["type"],
            "usage": entry["usage"],
        }

    def valid_keys(self, app_id: str) -> list[x509.Certificate]:
        now = self.clock()
        out = []
        for credential in self.principals[app_id]:
            start, end = as_time(credential.get("startDateTime")), as_time(credential.get("endDateTime"))
            if credential.get("type") == "AsymmetricX509Cert" and start and end and start <= now < end:
                out.append(_certificate(credential.get("key")))
        return out

    def check_proof(self, app_id: str, proof: object) -> None:
        keys = self.valid_keys(app_id)
        if not keys:
            raise Refused(400, "Request_BadRequest", "addKey needs a proof signed by an existing valid certificate; "
                          "the service principal has none (none added yet, or all expired).")  # fmt: skip
        if not isinstance(proof, str):
            raise Refused(400, "Request_BadRequest", "The proof is missing.")
        for certificate in keys:
            try:
                claims = jwt.decode(
                    proof,
                    certificate.public_key(),  # type: ignore[arg-type]
                    algorithms=["RS256"],
                    audience=GRAPH_AUDIENCE,
                    issuer=object_id(app_id),
                    options={"require": ["aud", "iss", "nbf", "exp"]},
                    leeway=0,
                )
            except jwt.PyJWTError:
                continue
            if int(claims["exp"]) - int(claims["nbf"]) != int(PROOF_LIFETIME.total_seconds()):
                raise Refused(400, "Request_BadRequest", "The proof's lifetime must be 10 minutes (exp = nbf + 600).")
            return
        raise Refused(
            400, "Request_BadRequest", "The proof is not signed by a valid certificate of this service principal."
        )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, document: dict[str, Any] | None) -> None:
        body = json.dumps(document).encode() if document is not None else b""
        self.send_response(status)
        if document is not None:
            self.send_header("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true")
        self.send_header("request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, refused: Refused) -> None:
        self._send(refused.status, graph_error(refused.code, str(refused)))

    def _gate(self, method: str, writing: bool) -> tuple[str, str] | None:
        """Record the request, check the token and the mode; the path and query, or None when answered."""
        state = self.server.state
        state.requests.append((method, self.path, {k.lower(): v for k, v in self.headers.items()}))
        parts = urlsplit(self.path)
        authorization = self.headers.get("Authorization", "")
        if not authorization.startswith("Bearer ") or len(authorization) < 10:
            self._send(401, graph_error("InvalidAuthenticationToken", "Access token is empty."))
            return None
        if state.mode == "forbidden" or (writing and state.mode == "read-only"):
            self._send(
                403, graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            )
            return None
        if state.mode == "error":
            self._send(500, graph_error("UnknownError", ""))
            return None
        return unquote(parts.path), parts.query

    def _principal(self, path: str) -> str | None:
        state = self.server.state
        for pattern, by_id in ((_BY_APP_ID, False), (_BY_ID, True)):
            match = pattern.match(path)
            if match is None:
                continue
            app_id = state.app_of(match.group(1), by_id)
            if app_id is None:
                message = (
                    f"Resource '{match.group(1)}' does not exist or one of its queried reference-property objects "
                    "are not present."
                )
                self._send(404, graph_error("Request_ResourceNotFound", message))
            return app_id
        self._send(400, graph_error("BadRequest", f"Resource not found for the segment '{path}'."))
        return None

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return None

    def do_GET(self) -> None:
        gated = self._gate("GET", writing=False)
        if gated is None:
            return
        path, query = gated
        app_id = self._principal(path)
        if app_id is None:
            return
        select = parse_qs(query).get("$select", [""])[0].split(",")
        credentials = [dict(c) for c in self.server.state.principals[app_id]]
        if "keyCredentials" in select:
            document: dict[str, Any] = {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals(keyCredentials)/$entity",
                "keyCredentials": credentials,
            }
            document |= {k: v for k, v in (("id", object_id(app_id)), ("appId", app_id)) if k in select}
        else:  # without $select Graph returns the whole object and never the key data
            for credential in credentials:
                credential["key"] = None
            document = {"id": object_id(app_id), "appId": app_id, "displayName": "Skype for Business Online",
                        "keyCredentials": credentials}  # fmt: skip
        self._send(200, document)

    def do_PATCH(self) -> None:
        state = self.server.state
        gated = self._gate("PATCH", writing=True)
        if gated is None:
            return
        app_id = self._principal(gated[0])
        if app_id is None:
            return
        body = self._body()
        entries = body.get("keyCredentials") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self._send(400, graph_error("BadRequest", "The request body must carry a keyCredentials array."))
            return
        fault, state.patch_fault = state.patch_fault, None
        if fault == "error":
            self._send(500, graph_error("UnknownError", "injected"))
            return
        existing = state.principals[app_id]
        try:
            replacement = [state.credential(entry, existing) for entry in entries]
        except Refused as refused:
            self._refuse(refused)
            return
        state.principals[app_id] = replacement  # PATCH replaces the whole collection
        state.patches.append(body)
        if fault == "lost":
            self.close_connection = True  # the change is made; the answer never arrives
            return
        self._send(204, None)

    def do_POST(self) -> None:
        state = self.server.state
        gated = self._gate("POST", writing=True)
        if gated is None:
            return
        match = _ADD_KEY.match(gated[0])
        app_id = state.app_of(match.group(1), by_id=True) if match else None
        if app_id is None:
            self._send(404, graph_error("Request_ResourceNotFound", f"Resource '{gated[0]}' does not exist."))
            return
        body = self._body()
        try:
            if not isinstance(body, dict) or not isinstance(body.get("keyCredential"), dict):
                raise Refused(400, "Request_BadRequest", "addKey needs a keyCredential.")
            state.check_proof(app_id, body.get("proof"))
            credential = state.credential(body["keyCredential"], state.principals[app_id])
        except Refused as refused:
            self._refuse(refused)
            return
        state.principals[app_id].append(credential)
        self._send(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.keyCredential"}
                   | {k: v for k, v in credential.items() if k != "key"} | {"key": None})  # fmt: skip


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: GraphState


class GraphDouble(Loopback[_Server]):
    def __init__(self) -> None:
        self.state = GraphState()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self.state
        super().__init__(server)

    @property
    def url(self) -> str:
        return self.base_url
