from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spnego._spnego import NegTokenInit

from inspector.http_auth import (
    MAX_CHALLENGES,
    MAX_PARAMS,
    Challenge,
    Credentials,
    bearer_challenge_info,
    parse_authorization,
    parse_ms_diagnostics,
    parse_www_authenticate,
)
from inspector.ntlm import NTLMSSP_SIGNATURE
from tests.test_ntlm import auth_headers_in_pcap

MB = 1024 * 1024


def _b64(text: str | bytes, encoding: str = "utf-8") -> str:
    raw = text.encode(encoding) if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


# --- Authorization: Bearer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "raw_scheme", "credentials"),
    [
        ("Bearer eyJ0eXAiOiJKV1QifQ.eyJhIjoxfQ.", "Bearer", "eyJ0eXAiOiJKV1QifQ.eyJhIjoxfQ."),
        ("BEARER 1gsho83nt3bkmykh5aynw6kzgy", "BEARER", "1gsho83nt3bkmykh5aynw6kzgy"),
        ("bearer   mF_9.B5f-4.1JqM  ", "bearer", "mF_9.B5f-4.1JqM"),
        ("Bearer", "Bearer", ""),  # discovery probes
        ("Bearer ", "Bearer", ""),
        ("  Bearer\t", "Bearer", ""),
    ],
)
def test_bearer(value: str, raw_scheme: str, credentials: str) -> None:
    assert parse_authorization(value) == Credentials("bearer", raw_scheme, credentials)


# --- Authorization: Basic -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "user", "password"),
    [
        ("Basic  dGVzdDoxOjM0", "test", "1:34"),  # zeek basic-auth-with-colon: two spaces, ':' in the password
        ("Basic  dGVzdDoxMjM0", "test", "1234"),  # zeek basic-auth-with-extra-space
        ("Basic c2F0dGE6Sm9sZWU5ZmFpcjln", "satta", "Jolee9fair9g"),
        ("basic dGVzdDpmYWlsMg==", "test", "fail2"),
        ("BASIC dGVzdDpmYWlsMg", "test", "fail2"),  # padding left off
        (f"Basic {_b64('jürgen:pässword')}", "jürgen", "pässword"),
        (f"Basic {_b64(':')}", "", ""),
        (f"Basic {_b64('user:')}", "user", ""),
    ],
)
def test_basic(value: str, user: str, password: str) -> None:
    credentials = parse_authorization(value)
    assert credentials.scheme == "basic"
    assert (credentials.basic_user, credentials.basic_password) == (user, password)
    assert credentials.basic_problem is None and credentials.problem is None


def test_basic_latin1_fallback() -> None:
    credentials = parse_authorization(f"Basic {_b64('jörg:geheim', 'latin-1')}")
    assert (credentials.basic_user, credentials.basic_password) == ("jörg", "geheim")
    assert credentials.basic_problem == "not UTF-8 (decoded as latin-1)"
    assert credentials.problem is None  # still usable


@pytest.mark.parametrize(
    ("value", "basic_problem"),
    [
        ("Basic", "empty"),
        ("Basic    ", "empty"),
        ("Basic not*base64", "not base64"),
        ("Basic dGVz dDp4", "not base64"),
        ("Basic dGVzdDp4x", "not base64"),  # 4n+1 characters can never be base64
        ("Basic dGVzdMOk", "no ':' separator"),
        (f"Basic {_b64('justatoken')}", "no ':' separator"),
        ("Basic ZGF2ZTpwdw\u00e9", "not base64"),
    ],
)
def test_basic_problems(value: str, basic_problem: str) -> None:
    credentials = parse_authorization(value)
    assert credentials.scheme == "basic"
    assert credentials.basic_problem == basic_problem
    assert credentials.problem is not None
    assert credentials.basic_user is None and credentials.basic_password is None


# --- Authorization: NTLM / Negotiate ------------------------------------------------------------------------------

