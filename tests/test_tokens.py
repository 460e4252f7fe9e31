from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.tokens import (
    MAX_TOKEN_LENGTH,
    Principal,
    TokenProblem,
    _loads,
    _looks_like_jwt,
    b64url_decode,
    decode_bearer,
    decode_jwt,
    numeric_time,
)


def b64(data: dict[str, object] | bytes, pad: bool = False) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    text = base64.urlsafe_b64encode(raw).decode()
    return text if pad else text.rstrip("=")


def test_outer_alg_none_with_actor_is_s2s_user() -> None:
    actor = f"{b64({'alg': 'RS256', 'x5t': 'abc'})}.{b64({'iss': 'x', 'nameid': 'y'})}.{b64(b'sig')}"
    outer = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'iss': 'y', 'actortoken': actor})}."
    decoded = decode_bearer(outer)
    assert decoded.kind == "s2s-user"
    assert decoded.outer is not None and decoded.outer.is_unsigned
    assert decoded.actor is not None and decoded.actor.alg == "RS256"
    assert decoded.signed is decoded.actor
    assert decoded.actor.signing_input == actor.rsplit(".", 1)[0].encode()


def test_padding_is_optional() -> None:
    header, claims = {"alg": "none"}, {"iss": "00000004-0000-0ff1-ce00-000000000000@contoso.com", "a": "bb"}
    padded = decode_jwt(f"{b64(header, pad=True)}.{b64(claims, pad=True)}.")
    bare = decode_jwt(f"{b64(header)}.{b64(claims)}.")
    assert padded.claims == bare.claims == claims


def test_app_only_token_is_recognised_by_its_principal_issuer() -> None:
    token = f"{b64({'alg': 'RS256'})}.{b64({'iss': '00000001-0000-0000-c000-000000000000@tenant'})}.{b64(b'x')}"
    assert decode_bearer(token).kind == "s2s-app"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("mF_9.B5f-4.1JqM", "opaque"),  # the RFC 6750 example: three segments but not a JWT
        ("abc.def.ghi", "opaque"),
        ("1gsho83nt3bkmykh5aynw6kzgy", "opaque"),
    ],
)
def test_non_jwt_bearer_values(value: str, kind: str) -> None:
    decoded = decode_bearer(value)
    assert decoded.kind == kind
    assert decoded.problem is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("eyJhbGciOiJub25lIn0", "3 dot-separated segments"),
        ("eyJhbGciOiJub25lIn0.e30", "3 dot-separated segments"),
        ("eyJhbGciOiJub25lIn0.!!!.", "outside base64url"),
        ("eyJhbGciOiJub25lIn0.WzFd.", "not an object"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.", "signature segment is empty"),
        ("eyJhbGciOiJub25lIn0.A.", "impossible base64url length"),
        ("eyJ0eXAiOiJKV1QifQ.e30.", "no string 'alg'"),
    ],
)
def test_malformed_jwts_say_why(value: str, problem: str) -> None:
    decoded = decode_bearer(value)
    assert decoded.kind == "jwt"
    assert decoded.problem is not None and problem in decoded.problem


def test_actor_that_does_not_decode_is_reported_on_the_actor() -> None:
    outer = f"{b64({'alg': 'none'})}.{b64({'iss': 'a@b', 'actortoken': 'eyJbroken'})}."
    decoded = decode_bearer(outer)
    assert decoded.kind == "s2s-user" and decoded.actor is None
    assert decoded.actor_problem is not None


def test_nesting_is_capped_at_one_level() -> None:
    inner = f"{b64({'alg': 'none'})}.{b64({'iss': 'a'})}."
    actor = f"{b64({'alg': 'none'})}.{b64({'iss': 'a', 'actortoken': inner})}."
    outer = f"{b64({'alg': 'none'})}.{b64({'iss': 'a', 'actortoken': actor})}."
    decoded = decode_bearer(outer)
    assert decoded.actor_problem == "the actor token nests another actor token"


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    decoded = decode_bearer(f"{b64({'alg': 'none'})}.{b64(b'{"a":' + deep + b'}')}.")
    assert decoded.problem is not None


def test_oversized_token_is_refused_before_decoding() -> None:
    decoded = decode_bearer("eyJhbGciOiJub25lIn0." + "A" * MAX_TOKEN_LENGTH + ".")
    assert decoded.problem is not None and "limit" in decoded.problem


