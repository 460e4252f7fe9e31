"""What a fallback is (README "How verdicts are reached"): a client that tried OAuth on a host (the empty Bearer
probe or a token), was refused (401) or got no answer, and then used Basic, NTLM or Negotiate on the same
normalised host within the window. Each clause has a case that fires and a close case that must not."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab import ntlm
from inspector.model import HttpExchange, Notice
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.sources.har import read_har
from inspector.sources.timeorder import in_capture_time_order
from inspector.trust import Trust
from tests.builders import BEARER_CHALLENGE, CLOCK, basic, exchange

REFUSED = (("WWW-Authenticate", BEARER_CHALLENGE),)
OFFERS_NTLM = (("WWW-Authenticate", BEARER_CHALLENGE), ("WWW-Authenticate", "NTLM"))
TYPE1 = "NTLM " + base64.b64encode(ntlm.negotiate()).decode()
_INFO = ntlm.target_info(netbios_domain="CONTOSO", netbios_computer="EXCH01", dns_domain="contoso.com", moment=CLOCK)
TYPE2 = "NTLM " + base64.b64encode(ntlm.challenge(netbios_domain="CONTOSO", info=_INFO, seed="s")).decode()
TYPE3 = (
    "NTLM "
    + base64.b64encode(
        ntlm.authenticate(
            domain="CONTOSO",
            user="svc",
            workstation="WS",
            nt_response=ntlm.ntlmv2_response(info=_INFO, moment=CLOCK, spn="HTTP/x", seed="s"),
            seed="s",
        )
    ).decode()
)


def _feed(*items: HttpExchange) -> tuple[Analyzer, list[ExchangeResult]]:
    analyzer = Analyzer(Trust(), Policy())
    results = [analyzer.feed(item) for item in items]
    return analyzer, [r for r in results if isinstance(r, ExchangeResult)]


def _fallbacks(results: list[ExchangeResult]) -> list[Finding]:
    return [f for r in results for f in r.findings if f.rule == "basic-fallback"]


def test_a_host_with_the_default_port_or_a_trailing_dot_is_the_same_host() -> None:
    for spelled in ("mail.contoso.com:443", "MAIL.contoso.com.", "mail.contoso.com.:443"):
        _, results = _feed(
            exchange("Bearer", status=401, response_headers=REFUSED, host="mail.contoso.com"),
            exchange(basic("alice", "pw"), host=spelled, after=1),
        )
        (fallback,) = _fallbacks(results)
        assert fallback.evidence["host"] == "mail.contoso.com", spelled
    # Another port is another origin.
    _, results = _feed(
        exchange("Bearer", status=401, response_headers=REFUSED, host="mail.contoso.com"),
        exchange(basic("alice", "pw"), host="mail.contoso.com:8443", after=1),
    )
    assert _fallbacks(results) == []


def test_an_unanswered_oauth_attempt_then_basic_is_a_fallback() -> None:
    _, results = _feed(exchange("Bearer eyJ.eyJ.sig", status=None), exchange(basic("alice", "pw"), after=2))
    (fallback,) = _fallbacks(results)
    assert fallback.evidence["oauth_outcome"] == "unanswered"
    assert "got no answer" in fallback.message


def test_an_accepted_token_then_basic_is_not_a_fallback() -> None:
    _, results = _feed(exchange("Bearer eyJ.eyJ.sig", status=200), exchange(basic("alice", "pw"), after=2))
    assert _fallbacks(results) == []


def test_anonymous_401_then_ntlm_is_legacy_auth_not_a_fallback() -> None:
    # Every domain-joined client does this against a hybrid Exchange: it never tried OAuth.
    _, results = _feed(
        exchange(None, status=401, response_headers=OFFERS_NTLM),
        exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),), after=1),
        exchange(TYPE3, status=200, after=2),
    )
    assert _fallbacks(results) == []
    assert [f.rule for f in results[2].findings] == ["legacy-auth"]


def test_basic_refused_then_basic_is_a_password_problem_not_a_fallback() -> None:
    offers_basic = (*REFUSED, ("WWW-Authenticate", 'Basic realm="x"'))
    _, results = _feed(
        exchange(basic("alice", "wrong"), status=401, response_headers=offers_basic),
        exchange(basic("alice", "right"), after=1),
    )
    assert _fallbacks(results) == []


def test_an_ntlm_handshake_without_type_3_is_reported_once_at_the_end_of_the_input() -> None:
    analyzer, results = _feed(
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
    analyzer, results = _feed(exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),)))
    analyzer.feed(exchange(TYPE3, status=200, after=1))
    assert analyzer.end_input() == []


def test_entries_are_judged_in_capture_time_order(tmp_path: Path) -> None:
    # A merged HAR lists the Basic retry before the refused probe it followed.
    probe = exchange("Bearer", status=401, response_headers=REFUSED)
    retry = exchange(basic("alice", "pw"), after=1)
    later_same_time = exchange(None, status=200, after=1)
    ordered = list(in_capture_time_order([retry, later_same_time, Notice("capture-gap", "n", "s"), probe]))
    assert [getattr(x, "id", "notice") for x in ordered] == [probe.id, retry.id, later_same_time.id, "notice"]
    _, results = _feed(*[x for x in ordered if isinstance(x, HttpExchange)])
    assert len(_fallbacks(results)) == 1
    # End to end through the CLI's run loop, with a HAR whose entries are out of order.
    har = {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": []}}
    for item, started in ((retry, CLOCK + timedelta(seconds=1)), (probe, CLOCK)):
        headers = [{"name": k, "value": v} for k, v in item.request.headers]
        har["log"]["entries"].append(  # type: ignore[index]
            {
                "startedDateTime": started.isoformat(),
                "time": 1,
                "request": {
                    "method": "POST",
                    "url": "https://mail.contoso.com/EWS/Exchange.asmx",
                    "httpVersion": "HTTP/1.1",
                    "headers": headers,
                    "queryString": [],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "response": {
                    "status": item.response.status if item.response else 0,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": k, "value": v} for k, v in (item.response.headers if item.response else ())],
                    "cookies": [],
                    "content": {"size": 0, "mimeType": ""},
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": 0,
                },
                "cache": {},
                "timings": {"send": 0, "wait": 1, "receive": 0},
                "serverIPAddress": "10.0.0.9",
                "_clientIPAddress": "10.0.0.7",
            }
        )
    path = tmp_path / "merged.har"
    path.write_text(json.dumps(har))
    assert len(list(read_har(path))) == 2
    from tests.test_cli import invoke

    _, out, _ = invoke("analyze", str(path), "--format", "json")
    assert [f["rule"] for f in json.loads(out)["findings"]].count("basic-fallback") == 1


def test_erspan_type_1s_without_type_3_are_one_legacy_auth(corpus: Path) -> None:
    # erspan.pcap: one complete handshake (frames 100-102), then three connections that send a Type 1 (frames
    # 175-177) and never a Type 3 (the server answered 200): one legacy-auth for the completed handshake, one for
    # the client and host whose handshakes never completed.
    from tests.test_cli import invoke

    _, out, _ = invoke("analyze", str(corpus / "pcap/auth/zeek/erspan.pcap"), "--format", "json")
    legacy = [f for f in json.loads(out)["findings"] if f["rule"] == "legacy-auth"]
    assert [f["evidence"].get("handshake") for f in legacy] == [None, "incomplete"]
    assert "answered 200 without a Type 2 challenge" in legacy[1]["message"]
