"""``oauth-inspector token``'s view: both tokens decoded, the verdict and the findings, secrets dropped by default."""

from __future__ import annotations

import io

from rich.console import Console

from inspector.analyze import ExchangeResult
from inspector.report.token_view import print_token


def _view(result: ExchangeResult, *, show_secrets: bool) -> str:
    out = io.StringIO()
    print_token(
        Console(file=out, width=200, force_terminal=False), result, list(result.findings), show_secrets=show_secrets
    )
    return out.getvalue()


def test_both_tokens_are_shown_and_the_signature_only_on_request(lab_results: list[ExchangeResult]) -> None:
    result = next(r for r in lab_results if r.auth.token is not None and r.auth.token.decoded.actor is not None)
    token = result.auth.token
    assert token is not None and token.decoded.actor is not None
    hidden = _view(result, show_secrets=False)
    assert "outer token" in hidden
    assert "dropped (--show-secrets shows it)" in hidden
    assert token.decoded.actor.signature_segment[:20] not in hidden
    shown = _view(result, show_secrets=True)
    assert "dropped (--show-secrets shows it)" not in shown


def test_findings_are_listed_with_their_help(lab_results: list[ExchangeResult]) -> None:
    result = next(r for r in lab_results if r.auth.token is not None and r.findings)
    text = " ".join(_view(result, show_secrets=False).split())
    for item in result.findings:
        assert item.rule in text


def test_a_non_token_scheme_says_what_it_is(lab_results: list[ExchangeResult]) -> None:
    result = next(r for r in lab_results if r.auth.scheme == "basic")
    assert "Authorization scheme basic" in _view(result, show_secrets=False)
