"""The outbound leg: token requests recognised by shape, client assertions judged, answers explained."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from inspector.analyze import ExchangeResult
from inspector.lab.certs import EXCHANGE_PRINCIPAL
from inspector.lab.outbound import token_exchange
from inspector.lab.token_endpoint import (
    ACS_HOST,
    ENTRA_HOST,
    TokenCall,
    client_assertion,
    entra_error,
    entra_token_call,
    success_answer,
)
from inspector.lab.tokens import TokenKit
from inspector.model import HttpRequest
from inspector.report.serialize import exchange_data
from inspector.token_errors import KNOWN_TOKEN_ERRORS
from inspector.token_requests import token_request_fields
from inspector.trust import Trust
from tests import outbound

REQUIRED_CODES = (
    "AADSTS700027",
    "AADSTS50012",
    "AADSTS7000215",
    "AADSTS700016",
    "AADSTS500011",
    "AADSTS90002",
    "AADSTS700024",
    "AADSTS50013",
    "ACS50012",
    "ACS90019",
)


def _judge(kit: TokenKit, exchange, trust: Trust | None = None) -> ExchangeResult:  # type: ignore[no-untyped-def]
    analyzer = outbound.analyzer(kit)
    if trust is not None:
        analyzer = type(analyzer)(trust, analyzer.policy)
    result = analyzer.feed(exchange)
    assert isinstance(result, ExchangeResult)
    return result


def test_every_case_raises_exactly_what_it_expects(lab_kit: TokenKit) -> None:
    analyzer = outbound.analyzer(lab_kit)
    for case in outbound.cases(lab_kit):
        result = analyzer.feed(case.exchange)
        assert isinstance(result, ExchangeResult)
        assert {f.rule for f in result.findings} == set(case.expects), case.name


def test_every_required_code_is_known_with_meaning_and_remedy() -> None:
    for code in REQUIRED_CODES:
        known = KNOWN_TOKEN_ERRORS[code]
        assert known.meaning and known.remedy


@pytest.mark.parametrize("code", REQUIRED_CODES)
def test_each_known_code_is_explained_in_the_finding(lab_kit: TokenKit, code: str) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name.endswith(code))
    result = _judge(lab_kit, case.exchange)
    (failed,) = [f for f in result.findings if f.rule == "token-request-failed"]
    assert code in failed.evidence["codes"]  # type: ignore[operator]
    known = failed.evidence["known"]
    assert isinstance(known, list) and known[0]["code"] == code
    assert KNOWN_TOKEN_ERRORS[code].meaning in failed.message


def test_thumbprint_named_by_entra_is_matched_against_the_certificate_given(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "entra-AADSTS700027")
    (failed,) = _judge(lab_kit, case.exchange).findings
    thumbprint = lab_kit.auth_cert.thumbprint
    expected = (
        f"{thumbprint} is the auth certificate you gave (OAuthCert.cer, valid until "
        f"{lab_kit.auth_cert.certificate.not_valid_after_utc:%Y-%m-%d}): it is not registered on the service "
        "principal — upload it (provision step 5)"
    )
    assert failed.evidence["thumbprint"] == thumbprint
    assert failed.evidence["thumbprint_is"] == expected and expected in failed.message


def test_thumbprint_matched_against_expected_thumbprints_and_unknown(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "entra-AADSTS700027")
    by_thumbprint = Trust.of([], [lab_kit.auth_cert.thumbprint])
    (failed,) = _judge(lab_kit, case.exchange, by_thumbprint).findings[-1:]
    assert "an auth certificate thumbprint you gave (--thumbprint)" in str(failed.evidence["thumbprint_is"])
    other = Trust.of([], [lab_kit.rogue_cert.thumbprint])
    found = _judge(lab_kit, case.exchange, other).findings
    failed = next(f for f in found if f.rule == "token-request-failed")
    assert "none of the certificates you gave" in str(failed.evidence["thumbprint_is"])


def test_acs_answer_without_thumbprint_takes_it_from_the_assertion(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "acs-ACS50012")
    (failed,) = _judge(lab_kit, case.exchange).findings
    assert failed.evidence["thumbprint"] == lab_kit.auth_cert.thumbprint


def test_success_decodes_the_access_token_and_the_assertion(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "entra-success")
    result = _judge(lab_kit, case.exchange)
    report = result.token_request
    assert report is not None and report.client_id == EXCHANGE_PRINCIPAL
    assert report.assertion is not None and report.assertion.kind == "client-assertion"
    assert report.assertion.signature == "valid"
    assert report.access_token is not None and report.access_token.decoded.outer is not None
    assert report.access_token.decoded.outer.claims["roles"] == ["full_access_as_app"]
    data = exchange_data(result, show_secrets=False)["token_request"]
    assert data["client_assertion"]["kind"] == "client-assertion"
    assert "signature" not in data["client_assertion"]["outer"]
    assert "signature" not in data["access_token"]["outer"]
    assert dict(data["form"])["client_assertion"] == "[redacted]"


def test_forged_assertion_signature_is_invalid(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now)
    fields = dict(token_request_fields(token_exchange(1, call, 200, b"{}", lab_kit.now, "t")) or [])
    head, body, _ = fields["client_assertion"].split(".")
    fields["client_assertion"] = f"{head}.{body}.AAAA"
    forged = TokenCall(call.host, call.path, urlencode(fields).encode())
    result = _judge(
        lab_kit, token_exchange(1, forged, 200, success_answer(lab_kit.acs_cert, now=lab_kit.now), lab_kit.now, "t")
    )
    assert {f.rule for f in result.findings} == {"signature-invalid"}


def test_assertion_must_name_the_client_and_the_endpoint(lab_kit: TokenKit) -> None:
    now = lab_kit.now
    wrong = client_assertion(
        lab_kit.auth_cert, client_id="someone-else", audience="https://elsewhere.example/t", now=now
    )
    body = urlencode(
        {"grant_type": "client_credentials", "client_id": EXCHANGE_PRINCIPAL, "client_assertion": wrong}
    ).encode()
    call = TokenCall(ENTRA_HOST, "/common/oauth2/v2.0/token", body)
    result = _judge(lab_kit, token_exchange(1, call, 200, success_answer(lab_kit.acs_cert, now=now), now, "t"))
    assert {f.rule for f in result.findings} == {"issuer-unexpected", "audience-mismatch"}


def test_principal_form_client_id_matches_a_bare_guid_assertion(lab_kit: TokenKit) -> None:
    now = lab_kit.now
    assertion = client_assertion(
        lab_kit.auth_cert, client_id=EXCHANGE_PRINCIPAL, audience=f"https://{ACS_HOST}/x/tokens/OAuth/2", now=now
    )
    body = urlencode(
        {"grant_type": "client_credentials", "client_id": f"{EXCHANGE_PRINCIPAL}@realm", "assertion": assertion}
    ).encode()
    call = TokenCall(ACS_HOST, "/x/tokens/OAuth/2", body)
    result = _judge(lab_kit, token_exchange(1, call, 200, success_answer(lab_kit.acs_cert, now=now), now, "t"))
    assert result.findings == ()


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("GET", "/t/oauth2/token", "application/x-www-form-urlencoded", b"grant_type=client_credentials"),
        ("POST", "/t/oauth2/authorize", "application/x-www-form-urlencoded", b"grant_type=client_credentials"),
        ("POST", "/t/oauth2/token", "application/x-www-form-urlencoded", b"client_id=x"),
        ("POST", "/t/oauth2/token", "application/json", b'{"grant_type":"x"}'),
    ],
)
def test_not_a_token_request(lab_kit: TokenKit, method: str, path: str, content_type: str, body: bytes) -> None:
    exchange = token_exchange(1, TokenCall("example.org", path, body), 200, b"{}", lab_kit.now, "t")
    headers = tuple((n, content_type if n == "Content-Type" else v) for n, v in exchange.request.headers)
    exchange = replace(exchange, request=HttpRequest(method, path, headers=headers, body=body))
    assert token_request_fields(exchange) is None
    assert _judge(lab_kit, exchange).token_request is None


@pytest.mark.parametrize(
    "path", ["/tenant/oauth2/token", "/tenant/oauth2/v2.0/token", "/tenant/tokens/OAuth/2", "/oauth2/token/"]
)
def test_token_endpoints_on_any_host(lab_kit: TokenKit, path: str) -> None:
    call = TokenCall("sts.contoso.example", path, b"grant_type=client_credentials&client_id=x&client_secret=s3cret")
    exchange = token_exchange(1, call, 200, b'{"access_token":"opaque","token_type":"Bearer"}', lab_kit.now, "t")
    result = _judge(lab_kit, exchange)
    assert result.token_request is not None and result.token_request.grant_type == "client_credentials"
    shown = json.dumps(exchange_data(result, show_secrets=False))
    assert "s3cret" not in shown
    assert "s3cret" in json.dumps(exchange_data(result, show_secrets=True))


def test_absolute_form_target_through_a_forward_proxy(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now)
    status, body = entra_error(700027, now=lab_kit.now, thumbprint=lab_kit.auth_cert.thumbprint)
    exchange = token_exchange(1, call, status, body, lab_kit.now, "t")
    exchange = replace(exchange, request=replace(exchange.request, target=call.url))
    assert {f.rule for f in _judge(lab_kit, exchange).findings} == {"token-request-failed"}


def test_expired_assertion_at_capture_time_not_now(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now - timedelta(hours=5))
    exchange = token_exchange(1, call, 200, b"{}", lab_kit.now - timedelta(hours=5), "t")
    assert _judge(lab_kit, exchange).findings == ()


def test_a_token_request_whose_body_was_not_captured_is_judged_by_its_answer(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now)
    status, body = entra_error(700027, now=lab_kit.now, thumbprint=lab_kit.auth_cert.thumbprint)
    exchange = token_exchange(1, call, status, body, lab_kit.now, "t")
    exchange = replace(exchange, request=replace(exchange.request, body=None))
    result = _judge(lab_kit, exchange)
    assert {f.rule for f in result.findings} == {"token-request-failed"}  # no oauth-not-offered for its 401
    assert result.token_request is not None and result.token_request.form == ()
    assert result.token_request.thumbprint == lab_kit.auth_cert.thumbprint


def test_form_fields_are_bounded_and_secret_names_any_case() -> None:
    from inspector.token_requests import MAX_FORM_FIELDS, form_fields, is_secret_field

    many = "&".join(f"f{n}=v{n}" for n in range(500)).encode()
    fields = form_fields(many)
    assert len(fields) == MAX_FORM_FIELDS and fields[0] == ("f0", "v0") and fields[-1] == ("f63", "v63")
    assert is_secret_field("Client_Secret") and is_secret_field(" password") and not is_secret_field("client_id")


def test_assertion_without_sub_and_entra_host_aliases(lab_kit: TokenKit) -> None:
    from inspector.lab.tokens import rs256_token, x5t_header

    now = lab_kit.now
    nbf = int(now.timestamp())
    claims = {
        "aud": "https://login.windows.net/realm/oauth2/token",  # an alias of the host it is sent to
        "iss": EXCHANGE_PRINCIPAL,
        "nbf": nbf,
        "exp": nbf + 600,
    }
    assertion = rs256_token(x5t_header(lab_kit.auth_cert), claims, lab_kit.auth_cert)
    body = urlencode(
        {"grant_type": "client_credentials", "client_id": EXCHANGE_PRINCIPAL, "client_assertion": assertion}
    )
    call = TokenCall(ENTRA_HOST, "/realm/oauth2/token", body.encode())
    result = _judge(lab_kit, token_exchange(1, call, 200, success_answer(lab_kit.acs_cert, now=now), now, "t"))
    assert result.findings == ()
    claims["aud"] = "https://sts.contoso.example/realm/oauth2/token"
    claims["sub"] = "11111111-1111-1111-1111-111111111111"
    assertion = rs256_token(x5t_header(lab_kit.auth_cert), claims, lab_kit.auth_cert)
    body = urlencode(
        {"grant_type": "client_credentials", "client_id": EXCHANGE_PRINCIPAL, "client_assertion": assertion}
    )
    call = TokenCall(ENTRA_HOST, "/realm/oauth2/token", body.encode())
    result = _judge(lab_kit, token_exchange(1, call, 200, success_answer(lab_kit.acs_cert, now=now), now, "t"))
    assert {f.rule for f in result.findings} == {"issuer-unexpected", "audience-mismatch"}


def _assertion_request(kit: TokenKit, assertion: str):  # type: ignore[no-untyped-def]
    form = {"grant_type": "client_credentials", "client_id": EXCHANGE_PRINCIPAL, "client_assertion": assertion}
    call = TokenCall(ENTRA_HOST, "/realm/oauth2/token", urlencode(form).encode())
    return token_exchange(1, call, 200, success_answer(kit.acs_cert, now=kit.now), kit.now, "t")
