"""Responses are paired with requests on TCP evidence (acknowledgement numbers), never by turn alone after
something was lost or skipped: a request whose answer the capture lacks gets status unknown and a capture-gap."""

from __future__ import annotations

from pathlib import Path

from inspector.model import HttpExchange
from tests.sources.pcap.capture_builder import Conversation, capture, frames_of, write_pcap
from tests.sources.pcap.test_reader import OK, read

BEARER = b"GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Bearer eyJ0.eyJ1.c2ln\r\n\r\n"
BASIC = b"GET /ews/exchange.asmx HTTP/1.1\r\nHost: mail.contoso.com\r\nAuthorization: Basic dTpw\r\n\r\n"
REFUSED = b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="x"\r\nContent-Length: 0\r\n\r\n'


def _statuses(exchanges: list[HttpExchange]) -> list[tuple[str, int | None]]:
    return [(x.request.header("authorization") or "", x.response.status if x.response else None) for x in exchanges]


def test_a_lost_401_at_the_start_of_a_capture_leaves_the_bearer_unanswered(tmp_path: Path) -> None:
    # The capture starts mid-connection (no handshake); the 401 that refused the forged Bearer was not captured,
    # but the client's ACK of it was: the 200 answers the Basic retry, not the Bearer.
    conv = Conversation()
    conv.send(True, BEARER)
    lost = conv.send(False, REFUSED)
    conv.send(True, BASIC)
    conv.send(False, OK)
    conv.close()
    conv.segments.remove(lost[0])
    exchanges, notices, _ = read(capture(conv), tmp_path)
    assert _statuses(exchanges) == [("Bearer eyJ0.eyJ1.c2ln", None), ("Basic dTpw", 200)]
    (gap,) = [n for n in notices if n.rule == "capture-gap"]
    assert gap.exchange_id == exchanges[0].id
    assert gap.evidence["bytes_missing"] == len(REFUSED)


def test_a_stream_start_that_was_skipped_is_resolved_by_the_acknowledgement(tmp_path: Path) -> None:
    # The server's first captured bytes are the tail of the Bearer's answer; the status line that follows
    # acknowledges the end of the Basic request, so it answers that one (http-ntlm.pcap frames 18/19/22/36).
    conv = Conversation()
    conv.send(True, BEARER)
    head_lost = conv.send(False, REFUSED[:30])
    conv.send(False, REFUSED[30:])
    conv.send(True, BASIC)
    conv.send(False, OK)
    conv.close()
    conv.segments.remove(head_lost[0])
    first_ack = next(s for s in conv.segments if s.from_client)
    first_ack.ack = head_lost[0].seq + 30  # the client's first ACK already covered the lost part
    exchanges, notices, _ = read(capture(conv), tmp_path)
    assert _statuses(exchanges) == [("Bearer eyJ0.eyJ1.c2ln", None), ("Basic dTpw", 200)]
    (gap,) = [n for n in notices if n.rule == "capture-gap"]
    assert gap.exchange_id == exchanges[0].id
    assert gap.evidence["effect"] == "response-lost"


def test_pipelined_requests_still_pair_in_order(tmp_path: Path) -> None:
    # Both requests reached the server before it answered: each response acknowledges both, so the
    # acknowledgement cannot tell them apart and the order decides.
    conv = Conversation().handshake()
    conv.send(True, BEARER + BASIC)
    conv.send(False, REFUSED)
    conv.send(False, OK)
    exchanges, notices, _ = read(capture(conv.close()), tmp_path)
    assert _statuses(exchanges) == [("Bearer eyJ0.eyJ1.c2ln", 401), ("Basic dTpw", 200)]
    assert notices == []


def test_a_response_acknowledging_nothing_of_the_request_is_not_paired(tmp_path: Path) -> None:
    # The capture starts as the server answers a request sent before it, the next request already on its way:
    # the answer's acknowledgement precedes that request's first byte, so it cannot be its answer.
    conv = Conversation()
    conv.send(True, BASIC, acked=False)
    early = conv.send(False, OK, acked=False)
    early[0].ack -= len(BASIC) + 10
    conv.send(False, REFUSED)
    exchanges, _, _ = read(capture(conv.close()), tmp_path)
    assert _statuses(exchanges) == [("Basic dTpw", 401)]


def test_a_request_with_a_body_names_its_last_frame(tmp_path: Path) -> None:
    conv = Conversation().handshake()
    body = b"x" * 3000
    sent = conv.send(True, b"POST /ews/exchange.asmx HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + body, mss=1000)
    conv.send(False, OK)
    packets = conv.close().packets()
    frame_of = {id(segment): index + 1 for index, segment in enumerate(conv.segments)}
    (exchange,), _, _ = read(write_pcap(frames_of(packets)), tmp_path)
    assert exchange.provenance.request_frames == (frame_of[id(sent[0])], frame_of[id(sent[-1])])


def test_the_answer_to_a_lost_request_is_not_given_to_the_next_one(tmp_path: Path) -> None:
    # The client's second request was not captured; the 401 that answered it acknowledges only up to its end,
    # short of the third request's head, so the third request is answered by the 200 after it, not by the 401.
    created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    conv = Conversation().handshake()
    conv.send(True, BASIC)
    conv.send(False, OK)
    lost = conv.send(True, BEARER)
    conv.send(False, REFUSED)
    conv.send(True, BASIC.replace(b"GET", b"PUT"))
    conv.send(False, created)
    conv.segments.remove(lost[0])
    exchanges, notices, _ = read(capture(conv.close()), tmp_path)
    assert [(x.request.method, x.response.status if x.response else None) for x in exchanges] == [
        ("GET", 200),
        ("PUT", 201),
    ]
    assert any(n.rule == "capture-gap" and n.evidence["direction"] == "client-to-server" for n in notices)


def test_the_issue_scenario_end_to_end_a_lost_401_then_basic(tmp_path: Path) -> None:
    # Mid-connection capture, the 401 that refused a forged Bearer lost, then a Basic retry answered 200: not
    # "forged Bearer answered 200" and "Basic unanswered", but a gap, an unknown status and a fallback.
    from inspector.analyze import Analyzer, ExchangeResult
    from inspector.policy import Policy
    from inspector.trust import Trust

    conv = Conversation()
    conv.send(True, BEARER)
    lost = conv.send(False, REFUSED)
    conv.send(True, BASIC)
    conv.send(False, OK)
    conv.segments.remove(lost[0])
    exchanges, notices, _ = read(capture(conv.close()), tmp_path)
    analyzer = Analyzer(Trust(), Policy())
    results = [analyzer.feed(item) for item in [*exchanges, *notices]]
    bearer, basic = (r for r in results if isinstance(r, ExchangeResult))
    assert bearer.exchange.response is None
    assert basic.exchange.response is not None and basic.exchange.response.status == 200
    fallback = next(f for f in basic.findings if f.rule == "basic-fallback")
    assert fallback.evidence["oauth_outcome"] == "unanswered"
    assert any(
        not isinstance(r, ExchangeResult) and r.rule == "capture-gap" and r.exchange == bearer.exchange.id
        for r in results
    )
