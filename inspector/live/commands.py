"""The addon's mitmproxy commands: ``oauth.inspect`` (the decoded tokens and findings of the given flows) and
``oauth.summary`` (the totals so far), as text for mitmproxy's command bar and log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from mitmproxy import flow, http

from inspector.analyze import Analyzer, ExchangeResult
from inspector.live.annotate import METADATA_KEY, Serializer, flow_metadata, verdict_line, worst
from inspector.live.render import flow_text
from inspector.settings import Settings
from inspector.sources.mitmflows import flow_items
from inspector.text import safe


def inspect_text(flows: Sequence[flow.Flow], judge_apart: Callable[[http.HTTPFlow], dict[str, Any] | None]) -> str:
    """Each HTTP flow's verdict as the addon annotated it, or judged on the spot when it never saw the flow."""
    parts: list[str] = []
    for item in flows:
        if not isinstance(item, http.HTTPFlow):
            continue
        data = item.metadata.get(METADATA_KEY)
        if not _saved_verdict(data):  # none, or another shape (a crafted or foreign .mitm): judge it afresh
            data = judge_apart(item)
        flow_id = safe(item.id, 40)
        parts.append(flow_text(flow_id, data) if data is not None else f"flow {flow_id}: not judged")
    return "\n\n".join(parts) or "oauth.inspect: no HTTP flow given"


def _saved_verdict(data: object) -> bool:
    """Whether a flow's saved metadata has the shape the addon writes (a flow file can carry anything there)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("findings"), list)
        and all(isinstance(item, dict) for item in data["findings"])
        and isinstance(data.get("auth", {}), dict | None)
    )


def judge_apart(settings: Settings | None, serializer: Serializer, f: http.HTTPFlow) -> dict[str, Any] | None:
    """A flow judged on its own (no cross-flow rules), without touching the shared state: for flows the addon
    never saw, such as those loaded before it."""
    if settings is None:
        return None
    try:
        exchange_id = f"inspect:{str(f.id)[:8]}"
        exchange, notices = flow_items(f, exchange_id=exchange_id, source="inspect", entry=None, kind="live")
        result = Analyzer(settings.trust, settings.policy).feed(exchange)
        if notices and isinstance(result, ExchangeResult):
            result = replace(result, findings=(*result.findings, *map(Analyzer.notice_finding, notices)))
    except Exception as exc:
        return {"findings": [], "method": f.request.method, "target": f"(cannot judge: {type(exc).__name__})"}
    assert isinstance(result, ExchangeResult)
    data = serializer.exchange(result).data
    return flow_metadata(data, verdict=worst(result.findings) or "ok", comment=verdict_line(result))
