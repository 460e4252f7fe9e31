"""Flows that repeat a clean exchange are published without judging them again: what they get must be exactly what
the full path gives, in the report and on the flow, whatever changes between the repeats."""

from __future__ import annotations

import copy
import gzip
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.log import MitmLogHandler

from inspector.analyze import ExchangeResult
from inspector.body_errors import raw_answer_has_error
from inspector.lab.outbound import EWS_ERROR_TEMPLATE, EWS_SUCCESS
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live import repeats
from inspector.live.addon import OAuthInspector
from inspector.live.annotate import METADATA_KEY
from inspector.model import Endpoint
from inspector.policy import DEFAULT_SKEW
from inspector.tokens import decode_bearer, numeric_time
from tests.live.conftest import TrustFiles, addon_context, configure

Variation = Callable[[http.HTTPFlow], None]


def _healthy(kit: TokenKit) -> http.HTTPFlow:
    exchange = next(e for e, expects in lab_exchanges(kit) if not expects and e.response and e.response.status == 200)
    flow = flow_from_exchange(exchange)
    flow.live = True
    return flow


def _window(flow: http.HTTPFlow) -> tuple[int, int]:
    """The latest nbf and earliest exp of the flow's outer and actor tokens."""
    token = decode_bearer(flow.request.headers["Authorization"].split(" ", 1)[1])
    assert token.outer is not None and token.actor is not None
    nbfs = [numeric_time(jwt.claims.get("nbf")) for jwt in (token.outer, token.actor)]
    exps = [numeric_time(jwt.claims.get("exp")) for jwt in (token.outer, token.actor)]
    return max(n for n in nbfs if n is not None), min(e for e in exps if e is not None)


def _at(seconds: float) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.request.timestamp_start = seconds
        flow.response.timestamp_start = seconds + 0.03  # type: ignore[union-attr]

    return vary


def _header(name: str, value: str, *, response: bool = False) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        message = flow.response if response else flow.request
        assert message is not None
        message.headers.add(name, value)

    return vary


def _status(code: int) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.response.status_code = code  # type: ignore[union-attr]

    return vary


def _client(host: str, port: int) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.client_conn.peername = (host, port)

    return vary


def _set_host(value: str) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.request.headers["Host"] = value

    return vary


def _flow_id(value: object) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.id = value  # type: ignore[assignment]  # a crafted .mitm file can carry any id

    return vary


def _peername(value: object) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        flow.client_conn.peername = value  # type: ignore[assignment]

    return vary


def _replayed(flow: http.HTTPFlow) -> None:
    flow.live = False


def _same(flow: http.HTTPFlow) -> None:
    pass


def _variations(kit: TokenKit) -> Iterator[tuple[str, Variation]]:
    start, end = _window(_healthy(kit))
    skew = DEFAULT_SKEW
    yield "same", _same
    yield "same again", _same
    yield "other client", _client("10.0.0.77", 61000)
    yield "IPv6 client", _client("2001:db8::7", 443)
    yield "inside the window, at its end", _at(end + skew)
    yield "a second after the window", _at(end + skew + 1)
    yield "inside the window, at its start", _at(start - skew)
    yield "a second before the window", _at(start - skew - 1)
    yield "long after, when the certificate has expired too", _at(end + 20 * 365 * 86400)
    yield "back inside", _same
    yield "other status", _status(500)
    yield "same other status", _status(500)
    yield "401", _status(401)
    yield "challenge on a 200", _header("WWW-Authenticate", 'Bearer client_id="00000002"', response=True)
    yield "diagnostics on a 200", _header("X-MS-Diagnostics", "2000001;reason=x", response=True)
    yield "two Authorization headers", _header("Authorization", "Basic dXNlcjpwYXNz")
    yield "other host", _set_host("evil.example.com")
    yield "host in other case", _set_host("MAIL.contoso.com")
    yield "second Host header", _header("Host", "other.example.com")
    # whitespace before a colon: the full path trims the name and reports it (found by review: taken as a repeat)
    yield "Authorization<TAB> second credential", _header("Authorization\t", "Basic dXNlcjpwYXNz")
    yield "Host<SP>", _header("Host ", "other.example.com")
    yield "x-ms-diagnostics<SP> on a 200", _header("x-ms-diagnostics ", "2000001;reason=x", response=True)
    yield "WWW-Authenticate<SP> on a 200", _header("WWW-Authenticate ", 'Bearer client_id="00000002"', response=True)
    yield "a port given as a float", _peername(("10.0.0.77", 61000.0))
    yield "a port given as a bool", _peername(("10.0.0.77", True))
    yield "a port in a list", _peername(("10.0.0.77", [61000]))
    yield "a very long host", _peername(("h" * 5000, 61000))
    yield "a flow id that is a number", _flow_id(7)
    yield "a flow id that is None", _flow_id(None)
    yield "replay", _replayed
    yield "replay again", _replayed
    yield "no timestamp", _at(float("nan"))
    yield "same at the end", _same