def test_non_utf8_payload() -> None:
    decoded = decode_bearer(f"{b64({'alg': 'none'})}.{b64(b'\xff\xfe{}')}.")
    assert decoded.problem == "the payload is not UTF-8"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1403212820, 1403212820),
        ("1403212820", 1403212820),
        (" 12 ", 12),
        (1.5, 1),
        (True, None),
        ("x", None),
        (float("nan"), None),
        (float("inf"), None),
        ("9" * 40, None),
        (None, None),
    ],
)
def test_numeric_time_accepts_strings_and_numbers(value: object, expected: int | None) -> None:
    assert numeric_time(value) == expected


@pytest.mark.parametrize(
    ("value", "principal", "host", "realm"),
    [
        (
            "00000004-0000-0ff1-ce00-000000000000@contoso.com",
            "00000004-0000-0ff1-ce00-000000000000",
            None,
            "contoso.com",
        ),
        (
            "00000002-0000-0FF1-CE00-000000000000/mail.contoso.com@abc",
            "00000002-0000-0ff1-ce00-000000000000",
            "mail.contoso.com",
            "abc",
        ),
        ("/7557eb47-c689-4224-abcf-aef9bd7573df@realm", "7557eb47-c689-4224-abcf-aef9bd7573df", None, "realm"),
    ],
)
def test_principal_forms(value: str, principal: str, host: str | None, realm: str) -> None:
    parsed = Principal.parse(value)
    assert parsed == Principal(principal, host, realm)


@pytest.mark.parametrize("value", ["https://sts.windows.net/x/", "joe", 5, None, "a@b@c"])
def test_not_principals(value: object) -> None:
    assert Principal.parse(value) is None


def test_b64url_rejects_standard_alphabet() -> None:
    with pytest.raises(TokenProblem):
        b64url_decode("ab+/")


def _reference_b64url(segment: str) -> bytes | None:
    """The decoder's rules spelled out slowly: base64url characters, at most two '=' at the end, no length % 4 == 1."""
    body = segment.rstrip("=")
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    if len(segment) - len(body) > 2 or not set(body) <= alphabet or len(body) % 4 == 1:
        return None
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.text(alphabet="AB-_+/=a9 \n\u00e9*.\x00", max_size=12),
    )
)
def test_b64url_fast_path_accepts_and_rejects_as_the_rules_say(segment: str) -> None:
    expected = _reference_b64url(segment)
    if expected is None:
        with pytest.raises(TokenProblem):
            b64url_decode(segment)
    else:
        assert b64url_decode(segment) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=' \t\n\r{}[]"a1,:.e-\ufeff\x0bnulltrue', max_size=20),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: st.lists(inner) | st.dictionaries(st.text(max_size=3), inner),
        ).map(lambda value: " " + json.dumps(value) + "\n"),
    )
)
def test_the_token_json_reader_accepts_and_rejects_as_json_loads(text: str) -> None:
    try:
        expected: tuple[object, ...] = ("ok", json.loads(text))
    except ValueError:
        expected = ("error",)
    try:
        got: tuple[object, ...] = ("ok", _loads(text))
    except ValueError:
        got = ("error",)
    assert got == expected


def test_a_header_decoded_from_the_cache_is_each_tokens_own() -> None:
    header = b64({"alg": "none", "typ": "JWT"})
    first, second = decode_jwt(f"{header}.{b64({'a': 1})}."), decode_jwt(f"{header}.{b64({'a': 2})}.")
    first.header["alg"] = "changed"
    assert second.header == {"alg": "none", "typ": "JWT"}


@pytest.mark.parametrize("depth", [31, 32, 33, 40])
def test_nesting_is_refused_just_past_the_limit_whatever_the_bracket_count(depth: int) -> None:
    # The walk is skipped only when the brackets are too few to nest past the limit: these have enough.
    nested: object = 1
    for _ in range(depth):
        nested = [nested]
    decoded = decode_bearer(f"{b64({'alg': 'none'})}.{b64({'a': nested})}.")
    assert (decoded.problem == "the payload JSON is nested too deeply") == (depth + 1 > 32)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
def test_decoder_is_total_on_any_text(value: str) -> None:
    decoded = decode_bearer(value)
    assert decoded.kind in {"s2s-user", "s2s-app", "jwt", "empty", "opaque"}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20), st.none()), max_size=5),
    st.binary(min_size=1, max_size=40),
    st.integers(min_value=0, max_value=300),
)
def test_decoder_is_total_on_truncated_tokens(claims: dict[str, object], sig: bytes, cut: int) -> None:
    token = f"{b64({'alg': 'RS256'})}.{b64(claims)}.{b64(sig)}"
    decoded = decode_bearer(token[:cut])
    if cut >= len(token):
        assert decoded.outer is not None and decoded.outer.claims == claims