_ERSPAN_TYPE3 = (  # zeek/erspan.pcap, the only Type-3 (NTLMv2 from STEVE-PC)
    "TlRMTVNTUAADAAAAGAAYAIYAAAAYARgBngAAAAQABABYAAAAGgAaAFwAAAAQABAAdgAAAAAAAAC2AQAABYKIogYBsR0AAAAPSBY1blXQHh37"
    "pNh65/bJ3XMAcABhAGQAbQBpAG4AaQBzAHQAcgBhAHQAbwByAFMAVABFAFYARQAtAFAAQwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAXVF8c"
    "A5dSOsl6E8DN+6VMAQEAAAAAAACXm7aj9u/QAYjdzEYfLuXEAAAAAAIABABTAFAAAQAKAFQARgBEAFMAUAAEABAAcwBwAC4AbABvAGMAYQBs"
    "AAMAHABUAEYARABTAFAALgBzAHAALgBsAG8AYwBhAGwABQAQAHMAcAAuAGwAbwBjAGEAbAAHAAgAl5u2o/bv0AEGAAQAAgAAAAgAMAAwAAAA"
    "AAAAAAEAAAAAEAAAUtMWP+ydsMKy+Ihdol9U5aEm8BXtpbMKujLU5tfJg9IKABAAAAAAAAAAAAAAAAAAAAAAAAkAIgBIAFQAVABQAC8AMQA5"
    "ADIALgAxADYAOAAuADYAOQAuADIAAAAAAAAAAAAAAAAA"
)
_ARKIME_NEGOTIATE_TYPE1 = "TlRMTVNTUAABAAAABwIAAggACAAoAAAACQAJADAAAAAGA4AlAAAAD0hUVFA2RE9NSFRUUDZIT1NU"


def test_ntlm_type3() -> None:
    credentials = parse_authorization(f"NTLM {_ERSPAN_TYPE3}")
    assert credentials.scheme == "ntlm" and credentials.problem is None
    assert credentials.ntlm is not None
    assert (credentials.ntlm.domain, credentials.ntlm.user, credentials.ntlm.workstation) == (
        "sp",
        "administrator",
        "STEVE-PC",
    )
    assert (credentials.ntlm.ntlm_version, credentials.ntlm.nt_response_length) == ("v2", 280)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("NTLM", "no token after NTLM"),
        ("NTLM !!!", "NTLM token is not base64"),
        (f"NTLM {_b64('hello world, not ntlm')}", "NTLM token is not a readable NTLMSSP message"),
        (f"ntlm {_b64(NTLMSSP_SIGNATURE + struct.pack('<I', 3))}", "NTLM token is not a readable NTLMSSP message"),
        ("Negotiate", "no token after Negotiate"),
        ("Negotiate YII%", "Negotiate token is not base64"),
    ],
)
def test_ntlm_and_negotiate_problems(value: str, problem: str) -> None:
    credentials = parse_authorization(value)
    assert credentials.problem == problem
    assert credentials.ntlm is None and credentials.negotiate_mechanism is None


def test_negotiate_wrapping_raw_ntlmssp() -> None:
    credentials = parse_authorization(f"Negotiate {_ARKIME_NEGOTIATE_TYPE1}")
    assert (credentials.scheme, credentials.negotiate_mechanism) == ("negotiate", "ntlm")
    assert credentials.ntlm is not None
    assert (credentials.ntlm.message_type, credentials.ntlm.domain, credentials.ntlm.workstation) == (
        1,
        "HTTP6DOM",
        "HTTP6HOST",
    )


def test_negotiate_spnego_kerberos() -> None:
    token = NegTokenInit(["1.2.840.48018.1.2.2", "1.2.840.113554.1.2.2"]).pack()
    credentials = parse_authorization(f"Negotiate {_b64(token)}")
    assert credentials == Credentials("negotiate", "Negotiate", _b64(token), negotiate_mechanism="kerberos")


def test_negotiate_unrecognised_token() -> None:
    credentials = parse_authorization(f"Negotiate {_b64(b'0123456789')}")
    assert (credentials.negotiate_mechanism, credentials.ntlm, credentials.problem) == ("unknown", None, None)


# --- Authorization: Digest, other schemes, bare tokens, empty -----------------------------------------------------

_ARKIME_DIGEST = (
    'Digest username="user12345678@domain.xxxx",realm="xxxxxxx",nonce="xxxxxxxxxxxxxxxx",'
    'uri="/xxxxxxxxxxxxxxxxxxxxxxxxxxx/xxxx/xxxxxxxxxxxxxxxxxxxxxxxx",algorithm="MD5",'
    'cnonce="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",nc=00000003,qop="auth",response="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'
)


