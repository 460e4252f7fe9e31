"""The mitmproxy addon under mitmproxy's own test harness: options, verdicts on flows, reports, hostile flows."""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import json
import logging
import re
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import exceptions, http
from mitmproxy.addons.view import View
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils

from inspector.lab.certs import exchange_auth_cert, write_cer
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector
from inspector.live.annotate import MARKS, METADATA_KEY
from inspector.live.host import host_rewritten
from inspector.live.logs import MAX_INTERNAL_ERROR_LOGS
from inspector.model import HttpExchange
from tests.live.conftest import TrustFiles, addon_context, configure, report_lines

ANNOTATIONS = ("metadata", "comment", "marked")


def _rules(flow: http.HTTPFlow) -> set[str]:
    data = flow.metadata.get(METADATA_KEY)
    assert isinstance(data, dict), "the flow was not annotated"
    return {f["rule"] for f in data["findings"]}


def _state_without_annotations(flow: http.HTTPFlow) -> dict[str, Any]:
    state: dict[str, Any] = copy.deepcopy(flow.get_state())
    for name in ANNOTATIONS:
        state.pop(name, None)
    return state


@functools.cache
def _exchanges(kit: TokenKit) -> list[HttpExchange]:
    return [exchange for exchange, _ in lab_exchanges(kit)]


def _healthy_flow(kit: TokenKit, *, host: str | None = None) -> http.HTTPFlow:
    flow = flow_from_exchange(_exchanges(kit)[1])  # the healthy user token, answered 200
    flow.id = str(uuid.uuid4())
    flow.live = True
    if host is not None:
        flow.request.headers["Host"] = host
    return flow


# --- verdicts --------------------------------------------------------------------------------------------------


def test_lab_conversation_is_judged_annotated_and_reported(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]], tmp_path: Path
) -> None:
    for flow, expected in lab_flows:
        addon.response(flow)
        assert _rules(flow) == expected, flow.request.headers.get("Authorization", "")[:40]
        worst = flow.metadata[METADATA_KEY]["verdict"]
        if any(f["severity"] == "error" for f in flow.metadata[METADATA_KEY]["findings"]):
            assert (worst, flow.marked) == ("error", MARKS["error"])
        elif expected:
            assert (worst, flow.marked) == ("warning", MARKS["warning"])
        else:
            assert (worst, flow.marked) == ("ok", "")
        assert flow.comment.startswith("oauth-inspector: ")
        assert "\n" not in flow.comment
        assert all(rule in flow.comment for rule in expected if rule != "bearer-rejected") or "more" in flow.comment
        json.dumps(flow.metadata[METADATA_KEY])  # plain JSON, saved with the flow
    addon.done()
    lines = report_lines(tmp_path / "report.jsonl")
    exchanges = [line for line in lines if line["type"] == "exchange"]
    assert [{f["rule"] for f in line["findings"]} for line in exchanges] == [e for _, e in lab_flows]
    assert [line["provenance"]["flow_id"] for line in exchanges] == [f.id for f, _ in lab_flows]
    assert [line["id"] for line in exchanges] == [f"live:{n}" for n in range(1, len(lab_flows) + 1)]
    assert lines[-1]["type"] == "summary"
    assert lines[-1]["exchanges"] == len(lab_flows)


def test_report_lines_are_on_disk_before_the_end(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]], tmp_path: Path
) -> None:
    for count, (flow, _) in enumerate(lab_flows[:3], start=1):
        addon.response(flow)
        assert len(report_lines(tmp_path / "report.jsonl")) == count  # flushed per line, not at done


