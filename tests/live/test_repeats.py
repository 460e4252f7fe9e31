"""Flows that repeat a clean exchange are published without judging them again: what they get must be exactly what
the full path gives, in the report and on the flow, whatever changes between the repeats."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.log import MitmLogHandler

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector
from inspector.live.annotate import METADATA_KEY
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


def test_repeats_get_exactly_what_the_full_path_gives(
    lab_kit: TokenKit, trust_files: TrustFiles, tmp_path: Path
) -> None:
    flows: list[http.HTTPFlow] = []
    named: list[str] = []
    for name, vary in _variations(lab_kit):
        for _ in range(2):  # each variation twice: the second may come from the remembered first
            flow = _healthy(lab_kit)
            flow.id = str(uuid.UUID(int=len(flows) + 1))
            vary(flow)
            flows.append(flow)
            named.append(name)
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
