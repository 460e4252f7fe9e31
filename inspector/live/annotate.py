"""What the addon writes on a judged flow: a mark, a one-line comment and the full result in ``flow.metadata``, and
the same result as a JSONL report line.

All three annotations are part of the flow's state, so a ``.mitm`` file saved with ``-w`` carries its verdicts. A
comment or mark the user set is left alone; only the inspector's own (remembered in the metadata) is replaced.

Every flow of a proxy passes through here, so each result is serialised once, and the decoded token (the same for
the thousands of requests that reuse one S2S token) once per token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mitmproxy import http

from inspector.analyze import ExchangeResult
from inspector.lru import LruCache
from inspector.report.serialize import EncodedExchange, ExchangeEncoder, finding_data
from inspector.rules import SEVERITIES, Finding, Severity
from inspector.text import safe

METADATA_KEY = "oauth-inspector"
MARKS: dict[str, str] = {"error": ":red_circle:", "warning": ":warning:"}
"""Emoji names from mitmproxy's marker list (``mitmproxy.utils.emoji``): a red circle for errors, a warning sign."""
COMMENT_PREFIX = "oauth-inspector: "
MAX_COMMENT = 300
TOKEN_MEMORY = 256
"""Decoded tokens kept ready for serialisation (the analyzer keeps the reports; this only saves re-formatting)."""


def worst(findings: Iterable[Finding]) -> Severity | None:
    severities = {f.severity for f in findings}
    return next((s for s in SEVERITIES if s in severities), None)


def relevant(result: ExchangeResult) -> bool:
    """Whether the exchange concerns authentication at all (other flows are left without annotations)."""
    return bool(
        result.auth.scheme or result.findings or result.challenges or result.diagnostics or result.token_request
    )


def _auth_summary(result: ExchangeResult) -> str:
    auth = result.auth
    request = result.token_request
    if auth.scheme is None and request is not None:
        assertion = request.assertion
        shown = f", client-assertion signature {assertion.signature}" if assertion and assertion.signature else ""
        return f"token request to {request.endpoint}{shown}"
    if auth.scheme is None:
        return "no Authorization"
    text = auth.scheme.capitalize() if auth.scheme != "ntlm" else "NTLM"
    token = auth.token
    if token is not None:
        text += f" {token.kind}"
        if token.issuer:
            text += f" from {token.issuer}"
        if token.signature:
            text += f", signature {token.signature}"
    elif auth.user:
        text += f" {auth.user}"
    return text


def verdict_line(result: ExchangeResult) -> str:
    """``oauth-inspector: error: token-expired, bearer-rejected | Bearer s2s-user ..., 401``."""
    severity = worst(result.findings)
    if severity is None:
        head = "ok"
    else:
        rules = dict.fromkeys(f.rule for f in result.findings if f.severity == severity)
        head = f"{severity}: {', '.join(rules)}"
        others = len({f.rule for f in result.findings}) - len(rules)
        if others:
            head += f" (+{others} more)"
    response = result.exchange.response
    status = response.status if response is not None else None
    auth, token = result.auth, result.auth.token
    key = (head, auth.scheme, auth.user, status, *((token.kind, token.issuer, token.signature) if token else ()))
    line = _VERDICTS.get(key) if result.token_request is None else None
    if line is None:  # the same few verdicts recur on every flow of a session: made once, escaped once
        shown = f"{status}" if status is not None else "no response"
        line = safe(f"{COMMENT_PREFIX}{head} | {_auth_summary(result)}, {shown}", MAX_COMMENT)
        if result.token_request is None:  # a token request's line names its endpoint: not shared
            _VERDICTS.put(key, line)
    return line


_VERDICTS: LruCache[tuple[object, ...], str] = LruCache(1024)


class Serializer:
    """An exchange's report line (exactly as ``JsonlWriter`` writes it) and the same data for the flow's metadata,
    each token's part made once while the token keeps coming (the report's own ``ExchangeEncoder``)."""

    def __init__(self, *, show_secrets: bool) -> None:
        self._encoder = ExchangeEncoder(show_secrets=show_secrets, cache_size=TOKEN_MEMORY)

    @property
    def show_secrets(self) -> bool:
        return self._encoder.show_secrets

    @show_secrets.setter
    def show_secrets(self, value: bool) -> None:
        # Remembered token texts were made under the old setting: start afresh.
        if value != self._encoder.show_secrets:
            self._encoder = ExchangeEncoder(show_secrets=value, cache_size=TOKEN_MEMORY)

    def exchange(self, result: ExchangeResult) -> EncodedExchange:
        """The exchange as its report line (``.line``) and as data for the flow (``.data``), with its findings."""
        return self._encoder.encode(result, findings=[finding_data(f) for f in result.findings])


def flow_metadata(data: dict[str, Any], *, verdict: str, comment: str) -> dict[str, Any]:
    return {"verdict": verdict, "comment": comment, **data}


def error_record(item: Finding, comment: str) -> dict[str, Any]:
    return {"verdict": item.severity, "comment": comment, "findings": [finding_data(item)]}


def annotate(flow: http.HTTPFlow, data: dict[str, Any], comment: str, severity: str | None) -> None:
    """Write the verdict on the flow, replacing only annotations the inspector made before."""
    previous = flow.metadata.get(METADATA_KEY)
    previous_comment = previous.get("comment") if isinstance(previous, dict) else None
    if not flow.comment or flow.comment == previous_comment or flow.comment.startswith(COMMENT_PREFIX):
        flow.comment = comment
    mark = MARKS.get(severity or "", "")
    if not flow.marked or flow.marked in MARKS.values():
        flow.marked = mark
    flow.metadata[METADATA_KEY] = data
