from __future__ import annotations

import base64
from datetime import UTC

from inspector.http_auth import parse_ms_diagnostics
from inspector.lab.outbound import outbound_cases
from inspector.lab.scenarios import BASIC_PASSWORD, BASIC_USER, lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.model import HttpExchange
from inspector.rules import CATALOGUE
from tests.lab.kit import ACCEPTED, DIAGNOSTIC_CODES

REALM_CHALLENGE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@{realm},00000004-0000-0ff1-ce00-000000000000@{realm}", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.windows.net/common/oauth2/authorize"'
)


def _auth(exchange: HttpExchange) -> str | None:
    return exchange.request.header("authorization")


def test_exchanges_are_ews_calls_in_order(kit: TokenKit) -> None:
    pairs = lab_exchanges(kit, source="demo")
    exchanges = [e for e, _ in pairs]
    assert [e.id for e in exchanges] == [f"demo:{n}" for n in range(1, len(exchanges) + 1)]
    times = [e.time for e in exchanges]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == kit.now
    for exchange in exchanges:
        request = exchange.request
        assert exchange.time.tzinfo is UTC
        assert (request.method, request.target) == ("POST", "/EWS/Exchange.asmx")
        assert exchange.host == kit.host
        assert request.header("content-type") == "text/xml; charset=utf-8"
        assert request.body is not None and request.header("content-length") == str(len(request.body))
        assert exchange.scheme == "https" and exchange.server is not None and exchange.client is not None
        assert exchange.response is not None and exchange.response_time is not None
        assert exchange.response_time > exchange.time
        assert exchange.provenance.kind == "lab" and exchange.provenance.source == "demo"


def test_every_token_scenario_is_sent_and_expectations_use_the_catalogue(kit: TokenKit) -> None:
    pairs = lab_exchanges(kit)
    sent = {_auth(e) for e, _ in pairs}
    for minted in kit.scenarios():
        assert f"Bearer {minted.value}" in sent, minted.name
    found = set()
    for _, expects in pairs:
        assert set(expects) <= set(CATALOGUE)
        found |= set(expects)
    # The lab exercises every rule about one exchange's authentication except these: the certificate rules (about
    # the trust store, not traffic), the input and capture rules (the lab writes well-formed, whole captures), the
    # internal error, the TLS rules, three token rules no lab scenario mints yet, and the run-level rules of the trust
    # inventory.
    not_in_lab = {
        *("signed-with-expired-cert", "cert-expired", "cert-expiring", "cert-weak-key"),
        *("capture-encrypted", "capture-gap", "capture-link-unsupported", "http-malformed", "input-malformed"),
        *("auth-header-malformed", "inspector-error"),
        *("delegation-not-trusted", "signing-key-wrong-issuer", "token-opaque"),
        # TLS rules: about connections, not one exchange's authentication (tests/sources/pcap/tls/ fire them)
        *("tls-cert-expired", "tls-version-legacy", "tls-cert-name-mismatch", "tls-decrypt-failed", "tls-malformed"),
        # Judged on the whole run's trust inventory (and the configuration), never on one exchange.
        *("issuer-not-trusted-by-server", "authorization-uri-missing", "rejections-concentrated"),
        *("signer-not-current", "next-cert-not-published", "signer-not-on-sp"),
    }
    # The outbound leg and the errors inside bodies have their own lab cases (inspector/lab/outbound.py).
    outbound = {r for case in outbound_cases(kit.auth_cert, kit.acs_cert, now=kit.now, rogue_cert=kit.rogue_cert)
                for r in case.expects}  # fmt: skip
    assert {"token-request-failed", "response-error-in-body"} <= outbound
    assert set(CATALOGUE) - found - outbound == not_in_lab


