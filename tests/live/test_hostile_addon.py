"""Issue 12 (hostile input, round two), the addon's items: a claim no log handler can encode (2), and saved flow
metadata of another shape (5). Each test failed before its fix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.writers import flow_from_exchange
from inspector.live.addon import OAuthInspector
from inspector.live.annotate import METADATA_KEY
from tests.builders import exchange, unsigned_jwt
from tests.hostile import SURROGATE_CLAIMS
from tests.live.conftest import TrustFiles, addon_context, configure


class _TerminalHandler(logging.Handler):
    """What a terminal log handler does with a record: encode it as UTF-8, which a lone surrogate cannot pass."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record).encode("utf-8")  # raises, as a terminal's stream does, past logging's own net


def test_2_a_token_cannot_hide_its_findings_behind_an_unloggable_claim(trust_files: TrustFiles, tmp_path: Path) -> None:
    addon = OAuthInspector()
    handler = _TerminalHandler()
    logger = logging.getLogger("inspector.live.logs")
    logger.addHandler(handler)
    try:
        with addon_context(addon) as context:
            configure(context, addon, **trust_files.options())
            flow = flow_from_exchange(exchange(f"Bearer {unsigned_jwt(SURROGATE_CLAIMS)}", status=200))
            flow.live = True
            addon.response(flow)
    finally:
        logger.removeHandler(handler)
    rules = {item["rule"] for item in flow.metadata[METADATA_KEY]["findings"]}
    assert "token-unsigned" in rules
    assert "inspector-error" not in rules
    assert addon.internal_errors == 0


# --- 5. oauth.inspect and saved metadata of another shape -------------------------------------------------------


@pytest.mark.parametrize(
    "saved", [{"findings": 5}, {"findings": [1, "x"]}, {"auth": [], "findings": []}, "text", {"findings": None}]
)
def test_5_inspect_judges_a_flow_whose_saved_verdict_has_another_shape(saved: Any, trust_files: TrustFiles) -> None:
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        flow = flow_from_exchange(exchange(f"Bearer {unsigned_jwt({'iss': 'x'})}"))
        flow.metadata[METADATA_KEY] = saved
        text = addon.inspect([flow])
    assert "token-unsigned" in text
