"""Credentials outside the Authorization header (issue 12 item 11): query values and URL passwords redacted, the
rest of the target kept as sent."""

from __future__ import annotations

import pytest

from inspector.redact import REDACTED, redact_header_value, redact_target


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/owa/?access_token=abc&x=1", f"/owa/?access_token={REDACTED}&x=1"),
        ("/cb?state=s&CODE=abc", f"/cb?state=s&CODE={REDACTED}"),
        ("/blob;jsessionid=abc?sig=x", f"/blob;jsessionid={REDACTED}?sig={REDACTED}"),
        ("/x?t=eyJhbGciOiJub25lIn0.eyJhIjoxfQ.c2ln", f"/x?t={REDACTED}"),  # a signed JWT under any name
        ("http://svc:pw@mail.contoso.com/EWS", f"http://svc:{REDACTED}@mail.contoso.com/EWS"),
        ("http://svc:p/w@d@mail.contoso.com/EWS?a=1", f"http://svc:{REDACTED}@mail.contoso.com/EWS?a=1"),
        ("http://svc@mail.contoso.com/", "http://svc@mail.contoso.com/"),  # a user alone is no secret
        ("/EWS/Exchange.asmx", "/EWS/Exchange.asmx"),
        ("/x?code=", "/x?code="),
        ("/x?a=1&b=2", "/x?a=1&b=2"),
    ],
)
def test_targets(target: str, shown: str) -> None:
    assert redact_target(target) == shown


JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZCI6IjEifQ.FsquetBp_jsIDzBslWyyTPlS2hcMprVuWmbT2r57N0A"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (f"v1, authorization.bearer.{JWT}", f"v1, authorization.bearer.{JWT.rsplit('.', 1)[0]}.[redacted]"),
        (
            "http://redirect.example/token?code=abc123&state=x",
            "http://redirect.example/token?code=[redacted]&state=x",
        ),
        (f"https://idp.example/cb?ssotoken={JWT}", "https://idp.example/cb?ssotoken=[redacted]"),
        ("https://user:pw@host/x", "https://user:[redacted]@host/x"),
        ("text/xml; charset=utf-8", "text/xml; charset=utf-8"),
        ("Microsoft-IIS/10.0", "Microsoft-IIS/10.0"),
        ("eyJhbGciOiJub25lIn0.eyJhIjoxfQ.", "eyJhbGciOiJub25lIn0.eyJhIjoxfQ."),  # unsigned: nothing to drop
        ("x-jwe: eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn", "x-jwe: eyJhbGciOiJkaXIifQ.[redacted]"),
        (
            "https://idp.example/?ssotoken=eyJhbGciOiJkaXIifQ..aXY.Y2lw.dGFn&x=1",
            "https://idp.example/?ssotoken=[redacted]&x=1",
        ),
    ],
)
def test_header_values_lose_the_secrets_they_carry(value: str, shown: str) -> None:
    assert redact_header_value(value) == shown


def test_every_header_value_is_redacted_in_header_lists_unless_show_secrets() -> None:
    from inspector.report.serialize import header_list

    headers = (("Location", "/cb?code=abc123"), ("Sec-WebSocket-Protocol", f"v1, authorization.bearer.{JWT}"))
    redacted = header_list(headers, show_secrets=False)
    assert redacted == [
        ["Location", "/cb?code=[redacted]"],
        ["Sec-WebSocket-Protocol", redact_header_value(headers[1][1])],
    ]
    assert JWT.rsplit(".", 1)[1] not in str(redacted)
    assert header_list(headers, show_secrets=True) == [list(h) for h in headers]


@pytest.mark.parametrize(
    ("target", "secret"),
    [
        ("/owa/?access%5Ftoken=OPAQUESECRET", "OPAQUESECRET"),  # a name percent-encoded
        ("/owa/?%61ccess_token=OPAQUESECRET", "OPAQUESECRET"),
        ("https://app.contoso.com/cb#access_token=OPAQUESECRET&state=1", "OPAQUESECRET"),  # the implicit grant
        ("/token?client_secret=abc?OPAQUESECRET&x=1", "OPAQUESECRET"),  # a ? inside the value
    ],
)
def test_credential_parameters_in_every_spelling_are_redacted(target: str, secret: str) -> None:
    """Found by review: these came back whole."""
    assert secret not in redact_target(target)
    assert "[redacted]" in redact_target(target)