def _run(
    flows: list[http.HTTPFlow], trust_files: TrustFiles, report: Path, *, repeats: bool
) -> tuple[list[str], list[tuple[Any, str, str]], int]:
    addon = OAuthInspector()
    addon.repeats_enabled = repeats
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_report=str(report))
        for flow in flows:
            addon.response(flow)
        published = addon.repeats.published if addon.repeats is not None else 0
        addon.done()
    for handler in logging.getLogger().handlers:  # the closed context's log handler; a second context follows
        if isinstance(handler, MitmLogHandler):
            handler.uninstall()
    annotations = [(flow.metadata.get(METADATA_KEY), flow.comment, flow.marked) for flow in flows]
    return report.read_text(encoding="utf-8").splitlines(), annotations, published


def _twice(kit: TokenKit, variations: Iterator[tuple[str, Variation]]) -> tuple[list[http.HTTPFlow], list[str]]:
    """Healthy flows, each variation applied to two of them (the second may come from the remembered first), with
    distinct ids, and each flow's variation name."""
    flows: list[http.HTTPFlow] = []
    named: list[str] = []
    for name, vary in variations:
        for _ in range(2):
            flow = _healthy(kit)
            flow.id = str(uuid.UUID(int=len(flows) + 1))
            vary(flow)
            flows.append(flow)
            named.append(name)
    return flows, named


