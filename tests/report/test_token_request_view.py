"""show's view of a token request: the form redacted, the assertion and the issued token decoded."""

from __future__ import annotations

import io

from rich.console import Console

from inspector.analyze import ExchangeResult
from inspector.lab.tokens import TokenKit
from inspector.report.token_request_view import print_token_request
from tests import outbound


def _shown(kit: TokenKit, name: str, *, show_secrets: bool) -> str:
    case = next(c for c in outbound.cases(kit) if c.name == name)
    result = outbound.analyzer(kit).feed(case.exchange)
    assert isinstance(result, ExchangeResult) and result.token_request is not None
    out = io.StringIO()
    print_token_request(Console(file=out, width=160), result.token_request, show_secrets=show_secrets)
    return out.getvalue()


def test_a_refused_request(lab_kit: TokenKit) -> None:
    text = _shown(lab_kit, "entra-AADSTS700027", show_secrets=False)
    assert "client_assertion = [redacted]" in text and "client assertion signature valid" in text
    assert "refused: invalid_client AADSTS700027" in text
    assert "dropped (--show-secrets shows it)" in text


def test_a_success_and_show_secrets(lab_kit: TokenKit) -> None:
    text = _shown(lab_kit, "entra-success", show_secrets=False)
    assert "access token issued (decoded, not verified)" in text and "full_access_as_app" in text
    shown = _shown(lab_kit, "entra-success", show_secrets=True)
    assert "eyJ" in shown and "[redacted]" not in shown  # the assertion as sent (the console folds it)
