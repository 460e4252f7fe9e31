"""The output order of exchanges and notices, its bounded window, ids, and the cap on listed notices."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from inspector.model import Endpoint, HttpExchange, HttpRequest, HttpResponse, Notice
from inspector.sources.pcap.http1 import MessageHead
from inspector.sources.pcap.ordering import NOTICES_PER_RULE, OrderedOutput, PendingExchange, capture_time

CLIENT, SERVER = Endpoint("10.0.0.1", 50000), Endpoint("10.0.0.2", 80)


def pending(frame: int, target: str = "/") -> PendingExchange:
    head = MessageHead(HttpRequest("GET", target), "GET", 0, (frame,), 1_000_000 * frame, -1, 0, 0)
    return PendingExchange(head, "10.0.0.1:50000 -> 10.0.0.2:80", CLIENT, SERVER)


def answered(exchange: PendingExchange, frame: int) -> PendingExchange:
    exchange.response = MessageHead(HttpResponse(200, "OK"), "", 200, (frame,), 1_000_000 * frame, -1, 0, 0)
    return exchange


def targets(out: OrderedOutput) -> list[str]:
    return [item.request.target for item in out.items if isinstance(item, HttpExchange)]


def test_an_exchange_waits_for_an_earlier_unanswered_request() -> None:
    out = OrderedOutput("cap", "cap.pcap")
    first, second = pending(1, "/first"), pending(2, "/second")
    out.register(first)
    out.register(second)
    out.finish(answered(second, 3))
    out.release()
    assert out.items == []
    out.finish(answered(first, 4))
    out.release()
    assert targets(out) == ["/first", "/second"]
    assert [item.id for item in out.items if isinstance(item, HttpExchange)] == ["cap:1", "cap:2"]


def test_the_wait_is_bounded_by_the_window() -> None:
    out = OrderedOutput("cap", "cap.pcap", window=3)
    stuck = pending(1, "/long-poll")
    out.register(stuck)
    for frame in range(2, 7):
        later = pending(frame, f"/{frame}")
        out.register(later)
        out.finish(answered(later, frame + 100))
        out.release()
    assert targets(out) == ["/2", "/3"]  # released once more than three were waiting
    out.finish(stuck)
    out.release(everything=True)
    # The rest stays in order of the frame each request began in.
    assert targets(out) == ["/2", "/3", "/long-poll", "/4", "/5", "/6"]


def test_notices_take_their_place_by_frame_and_attach_to_their_exchange() -> None:
    out = OrderedOutput("cap", "cap.pcap")
    exchange = pending(5)
    out.register(exchange)
    exchange.notes.append(Notice("capture-gap", "lost bytes", "cap.pcap"))
    out.notice(3, Notice("http-malformed", "early", "cap.pcap"))
    out.finish(answered(exchange, 9))
    out.release()
    kinds = [(type(item).__name__, getattr(item, "exchange_id", None)) for item in out.items]
    assert kinds == [("Notice", None), ("HttpExchange", None), ("Notice", "cap:1")]


def test_too_many_notices_of_one_rule_are_summarised() -> None:
    out = OrderedOutput("cap", "cap.pcap")
    for frame in range(NOTICES_PER_RULE + 25):
        out.notice(frame, Notice("capture-gap", f"gap {frame}", "cap.pcap"))
    out.release()
    assert len(out.items) == NOTICES_PER_RULE
    (summary,) = out.summaries()
    assert summary.evidence == {"not_listed": 25}


def test_capture_times_are_exact_and_aware() -> None:
    assert capture_time(1_717_405_200_123_457) == datetime(2024, 6, 3, 9, 0, 0, 123457, tzinfo=UTC)
    assert capture_time(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert capture_time(-5) == datetime(1969, 12, 31, 23, 59, 59, 999995, tzinfo=UTC)
    assert capture_time(10**20).year == 9999  # clamped, not an error
    assert capture_time(-(10**20)).year == 1


def test_kept_bodies_are_added_to_messages_that_are_otherwise_unchanged() -> None:
    # The output builds the message with its body field by field (faster than dataclasses.replace): a field
    # added to HttpRequest or HttpResponse must be carried there too, which this comparison would show.
    out = OrderedOutput("cap", "cap.pcap")
    request = HttpRequest("POST", "/token", "HTTP/1.0", (("Content-Type", "application/x-www-form-urlencoded"),))
    response = HttpResponse(400, "Bad Request", "HTTP/1.0", (("Content-Type", "application/json"),))
    exchange = PendingExchange(
        MessageHead(request, "POST", 0, (1,), 1_000_000, -1, 0, 0), "10.0.0.1:50000 -> 10.0.0.2:80", CLIENT, SERVER
    )
    exchange.response = MessageHead(response, "", 400, (2,), 2_000_000, -1, 0, 0)
    exchange.request_body, exchange.response_body = b"grant_type=x", b'{"error":"invalid_grant"}'
    out.register(exchange)
    out.finish(exchange)
    out.release()
    (item,) = out.items
    assert isinstance(item, HttpExchange) and item.response is not None
    assert item.request == replace(request, body=b"grant_type=x")
    assert item.response == replace(response, body=b'{"error":"invalid_grant"}')
