"""A mitmproxy content view for bodies that carry JWTs: token endpoint responses (``access_token``, ``id_token``) and
requests that post one (``actortoken``, ``client_assertion``, ``assertion``), as JSON or form data.

Each token is shown decoded (header and claims, ``nbf``/``exp``/``iat`` also in UTC), an S2S outer token with its
actor token beside it, and the signature dropped, so the view never shows a usable token. Other secrets in the same
body (refresh tokens, client secrets, passwords, codes) are replaced by their length. Header tokens are not bodies;
the addon's annotations and ``oauth.inspect`` show those.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from mitmproxy.contentviews import Contentview, Metadata, SyntaxHighlight

from inspector.report.serialize import jwt_data
from inspector.tokens import MAX_TOKEN_LENGTH, decode_bearer

TOKEN_FIELDS = ("access_token", "id_token", "actortoken", "client_assertion", "assertion")
SECRET_FIELDS = frozenset({"refresh_token", "client_secret", "password", "code", "session_state"})
MAX_BODY = 1 << 20
"""Bodies larger than this are not looked at (token responses are a few KiB)."""
MAX_FORM_FIELDS = 1000
PRIORITY = 2.0
"""Above mitmproxy's JSON (1) and URL-encoded (1) views, so "auto" picks this view when a token is present."""


def _fields(data: bytes, content_type: str | None) -> dict[str, Any] | None:
    """The body's top-level fields, for a JSON object or form data; ``None`` for anything else."""
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None
    if "form-urlencoded" in (content_type or "").lower() or ("=" in text and not any(c.isspace() for c in text)):
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            return None
        return dict(pairs) or None
    return None


def _jwt_fields(fields: dict[str, Any]) -> list[str]:
    return [
        name
        for name in TOKEN_FIELDS
        if isinstance(fields.get(name), str)
        and len(fields[name]) <= MAX_TOKEN_LENGTH
        and decode_bearer(fields[name]).outer is not None
    ]


def _decoded(value: str) -> dict[str, Any]:
    token = decode_bearer(value)
    out: dict[str, Any] = {"kind": token.kind}
    if token.outer is not None:
        out["token" if token.actor is None else "outer"] = jwt_data(token.outer, show_secrets=False)
    if token.actor is not None:
        out["actor"] = jwt_data(token.actor, show_secrets=False)
    problem = token.problem or token.actor_problem
    if problem:
        out["problem"] = problem
    out["signature"] = "dropped"
    return out


class TokenContentview(Contentview):
    """Decoded JWTs in a body (name in mitmproxy: "OAuth token")."""

    @property
    def name(self) -> str:
        return "OAuth token"

    @property
    def syntax_highlight(self) -> SyntaxHighlight:
        return "yaml"  # the output is JSON, which mitmproxy highlights as YAML

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        if len(data) > MAX_BODY:
            raise ValueError(f"the body is over {MAX_BODY} bytes")
        fields = _fields(data, metadata.content_type)
        if fields is None or not _jwt_fields(fields):
            raise ValueError("no JWT in access_token, id_token, actortoken, client_assertion or assertion")
        shown: dict[str, Any] = {}
        for name, value in fields.items():
            if name in TOKEN_FIELDS and isinstance(value, str):
                if decode_bearer(value).outer is not None and len(value) <= MAX_TOKEN_LENGTH:
                    shown[name] = _decoded(value)
                else:
                    shown[name] = f"[not a JWT: {len(value)} characters, not shown]"
            elif name.lower() in SECRET_FIELDS and isinstance(value, str):
                shown[name] = f"[secret: {len(value)} characters, not shown]"
            else:
                shown[name] = value
        return json.dumps(shown, indent=2, ensure_ascii=True, default=str)

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        if not data or len(data) > MAX_BODY or not any(name.encode() in data for name in TOKEN_FIELDS):
            return -1
        fields = _fields(data, metadata.content_type)
        return PRIORITY if fields is not None and _jwt_fields(fields) else -1
