"""``oauth.inspect``: a flow the addon annotated is shown from its metadata; one it never saw is judged on the spot,
on its own and without touching the addon's state."""

from __future__ import annotations

from mitmproxy.test import tflow

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.annotate import METADATA_KEY, Serializer
from inspector.live.commands import inspect_text, judge_apart
from inspector.settings import Settings, TrustArguments, build_settings
from tests.builders import CLOCK
from tests.live.conftest import TrustFiles


def _settings(trust_files: TrustFiles) -> Settings:
    given = TrustArguments(certs=(trust_files.cert,), metadata=(trust_files.metadata,), realms=(trust_files.realm,))
    return build_settings(given, output_format=None, now=CLOCK)


def _never_judged(_: object) -> None:
    return None


def test_an_annotated_flow_is_shown_from_its_metadata_and_others_are_skipped() -> None:
    flow = tflow.tflow(resp=True)
    flow.metadata[METADATA_KEY] = {"method": "GET", "host": "h", "target": "/x", "status": 200, "findings": []}
    text = inspect_text([flow, tflow.ttcpflow()], _never_judged)
    assert text == f"flow {flow.id}: GET h /x -> 200\n  auth: none\n  findings: none"
    assert inspect_text([], _never_judged) == "oauth.inspect: no HTTP flow given"
    unseen = tflow.tflow(resp=True)
    assert inspect_text([unseen], _never_judged) == f"flow {unseen.id}: not judged"


def test_a_flow_never_seen_is_judged_on_its_own(lab_kit: TokenKit, trust_files: TrustFiles) -> None:
    exchange = next(e for e, expects in lab_exchanges(lab_kit) if "token-expired" in expects)
    flow = flow_from_exchange(exchange)
    data = judge_apart(_settings(trust_files), Serializer(show_secrets=False), flow)
    assert data is not None
    assert data["verdict"] == "error"
    assert "token-expired" in {f["rule"] for f in data["findings"]}
    assert judge_apart(None, Serializer(show_secrets=False), flow) is None  # not configured: not judged
