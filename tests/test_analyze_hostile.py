"""Hostile traffic through the whole analyzer: it never raises, never hangs, and says what it saw."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analyze import Analyzer, ExchangeResult
from inspector.policy import Policy
from inspector.trust import Trust
from tests.builders import exchange, unsigned_jwt

MEGABYTE = 1024 * 1024


def feed(*args: object, **kwargs: object) -> ExchangeResult:
    result = Analyzer(Trust(), Policy()).feed(exchange(*args, **kwargs))  # type: ignore[arg-type]
    assert isinstance(result, ExchangeResult)
    return result


def test_megabyte_bearer_is_refused_as_malformed() -> None:
    result = feed("Bearer eyJhbGciOiJub25lIn0." + "A" * MEGABYTE + ".")
    assert [f.rule for f in result.findings] == ["token-malformed"]


def test_megabyte_basic_and_ntlm_values() -> None:
    basic = feed("Basic " + base64.b64encode(b"u:" + b"p" * MEGABYTE).decode())
    assert basic.auth.user == "u"
    ntlm = feed("NTLM " + "A" * MEGABYTE)
    assert ntlm.auth.scheme == "ntlm"


def test_megabyte_challenge_and_diagnostics() -> None:
    headers = (
        ("WWW-Authenticate", 'Bearer client_id="' + "x" * MEGABYTE + '"'),
        ("x-ms-diagnostics", '2000000;reason="' + "r" * MEGABYTE + '"'),
    )
    result = feed("Bearer abc", status=401, response_headers=headers)
    assert "bearer-rejected" in [f.rule for f in result.findings]


def test_claim_of_ten_megabytes_is_refused_before_decoding() -> None:
    token = unsigned_jwt({"iss": "x", "blob": "y" * 10 * MEGABYTE})
    result = feed(f"Bearer {token}")
    assert [f.rule for f in result.findings] == ["token-malformed"]


def test_non_utf8_header_bytes_survive_as_latin1() -> None:
    result = feed("Basic " + base64.b64encode("jos\xe9:pw".encode("latin-1")).decode(), host="h\xe9st")
    assert result.auth.user is not None and "jos" in result.auth.user


@settings(max_examples=300, deadline=None)
@given(
    authorization=st.one_of(st.none(), st.text(max_size=300)),
    challenge=st.text(max_size=300),
    diagnostics=st.text(max_size=200),
    status=st.sampled_from([200, 401, 403, 500]),
    host=st.text(max_size=50),
)
def test_analyzer_is_total_on_random_headers(
    authorization: str | None, challenge: str, diagnostics: str, status: int, host: str
) -> None:
    headers = (("WWW-Authenticate", challenge), ("x-ms-diagnostics", diagnostics))
    result = feed(authorization, status=status, response_headers=headers, host=host)
    for item in result.findings:
        assert item.exchange == result.exchange.id


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_analyzer_is_total_on_random_bearer_bytes(raw: bytes) -> None:
    feed("Bearer " + raw.decode("latin-1"))
    feed("Bearer eyJ" + base64.urlsafe_b64encode(raw).decode().rstrip("="))
