"""Results as JSON-ready data: the head/tail shape every writer and the live repeats share, and redaction."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import replace

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.scenarios import BASIC_PASSWORD
from inspector.model import Endpoint, Provenance
from inspector.policy import Policy
from inspector.report.serialize import (
    REDACTED,
    ExchangeEncoder,
    FindingEncoder,
    FindingTexts,
    HeaderText,
    Placeholder,
    TailTexts,
    dump_json,
    exchange_data,
    exchange_head,
    exchange_head_text,
    exchange_tail,
    finding_data,
    head_text,
    header_list,
    row_finding_text,
    summary_data,
    utc_iso,
)
from inspector.rules import finding
from inspector.tally import Totals
from inspector.tokens import b64url_encode
from inspector.trust import Trust
from tests.builders import exchange


def _with_token(results: list[ExchangeResult]) -> ExchangeResult:
    return next(r for r in results if r.auth.token is not None and r.auth.token.decoded.actor is not None)


def _basic(results: list[ExchangeResult]) -> ExchangeResult:
    return next(r for r in results if r.auth.scheme == "basic")


def test_the_head_is_the_flows_own_part_and_the_tail_the_rest(lab_results: list[ExchangeResult]) -> None:
    result = _with_token(lab_results)
    head = exchange_head(result.exchange)
    tail = exchange_tail(result, show_secrets=False)
    assert list(head) == ["id", "source", "provenance", "time", "client", "server"]
    assert list(tail)[:5] == ["scheme", "method", "host", "target", "status"]
    assert exchange_data(result, show_secrets=False) == {**head, **tail}


@pytest.mark.parametrize("show_secrets", [False, True])
def test_the_encoders_text_is_its_data_and_the_token_text_is_cached(
    lab_results: list[ExchangeResult], show_secrets: bool
) -> None:
    encoder = ExchangeEncoder(show_secrets=show_secrets)
    for result in lab_results * 2:
        findings = [finding_data(f) for f in result.findings]
        encoded = encoder.encode(result, findings=findings)
        assert encoded.line == encoded.head_text + encoded.tail_text
        assert encoded.head_text == head_text(encoded.head)
        assert json.loads(encoded.line) == {"type": "exchange", **encoded.data}
        assert encoded.line == dump_json({"type": "exchange", **encoded.data})
        plain = encoder.encode(result, line_type=None)
        assert json.loads(plain.line) == exchange_data(result, show_secrets=show_secrets) | {"auth": plain.data["auth"]}
        assert "findings" not in plain.data


@pytest.mark.parametrize("show_secrets", [False, True])
def test_the_writers_text_only_line_is_the_encoders_line(lab_results: list[ExchangeResult], show_secrets: bool) -> None:
    # The writers skip the token's JSON-native copy; their text must not differ by a byte. Fresh encoders on both
    # sides, and each token seen a second time from the cache.
    with_data, text_only = ExchangeEncoder(show_secrets=show_secrets), ExchangeEncoder(show_secrets=show_secrets)
    # Claims strict JSON cannot hold as they are (NaN, a lone surrogate) and wire text that is not plain.
    odd_claims = b'{"iss":"x@y","n":NaN,"s":"\\ud800","t":"\\u00e9<"}'
    odd = f"Bearer {b64url_encode(b'{"alg":"none"}')}.{b64url_encode(odd_claims)}."
    analyzer = Analyzer(Trust.of([]), Policy())
    hostile = [analyzer.analyse(exchange(odd, target="/\u00e9?\ud800", exchange_id=f"odd:{n}")) for n in range(2)]
    assert '"n":"NaN"' in text_only.line(hostile[0]) and "\\\\ud800" in text_only.line(hostile[0])
    for result in [*lab_results, *hostile] * 2:
        findings = [finding_data(f) for f in result.findings]
        assert text_only.line(result, findings=findings) == with_data.encode(result, findings=findings).line
        assert text_only.line(result, line_type=None) == with_data.encode(result, line_type=None).line


def test_a_head_written_straight_from_the_exchange_is_the_heads_encoded_text(
    lab_results: list[ExchangeResult],
) -> None:
    plain = exchange("Basic dTpw")
    odd = [
        replace(plain, id='caf\xe9 \u2028 \\ " bad\udc80name.pcap:3', client=None, server=None, time=None),
        replace(plain, id="\ud83d\ude00:1", provenance=replace(plain.provenance, source="\ud800.pcap", entry=0)),
        replace(
            plain,
            provenance=Provenance(
                kind="pcap",
                source="cap.pcapng",
                flow_id="f-\x1b",
                connection="[fe80::1]:51123 -> 10.0.0.9:443",
                request_frames=(3, 4, 1_000_000),
                response_frames=(7,),
            ),
            client=Endpoint("fe80::1", 51123),
            server=Endpoint("mail.contoso.com"),
        ),
        # What a crafted file carries where text or a number belongs: made the careful way.
        replace(plain, provenance=replace(plain.provenance, flow_id=math.nan, entry="1")),  # type: ignore[arg-type]
        replace(plain, provenance=replace(plain.provenance, request_frames=(1.5, None))),  # type: ignore[arg-type]
    ]
    for item in [*(r.exchange for r in lab_results), plain, *odd]:
        for line_type in ("exchange", None, "repeat"):
            assert exchange_head_text(item, line_type=line_type) == head_text(exchange_head(item), line_type=line_type)


def test_a_tail_is_made_once_and_never_given_to_an_exchange_whose_tail_differs(
    lab_results: list[ExchangeResult],
) -> None:
    made: list[ExchangeResult] = []

    def make(result: ExchangeResult) -> str:
        made.append(result)
        return dump_json(exchange_tail(result, show_secrets=False))

    result = _with_token(lab_results)
    # Each differs from the first in one part of its tail only, or (the first two) in none.
    request = result.exchange.request
    others = [
        replace(result, exchange=replace(result.exchange, id="other:1", time=None)),
        replace(result, challenges=(*result.challenges,)),  # the same tuple
        replace(result, exchange=replace(result.exchange, request=replace(request, target="/x"))),
        replace(result, exchange=replace(result.exchange, request=replace(request, method="GET"))),
        replace(result, exchange=replace(result.exchange, request=replace(request, headers=(("Host", "b"),)))),
        replace(result, exchange=replace(result.exchange, scheme="http")),
        replace(result, auth=replace(result.auth, token=replace(result.auth.token))),  # an equal token, not it
        replace(result, exchange=replace(result.exchange, response=None)),
    ]
    # An unhashable value where text belongs (a crafted file): made each time, never remembered.
    odd = replace(result, exchange=replace(result.exchange, request=replace(request, method=["GET"])))  # type: ignore[arg-type]
    assert TailTexts(make, size=16).text(odd) == dump_json(exchange_tail(odd, show_secrets=False))
    for size in (16, 3):  # room for all; emptied when full
        tails = TailTexts(make, size=size)
        made.clear()
        for item in [result, *others] * 2:
            assert tails.text(item) == dump_json(exchange_tail(item, show_secrets=False))
        assert len(made) == 7 * (1 if size == 16 else 2), size  # the first three share one tail


def test_a_tail_memo_holds_what_its_keys_name_by_identity(lab_results: list[ExchangeResult]) -> None:
    # An id in a key stays that object's while the entry lives: a token made, encoded, dropped and another made
    # in its place cannot be taken for it.
    encoder = ExchangeEncoder(show_secrets=False)
    result = _with_token(lab_results)
    for n in range(50):
        token = replace(result.auth.token, kind=f"kind-{n}")
        fresh = replace(result, auth=replace(result.auth, token=token))
        assert f'"kind":"kind-{n}"' in encoder.line(fresh)
        del token, fresh


def test_header_lists_are_remembered_whole_and_apart() -> None:
    headers = HeaderText(show_secrets=False, lists=2)
    lists = [
        (("Host", "a"), ("Authorization", "Bearer " + "x" * 600)),
        (("Host", "a"), ("Authorization", "Basic dTpw")),
        (("Host", "b"), ("Authorization", "Bearer " + "x" * 600)),
        (("Host", "a"), ("Cookie", "c=" + "y" * 40000)),  # too long to be held
        (),
    ]
    for item in lists * 3:
        assert headers.text(item) == dump_json(header_list(item, show_secrets=False))
    assert headers.text(lists[0]) is headers.text(lists[0])


def test_redaction_by_default_shows_claims_but_no_signature_or_nested_actor_token(
    lab_results: list[ExchangeResult],
) -> None:
    result = _with_token(lab_results)
    token = exchange_data(result, show_secrets=False)["auth"]["token"]
    assert token["outer"]["claims"]["aud"]
    assert "signature" not in token["actor"]
    actortoken = token["outer"]["claims"].get("actortoken")
    assert actortoken is None or actortoken.startswith("[actor token")
    shown = exchange_data(result, show_secrets=True)["auth"]["token"]
    assert shown["actor"]["signature"]
    if actortoken is not None:
        assert shown["outer"]["claims"]["actortoken"].count(".") == 2


def test_basic_shows_the_user_only_unless_secrets_are_asked_for(lab_results: list[ExchangeResult]) -> None:
    result = _basic(lab_results)
    hidden = dump_json(exchange_data(result, show_secrets=False, with_headers=True))
    assert BASIC_PASSWORD not in hidden
    assert base64.b64encode(BASIC_PASSWORD.encode()).decode()[:8] not in hidden
    assert '"user":"' in hidden
    shown = exchange_data(result, show_secrets=True)["auth"]
    assert shown["password"] == BASIC_PASSWORD


def test_secret_headers_keep_their_scheme_only() -> None:
    headers = (
        ("Authorization", "Bearer eyJ.abc.def"),
        ("Cookie", "a=b"),
        ("Proxy-Authorization", "Basic dXNlcjpw"),
        ("Host", "mail"),
    )
    assert header_list(headers, show_secrets=False) == [
        ["Authorization", f"Bearer {REDACTED}"],
        ["Cookie", REDACTED],
        ["Proxy-Authorization", f"Basic {REDACTED}"],
        ["Host", "mail"],
    ]
    assert header_list(headers, show_secrets=True)[0] == ["Authorization", "Bearer eyJ.abc.def"]


def test_challenge_blobs_are_redacted(lab_results: list[ExchangeResult]) -> None:
    with_blob = [r for r in lab_results if any(c.token68 for c in r.challenges)]
    assert with_blob, "the lab's NTLM handshake carries a challenge blob"
    for result in with_blob:
        challenges = exchange_data(result, show_secrets=False)["challenges"]
        assert all(c.get("token68") in (None, REDACTED) for c in challenges)


def test_findings_and_the_summary_as_data() -> None:
    item = finding("capture-gap", "gap of 10 bytes", "cap:3", frames=(4, 5))
    assert finding_data(item) == {
        "rule": "capture-gap",
        "severity": "warning",
        "title": "Capture gap",
        "message": "gap of 10 bytes",
        "exchange": "cap:3",
        "evidence": {"frames": [4, 5]},
    }
    totals = Totals()
    totals.add(item)
    assert summary_data(totals)["rules"] == {"capture-gap": 1}


def test_times_are_utc_with_a_z() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 4, 21, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc_iso(moment) == "2026-04-21T10:00:00Z"
    assert utc_iso(None) is None


def test_every_findings_evidence_is_json_native_as_the_engine_made_it(lab_results: list[ExchangeResult]) -> None:
    """No round trip is needed before the report or a flow's metadata takes the evidence."""
    from inspector.jsonable import json_native

    findings = [f for r in lab_results for f in r.findings]
    assert findings
    for item in findings:
        assert dump_json(json_native(item.evidence)) == dump_json(item.evidence)
        assert json_native(item.evidence) == item.evidence
        assert repr(json_native(item.evidence)) == repr(item.evidence), item.rule  # no tuples, no subclasses


