"""Authorization, WWW-Authenticate and x-ms-diagnostics values, parsed alone and judged in an exchange: no
exception, strict JSON, a terminal-safe table, and no credential in any output (a Basic password, an API key sent
without a scheme word, a credential in the target's query)."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from inspector.http_auth import parse_authorization, parse_ms_diagnostics, parse_www_authenticate
from tests.builders import exchange
from tests.fuzz.harness import Timed, analyse, assert_outputs_hold, fuzz

_SCHEMES = st.sampled_from(["Bearer", "Basic", "NTLM", "Negotiate", "Digest", "bearer", "BASIC", "X-Custom", ""])
_WIRE_TEXT = st.lists(
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=20)
    | st.sampled_from(["\x1b[31m", "[bold]", '"', ",", "realm=", "Bearer ", "\u202e", "2000000;reason="]),
    max_size=8,
).map("".join)
_TOKEN_CHARS = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"), min_size=1
)


@fuzz(150)
@given(
    scheme=_SCHEMES, rest=_WIRE_TEXT, challenge=_WIRE_TEXT, diagnostics=_WIRE_TEXT, status=st.sampled_from([200, 401])
)
def test_header_values_alone_and_in_an_exchange(
    scheme: str, rest: str, challenge: str, diagnostics: str, status: int
) -> None:
    value = f"{scheme} {rest}".strip()
    with Timed():
        parse_authorization(value)
        parse_www_authenticate([challenge, f"Bearer {challenge}"])
        parse_ms_diagnostics(diagnostics)
        headers = (("WWW-Authenticate", challenge), ("x-ms-diagnostics", diagnostics))
        results = analyse([exchange(value, status=status, response_headers=headers)])
    assert_outputs_hold(results)


@fuzz(150)
@given(user=_TOKEN_CHARS.filter(lambda u: ":" not in u), password=_TOKEN_CHARS, key=_TOKEN_CHARS, query=_TOKEN_CHARS)
def test_credentials_never_reach_an_output(user: str, password: str, key: str, query: str) -> None:
    secret_password = f"PW{password}pw"
    secret_key = f"K3y{key}9"
    secret_query = f"Q{query}q"
    basic = "Basic " + base64.b64encode(f"{user}:{secret_password}".encode()).decode()
    results = analyse(
        [
            exchange(basic, target=f"/ews?access_token={secret_query}&x=1"),
            exchange(secret_key, status=401),
            exchange(f"Bearer {secret_key}", target=f"http://{user}:{secret_password}@h/x?sig={secret_query}"),
        ]
    )
    assert_outputs_hold(results, secrets=[secret_password, secret_key.lower(), secret_key, secret_query])
