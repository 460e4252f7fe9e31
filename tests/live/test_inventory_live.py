"""The live proxy builds the trust inventory as ``analyze`` does, repeats of a clean exchange included (they are
published without being judged again), writes it in its report at shutdown, and raises the inventory's rules."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from click.testing import CliRunner
from mitmproxy import http
from mitmproxy.io import FlowReader, FlowWriter

from inspector.cli import main
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector
from tests.live.conftest import TrustFiles, addon_context, configure
from tests.live.test_configuration import SAMPLES, TRUST_SETS, replay

COPIES = 4


def _repeated_flows(path: Path) -> Path:
    """The bundled flows, then the whole session again ``COPIES - 1`` times (new flow ids): S2S traffic repeats."""
    with (SAMPLES / "lab.mitm").open("rb") as fo:
        flows = [f for f in FlowReader(fo).stream() if isinstance(f, http.HTTPFlow)]
    with path.open("wb") as out:
        writer = FlowWriter(out)  # type: ignore[no-untyped-call]  # mitmproxy leaves __init__ unannotated
        for _ in range(COPIES):
            for f in flows:
                writer.add(f.copy())  # type: ignore[no-untyped-call]
    return path


def test_the_live_inventory_counts_repeats_as_analyze_counts_them(tmp_path: Path) -> None:
    flows = _repeated_flows(tmp_path / "session.mitm")
    lines, output = replay(flows, tmp_path)
    repeats = re.search(r"\((\d+) of them repeats of a clean exchange", output)
    assert repeats is not None and int(repeats.group(1)) > 0, output[-2000:]  # the short path was taken

    [inventory] = [line for line in lines if line["type"] == "inventory"]
    assert [line["type"] for line in lines[-2:]] == ["inventory", "summary"]
    trust = [f"--{item.split('=', 1)[0].removeprefix('oauth_')}={item.split('=', 1)[1]}" for item in TRUST_SETS]
    analyzed = CliRunner().invoke(main, ["analyze", str(flows), *trust, "--format", "json", "-q"])
    document = json.loads(analyzed.stdout)
    assert inventory["signers"] == document["inventory"]["signers"]
    assert inventory["challenges"] == document["inventory"]["challenges"]
    assert inventory["rotation"] == document["inventory"]["rotation"] != []  # found by review: it was always []
    assert sum(signer["exchanges"] for signer in inventory["signers"]) > int(repeats.group(1))

    # The inventory's own rules, at shutdown, as analyze raises them.
    run_level = sorted(line["rule"] for line in lines if line["type"] == "finding" and line.get("exchange") is None)
    expected = sorted(f["rule"] for f in document["findings"] if f["exchange"] is None)
    assert "issuer-not-trusted-by-server" in run_level
    assert run_level == expected


def test_a_repeat_answered_by_another_back_end_is_observed_with_it(lab_kit: TokenKit, trust_files: TrustFiles) -> None:
    """The repeat key leaves X-BEServer out (a token's verdict does not depend on it); the inventory does not."""
    healthy = [exchange for exchange, _ in lab_exchanges(lab_kit)][1]
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        for backend in ("BE1.contoso.com", "BE1.contoso.com", "BE2.contoso.com"):
            flow = flow_from_exchange(healthy)
            flow.id, flow.live = str(uuid.uuid4()), True
            assert flow.response is not None
            flow.response.headers["X-BEServer"] = backend
            addon.response(flow)
        assert addon.repeats is not None and addon.repeats.published == 2
    [signer] = addon.inventory.signers.values()
    assert signer.exchanges == 3
    assert signer.be_servers.items == ["BE1.contoso.com", "BE2.contoso.com"]