@pytest.mark.parametrize(
    ("value", "user"),
    [
        (_ARKIME_DIGEST, "user12345678@domain.xxxx"),
        ('digest realm="r", USERNAME="Mufasa", nc=1', "Mufasa"),
        ("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"x\"", "Jäsøn Doe"),  # RFC 7616 3.9.2
        ("Digest username*=iso-8859-1''J%E4rg", "Järg"),
        ("Digest username*=x-evil''abc", "abc"),  # unknown charset: never handed to the codec registry
        ('Digest realm="r"', None),
        ("Digest", None),
    ],
)
def test_digest_user(value: str, user: str | None) -> None:
    credentials = parse_authorization(value)
    assert (credentials.scheme, credentials.digest_user, credentials.problem) == ("digest", user, None)


def test_unknown_scheme_is_kept() -> None:
    assert parse_authorization("Turbo customAuthDataHere") == Credentials("turbo", "Turbo", "customAuthDataHere")
    assert parse_authorization("MSAuth1.0 a b") == Credentials("msauth1.0", "MSAuth1.0", "a b")


_BUG_7390_JWT = (  # suricata-verify bug-7390.pcap: the whole Authorization value
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYW1lIjoicHJlc3RvIiwidXNlcl9pZCI6MSwiZXhwIjoxNzMxMDQ5NTQwfQ."
    "gGLVRqXFRbyc0QQRXWBop5f71ycy7uyGeg2KI81DPI4"
)


@pytest.mark.parametrize(
    "value",
    [_BUG_7390_JWT, f"  {_BUG_7390_JWT}  ", "x" * 33, "abc/def==", "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAA=="],
)
def test_bare_token(value: str) -> None:
    assert parse_authorization(value) == Credentials("bare", "", value.strip())


def test_single_unknown_word_is_a_bare_credential() -> None:
    # Issue 12 item 10: nothing tells "Turbo" from a short API key, and the scheme is printed in every format, so
    # an unknown word alone is a credential without a scheme; a known scheme alone stays one.
    assert parse_authorization("Turbo") == Credentials("bare", "", "Turbo")
    assert parse_authorization("x" * 32).scheme == "bare"
    assert parse_authorization("AbC1dE2fG3hI4j").scheme == "bare"
    assert parse_authorization("NTLM").scheme == "ntlm"
    assert parse_authorization("Bearer") == Credentials("bearer", "Bearer", "")


def test_unknown_scheme_word_beside_a_credential_is_shown_only_when_it_reads_like_a_word() -> None:
    assert parse_authorization("X-Custom-Auth abc").scheme == "x-custom-auth"
    assert parse_authorization("sk_live_1234abcd rest").scheme == "bare"
    assert parse_authorization("AbC1dE2fG3 rest").scheme == "bare"


def test_bare_token_followed_by_text_is_a_problem() -> None:
    credentials = parse_authorization(f"{_BUG_7390_JWT} trailing")
    assert credentials.scheme == "bare"
    assert credentials.problem == "value does not start with an auth scheme"


@pytest.mark.parametrize("value", ["", "   ", "\t\r\n"])
def test_empty_value(value: str) -> None:
    assert parse_authorization(value) == Credentials("", "", "", problem="empty header value")


# --- secrets stay out of repr -------------------------------------------------------------------------------------


def test_repr_hides_basic_password_and_blobs() -> None:
    basic = parse_authorization(f"Basic {_b64('alice:Pa55w0rd-xyzzy')}")
    assert basic.basic_password == "Pa55w0rd-xyzzy"
    for text in (repr(basic), str(basic)):
        assert "Pa55w0rd-xyzzy" not in text
        assert _b64("alice:Pa55w0rd-xyzzy") not in text
        assert "alice" in text  # the user name is not a secret
    ntlm = parse_authorization(f"NTLM {_ERSPAN_TYPE3}")
    assert _ERSPAN_TYPE3[:40] not in repr(ntlm)
    bearer = parse_authorization(f"Bearer {_BUG_7390_JWT}")
    assert "eyJ" not in repr(bearer)


@settings(max_examples=200, deadline=1000)
@given(user=st.text(max_size=20), secret=st.text(min_size=1, max_size=20))
def test_repr_never_contains_the_basic_password(user: str, secret: str) -> None:
    password = "S3cr3t\u2603" + secret
    assume(":" not in user and "S3cr3t\u2603" not in user)
    credentials = parse_authorization(f"Basic {_b64(f'{user}:{password}')}")
    assert (credentials.basic_user, credentials.basic_password) == (user, password)
    assert "S3cr3t\u2603" not in repr(credentials)
    assert "S3cr3t\u2603" not in str(credentials)