def test_corpus_sharepoint_forged_token_decodes(corpus: Path) -> None:
    folder = corpus / "ms-oauth" / "rapid7-cve-2026-55040"
    outer = (folder / "forged_s2s_bearer_token.jwt").read_text().strip()
    decoded = decode_bearer(outer)
    assert decoded.kind == "s2s-user"
    assert decoded.outer is not None and decoded.outer.is_unsigned
    assert decoded.outer.claims["trustedfordelegation"] == "true"
    assert decoded.actor is not None
    assert decoded.actor.header["x5t"] == "i_gz5qfYp5YPWAK1__0YhZnipLI"
    assert decoded.actor.signature == b"\x00\x00\x00"


def test_corpus_hightrust_actor_with_string_times(corpus: Path) -> None:
    token = (corpus / "ms-oauth" / "sharepoint-hightrust-sample" / "actortoken_LRxHRIp.jwt").read_text().strip()
    decoded = decode_bearer(token)
    assert decoded.kind == "s2s-app"
    assert decoded.outer is not None
    assert numeric_time(decoded.outer.claims["nbf"]) == 1444780800
    assert numeric_time(decoded.outer.claims["exp"]) == 1444824000


@pytest.mark.parametrize(
    ("value", "count"),
    [("eyJhbGciOiJub25lIn0", 1), ("eyJhbGciOiJub25lIn0.e30", 2), ("eyJhbGciOiJub25lIn0.e30..", 4), ("a.b.c.d.e", 5)],
)
def test_a_wrong_segment_count_is_named(value: str, count: int) -> None:
    with pytest.raises(TokenProblem, match=f"this value has {count}$"):
        decode_jwt(value)


def test_the_signing_input_is_the_first_two_segments_as_sent() -> None:
    header, payload = b64({"alg": "RS256"}), b64({"iss": "a"})
    jwt = decode_jwt(f"{header}.{payload}.{b64(b'sig')}")
    assert (jwt.signing_input, jwt.signature, jwt.signature_segment) == (
        f"{header}.{payload}".encode(),
        b"sig",
        b64(b"sig"),
    )


def test_brackets_inside_strings_are_not_nesting() -> None:
    # More brackets than the depth limit, all in a string: the walk runs and finds the object flat.
    decoded = decode_bearer(f"{b64({'alg': 'none'})}.{b64({'a': '{[' * 40, 'b': [{'c': 1}]})}.")
    assert decoded.problem is None and decoded.outer is not None and decoded.outer.claims["a"] == "{[" * 40


_TIME_TEXT = re.compile(r"[ \t]*-?[0-9]{1,19}[ \t]*")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789 -\t²١x", max_size=22))
def test_numeric_time_reads_text_as_the_pattern_says(value: str) -> None:
    assert numeric_time(value) == (int(value) if _TIME_TEXT.fullmatch(value) else None)


def _slow_looks_like_jwt(value: str) -> bool:
    """The first segment's first 8 characters decode to something that starts like a JSON object."""
    first = value.find(".")
    first = len(value) if first < 0 else first
    if first < 8:
        return False
    try:
        return b64url_decode(value[:8]).lstrip()[:1] == b"{"
    except TokenProblem:
        return False


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="eyJICB7ab09-_=.+é", min_size=0, max_size=12))
def test_a_jwt_attempt_is_told_as_the_slow_rule_tells_it(value: str) -> None:
    assert _looks_like_jwt(value) == _slow_looks_like_jwt(value)


@pytest.mark.parametrize(
    "value", ["1" * 19, "1" * 20, "0012", "-5", " 7\t", "²", "١٢", "", "12x", "9223372036854775807", "+5"]
)
def test_numeric_time_reads_these_texts_as_the_pattern_says(value: str) -> None:
    assert numeric_time(value) == (int(value) if _TIME_TEXT.fullmatch(value) else None)


@pytest.mark.parametrize(
    "value",
    ["eyJhbGci.x", "eyJé1234.x", "eyJ\u0661234.x", "ICB7ImFs.x", "eyJhbG=i.x", "eyJhb.c.d", "eyJ-_abc.x", "eyJ"],
)
def test_these_are_told_as_jwt_attempts_as_the_slow_rule_tells_it(value: str) -> None:
    assert _looks_like_jwt(value) == _slow_looks_like_jwt(value)
