"""What a fallback is (README "How verdicts are reached"): a client that tried OAuth on a host (the empty Bearer
probe or a token), was refused (401) or got no answer, and then used Basic, NTLM or Negotiate on the same
normalised host within the window. Each clause has a case that fires and a close case that must not."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import HttpExchange, Notice
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.sources.har import read_har
from inspector.sources.timeorder import in_capture_time_order
from inspector.trust import Trust
from tests.builders import BEARER_CHALLENGE, CLOCK, basic, exchange
from tests.checks.kit import OFFERS_NTLM, REFUSED, TYPE1, TYPE2, TYPE3, feed, rules_of, run


def _fallbacks(results: list[ExchangeResult]) -> list[Finding]:
    return [f for r in results for f in r.findings if f.rule == "basic-fallback"]


def test_a_host_with_the_default_port_or_a_trailing_dot_is_the_same_host() -> None:
    for spelled in ("mail.contoso.com:443", "MAIL.contoso.com.", "mail.contoso.com.:443"):
        _, results = feed(
            exchange("Bearer", status=401, response_headers=REFUSED, host="mail.contoso.com"),
            exchange(basic("alice", "pw"), host=spelled, after=1),
        )
        (fallback,) = _fallbacks(results)
        assert fallback.evidence["host"] == "mail.contoso.com", spelled
    # Another port is another origin.
    _, results = feed(
        exchange("Bearer", status=401, response_headers=REFUSED, host="mail.contoso.com"),
        exchange(basic("alice", "pw"), host="mail.contoso.com:8443", after=1),
    )
    assert _fallbacks(results) == []


def test_an_unanswered_oauth_attempt_then_basic_is_a_fallback() -> None:
    _, results = feed(exchange("Bearer eyJ.eyJ.sig", status=None), exchange(basic("alice", "pw"), after=2))
    (fallback,) = _fallbacks(results)
    assert fallback.evidence["oauth_outcome"] == "unanswered"
    assert "got no answer" in fallback.message


def test_an_accepted_token_then_basic_is_not_a_fallback() -> None:
    _, results = feed(exchange("Bearer eyJ.eyJ.sig", status=200), exchange(basic("alice", "pw"), after=2))
    assert _fallbacks(results) == []


def test_anonymous_401_then_ntlm_is_legacy_auth_not_a_fallback() -> None:
    # Every domain-joined client does this against a hybrid Exchange: it never tried OAuth.
    _, results = feed(
        exchange(None, status=401, response_headers=OFFERS_NTLM),
        exchange(TYPE1, status=401, response_headers=(("WWW-Authenticate", TYPE2),), after=1),
        exchange(TYPE3, status=200, after=2),
    )
    assert _fallbacks(results) == []
    assert [f.rule for f in results[2].findings] == ["legacy-auth"]


def test_basic_refused_then_basic_is_a_password_problem_not_a_fallback() -> None:
    offers_basic = (*REFUSED, ("WWW-Authenticate", 'Basic realm="x"'))
    _, results = feed(
        exchange(basic("alice", "wrong"), status=401, response_headers=offers_basic),
        exchange(basic("alice", "right"), after=1),
    )
    assert _fallbacks(results) == []


def test_entries_are_judged_in_capture_time_order(tmp_path: Path) -> None:
    # A merged HAR lists the Basic retry before the refused probe it followed.
    probe = exchange("Bearer", status=401, response_headers=REFUSED)
    retry = exchange(basic("alice", "pw"), after=1)
    later_same_time = exchange(None, status=200, after=1)
    ordered = list(in_capture_time_order([retry, later_same_time, Notice("capture-gap", "n", "s"), probe]))
    assert [getattr(x, "id", "notice") for x in ordered] == [probe.id, retry.id, later_same_time.id, "notice"]
    _, results = feed(*[x for x in ordered if isinstance(x, HttpExchange)])
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


def test_a_refused_bearer_probe_then_basic_from_the_same_client_is_a_fallback() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    retry = exchange(basic("alice", "pw"), after=1)
    results = run(challenge, retry)
    assert rules_of(results[0]) == []
    assert rules_of(results[1]) == ["basic-credentials", "basic-fallback"]
    fallback = results[1].findings[1]
    assert fallback.evidence["oauth_attempt"] == challenge.id
    assert fallback.evidence["oauth_outcome"] == "refused"


def test_basic_from_another_client_or_host_is_not_a_fallback() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    other_client = exchange(basic("alice", "pw"), client="10.0.0.8", after=1)
    other_host = exchange(basic("alice", "pw"), host="autodiscover.contoso.com", after=1)
    results = run(challenge, other_client, other_host)
    assert "basic-fallback" not in rules_of(results[1]) + rules_of(results[2])


def test_fallback_window_is_bounded() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    much_later = exchange(basic("alice", "pw"), after=3600)
    assert "basic-fallback" not in rules_of(run(challenge, much_later)[1])


def test_fallback_to_negotiate_is_reported_once_per_challenge() -> None:
    challenge = exchange("Bearer", status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),))
    first = exchange("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag", after=1)
    second = exchange("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag", after=2)
    results = run(challenge, first, second)
    assert "basic-fallback" in rules_of(results[1])
    assert "basic-fallback" not in rules_of(results[2])


def test_client_state_is_bounded() -> None:
    analyzer = Analyzer(Trust(), Policy(), max_state=100)
    challenge = (("WWW-Authenticate", BEARER_CHALLENGE),)
    for n in range(500):
        analyzer.feed(exchange("Bearer", status=401, response_headers=challenge, client=f"10.0.{n // 256}.{n % 256}"))
    assert len(analyzer._oauth_failed) == 100
    # The most recent clients are the ones remembered: a fallback from the last one is still seen.
    retry = analyzer.feed(exchange(basic("a", "b"), client="10.0.1.243", after=1))
    assert isinstance(retry, ExchangeResult) and "basic-fallback" in rules_of(retry)
