from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http

with warnings.catch_warnings():
    # mitmproxy's addons import ldap3, which uses names pyasn1 deprecates; not ours to fix, and not a test failure.
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy.test import taddons

from inspector.lab.certs import acs_metadata, write_cer, write_metadata
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector


@dataclass(frozen=True)
class TrustFiles:
    cert: Path
    metadata: Path
    realm: str

    def options(self) -> dict[str, object]:
        return {"oauth_cert": [str(self.cert)], "oauth_metadata": [str(self.metadata)], "oauth_realm": [self.realm]}


@pytest.fixture(scope="session")
def trust_files(tmp_path_factory: pytest.TempPathFactory, lab_kit: TokenKit) -> TrustFiles:
    folder = tmp_path_factory.mktemp("trust")
    cert = write_cer(folder / "OAuthCert.cer", lab_kit.auth_cert)
    metadata = write_metadata(folder / "acs-metadata.json", acs_metadata([lab_kit.acs_cert], realm=lab_kit.realm))
    return TrustFiles(cert, metadata, lab_kit.realm)


@pytest.fixture
def lab_flows(lab_kit: TokenKit) -> list[tuple[http.HTTPFlow, set[str]]]:
    """The lab conversation as live flows (fresh objects per test), each with the rules it must raise."""
    out = []
    for exchange, expects in lab_exchanges(lab_kit):
        flow = flow_from_exchange(exchange)
        flow.live = True
        out.append((flow, set(expects)))
    return out


@pytest.fixture
def addon() -> OAuthInspector:
    return OAuthInspector()


@pytest.fixture
def tctx(addon: OAuthInspector, trust_files: TrustFiles, tmp_path: Path) -> Iterator[taddons.context]:
    """The addon loaded and configured with the lab's trust, its report in tmp_path/report.jsonl."""
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_report=str(tmp_path / "report.jsonl"))
        yield context
        addon.done()  # closes the report, as mitmproxy does at the end


def addon_context(*addons: object) -> taddons.context:
    """mitmproxy's test context (its constructor is unannotated)."""
    return taddons.context(*addons)  # type: ignore[no-untyped-call]


def configure(context: taddons.context, addon: object, **options: object) -> None:
    context.configure(addon, **options)  # type: ignore[no-untyped-call]


def report_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
