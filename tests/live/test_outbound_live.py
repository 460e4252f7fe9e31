"""The outbound leg and body errors judged live by the addon, as a forward proxy sees them."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

from mitmproxy import http
from mitmproxy.test import taddons

from inspector.lab.outbound import EWS_ERROR_TEMPLATE
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector
from inspector.live.annotate import METADATA_KEY
from tests import outbound
from tests.live.conftest import report_lines


def _rules(flow: http.HTTPFlow) -> set[str]:
    """The flow's rules; a flow about nothing the addon judges (no auth, no finding) carries no annotation."""
    data = flow.metadata.get(METADATA_KEY)
    return {f["rule"] for f in data["findings"]} if data is not None else set()


def test_every_case_live(addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit, tmp_path: Path) -> None:
    del tctx
    cases = outbound.cases(lab_kit)
    for case in cases:
        flow = flow_from_exchange(case.exchange)
        flow.live = True
        addon.response(flow)
        assert _rules(flow) == set(case.expects), case.name
    addon.done()
    lines = [line for line in report_lines(tmp_path / "report.jsonl") if line["type"] == "exchange"]
    kinds = [line["token_request"]["client_assertion"]["kind"] for line in lines if line.get("token_request")]
    assert kinds and set(kinds) == {"client-assertion"}
    text = (tmp_path / "report.jsonl").read_text()
    assert "Sekr1t" not in text
    for case in cases:
        body = case.exchange.request.body or b""
        if b"client_assertion=" in body:
            signature = body.split(b"client_assertion=", 1)[1].split(b"&", 1)[0].rsplit(b".", 1)[1]
            assert signature[:40].decode() not in text


def test_a_compressed_error_in_a_repeat_of_a_clean_exchange_is_not_taken_for_a_repeat(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit
) -> None:
    del tctx
    healthy = lab_exchanges(lab_kit)[1][0]  # the healthy user token, answered 200 with a NoError SOAP body
    first = flow_from_exchange(healthy)
    first.live = True
    addon.response(first)
    assert _rules(first) == set()
    again = flow_from_exchange(healthy)
    again.id = str(uuid.uuid4())
    again.live = True
    assert again.response is not None
    error = EWS_ERROR_TEMPLATE.format(text="The remote server returned an error: (401) Unauthorized.", code="x")
    again.response.headers["Content-Encoding"] = "gzip"
    again.response.raw_content = gzip.compress(error.encode())
    addon.response(again)
    assert _rules(again) == {"response-error-in-body"}