# --- WWW-Authenticate ---------------------------------------------------------------------------------------------

# Verbatim samples from reference/s2s-oauth-protocol.md §3.1 (the header name and Postman's arrow removed).
HMA_BEARER = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000'
    '@5de110f8-2e0f-4d45-891d-bcf2218e253d,00000004-0000-0ff1-ce00-000000000000@contoso.com", token_types="app_'
    'asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.windows.net/common/oauth2/authorize"'
)
HMA_FAILURE_BEARER = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000'
    '@00c118a9-2de9-41d3-b39a-81648a7a5e4d", authorization_uri="https://login.windows.net/common/oauth2/authorize", '
    'error="invalid_token"'
)
SFB_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000004-0000-0ff1-ce00-000000000000'
    '@contoso.com", token_types="app_asserted_user_v1service_asserted_app_v1", error="invalid_token",Negotiate,NTLM,'
    'Basic realm="autodiscover.contoso.com"'
)
EXO_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000'
    '@*", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login.microsoft'
    'online.com/common/oauth2/authorize",Basic Realm=""'
)
CU14_CHALLENGE = (
    'Bearer client_id="00000002-…", trusted_issuers="00000001-0000-0000-c000-000000000000@1d3c9b43-…", token_types='
    '"app_asserted_user_v1 service_asserted_app_v1", error="invalid_token",Basic realm="mail.dummy.uk"'
)
SPO_CHALLENGE = (
    'Bearer realm="6c482541-f706-4168-9e58-8e35a9992f58",client_id="00000003-0000-0ff1-ce00-000000000000",trusted_'
    'issuers="00000001-0000-0000-c000-000000000000@*,D3776938-3DBA-481F-A652-4BEDFCAB7CD8@*,https://sts.windows.net'
    '/*/,00000003-0000-0ff1-ce00-000000000000@90140122-8516-11e1-8eff-49304924019b",authorization_uri="https://login'
    '.windows.net/common/oauth2/authorize",error="insufficient_claims",claims="eyJ…"'
)
SP_ONPREM_CHALLENGE = (
    'NTLM, Bearer realm="5637f856-…",client_id="00000003-0000-0ff1-ce00-000000000000",trusted_issuers="00000003-'
    '0000-0ff1-ce00-000000000000@5637f856-…"'
)
ADFS_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", token_types="app_asserted_user_v1 service_asserted_'
    'app_v1", error="invalid_token"'
)


def _summary(challenges: list[Challenge]) -> list[tuple[str, dict[str, str] | str | None]]:
    return [(c.scheme, c.token68 if c.token68 is not None else dict(c.params) or None) for c in challenges]


def test_exchange_hma_challenge_in_two_headers() -> None:
    challenges = parse_www_authenticate([HMA_BEARER, 'Basic realm="mail.contoso.com"'])
    assert _summary(challenges) == [
        (
            "bearer",
            {
                "client_id": "00000002-0000-0ff1-ce00-000000000000",
                "trusted_issuers": "00000001-0000-0000-c000-000000000000@5de110f8-2e0f-4d45-891d-bcf2218e253d,"
                "00000004-0000-0ff1-ce00-000000000000@contoso.com",
                "token_types": "app_asserted_user_v1 service_asserted_app_v1",
                "authorization_uri": "https://login.windows.net/common/oauth2/authorize",
            },
        ),
        ("basic", {"realm": "mail.contoso.com"}),
    ]
    info = bearer_challenge_info(challenges[0])
    assert info.client_id == "00000002-0000-0ff1-ce00-000000000000"
    assert info.trusted_issuers == (
        "00000001-0000-0000-c000-000000000000@5de110f8-2e0f-4d45-891d-bcf2218e253d",
        "00000004-0000-0ff1-ce00-000000000000@contoso.com",
    )
    assert info.token_types == ("app_asserted_user_v1", "service_asserted_app_v1")
    assert info.authorization_uri == "https://login.windows.net/common/oauth2/authorize"
    assert (info.realm, info.error) == (None, None)


