"""Credentials outside the Authorization header (issue 12 item 11): query values and URL passwords redacted, the
rest of the target kept as sent."""

from __future__ import annotations

import pytest

from inspector.redact import REDACTED, redact_target


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
