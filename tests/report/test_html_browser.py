"""The HTML report in a real browser: headless Chromium (the Debian package) loads it from disk, draws the timeline,
runs its script without a console message, and makes no request at all, hostile wire text included."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from inspector.analyze import ExchangeResult
from inspector.report.html import HtmlWriter
from inspector.report.serialize import header_list
from inspector.tally import Totals
from tests.browser import chromium_missing, visit
from tests.report.test_html import _row_as_data, hostile_capture, report, tags
from tests.test_cli import SAMPLES

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=chromium_missing() or "")

VERDICT_COLOURS = {"valid": (0x2E, 0x7D, 0x32), "bad": (0xC6, 0x28, 0x28), "legacy": (0x6A, 0x1B, 0x9A)}


def _pixels(path: Path, colour: tuple[int, int, int]) -> int:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        histogram = rgb.getcolors(maxcolors=1 << 20) or []
    return sum(count for count, value in histogram if all(abs(a - b) <= 6 for a, b in zip(value, colour, strict=True)))


def test_the_report_loads_draws_and_stays_offline(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report(tmp_path, SAMPLES / "lab.har", hostile_capture(tmp_path)), encoding="utf-8")
    shot = tmp_path / "report.png"
    seen = visit(page, screenshot=shot)
    assert seen.console == [], "the page logged: " + "\n".join(seen.console)
    assert seen.requests == [], "the page tried to fetch: " + "\n".join(seen.requests)
    assert 'data-ready="yes"' in seen.dom  # the script ran to its end
    rows = [a for t, a in tags(seen.dom) if t == "details" and a.get("class") == "ex"]
    assert len(rows) == 25  # every exchange of the two captures on the first page
    assert "<img" not in seen.dom and "canary.oauth-inspector.test" in seen.dom
    assert shot.stat().st_size > 10_000
    for name, colour in VERDICT_COLOURS.items():
        assert _pixels(shot, colour) > 200, f"no {name} bars drawn in the timeline"


def test_every_exchange_opens_to_its_tokens_and_checks(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report(tmp_path, SAMPLES / "lab.har", hostile_capture(tmp_path)), encoding="utf-8")
    seen = visit(page, fragment="#expand")
    assert seen.console == [] and seen.requests == []
    found = tags(seen.dom)
    opened = [a for t, a in found if t == "details" and a.get("class") == "ex" and "open" in a]
    assert len(opened) == 25
    assert seen.dom.count("<h4>Checks</h4>") == 25
    # lab:2 is healthy: its decoded actor token is shown and every check passed or had nothing to judge.
    assert '"actor ' not in seen.dom and "actor {" in seen.dom and '"x5t": "' in seen.dom
    assert seen.dom.count('<td class="pass">passed</td>') > 25 * 3
    assert '<td class="fail">failed</td>' in seen.dom  # the broken tokens' checks
    assert "signature-invalid: The actor token" in seen.dom
    # The hostile claims are shown decoded, as text.
    assert "&lt;/script&gt;&lt;img src=http://canary.oauth-inspector.test/x" in seen.dom
    assert "<img" not in seen.dom


def test_the_list_narrows_to_exchanges_with_findings_and_jumps_to_one(tmp_path: Path) -> None:
    from tests.report.test_html import blocks

    page = tmp_path / "report.html"
    text = report(tmp_path, SAMPLES / "lab.har")
    page.write_text(text, encoding="utf-8")
    rows = [row for block in blocks(text, "x") for row in block]
    flagged = [n for n, row in enumerate(rows) if row["findings"]]
    assert [p for block in blocks(text, "f") for p in block] == flagged
    seen = visit(page, fragment="#flagged")
    assert seen.console == [] and seen.requests == []
    shown = [int(a["data-row"] or -1) for t, a in tags(seen.dom) if t == "details" and a.get("class") == "ex"]
    assert shown == flagged and 0 < len(flagged) < len(rows)
    # a finding listed under its rule names its exchange with a button that jumps there
    jump = next(a for t, a in tags(text) if t == "button" and a.get("class") == "jump")
    row = int(jump["data-row"] or -1)
    seen = visit(page, fragment=f"#row={row}")
    opened = [a for t, a in tags(seen.dom) if t == "details" and "open" in a]
    assert [a["data-row"] for a in opened if a.get("class") == "ex"] == [str(row)]
    assert json.dumps(rows[row]["id"])[1:-1] in seen.dom


def test_the_trap_sees_a_page_that_fetches(tmp_path: Path) -> None:
    """The control of the offline checks above: a page that does fetch is seen, so an empty list means none was
    made (a connection that sends nothing, Chromium's preconnect, is not counted: tests/browser.py)."""
    page = tmp_path / "fetches.html"
    page.write_text('<!doctype html><img src="http://canary.oauth-inspector.test/pixel.png">', encoding="utf-8")
    seen = visit(page)
    assert any("canary.oauth-inspector.test/pixel.png" in request for request in seen.requests), seen.requests


def test_an_opened_exchange_shows_its_own_headers_and_data(tmp_path: Path, lab_results: list[ExchangeResult]) -> None:
    """Rows name the parts their block stores once (the tail, the answer's headers, each finding): opened, each
    exchange still shows its own request and response headers, its own data in order, and its findings; an
    exchange without an answer shows no response headers."""
    from html import escape

    unanswered = replace(lab_results[1], exchange=replace(lab_results[1].exchange, id="lab:unanswered", response=None))
    results = [*lab_results, unanswered]
    totals = Totals()
    out = io.StringIO()
    writer = HtmlWriter(out, [{"path": "lab", "kind": "lab"}], show_secrets=False)
    for result in results:
        totals.add(result)
        writer.exchange(result)
    writer.close(totals)
    page = tmp_path / "report.html"
    page.write_text(out.getvalue(), encoding="utf-8")
    seen = visit(page, fragment="#expand")
    assert seen.console == [] and seen.requests == []
    opened = re.split(r'<details class="ex" data-row="(\d+)" open="">', seen.dom)[1:]
    shown = {int(n): text.split("</details>", 1)[0] for n, text in zip(opened[::2], opened[1::2], strict=True)}
    assert sorted(shown) == list(range(len(results)))
    for n, result in enumerate(results):
        text = shown[n]
        exchange = result.exchange
        asked = header_list(exchange.request.headers, show_secrets=False)
        lines = "\n".join(f"{name}: {value}" for name, value in asked)
        assert f"<h4>Request headers</h4><pre>{escape(lines, quote=False)}</pre>" in text, n
        if exchange.response is None:
            assert "<h4>Response headers</h4>" not in text
        else:
            answer = header_list(exchange.response.headers, show_secrets=False)
            lines = "\n".join(f"{name}: {value}" for name, value in answer)
            assert f"<h4>Response headers</h4><pre>{escape(lines, quote=False)}</pre>" in text, n
        # the exchange's data: its head, then its tail's members in their order, nothing of how the row is stored
        data = text.split("<h4>Exchange</h4><pre>", 1)[1].split("</pre>", 1)[0]
        keys = re.findall(r'^  "(\w+)":', data, flags=re.MULTILINE)
        assert keys == [k for k in _row_as_data(result, False) if k not in ("findings", "request_headers",
                                                                             "response_headers")], n  # fmt: skip
        assert f'"id": {json.dumps(exchange.id)}' in data and f'"method": "{exchange.request.method}"' in data
        for finding in result.findings:
            assert escape(f"{finding.rule}: {finding.message}", quote=False) in text, n
