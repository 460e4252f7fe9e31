"""Arbitrary wire text through the HTML writer: the page keeps exactly its own elements (nothing from the wire
becomes markup or script) and every data block still decodes."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.inventory_rules import inventory_findings
from inspector.policy import Policy
from inspector.report.html import BLOCK_TYPE, HtmlWriter
from inspector.tally import Totals
from inspector.trust import Trust
from tests.builders import exchange, unsigned_jwt
from tests.report.test_html import tags

WIRE = st.text(st.sampled_from(list("<>&\"'/=!- ab\\\x00\u2028é")), max_size=30)


def _page(texts: list[str]) -> str:
    analyzer = Analyzer(Trust.of([]), Policy())
    inventory = Inventory()
    totals = Totals()
    out = io.StringIO()
    writer = HtmlWriter(out, [{"path": texts[0] if texts else "x", "kind": None}], show_secrets=False)
    for n, text in enumerate(texts):
        token = unsigned_jwt({"iss": text, "aud": text, "actortoken": text}, header={"alg": "none", "x5t": text})
        item = exchange(
            f"Bearer {token}",
            status=401,
            host=text or "h",
            target="/" + text,
            response_headers=(("WWW-Authenticate", f'Bearer trusted_issuers="{text}"'), ("X-BEServer", text)),
            after=n,
        )
        result = analyzer.feed(item)
        assert isinstance(result, ExchangeResult)
        totals.add(result)
        inventory.observe(result)
        writer.exchange(result)
    for found in inventory_findings(inventory):
        totals.add(found)
        writer.finding(found)
    writer.close(totals, inventory)
    return out.getvalue()


EXPECTED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "p", "b", "h2", "h3", "h4", "div", "span",
                 "svg", "rect", "text", "line", "polygon", "table", "tr", "th", "td", "details", "summary",
                 "ul", "li", "button", "input", "label", "noscript", "script"}  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(WIRE, min_size=1, max_size=4))
def test_wire_text_never_becomes_markup(texts: list[str]) -> None:
    page = _page(texts)
    found = tags(page)
    assert {t for t, _ in found} <= EXPECTED_TAGS
    scripts = [a for t, a in found if t == "script"]
    assert sum(1 for a in scripts if "nonce" in a) == 1
    for block in re.findall(rf'<script type="{BLOCK_TYPE}" id="[xtf]\d+">([A-Za-z0-9+/=]*)</script>', page):
        json.loads(gzip.decompress(base64.b64decode(block)))
    # one block of exchanges, one of tokens, one of the positions of exchanges with findings (every one here)
    assert len(re.findall(rf'<script type="{BLOCK_TYPE}"', page)) == 3