def test_rejected_tokens_get_invalid_token_and_diagnostics(kit: TokenKit) -> None:
    for exchange, expects in lab_exchanges(kit):
        auth = _auth(exchange) or ""
        assert exchange.response is not None
        if auth.startswith("Bearer ") and exchange.response.status == 401:
            assert "bearer-rejected" in expects
            challenges = exchange.response.header_all("www-authenticate")
            assert challenges[0].endswith(', error="invalid_token"')
            diagnostics = exchange.response.header("x-ms-diagnostics")
            assert diagnostics is not None and diagnostics[:7].isdigit()
        else:
            assert "bearer-rejected" not in expects


def test_token_scenarios_are_answered_as_the_lab_server_answers_them(kit: TokenKit) -> None:
    names = {f"Bearer {minted.value}": minted.name for minted in kit.scenarios()}
    answers: dict[str, tuple[int, int | None]] = {}
    for exchange, _ in lab_exchanges(kit):
        name = names.get(_auth(exchange) or "")
        if name is None or name in answers:  # the SSL-offloading step sends the healthy token again
            continue
        assert exchange.response is not None
        diagnostics = exchange.response.header("x-ms-diagnostics")
        answers[name] = (exchange.response.status, parse_ms_diagnostics(diagnostics).code if diagnostics else None)
    assert answers == dict.fromkeys(ACCEPTED, (200, None)) | {
        name: (401, code) for name, code in DIAGNOSTIC_CODES.items()
    }


def test_the_basic_clients_probe_is_offered_bearer_and_basic_in_separate_headers(kit: TokenKit) -> None:
    probe = next(e for e, x in lab_exchanges(kit) if x == ("basic-offered",))
    assert _auth(probe) == "Bearer"  # it tried OAuth first: what follows is a fallback
    assert probe.response is not None
    assert probe.response.header_all("WWW-Authenticate") == [
        REALM_CHALLENGE.format(realm=kit.realm),
        f'Basic realm="{kit.host}"',
    ]


def test_offloading_rejection_is_the_reference_sample(kit: TokenKit) -> None:
    pairs = lab_exchanges(kit)
    exchange = next(e for e, x in pairs if x == ("bearer-rejected", "basic-offered"))
    assert exchange.response is not None
    assert exchange.response.header("x-ms-diagnostics") == (
        '2000003;reason="The hostname component of the audience claim value is invalid. '
        "Expected 'https://mail.contoso.com'. Actual 'http://mail.contoso.com'.\";"
        'error_category="invalid_resource"'
    )
    assert exchange.response.header_all("www-authenticate")[1] == 'Basic realm="mail.contoso.com"'
    assert _auth(exchange) == f"Bearer {kit.healthy_user().value}"


def test_basic_fallback_follows_a_bearer_challenge_from_the_same_client(kit: TokenKit) -> None:
    pairs = lab_exchanges(kit)
    index = next(i for i, (_, x) in enumerate(pairs) if "basic-fallback" in x)
    challenge, fallback = pairs[index - 1][0], pairs[index][0]
    assert challenge.client == fallback.client
    assert challenge.response is not None and challenge.response.status == 401
    assert challenge.response.header_all("www-authenticate")[0].startswith("Bearer ")
    auth = _auth(fallback)
    assert auth is not None and auth.startswith("Basic ")
    assert base64.b64decode(auth.split()[1]).decode() == f"{BASIC_USER}:{BASIC_PASSWORD}"
    # No other client ever sends Basic.
    assert sum((_auth(e) or "").startswith("Basic ") for e, _ in pairs) == 1


def test_oauth_not_offered_is_a_challenge_without_bearer(kit: TokenKit) -> None:
    (exchange,) = [e for e, x in lab_exchanges(kit) if "oauth-not-offered" in x]
    assert exchange.response is not None
    assert exchange.response.header_all("www-authenticate") == ["Negotiate", "NTLM"]


def test_rendering_is_deterministic(kit: TokenKit) -> None:
    assert lab_exchanges(kit) == lab_exchanges(kit)
