"""JWTs: tokens with hostile headers and claims (any JSON, NaN and Infinity, lone surrogates, control and bidi
characters, nested tokens under any claim name) through decoding, judging and every output: no exception, strict
JSON, a terminal-safe table and token view, and no signature in any output without ``--show-secrets``."""

from __future__ import annotations

import base64
import io
import json
import math

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from inspector.analyze import Analyzer
from inspector.policy import Policy
from inspector.report.token_view import print_token
from inspector.tokens import decode_bearer, numeric_time
from inspector.trust import Trust
from tests.builders import exchange
from tests.corpus import corpus_dir
from tests.fuzz.harness import Timed, analyse, assert_outputs_hold, assert_terminal_safe, fuzz

SIGNATURE = "c2lnbmF0dXJlLXNlY3JldC1ieXRlcw"  # the secret every generated signed token carries
_TEXT = st.text(max_size=30) | st.sampled_from(["\ud800", "\x1b[2J", "[red]x[/red]", "\u202e", "²", "--5", "1e400"])
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | _TEXT
_JSON = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4), max_leaves=20
)
_NAMES = st.sampled_from(
    ["iss", "aud", "nbf", "exp", "iat", "nameid", "actortoken", "ActorToken", "ACTORT", "x5t", "kid"]
)


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode("utf-8", "surrogatepass")).rstrip(b"=").decode()


def _signed(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_segment(header)}.{_segment(claims)}.{SIGNATURE}"


@st.composite
def tokens(draw: st.DrawFn) -> str:
    header: dict[str, object] = {"alg": draw(st.sampled_from(["RS256", "none", "HS256", "None"])), "typ": "JWT"}
    header.update(draw(st.dictionaries(_NAMES | _TEXT, _JSON, max_size=3)))
    claims: dict[str, object] = draw(st.dictionaries(_NAMES | _TEXT, _JSON, max_size=6))
    if draw(st.booleans()):  # an actor token (signed) under some spelling of the claim
        actor = _signed({"alg": "RS256", "x5t": "abc"}, draw(st.dictionaries(_NAMES, _JSON, max_size=4)))
        claims[draw(st.sampled_from(["actortoken", "ActorToken", "nested"]))] = (
            actor if draw(st.booleans()) else {"deep": [actor]}
        )
    signature = "" if header["alg"] == "none" else SIGNATURE
    return f"{_segment(header)}.{_segment(claims)}.{signature}"


@fuzz(80)
@given(tokens())
def test_hostile_tokens(token: str) -> None:
    with Timed():
        decoded = decode_bearer(token)
        for jwt in (decoded.outer, decoded.actor):
            for name in ("nbf", "exp", "iat"):
                if jwt is not None:
                    numeric_time(jwt.claims.get(name))
        results = analyse([exchange(f"Bearer {token}")])
    assert_outputs_hold(results, secrets=[SIGNATURE])
    out = io.StringIO()
    print_token(
        Console(file=out, force_terminal=False, width=160, color_system=None), results[0], [], show_secrets=False
    )
    assert_terminal_safe(out.getvalue())
    assert SIGNATURE not in out.getvalue()


@fuzz(100)
@given(_TEXT | st.integers() | st.floats() | _JSON)
def test_time_claims_are_total(value: object) -> None:
    seconds = numeric_time(value)
    assert seconds is None or isinstance(seconds, int)
    if isinstance(value, float) and not math.isfinite(value):
        assert seconds is None


def test_corpus_tokens_hold() -> None:
    root = corpus_dir()
    if root is None:
        import pytest

        pytest.skip("the shared corpus (../shared/corpus) is absent: set OAUTH_INSPECTOR_CORPUS")
    analyzer = Analyzer(Trust(), Policy())
    values = [p.read_text().strip() for p in sorted(root.glob("**/*.jwt"))]
    results = [analyzer.feed(exchange(f"Bearer {value}")) for value in values]
    assert_outputs_hold(results)  # type: ignore[arg-type]
