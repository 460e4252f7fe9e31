"""The mitmproxy addon with hostile flows (mitmproxy's own ``tflow``/``taddons``): headers, tokens, targets, ids
and saved metadata of any shape: no internal error, flows never changed beyond the annotation, ``oauth.inspect``
text terminal-safe, and the report lines strict JSON."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mitmproxy.test import tflow

from inspector.live.addon import OAuthInspector
from inspector.live.annotate import METADATA_KEY
from tests.fuzz.harness import Timed, assert_terminal_safe, fuzz
from tests.hostile import strict_json_lines

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from mitmproxy.test import taddons

_TEXT = st.text(max_size=30) | st.sampled_from(["\ud800", "\x1b[2J", "[bold]", "\u202e", "eyJhbGciOiJub25lIn0.eyJ9."])
_BYTES = st.binary(max_size=40) | _TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))
_METADATA = st.recursive(
    st.none() | st.integers() | st.floats() | _TEXT | _BYTES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["findings", "auth", "verdict", "x"]) | _TEXT, inner, max_size=3)
    ),
    max_leaves=10,
)


@dataclass
class _Live:
    addon: OAuthInspector
    report: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Live]:
    """One configured addon for every example (mitmproxy's test context is slow to make)."""
    addon = OAuthInspector()
    report = tmp_path_factory.mktemp("addon") / "report.jsonl"
    with taddons.context(addon) as context:  # type: ignore[no-untyped-call]
        context.configure(addon, oauth_report=str(report))  # type: ignore[no-untyped-call]
        yield _Live(addon, report)
        addon.done()
    strict_json_lines(report.read_text(encoding="utf-8"))


@fuzz(120)
@given(
    authorization=_BYTES,
    target=_BYTES,
    host=_BYTES,
    flow_id=_TEXT | st.sampled_from([math.nan, 5, None]),
    metadata=_METADATA,
    status=st.sampled_from([200, 401, 500]),
)
def test_hostile_flows(
    live: _Live, authorization: bytes, target: bytes, host: bytes, flow_id: object, metadata: object, status: int
) -> None:
    addon = live.addon
    assert addon.analyzer is not None
    flow = tflow.tflow(resp=True)
    flow.id = flow_id  # type: ignore[assignment]
    flow.live = True
    flow.request.headers[b"Authorization"] = authorization
    flow.request.headers[b"Host"] = host
    flow.request.path = target  # type: ignore[assignment]
    assert flow.response is not None
    flow.response.status_code = status
    saved = tflow.tflow(resp=True)
    saved.metadata[METADATA_KEY] = metadata
    with Timed():
        addon.response(flow)
        text = addon.inspect([flow, saved])
    assert addon.internal_errors == 0
    assert_terminal_safe(text.replace("\n", " "))
    strict_json_lines(live.report.read_text(encoding="utf-8"))