def test_exchange_failure_challenge() -> None:
    bearer, basic = parse_www_authenticate([HMA_FAILURE_BEARER, 'Basic realm="mail.contoso.com"'])
    info = bearer_challenge_info(bearer)
    assert info.error == "invalid_token"
    assert info.token_types == ()
    assert info.trusted_issuers == ("00000001-0000-0000-c000-000000000000@00c118a9-2de9-41d3-b39a-81648a7a5e4d",)
    assert basic.param("REALM") == "mail.contoso.com"


def test_sfb_challenge_with_glued_token_types_and_bare_schemes() -> None:
    challenges = parse_www_authenticate([SFB_CHALLENGE])
    assert [c.scheme for c in challenges] == ["bearer", "negotiate", "ntlm", "basic"]
    assert [c.raw_scheme for c in challenges] == ["Bearer", "Negotiate", "NTLM", "Basic"]
    bearer, negotiate, ntlm, basic = challenges
    assert negotiate.params == ntlm.params == () and negotiate.token68 is ntlm.token68 is None
    assert basic.params == (("realm", "autodiscover.contoso.com"),)
    info = bearer_challenge_info(bearer)
    assert bearer.param("token_types") == "app_asserted_user_v1service_asserted_app_v1"
    assert info.token_types == ("app_asserted_user_v1", "service_asserted_app_v1")
    assert info.trusted_issuers == ("00000004-0000-0ff1-ce00-000000000000@contoso.com",)
    assert info.error == "invalid_token"


def test_exo_challenge_with_capitalised_param_name() -> None:
    bearer, basic = parse_www_authenticate([EXO_CHALLENGE])
    assert basic.params == (("realm", ""),)
    assert basic.param("Realm") == ""
    assert bearer_challenge_info(bearer).trusted_issuers == ("00000001-0000-0000-c000-000000000000@*",)
    assert bearer.param("authorization_uri") == "https://login.microsoftonline.com/common/oauth2/authorize"


def test_exchange_2019_cu14_challenge() -> None:
    bearer, basic = parse_www_authenticate([CU14_CHALLENGE])
    assert bearer.param("client_id") == "00000002-…"
    assert bearer.param("error") == "invalid_token"
    assert (basic.scheme, basic.param("realm")) == ("basic", "mail.dummy.uk")


def test_sharepoint_online_challenge() -> None:
    (bearer,) = parse_www_authenticate([SPO_CHALLENGE])
    info = bearer_challenge_info(bearer)
    assert info.realm == "6c482541-f706-4168-9e58-8e35a9992f58"
    assert info.client_id == "00000003-0000-0ff1-ce00-000000000000"
    assert info.trusted_issuers == (
        "00000001-0000-0000-c000-000000000000@*",
        "D3776938-3DBA-481F-A652-4BEDFCAB7CD8@*",
        "https://sts.windows.net/*/",
        "00000003-0000-0ff1-ce00-000000000000@90140122-8516-11e1-8eff-49304924019b",
    )
    assert info.error == "insufficient_claims"
    assert bearer.param("claims") == "eyJ…"


def test_sharepoint_onprem_challenge() -> None:
    ntlm, bearer = parse_www_authenticate([SP_ONPREM_CHALLENGE])
    assert (ntlm.scheme, ntlm.params, ntlm.token68) == ("ntlm", (), None)
    assert bearer.params == (
        ("realm", "5637f856-…"),
        ("client_id", "00000003-0000-0ff1-ce00-000000000000"),
        ("trusted_issuers", "00000003-0000-0ff1-ce00-000000000000@5637f856-…"),
    )