def test_a_finding_encoder_writes_what_dump_json_writes_and_encodes_shared_evidence_once() -> None:
    encoder = FindingEncoder(size=2)
    base = finding("token-expired", "The token expired \ud800 at 10:00", None, exp="2026\udfff", at=[1.5, None])
    copies = [
        replace(base, exchange="cap.pcap:1"),
        replace(base, exchange="cap.pcap:2"),  # a token's finding for another exchange: the same evidence object
        replace(base, exchange=None),
        replace(base, exchange="x", message="Another message"),  # the same evidence, another message
        replace(base, exchange="x", suppressed="known \x1b[31m"),
        finding("basic-credentials", "Basic", "h:1", user="u"),
        finding("basic-credentials", "Basic", "h:2", user="u"),  # equal evidence, another object
        replace(base, exchange='quote " and \\ backslash'),
        replace(base, exchange="caf\xe9 \u2028.pcap:3"),  # ids are made of file names: any text
        replace(base, exchange="bad\udc80name.pcap:4"),  # an undecodable file name byte (surrogateescape)
        replace(base, exchange="\ud83d\ude00.pcap:5"),  # a pair, read from a JSON escape
    ]
    rows = FindingTexts(row_finding_text, size=2)
    for item in copies * 2:  # the second time from the cache (at most two remembered: some evicted)
        assert encoder.text(item) == dump_json(finding_data(item))
        row = {k: v for k, v in finding_data(item).items() if k not in ("title", "exchange")}
        assert rows.get(item) == dump_json(row)
    assert copies[0].evidence is copies[1].evidence


