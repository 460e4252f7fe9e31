"""A header named ``Authorization `` (whitespace before the colon): every source reads it through the one header
grammar (``http_heads``), so the credential is judged and an ``http-malformed`` notice names the field, whether
it came from a capture, a HAR, a .mitm file, a .saz or the live proxy. Before the fix, HAR, .mitm and live kept the name
with its space, so a Basic password in it went unseen (exit 0)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.pcap_writer import write_lab_pcapng
from inspector.lab.saz_writer import write_saz
from inspector.lab.writers import flow_from_exchange, write_flows, write_har
from inspector.live.addon import OAuthInspector
from inspector.model import HttpExchange
from inspector.sources.pcap.http_heads import trimmed_names, with_trimmed_names
from tests.builders import basic, exchange
from tests.live.conftest import addon_context, configure, report_lines

WRITERS: dict[str, Callable[[list[HttpExchange], Path], Path]] = {
    "har": lambda items, path: write_har(items, path.with_suffix(".har")),
    "mitm": lambda items, path: write_flows(items, path.with_suffix(".mitm")),
    "pcapng": lambda items, path: write_lab_pcapng(items, path.with_suffix(".pcapng")),
    "saz": lambda items, path: write_saz(items, path.with_suffix(".saz")),
}


def _spaced(name: str) -> HttpExchange:
    plain = exchange(basic("CONTOSO\\svc-sfb", "S3cret!"))
    headers = tuple((name if n == "Authorization" else n, v) for n, v in plain.request.headers)
    return replace(plain, request=replace(plain.request, headers=headers))


def _analyze(path: Path) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(main, ["analyze", str(path), "--format", "json", "-q"])
    return result.exit_code, json.loads(result.stdout)["findings"]


@pytest.mark.parametrize("kind", sorted(WRITERS))
@pytest.mark.parametrize("name", ["Authorization ", "Authorization\t", "Authorization \t "])
def test_a_spaced_authorization_is_judged_and_reported_in_every_file_source(
    kind: str, name: str, tmp_path: Path
) -> None:
    code, found = _analyze(WRITERS[kind]([_spaced(name)], tmp_path / "spaced"))
    rules = {f["rule"] for f in found}
    assert code == 1 and "basic-credentials" in rules, found
    [malformed] = [f for f in found if f["rule"] == "http-malformed"]
    assert malformed["evidence"]["spaced_header_names"] == ["Authorization"]
    assert "S3cret!" not in json.dumps(found)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_the_close_case_without_the_space_is_not_malformed(kind: str, tmp_path: Path) -> None:
    code, found = _analyze(WRITERS[kind]([_spaced("Authorization")], tmp_path / "plain"))
    rules = {f["rule"] for f in found}
    assert code == 1 and "basic-credentials" in rules and "http-malformed" not in rules


def test_the_live_proxy_judges_it_too(tmp_path: Path) -> None:
    addon = OAuthInspector()
    report = tmp_path / "live.jsonl"
    flow = flow_from_exchange(_spaced("Authorization "))
    flow.live = True
    with addon_context(addon) as context:
        configure(context, addon, oauth_report=str(report))
        addon.response(flow)
        addon.done()
    lines = report_lines(report)
    [line] = [item for item in lines if item["type"] == "exchange"]
    assert "basic-credentials" in {f["rule"] for f in line["findings"]}
    [malformed] = [item for item in lines if item.get("rule") == "http-malformed"]
    assert malformed["exchange"] == line["id"]
    assert malformed["evidence"]["spaced_header_names"] == ["Authorization"]


def test_trimming_leaves_plain_names_alone_and_keeps_order() -> None:
    plain = (("Host", "a"), ("Authorization", "b"))
    assert trimmed_names(plain) == (plain, ())
    assert trimmed_names((("Host", "a"), ("X \t", "b"), ("", "c"))) == ((("Host", "a"), ("X", "b"), ("", "c")), ("X",))
    same = exchange("Bearer x")
    assert with_trimmed_names(same) == (same, None)
