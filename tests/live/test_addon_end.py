"""What the addon says only when the proxy stops: NTLM handshakes that never reached their Type 3."""

from __future__ import annotations

from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons

from inspector.live.addon import OAuthInspector
from tests.live.conftest import report_lines


def test_an_ntlm_handshake_left_at_type_1_is_reported_when_the_proxy_stops(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]], tmp_path: Path
) -> None:
    del tctx
    type1 = next(f for f, _ in lab_flows if f.request.headers.get("Authorization", "").startswith("NTLM TlRMTVNTUAAB"))
    addon.response(type1)
    assert addon.totals.rules.get("legacy-auth", 0) == 0
    addon.done()
    assert addon.totals.rules["legacy-auth"] == 1
    lines = report_lines(tmp_path / "report.jsonl")
    assert any(line.get("rule") == "legacy-auth" and line["evidence"]["handshake"] == "incomplete" for line in lines)
