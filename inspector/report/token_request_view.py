"""``oauth-inspector show`` for a token request: the form (secret fields redacted), the client assertion and the
access token of a successful answer decoded, and the refusal's codes."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from inspector.redact import REDACTED
from inspector.report.token_view import jwt_panel
from inspector.text import safe
from inspector.token_requests import TokenRequestReport, is_secret_field


def print_token_request(console: Console, report: TokenRequestReport, *, show_secrets: bool) -> None:
    console.print(Text(f"token request to {safe(report.endpoint, 300)}", style="bold"))
    for name, value in report.form:
        shown = value if show_secrets or not is_secret_field(name) else REDACTED
        line = Text("  ")
        line.append(safe(name, 80), style="cyan")
        line.append(" = " + safe(shown, 300))
        console.print(line)
    assertion = report.assertion
    if assertion is not None and assertion.decoded.outer is not None:
        console.print(jwt_panel("client assertion", assertion.decoded.outer, show_secrets=show_secrets))
        verdict = Text(f"client assertion signature {assertion.signature or 'none'}")
        if assertion.key is not None:
            verdict.append(f" with {safe(assertion.key.label(), 300)}")
        console.print(verdict)
    access = report.access_token
    if access is not None and access.decoded.outer is not None:
        console.print(
            jwt_panel("access token issued (decoded, not verified)", access.decoded.outer, show_secrets=show_secrets)
        )
    if report.codes or report.error:
        console.print(
            Text(f"refused: {safe(report.error or '', 80)} {', '.join(report.codes)}".rstrip(), style="bold red")
        )
    console.print()