def test_findings_are_logged_with_their_rule_ids(
    addon: OAuthInspector,
    tctx: taddons.context,
    lab_flows: list[tuple[http.HTTPFlow, set[str]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="inspector.live")
    for flow, _ in lab_flows:
        addon.response(flow)
    messages = [r.getMessage() for r in caplog.records]
    for rule in set().union(*(e for _, e in lab_flows)):
        assert any(f"[{rule}]" in m for m in messages), rule
    assert all(r.levelno < logging.ERROR for r in caplog.records)  # mitmdump exits on errors logged at startup
    assert not any("Lab-Passw0rd" in m for m in messages)
    addon.done()
    assert "oauth-inspector summary" in caplog.records[-1].getMessage()


def test_basic_fallback_needs_the_same_client_and_host(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    challenge = next(f for f, e in lab_flows if e == {"basic-offered"} and f.client_conn.peername[0] == "10.0.0.20")
    basic = next(f for f, e in lab_flows if "basic-fallback" in e)
    other = copy.deepcopy(basic)
    other.id = "another-client"
    other.client_conn.peername = ("10.9.9.9", 50000)
    addon.response(challenge)
    addon.response(other)  # another client's Basic is no fallback of this one
    assert _rules(other) == {"basic-credentials"}
    addon.response(basic)
    assert "basic-fallback" in _rules(basic)


def test_flows_without_response_are_judged_in_the_error_hook(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit
) -> None:
    flow = _healthy_flow(lab_kit)
    flow.response = None
    flow.error = tflow.terr("connection refused")
    addon.error(flow)
    assert flow.metadata[METADATA_KEY]["status"] is None
    assert flow.metadata[METADATA_KEY]["auth"]["token"]["signature"] == "valid"
    answered = _healthy_flow(lab_kit)
    addon.response(answered)
    answered.error = tflow.terr("client disconnected")
    addon.error(answered)  # judged once, in the response hook
    assert addon.analyzer is not None
    assert addon.totals.exchanges == 2


def test_trust_findings_come_first_in_the_report(
    addon: OAuthInspector, trust_files: TrustFiles, tmp_path: Path, lab_kit: TokenKit
) -> None:
    expired = exchange_auth_cert(now=lab_kit.now - timedelta(days=6 * 365))
    old = write_cer(tmp_path / "old.cer", expired)
    with addon_context(addon) as context:
        configure(context, addon, oauth_cert=[str(old)], oauth_report=str(tmp_path / "r.jsonl"))
        addon.done()
    first = report_lines(tmp_path / "r.jsonl")[0]
    assert (first["type"], first["rule"]) == ("finding", "cert-expired")


def test_report_keeps_the_writer_records_and_the_addon_lines_in_order(
    addon: OAuthInspector, trust_files: TrustFiles, tmp_path: Path, lab_kit: TokenKit
) -> None:
    """Exchange lines go straight to the descriptor, the writer's records through its text layer: neither may
    overtake or overwrite the other, in a new file or one appended to."""
    expired = write_cer(tmp_path / "old.cer", exchange_auth_cert(now=lab_kit.now - timedelta(days=6 * 365)))
    report = tmp_path / "r.jsonl"
    report.write_text('{"type":"earlier run"}\n', encoding="utf-8")
    certs = [*trust_files.options()["oauth_cert"], str(expired)]  # type: ignore[misc]
    with addon_context(addon) as context:
        for target in (str(report), f"+{report}"):  # the second closes the first report and appends to it
            configure(context, addon, **trust_files.options() | {"oauth_cert": certs}, oauth_report=target)
            for _ in range(3):
                addon.response(_healthy_flow(lab_kit))
        addon.done()
    types = [line["type"] for line in report_lines(report)]
    assert types == ["finding", "exchange", "exchange", "exchange", "inventory", "summary"] * 2


def test_a_flow_findings_make_one_log_record(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="inspector.live")
    flow = _healthy_flow(lab_kit, host="evil.example.com")
    flow.request.timestamp_start += 10 * 86400  # expired as well, both tokens
    addon.response(flow)
    records = [r for r in caplog.records if "oauth-inspector [" in r.getMessage()]
    assert len(records) == 1
    lines = records[0].getMessage().splitlines()
    assert [re.match(r"\s*oauth-inspector \[([a-z-]+)\]", line).group(1) for line in lines] == [  # type: ignore[union-attr]
        f["rule"] for f in flow.metadata[METADATA_KEY]["findings"]
    ]
    assert len(lines) >= 3 and f"flow {flow.id[:8]}" in lines[0]
    assert records[0].levelno == logging.WARNING


def test_secrets_stay_out_of_annotations_unless_asked(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]], tmp_path: Path
) -> None:
    basic = next(f for f, e in lab_flows if "basic-credentials" in e)
    healthy = lab_flows[2][0]  # the app-only token: a signed JWT on its own
    addon.response(basic)
    addon.response(healthy)
    signature = healthy.request.headers["Authorization"].rsplit(".", 1)[-1]
    assert len(signature) > 100
    for flow in (basic, healthy):
        text = json.dumps(flow.metadata[METADATA_KEY])
        assert "Lab-Passw0rd" not in text
        assert "credentials" not in flow.metadata[METADATA_KEY]["auth"]
    assert "signature" not in healthy.metadata[METADATA_KEY]["auth"]["token"]["outer"]
    assert signature not in (tmp_path / "report.jsonl").read_text()
    configure(tctx, addon, oauth_show_secrets=True)
    again = copy.deepcopy(basic)
    again.id = "again"
    addon.response(again)
    assert again.metadata[METADATA_KEY]["auth"]["password"] == "Lab-Passw0rd!"


def test_user_comments_and_marks_are_kept(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    flow = next(f for f, e in lab_flows if "token-expired" in e)
    flow.comment = "ticket 4711"
    flow.marked = ":star:"
    addon.response(flow)
    assert (flow.comment, flow.marked) == ("ticket 4711", ":star:")
    assert "token-expired" in _rules(flow)


def test_a_replayed_flow_gets_its_verdict_replaced(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    flow = next(f for f, e in lab_flows if "token-expired" in e)
    addon.response(flow)
    assert flow.metadata[METADATA_KEY]["id"] == "live:1"
    configure(tctx, addon, oauth_cert=[], oauth_metadata=[])  # no trust: the signature cannot be checked any more
    flow.live = False  # as read back from a file
    addon.response(flow)
    assert flow.metadata[METADATA_KEY]["id"] == "flows:2"
    assert "signing-key-unknown" in _rules(flow)
    assert flow.comment.startswith("oauth-inspector: error: token-expired")


# --- options ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"oauth_cert": ["/nonexistent/OAuthCert.cer"]}, "/nonexistent/OAuthCert.cer"),
        ({"oauth_metadata": ["/nonexistent/metadata.json"]}, "/nonexistent/metadata.json"),
        ({"oauth_thumbprint": ["not-hex"]}, "thumbprint"),
        ({"oauth_skew": -1}, "oauth_skew must be between 0 and 86400"),
        ({"oauth_fail_on": "sometimes"}, "oauth_fail_on must be one of error, warning, info, never"),
        ({"oauth_report": "/nonexistent/folder/report.jsonl"}, "oauth_report: cannot write"),
        ({"oauth_config": "/nonexistent/oauth-inspector.toml"}, "Cannot read configuration"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(
    addon: OAuthInspector, options: dict[str, object], message: str
) -> None:
    with addon_context(addon) as context, pytest.raises(exceptions.OptionsError, match=re.escape(message)):
        configure(context, addon, **options)


def test_a_file_that_is_no_certificate_is_named(addon: OAuthInspector, tmp_path: Path) -> None:
    bogus = tmp_path / "OAuthCert.cer"
    bogus.write_bytes(b"\x00not a certificate")
    with addon_context(addon) as context, pytest.raises(exceptions.OptionsError, match=r"OAuthCert\.cer"):
        configure(context, addon, oauth_cert=[str(bogus)])


def test_a_refused_change_keeps_the_previous_configuration(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit
) -> None:
    with pytest.raises(exceptions.OptionsError):
        configure(tctx, addon, oauth_cert=["/nonexistent.cer"])
    flow = _healthy_flow(lab_kit)
    addon.response(flow)
    assert _rules(flow) == set()  # still verified with the lab's certificate
    assert tctx.options.oauth_cert != ["/nonexistent.cer"]  # mitmproxy rolled the option back


def test_an_unconfigured_addon_lets_flows_pass(
    addon: OAuthInspector, lab_kit: TokenKit, caplog: pytest.LogCaptureFixture
) -> None:
    with addon_context() as context:
        # As mitmdump loads a script: --set values wait for the script's options, then configure runs once.
        context.options.set("oauth_cert=/nonexistent.cer", defer=True)
        context.master.addons.register(addon)
        with pytest.raises(exceptions.OptionsError, match=r"nonexistent\.cer"):
            addon.configure(set(context.options.keys()))
        assert addon.analyzer is None
        flow = _healthy_flow(lab_kit)
        before = flow.get_state()
        addon.response(flow)
        addon.response(_healthy_flow(lab_kit))
        assert flow.get_state() == before
    assert sum("not configured" in r.getMessage() for r in caplog.records) == 1


def test_the_report_can_append(addon: OAuthInspector, trust_files: TrustFiles, tmp_path: Path) -> None:
    path = tmp_path / "report.jsonl"
    path.write_text('{"type":"earlier"}\n', encoding="utf-8")
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_report=f"+{path}")
        addon.done()
    assert [line["type"] for line in report_lines(path)] == ["earlier", "inventory", "summary"]


def test_a_report_that_cannot_be_written_stops_reporting_not_judging(
    addon: OAuthInspector, trust_files: TrustFiles, lab_kit: TokenKit, caplog: pytest.LogCaptureFixture
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_report="/dev/full")
        flows = [_healthy_flow(lab_kit) for _ in range(3)]
        for flow in flows:
            addon.response(flow)
        addon.done()
    assert all(METADATA_KEY in f.metadata for f in flows)
    assert sum("cannot write the report" in r.getMessage() for r in caplog.records) == 1


# --- reverse mode: the Host mitmproxy rewrote ------------------------------------------------------------------


def _reverse(flow: http.HTTPFlow, sni: str | None) -> http.HTTPFlow:
    flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://10.0.0.9:80")
    flow.client_conn.sni = sni
    flow.request.headers["Host"] = "10.0.0.9:80"  # what mitmproxy writes without keep_host_header
    return flow


def test_reverse_mode_without_keep_host_header_judges_the_audience_against_sni(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit, caplog: pytest.LogCaptureFixture
) -> None:
    with_sni = _reverse(_healthy_flow(lab_kit), lab_kit.host)
    addon.response(with_sni)
    assert _rules(with_sni) == set()
    assert with_sni.metadata[METADATA_KEY]["host"] == lab_kit.host
    assert with_sni.request.headers["Host"] == "10.0.0.9:80"  # the flow itself is untouched
    other_sni = _reverse(_healthy_flow(lab_kit), "exchange.fabrikam.com")
    addon.response(other_sni)
    assert _rules(other_sni) == {"audience-mismatch"}
    without_sni = _reverse(_healthy_flow(lab_kit), None)
    addon.response(without_sni)
    assert _rules(without_sni) == set()  # the host part is skipped, not judged against the upstream
    assert without_sni.metadata[METADATA_KEY]["host"] is None
    warnings = [r.getMessage() for r in caplog.records if "keep_host_header" in r.getMessage()]
    assert len(warnings) == 1


def test_host_is_trusted_when_mitmproxy_kept_it_or_for_replays(lab_kit: TokenKit) -> None:
    flow = _reverse(_healthy_flow(lab_kit), lab_kit.host)
    assert host_rewritten(flow, keep_host_header=False)
    assert not host_rewritten(flow, keep_host_header=True)
    flow.live = False
    assert not host_rewritten(flow, keep_host_header=False)
    assert not host_rewritten(_healthy_flow(lab_kit), keep_host_header=False)  # regular mode


# --- never raise, never modify ----------------------------------------------------------------------------------


def test_flows_are_never_modified(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    for flow, _ in lab_flows:
        before = _state_without_annotations(flow)
        raw_request = flow.request.raw_content
        addon.response(flow)
        assert _state_without_annotations(flow) == before
        assert flow.request.raw_content == raw_request


def test_an_internal_failure_becomes_an_inspector_error_finding(
    addon: OAuthInspector,
    tctx: taddons.context,
    lab_kit: TokenKit,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert addon.analyzer is not None

    class Broken:
        """The analyzer with a failing ``feed`` (a stand-in object: a compiled analyzer's methods cannot be
        replaced on the instance)."""

        def __init__(self, inner: object) -> None:
            self.inner = inner

        def feed(self, _item: object) -> object:
            raise RuntimeError("engine bug")

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

    assert addon.config is not None
    monkeypatch.setattr(addon, "config", replace(addon.config, analyzer=Broken(addon.analyzer)))
    flows = [_healthy_flow(lab_kit) for _ in range(MAX_INTERNAL_ERROR_LOGS + 5)]
    for flow in flows:
        before = _state_without_annotations(flow)
        addon.response(flow)
        assert _state_without_annotations(flow) == before
        assert _rules(flow) == {"inspector-error"}
        assert flow.marked == MARKS["warning"]
    logged = [r for r in caplog.records if "failed on flow" in r.getMessage()]
    assert flows[0].id in logged[0].getMessage()
    assert logged[0].exc_info is not None  # the first failure with its traceback
    assert all(r.exc_info is None for r in logged[1:])
    assert len(logged) == MAX_INTERNAL_ERROR_LOGS  # bounded
    findings = [line for line in report_lines(tmp_path / "report.jsonl") if line.get("rule") == "inspector-error"]
    assert len(findings) == len(flows)
    assert findings[0]["evidence"]["flow"] == flows[0].id
    assert "internal errors: 105" in addon.summary()


def test_a_flow_without_a_usable_time_is_judged_with_its_time_unknown(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit, tmp_path: Path
) -> None:
    """As analyze reads the same flow from a file: judged (its token's times are not), and an input-malformed
    finding says its time is unknown."""
    flow = _healthy_flow(lab_kit)
    flow.request.timestamp_start = float("nan")
    addon.response(flow)
    assert METADATA_KEY in flow.metadata and _rules(flow) == set()
    addon.done()
    lines = report_lines(tmp_path / "report.jsonl")
    [judged] = [line for line in lines if line["type"] == "exchange"]
    assert judged["time"] is None
    [notice] = [line for line in lines if line.get("rule") == "input-malformed"]
    assert notice["exchange"] == judged["id"] and "time is unknown" in notice["message"]


def _bearer_flow(value: bytes, *, client: str = "10.1.1.1") -> http.HTTPFlow:
    request = tutils.treq(host="mail.contoso.com", port=443, path=b"/EWS/Exchange.asmx", method=b"POST")
    request.headers["Authorization"] = b"Bearer ".decode() + value.decode("latin-1")
    flow = tflow.tflow(req=request, resp=tutils.tresp(status_code=401))
    flow.client_conn.peername = (client, 50000)
    return flow


def _hostile_flows(kit: TokenKit) -> list[http.HTTPFlow]:
    huge_claim = base64.urlsafe_b64encode(json.dumps({"x": "A" * (10 << 20)}).encode()).rstrip(b"=")
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    flows = [
        _bearer_flow(header + b"." + huge_claim + b"."),  # a token whose claim is 10 MB
        _bearer_flow(b"A" * (1 << 20)),  # a 1 MB opaque value
        _bearer_flow(b"\xff\xfe\x00\x1b[31m" + b"eyJ" * 10),  # not UTF-8, with NUL and ESC
    ]
    many = tflow.tflow(resp=True)
    assert many.response is not None
    for n in range(5000):  # a header block of thousands of lines
        many.request.headers.add(f"X-Junk-{n}", "v" * 100)
    many.response.headers.add("WWW-Authenticate", "Bearer " + "a=b, " * 20000)
    flows.append(many)
    raw = tflow.tflow(resp=True)
    assert raw.response is not None
    raw.request.headers.fields = (
        (b"Host", b"\xe9\xff.example"),
        (b"Authorization", b"NTLM \xff\xfe\xfd"),
        (b"Authorization", b"Basic \x80\x81"),
    )
    raw.response.headers.fields = ((b"WWW-Authenticate", b"Bearer \xff=\xfe"), (b"x-ms-diagnostics", b"\xff;reason"))
    flows.append(raw)
    no_conn = tflow.tflow(resp=True)
    no_conn.client_conn.peername = ("", 0)
    no_conn.server_conn.peername = None
    no_conn.server_conn.address = None
    flows.append(no_conn)
    return flows


def test_hostile_flows_neither_crash_nor_hang_nor_change(
    addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit, tmp_path: Path
) -> None:
    for flow in _hostile_flows(lab_kit):
        before = _state_without_annotations(flow)
        started = time.perf_counter()
        addon.response(flow)
        assert time.perf_counter() - started < 5
        assert _state_without_annotations(flow) == before
        data = flow.metadata.get(METADATA_KEY)
        assert data is None or "inspector-error" not in {f["rule"] for f in data["findings"]}
        assert len(json.dumps(data or {})) < 1 << 20  # the verdict never copies a huge value
    assert addon.internal_errors == 0
    assert (tmp_path / "report.jsonl").stat().st_size < 4 << 20


def test_many_concurrent_flows(addon: OAuthInspector, tctx: taddons.context, lab_kit: TokenKit) -> None:
    flows = []
    for n in range(400):
        flow = flow_from_exchange(_exchanges(lab_kit)[n % 5])
        flow.id = f"flow-{n}"
        flow.live = True
        flow.client_conn.peername = (f"10.2.{n // 250}.{n % 250}", 40000 + n)
        flows.append(flow)

    async def all_at_once() -> None:
        await asyncio.gather(*(tctx.cycle(addon, flow) for flow in flows))  # type: ignore[no-untyped-call]

    tctx.master.event_loop.run_until_complete(all_at_once())
    assert all(METADATA_KEY in f.metadata for f in flows)
    assert addon.analyzer is not None
    assert addon.totals.exchanges == 400
    assert addon.internal_errors == 0


# --- commands ---------------------------------------------------------------------------------------------------


def test_inspect_shows_decoded_tokens_and_findings(
    addon: OAuthInspector, tctx: taddons.context, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    expired = next(f for f, e in lab_flows if "token-expired" in e)
    addon.response(expired)
    text = addon.inspect([expired, tflow.ttcpflow()])
    assert "outer token:" in text
    assert "actor token:" in text
    assert "token-expired" in text
    assert "Z)" in text  # times in UTC beside the numbers
    assert expired.request.headers["Authorization"].split(".")[1] not in text  # claims shown, not the token
    unseen = next(f for f, e in lab_flows if "audience-mismatch" in e)
    assert "audience-mismatch" in addon.inspect([unseen])  # judged on the spot
    assert METADATA_KEY not in unseen.metadata  # ... without annotating or counting it
    assert addon.analyzer is not None
    assert addon.totals.exchanges == 1


def test_commands_take_flow_specs_as_typed_in_mitmproxy(
    addon: OAuthInspector, trust_files: TrustFiles, lab_flows: list[tuple[http.HTTPFlow, set[str]]]
) -> None:
    view = View()
    with addon_context(addon, view) as context:
        configure(context, addon, **trust_files.options())
        for flow, _ in lab_flows:
            addon.response(flow)
        view.add([flow for flow, _ in lab_flows])
        commands = context.master.commands
        assert {"oauth.inspect", "oauth.summary"} <= set(commands.commands)
        text = commands.execute("oauth.inspect @marked")
        summary = commands.execute("oauth.summary")
        addon.done()
    marked = [flow for flow, _ in lab_flows if flow.marked]
    assert 0 < len(marked) < len(lab_flows)
    assert text.count("flow ") == len(marked)
    assert "token-expired" in text
    assert f"{len(lab_flows)} exchanges judged" in summary
    assert "basic-fallback" in summary
    assert "verdict: FAIL" in summary
