"""NTLM handshakes begun and never completed: reported once, at the end of the input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.builders import exchange
from tests.checks.kit import OFFERS_NTLM, TYPE1, TYPE2, TYPE3, feed


def test_an_ntlm_handshake_without_type_3_is_reported_once_at_the_end_of_the_input() -> None:
    analyzer, results = feed(
        exchange("Bearer", status=401, response_headers=OFFERS_NTLM),
        exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),), after=1),
        exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),), after=2),
    )
    assert [f.rule for f in results[1].findings] == ["basic-fallback"]  # it tried OAuth first
    assert "legacy-auth" not in [f.rule for r in results for f in r.findings]
    (late,) = analyzer.end_input()
    assert late.rule == "legacy-auth"
    assert late.exchange == results[1].exchange.id
    assert late.evidence["handshake"] == "incomplete"
    assert "Type 2 challenge" in late.message and "no Type 3" in late.message
    assert analyzer.end_input() == []
    # A handshake that completes is reported at its Type 3, and nothing is left for the end.
    analyzer, results = feed(exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),)))
    analyzer.feed(exchange(TYPE3, status=200, after=1))
    assert analyzer.end_input() == []


def test_erspan_type_1s_without_type_3_are_one_legacy_auth(corpus: Path) -> None:
    # erspan.pcap: one complete handshake (frames 100-102), then three connections that send a Type 1 (frames
    # 175-177) and never a Type 3 (the server answered 200): one legacy-auth for the completed handshake, one for
    # the client and host whose handshakes never completed.
    from tests.test_cli import invoke

    _, out, _ = invoke("analyze", str(corpus / "pcap/auth/zeek/erspan.pcap"), "--format", "json")
    legacy = [f for f in json.loads(out)["findings"] if f["rule"] == "legacy-auth"]
    assert [f["evidence"].get("handshake") for f in legacy] == [None, "incomplete"]
    assert "answered 200 without a Type 2 challenge" in legacy[1]["message"]


def test_a_type_1_without_an_answer_says_so() -> None:
    analyzer, _ = feed(exchange(TYPE1, status=None))
    (late,) = analyzer.end_input()
    assert "got no answer" in late.message
    assert late.rule == "legacy-auth" and late.evidence["handshake"] == "incomplete"