def test_repeats_get_exactly_what_the_full_path_gives(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    flows, named = _twice(lab_kit, _variations(lab_kit))
    full_lines, full_annotations, none = _run(copy.deepcopy(flows), trust_files, tmp_path / "full.jsonl", repeats=False)
    fast_lines, fast_annotations, published = _run(flows, trust_files, tmp_path / "fast.jsonl", repeats=True)
    assert none == 0
    assert published >= len(flows) // 3, "the repeats were not taken the short way"
    assert len(fast_lines) == len(full_lines)
    for name, fast, full in zip(named, fast_lines[: len(named)], full_lines[: len(named)], strict=True):
        assert fast == full, name
    assert fast_lines[len(named) :] == full_lines[len(named) :]  # the summary counts them alike
    for name, fast_annotation, full_annotation in zip(named, fast_annotations, full_annotations, strict=True):
        assert fast_annotation == full_annotation, name


def test_only_clean_exchanges_are_taken_the_short_way(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    flows = []
    for exchange, _ in lab_exchanges(lab_kit) * 2:
        flow = flow_from_exchange(exchange)
        flow.id = str(uuid.uuid4())
        flow.live = True
        flows.append(flow)
    full_lines, full_annotations, _ = _run(copy.deepcopy(flows), trust_files, tmp_path / "full.jsonl", repeats=False)
    fast_lines, fast_annotations, published = _run(flows, trust_files, tmp_path / "fast.jsonl", repeats=True)
    assert (fast_lines, fast_annotations) == (full_lines, full_annotations)
    clean = sum(1 for _, expects in lab_exchanges(lab_kit) if not expects)
    assert 0 < published <= clean  # the second round's clean bearer exchanges at most, never one with a finding


def test_a_repeat_metadata_is_its_own(lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path) -> None:
    flows = [_healthy(lab_kit) for _ in range(3)]
    for number, flow in enumerate(flows):
        flow.id = str(uuid.UUID(int=number + 1))
    _run(flows, trust_files, tmp_path / "report.jsonl", repeats=True)
    first, second, third = (flow.metadata[METADATA_KEY] for flow in flows)
    assert (first["id"], second["id"], third["id"]) == ("live:1", "live:2", "live:3")
    second["findings"].append({"rule": "added by a user's script"})
    second["auth"]["scheme"] = "changed"
    assert third["findings"] == [] and third["auth"]["scheme"] == "bearer"


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_the_window_edges_match_the_full_check(
    offset: int, lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    flows = [_healthy(lab_kit), _healthy(lab_kit)]
    _, end = _window(flows[0])
    _at(end + DEFAULT_SKEW + offset)(flows[1])
    lines, _, published = _run(flows, trust_files, tmp_path / "report.jsonl", repeats=True)
    expired = '"token-expired"' in lines[1]
    assert expired is (offset > 0)
    assert published == (0 if offset > 0 else 1)
    assert datetime.fromisoformat(lines[1].split('"time":"', 1)[1].split('"', 1)[0]).timestamp() == pytest.approx(
        end + DEFAULT_SKEW + offset
    )


def test_the_summary_says_how_many_flows_were_repeats(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        for _ in range(3):
            addon.response(_healthy(lab_kit))
        configure(context, addon, oauth_skew=120)  # a new analyzer: the counts carry over, the memory does not
        for _ in range(2):
            addon.response(_healthy(lab_kit))
        summary = addon.summary()
        addon.done()
    assert "5 exchanges judged (3 of them repeats of a clean exchange, published from its verdict)" in summary


def _body(content: bytes, content_type: str | None = "text/xml; charset=utf-8", coding: str | None = None) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        headers = flow.response.headers
        del headers["Content-Type"]
        if content_type is not None:
            headers.add("Content-Type", content_type)
        if coding is not None:
            headers["Content-Encoding"] = coding
        flow.response.raw_content = gzip.compress(content) if coding == "gzip" else content

    return vary


def _two_codings(content: bytes) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        flow.response.headers.add("Content-Encoding", "gzip")
        flow.response.headers.add("content-encoding", "identity")
        flow.response.raw_content = gzip.compress(content)

    return vary


def _two_types(first: str, second: str, content: bytes) -> Variation:
    def vary(flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        del flow.response.headers["Content-Type"]
        flow.response.headers.add("content-type", first)
        flow.response.headers.add("Content-Type", second)
        flow.response.raw_content = content

    return vary


_EWS_ERROR = EWS_ERROR_TEMPLATE.format(text="The remote server returned an error: (401) Unauthorized.", code="x")
_EWS_ERROR_BYTES = _EWS_ERROR.encode()
_JSON_ERROR = b'{"error":{"code":"-2147024891, System.UnauthorizedAccessException","message":"3000003; invalid"}}'


def _body_variations() -> Iterator[tuple[str, Variation]]:
    yield "same", _same
    yield "another clean body", _body(EWS_SUCCESS.encode())
    yield "an EWS error", _body(_EWS_ERROR_BYTES)
    yield "an EWS error, gzip", _body(_EWS_ERROR_BYTES, coding="gzip")
    yield "an EWS error, identity coding", _body(_EWS_ERROR_BYTES, coding="identity")
    yield "an EWS error under an upper-case type", _body(_EWS_ERROR_BYTES, "TEXT/XML; Charset=UTF-8")
    yield "an EWS error under a type no rule reads", _body(_EWS_ERROR_BYTES, "text/html")
    yield "an EWS error without a type", _body(_EWS_ERROR_BYTES, None)
    yield "an EWS error after a first type no rule reads", _two_types("text/plain", "text/xml", _EWS_ERROR_BYTES)
    yield "a clean body after a first type no rule reads", _two_types("text/plain", "text/xml", b"<a/>")
    yield "an EWS error after a first XML type", _two_types("application/xml", "text/html", _EWS_ERROR_BYTES)
    yield "an EWS error, gzip, then identity", _two_codings(_EWS_ERROR_BYTES)
    yield "a JSON error", _body(_JSON_ERROR, "application/json")
    yield "a JSON error under a +json type", _body(_JSON_ERROR, "application/problem+json")
    yield "an empty body", _body(b"")
    yield "same at the end", _same


def test_a_repeat_body_is_read_as_the_full_path_reads_it(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    """The repeat path reads only a body's first Content-Type and Content-Encoding, and a body the same as the
    remembered one not at all: every flow still gets what the full path gives it."""
    flows, named = _twice(lab_kit, _body_variations())
    full_lines, full_annotations, _ = _run(copy.deepcopy(flows), trust_files, tmp_path / "full.jsonl", repeats=False)
    fast_lines, fast_annotations, published = _run(flows, trust_files, tmp_path / "fast.jsonl", repeats=True)
    errors = sum(1 for line in full_lines if '"response-error-in-body"' in line)
    assert errors >= 10  # the error bodies were read, on both paths
    assert published >= len(flows) - errors - 2, "the repeats were not taken the short way"
    for name, fast, full in zip(named, fast_lines, full_lines, strict=False):
        assert fast == full, name
    assert fast_lines == full_lines
    assert fast_annotations == full_annotations


def test_an_answer_with_the_remembered_bytes_is_not_read_again(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[bytes | None] = []

    def counted(status: int, headers: Any, raw: bytes | None) -> bool:
        reads.append(raw)
        return raw_answer_has_error(status, headers, raw)

    monkeypatch.setattr(repeats, "raw_answer_has_error", counted)
    flows = [_healthy(lab_kit) for _ in range(4)]
    _body(EWS_SUCCESS.encode())(flows[-1])
    for number, flow in enumerate(flows):
        flow.id = str(uuid.UUID(int=number + 1))
    _, _, published = _run(flows, trust_files, tmp_path / "report.jsonl", repeats=True)
    assert published == 3
    # read when the first was remembered, and for the last, whose body differs; not for the two in between
    assert reads == [flows[0].response.raw_content, EWS_SUCCESS.encode()]  # type: ignore[union-attr]


def test_an_error_the_filters_leave_out_is_not_remembered(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    """With the body's finding filtered out, the flow looks clean to the report; it is still not the clean exchange
    a repeat may be published from (as before, when the key itself read the body)."""
    flows = [_healthy(lab_kit) for _ in range(3)]
    _body(_EWS_ERROR_BYTES)(flows[0])
    for number, flow in enumerate(flows):
        flow.id = str(uuid.UUID(int=number + 1))
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_rule=["token-expired"])
        published = []
        for flow in flows:
            addon.response(flow)
            assert addon.repeats is not None
            published.append(addon.repeats.published)
        addon.done()
    assert published == [0, 0, 1]  # the second is judged in full and remembered; the third repeats it


class _Observing:
    """The inventory with ``observe`` recording what it is given (a stand-in object: a compiled inventory's methods
    cannot be replaced on the instance)."""

    def __init__(self, inner: object, seen: list[ExchangeResult]) -> None:
        self.inner, self.seen = inner, seen

    def observe(self, result: ExchangeResult) -> None:
        self.seen.append(result)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_repeat_is_observed_as_the_judged_exchange_moved_to_its_flow(
    lab_kit: TokenKit, trust_files: TrustFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the inventory observes of a repeat is dataclasses.replace() of the remembered result (the repeat path
    builds it by position)."""
    flows = [_healthy(lab_kit), _healthy(lab_kit)]
    flows[1].id = str(uuid.uuid4())
    _client("10.0.0.77", 61000)(flows[1])
    _at(flows[0].request.timestamp_start + 60)(flows[1])
    flows[1].server_conn.peername = ("10.9.9.9", 8443)
    addon = OAuthInspector()
    seen: list[ExchangeResult] = []
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        monkeypatch.setattr(addon, "inventory", _Observing(addon.inventory, seen))
        for flow in flows:
            addon.response(flow)
        assert addon.repeats is not None and addon.repeats.published == 1
    judged, observed = seen
    expected = replace(
        judged.exchange,
        id="live:2",
        time=datetime.fromtimestamp(flows[1].request.timestamp_start, UTC),
        client=Endpoint("10.0.0.77", 61000),
        server=Endpoint("10.9.9.9", 8443),
    )
    assert observed == replace(judged, exchange=expected)
    assert observed.exchange.response is judged.exchange.response  # the same servers answered: not remade


def test_the_content_types_settled_are_bounded() -> None:
    for number in range(repeats.MAX_CONTENT_TYPES * 2):
        assert not repeats._error_in(200, f"text/x-{number}".encode(), None, _EWS_ERROR_BYTES)
        assert len(repeats._READABLE) <= repeats.MAX_CONTENT_TYPES
    assert repeats._error_in(200, b"text/xml", None, _EWS_ERROR_BYTES)