def test_adfs_challenge_without_trusted_issuers() -> None:
    (bearer,) = parse_www_authenticate([ADFS_CHALLENGE])
    info = bearer_challenge_info(bearer)
    assert (info.trusted_issuers, info.authorization_uri) == ((), None)
    assert info.token_types == ("app_asserted_user_v1", "service_asserted_app_v1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NTLM TlRMTVNTUAACAAAABAAEADgAAAAFgomi7mG9THVa", [("ntlm", "TlRMTVNTUAACAAAABAAEADgAAAAFgomi7mG9THVa")]),
        (
            "Negotiate oRswGaADCgEBoxIEEAEAAABDh+CIwTbjqQAAAAA=",
            [("negotiate", "oRswGaADCgEBoxIEEAEAAABDh+CIwTbjqQAAAAA=")],
        ),
        ("Negotiate a/b+c==  , Basic realm=x", [("negotiate", "a/b+c=="), ("basic", {"realm": "x"})]),
        ('Negotiate,NTLM,Basic realm="x"', [("negotiate", None), ("ntlm", None), ("basic", {"realm": "x"})]),
        ("Negotiate, NTLM", [("negotiate", None), ("ntlm", None)]),
        ('Basic realm="a, b \\"c\\" \\\\ d"', [("basic", {"realm": 'a, b "c" \\ d'})]),
        ('Basic realm = "spaced" , charset="UTF-8"', [("basic", {"realm": "spaced", "charset": "UTF-8"})]),
        ("Bearer realm=unquoted,error=invalid_token", [("bearer", {"realm": "unquoted", "error": "invalid_token"})]),
        (
            'Bearer trusted_issuers="a@x,b@y", Basic realm="r"',
            [("bearer", {"trusted_issuers": "a@x,b@y"}), ("basic", {"realm": "r"})],
        ),
        ('Basic realm="Authentification user password"', [("basic", {"realm": "Authentification user password"})]),
        ("  ,, Basic  ,,", [("basic", None)]),
    ],
)
def test_challenge_grammar(value: str, expected: list[tuple[str, object]]) -> None:
    assert _summary(parse_www_authenticate([value])) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        (",,,", []),
        ("=", []),
        ('realm="orphan", Basic', [("basic", None)]),  # an auth-param with no scheme before it is dropped
        ('Basic realm="never closed, Bearer x', [("basic", {"realm": "never closed, Bearer x"})]),
        ('Basic realm="trailing backslash\\', [("basic", {"realm": "trailing backslash\\"})]),
        ('"stray quote", Basic', [("basic", None)]),
        ("\x00\x01 @@@ , NTLM", [("ntlm", None)]),
        ("NTLM abc==, realm=x", [("ntlm", "abc==")]),  # params after a token68 belong to nothing
        ('Basic realm="x"junk', [("basic", {"realm": "x"}), ("junk", None)]),
        ("Bearer ===", []),  # BWS before '=' makes this the auth-param bearer="==", with no scheme to own it
    ],
)
def test_challenge_garbage_is_best_effort(value: str, expected: list[tuple[str, object]]) -> None:
    assert _summary(parse_www_authenticate([value])) == expected


def test_challenge_param_lookup_is_case_insensitive_and_first_wins() -> None:
    (challenge,) = parse_www_authenticate(['Bearer Error="a", ERROR="b"'])
    assert challenge.params == (("error", "a"), ("error", "b"))
    assert challenge.param("error") == challenge.param("ErRoR") == "a"
    assert challenge.param("realm") is None


def test_challenge_and_param_counts_are_bounded() -> None:
    many = parse_www_authenticate([", ".join(["NTLM"] * (MAX_CHALLENGES * 3))])
    assert len(many) == MAX_CHALLENGES
    assert len(parse_www_authenticate(["NTLM"] * (MAX_CHALLENGES * 3))) == MAX_CHALLENGES
    # Skipped junk counts too: a flood of orphan params cannot keep the parser busy.
    assert parse_www_authenticate(["x=y, " * 10_000 + "Basic"]) == []
    assert parse_www_authenticate(["x=y, " * 10 + "Basic"]) == [Challenge("basic", "Basic")]
    (wide,) = parse_www_authenticate(["Basic " + ", ".join(f"p{i}=v" for i in range(MAX_PARAMS * 3))])
    assert len(wide.params) == MAX_PARAMS