def test_a_placeholder_is_filled_only_where_it_stands_once() -> None:
    place = Placeholder("test")
    encoded = dump_json({"a": 1, "here": place.value, "z": "\u2028"})
    assert place.put(encoded, '{"made":"once"}') == '{"a":1,"here":{"made":"once"},"z":"\\u2028"}'
    assert place.split(encoded) == ('{"a":1,"here":', ',"z":"\\u2028"}')
    assert place.put(dump_json({"a": 1}), "x") is None  # not there
    assert place.put(dump_json([place.value, place.value]), "x") is None  # twice
    assert Placeholder("test").value != place.value  # random: no wire text can spell it


def test_two_surrogate_halves_are_text_wherever_they_stand() -> None:
    from inspector.jsonable import json_native

    # In a Python str, "\ud83d\ude00" is two lone halves (a character beyond the BMP is one code point): text, as
    # json_native makes it, whether the value also holds something else that needs the careful walk or not.
    halves, emoji = "\ud83d\ude00", "\U0001f600"
    assert dump_json(halves) == '"\\\\ud83d\\\\ude00"'
    assert dump_json({"a": halves, "b": "\udfff"}) == '{"a":"\\\\ud83d\\\\ude00","b":"\\\\udfff"}'
    assert dump_json(emoji) == '"\\ud83d\\ude00"' == dump_json(json_native(emoji))