def test_one_megabyte_values_parse() -> None:
    blob = "A" * MB
    assert parse_www_authenticate([f"Negotiate {blob}="]) == [Challenge("negotiate", "Negotiate", (), blob + "=")]
    assert parse_www_authenticate([f'Bearer realm="{blob}"'])[0].params == (("realm", blob),)
    assert parse_www_authenticate([f'Bearer realm="{blob}'])[0].params == (("realm", blob),)  # unterminated
    escaped = parse_www_authenticate(['Bearer realm="' + "\\\\" * (MB // 2) + '"'])
    assert escaped[0].params == (("realm", "\\" * (MB // 2)),)
    assert len(parse_www_authenticate(["a=b," * (MB // 4)])) == 0
    assert len(parse_www_authenticate(['"' * MB])) == 0
    assert len(parse_www_authenticate(["Basic " + "x=y," * (MB // 4)])[0].params) == MAX_PARAMS

    basic = parse_authorization(f"Basic {_b64('u:' + blob)}")
    assert (basic.basic_user, basic.basic_password) == ("u", blob)
    assert parse_authorization(f"Bearer {blob}").credentials == blob
    assert parse_authorization(blob).scheme == "bare"
    assert parse_authorization(f"NTLM {blob}").problem == "NTLM token is not a readable NTLMSSP message"
    diagnostics = parse_ms_diagnostics(f'2000001;reason="{blob}";error_category="invalid_token"')
    assert (diagnostics.code, diagnostics.reason, diagnostics.category) == (2000001, blob, "invalid_token")
    assert parse_ms_diagnostics('"' * MB).code is None
    assert parse_ms_diagnostics("9" * MB).code is None


# --- challenge round trip and robustness properties --------------------------------------------------------------

_TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_tokens = st.text(alphabet=_TCHAR, min_size=1, max_size=12)


@st.composite
def _challenges(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]], list[str]]:
    scheme = draw(_tokens)
    params = draw(st.lists(st.tuples(_tokens, st.text(max_size=20) | _tokens), max_size=5))
    rendered = []
    for name, value in params:
        bare = value and all(c in _TCHAR for c in value) and draw(st.booleans())
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        rendered.append(f"{name}{draw(st.sampled_from(['=', ' = ', '=  ']))}{value if bare else quoted}")
    return scheme, params, rendered


@settings(max_examples=300, deadline=1000)
@given(st.lists(_challenges(), min_size=1, max_size=4), st.booleans())
def test_rendered_challenges_parse_back(
    generated: list[tuple[str, list[tuple[str, str]], list[str]]], one_header: bool
) -> None:
    texts = [scheme + (" " + ", ".join(rendered) if rendered else "") for scheme, _, rendered in generated]
    values = [", ".join(texts)] if one_header else texts
    parsed = parse_www_authenticate(values)
    assert [(c.scheme, c.params, c.token68) for c in parsed] == [
        (scheme.lower(), tuple((name.lower(), value) for name, value in params), None)
        for scheme, params, _ in generated
    ]


@settings(max_examples=500, deadline=1000)
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    credentials = parse_authorization(text)
    assert credentials.scheme == credentials.scheme.lower()
    challenges = parse_www_authenticate([text, text])
    assert all(c.scheme == c.scheme.lower() for c in challenges)
    assert all(name == name.lower() for c in challenges for name, _ in c.params)
    parse_ms_diagnostics(text)
    for challenge in challenges:
        bearer_challenge_info(challenge)


_AUTH_ALPHABET = st.sampled_from([*'"\\,=; \t/+AZaz09', "Basic", "Bearer", "NTLM", "Negotiate", "realm"])


@settings(max_examples=500, deadline=1000)
@given(st.lists(_AUTH_ALPHABET, max_size=60).map("".join))
def test_grammar_shaped_text_never_raises(text: str) -> None:
    parse_authorization(text)
    parse_www_authenticate([text])
    parse_ms_diagnostics("2000000;" + text)


# --- x-ms-diagnostics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code", "reason", "category"),
    [
        (
            '2000003;reason="The hostname component of the audience claim value is invalid. Expected '
            "'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";error_category=\"invalid_resource\"",
            2000003,
            "The hostname component of the audience claim value is invalid. Expected 'https://mail.contoso.com'. "
            "Actual 'http://mail.contoso.com'.",
            "invalid_resource",
        ),
        (
            "2000004;reason=\"The tenant for tenant guid 'contoso.com' does not exist.\";"
            'error_category="invalid_tenant"',
            2000004,
            "The tenant for tenant guid 'contoso.com' does not exist.",
            "invalid_tenant",
        ),
        (
            "4000000;reason=\"Flighting is not enabled for domain 'mail.dummy.uk'.\";"
            'error_category="oauth_not_available"',
            4000000,
            "Flighting is not enabled for domain 'mail.dummy.uk'.",
            "oauth_not_available",
        ),
        (
            '2000005;reason= "The user specified by the user-context in the token is ambiguous." '
            ";error_category=invalid_user",
            2000005,
            "The user specified by the user-context in the token is ambiguous.",
            "invalid_user",
        ),
        (
            '2000000; reason="The token has an invalid signature.";error_category="invalid_signature"',
            2000000,
            "The token has an invalid signature.",
            "invalid_signature",
        ),
        (
            '3005004;reason="The token does not contain valid algorithm in header.";category="invalid_client"',
            3005004,
            "The token does not contain valid algorithm in header.",
            "invalid_client",
        ),
        ('  2000001 ;  reason = "a; b" ; error_category = "invalid_token" ', 2000001, "a; b", "invalid_token"),
        ("2000001;reason=unquoted text;error_category=invalid_token", 2000001, "unquoted text", "invalid_token"),
        ('2000001;junk;reason="after junk"', 2000001, "after junk", None),
        ('x-ms-diagnostics: 2000009;reason="pasted"', 2000009, "pasted", None),
        ('2000001;reason="never closed', 2000001, "never closed", None),
        ("2000008", 2000008, None, None),
        ('reason="no code"', None, "no code", None),
        ("", None, None, None),
        ("12345678901234;reason=x", None, "x", None),  # a code too long to be one
    ],
)
def test_parse_ms_diagnostics(value: str, code: int | None, reason: str | None, category: str | None) -> None:
    diagnostics = parse_ms_diagnostics(value)
    assert (diagnostics.raw, diagnostics.code, diagnostics.reason, diagnostics.category) == (
        value,
        code,
        reason,
        category,
    )


# --- real captures ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("pcap/auth/zeek/basic-auth-with-colon.pcap", [("basic", "test", "1:34")]),
        ("pcap/auth/zeek/basic-auth-with-extra-space.pcap", [("basic", "test", "1234")]),
        ("pcap/auth/suricata-verify/mqtt-events-missing-connect.pcap", [("basic", "satta", "Jolee9fair9g")] * 6),
        ("pcap/auth/arkime/http-basicauth.pcap", [("basic", "userrrrr", "passworddddd")]),
        ("pcap/auth/ndpi/http_auth.pcap", [("basic", "test", "fail2")]),
        ("pcap/auth/suricata-verify/http-auth-bearer.pcap", [("bearer", None, None)]),
        ("pcap/auth/suricata-verify/http-auth-unrecognized.pcap", [("turbo", None, None)]),
        ("pcap/auth/suricata-verify/bug-7390.pcap", [("bare", None, None)]),
        ("pcap/auth/arkime/http-digestauth.pcap", [("digest", None, None)]),
    ],
)
def test_authorization_in_captures(
    corpus: Path, relative: str, expected: list[tuple[str, str | None, str | None]]
) -> None:
    values = [value for name, value in auth_headers_in_pcap(corpus / relative) if name == "authorization"]
    parsed = [parse_authorization(value) for value in values]
    assert [(c.scheme, c.basic_user, c.basic_password) for c in parsed] == expected
    assert all(c.problem is None for c in parsed)


def test_ntlm_handshakes_in_captures(corpus: Path) -> None:
    values = auth_headers_in_pcap(corpus / "pcap/auth/arkime/ntlm_synthetic.pcap")
    requests = [parse_authorization(v) for name, v in values if name == "authorization"]
    identities = [
        (c.scheme, c.negotiate_mechanism, c.ntlm.domain, c.ntlm.user)
        for c in requests
        if c.ntlm is not None and c.ntlm.message_type == 3
    ]
    assert identities == [("ntlm", None, "HTTPDOM", "dave"), ("negotiate", "ntlm", "HTTP6DOM", "eve")]
    challenges = parse_www_authenticate([v for name, v in values if name == "www-authenticate"])
    assert [(c.scheme, c.token68 is not None) for c in challenges] == [("ntlm", True), ("negotiate", True)]


@pytest.mark.parametrize(
    ("relative", "realm"),
    [
        ("pcap/auth/suricata-verify/bug-130.pcap", "Authentification user password"),
        ("pcap/auth/ndpi/http_auth.pcap", "BrowserSpy.dk - HTTP Password Test"),
    ],
)
def test_basic_challenges_in_captures(corpus: Path, relative: str, realm: str) -> None:
    values = [value for name, value in auth_headers_in_pcap(corpus / relative) if name == "www-authenticate"]
    assert [(c.scheme, c.param("realm")) for c in parse_www_authenticate(values)] == [("basic", realm)]
