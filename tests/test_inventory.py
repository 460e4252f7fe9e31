"""The trust inventory (counts per signer and per challenge, bounded, mergeable) and the rules judged on it."""

from __future__ import annotations

import pickle

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import MAX_SIGNERS, Inventory
from inspector.inventory_rules import inventory_findings, issuer_trusted
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.trust import Trust, key_from_certificate
from tests.builders import BEARER_CHALLENGE, REALM, exchange

SFB = "00000004-0000-0ff1-ce00-000000000000"
ACS = "00000001-0000-0000-c000-000000000000"


def _challenge(trusted: str | None, *, uri: bool = True) -> str:
    value = 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000"'
    if trusted is not None:
        value += f', trusted_issuers="{trusted}"'
    if uri:
        value += ', authorization_uri="https://login.windows.net/common/oauth2/authorize"'
    return value


def _analyzer(kit: TokenKit) -> Analyzer:
    trust = Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer")])
    return Analyzer(trust, Policy(realms=frozenset({kit.realm})))


def _results(analyzer: Analyzer, *exchanges: object) -> list[ExchangeResult]:
    out = []
    for item in exchanges:
        result = analyzer.feed(item)  # type: ignore[arg-type]
        assert isinstance(result, ExchangeResult)
        out.append(result)
    return out


def _inventory(results: list[ExchangeResult]) -> Inventory:
    inventory = Inventory()
    for result in results:
        inventory.observe(result)
    return inventory


def _rules(inventory: Inventory) -> list[str]:
    return [f.rule for f in inventory_findings(inventory)]


def _fe_be(fe: str, be: str, *, challenge: str | None = None) -> tuple[tuple[str, str], ...]:
    headers = [("X-FEServer", fe), ("X-BEServer", be)]
    if challenge is not None:
        headers.insert(0, ("WWW-Authenticate", challenge))
    return tuple(headers)


def test_signer_counts_clients_servers_times_verdicts_and_statuses(lab_kit: TokenKit) -> None:
    healthy = f"Bearer {lab_kit.healthy_user().value}"
    forged = f"Bearer {lab_kit.forged_signature().value}"
    results = _results(
        _analyzer(lab_kit),
        exchange(healthy, response_headers=_fe_be("FE1", "BE1"), client="10.0.0.7"),
        exchange(healthy, response_headers=_fe_be("FE1", "BE2"), client="10.0.0.8", after=60),
        exchange(forged, status=401, response_headers=_fe_be("FE2", "BE1", challenge=BEARER_CHALLENGE), after=30),
        exchange(None, status=401, response_headers=(("WWW-Authenticate", BEARER_CHALLENGE),), after=5),
    )
    inventory = _inventory(results)
    assert len(inventory.signers) == 1  # the forged token names the same issuer, certificate and audience
    data = inventory.data()["signers"][0]
    assert data["issuer"] == f"{SFB}@{REALM}"
    assert data["x5t"] == lab_kit.auth_cert.x5t
    assert data["realm"] == REALM
    assert data["audience_principal"] == "00000002-0000-0ff1-ce00-000000000000"
    assert data["audience_host"] == "mail.contoso.com"
    assert data["clients"] == ["10.0.0.7", "10.0.0.8"]
    assert data["hosts"] == ["mail.contoso.com"]
    assert data["fe_servers"] == ["FE1", "FE2"]
    assert data["be_servers"] == ["BE1", "BE2"]
    assert data["exchanges"] == 3
    assert data["signatures"] == {"invalid": 1, "valid": 2}
    assert data["statuses"] == {"200": 2, "401": 1}
    assert data["first_seen"] == "2026-11-02T09:30:00Z"
    assert data["last_seen"] == "2026-11-02T09:31:00Z"
    challenges = inventory.data()["challenges"]
    assert len(challenges) == 1
    assert challenges[0]["trusted_issuers"] == [f"{ACS}@{REALM}"]
    assert challenges[0]["client_id"] == "00000002-0000-0ff1-ce00-000000000000"
    assert challenges[0]["authorization_uri"] == "https://login.windows.net/common/oauth2/authorize"
    assert challenges[0]["count"] == 2
    assert challenges[0]["servers"] == ["BE1", "10.0.0.9"]


def test_exchanges_without_a_token_or_challenge_leave_no_trace(lab_kit: TokenKit) -> None:
    results = _results(_analyzer(lab_kit), exchange(None), exchange("Basic dTpw"), exchange("Bearer opaque-value"))
    assert _inventory(results).data() == {"signers": [], "challenges": [], "rotation": []}


def test_the_table_is_bounded_and_counts_what_did_not_fit(lab_kit: TokenKit) -> None:
    analyzer = _analyzer(lab_kit)
    inventory = Inventory()
    from tests.builders import unsigned_jwt

    for n in range(MAX_SIGNERS + 7):
        claims = {"iss": f"{SFB}@realm-{n}", "aud": f"00000002-0000-0ff1-ce00-000000000000/h@realm-{n}"}
        result = analyzer.feed(exchange(f"Bearer {unsigned_jwt(claims)}"))
        assert isinstance(result, ExchangeResult)
        inventory.observe(result)
    assert len(inventory.signers) == MAX_SIGNERS
    assert inventory.signers_dropped == 7
    assert inventory.data()["not_listed"] == {"signer_exchanges": 7, "challenges": 0}


def test_merging_split_inventories_gives_the_whole(lab_kit: TokenKit) -> None:
    healthy = f"Bearer {lab_kit.healthy_user().value}"
    app = f"Bearer {lab_kit.app_only().value}"
    items = [
        exchange(healthy, response_headers=_fe_be("FE1", "BE1")),
        exchange(app, status=401, response_headers=_fe_be("FE1", "BE2", challenge=BEARER_CHALLENGE), after=3),
        exchange(healthy, response_headers=_fe_be("FE2", "BE2"), after=-10, client="10.0.0.99"),
        exchange(None, status=401, response_headers=(("WWW-Authenticate", _challenge(None, uri=False)),)),
    ]
    results = _results(_analyzer(lab_kit), *items)
    whole = _inventory(results).data()
    for cut in range(len(results) + 1):
        merged = Inventory()
        for part in (_inventory(results[:cut]), _inventory(results[cut:])):
            merged.merge(pickle.loads(pickle.dumps(part)))  # noqa: S301 - as a --jobs worker sends it
        assert merged.data() == whole, cut


def test_issuer_trust_patterns() -> None:
    assert issuer_trusted(f"{SFB}@contoso.com", [f"{SFB}@*"])
    assert issuer_trusted(f"{SFB}@Contoso.COM", [f"{ACS}@x", f"{SFB}@contoso.com"])
    assert issuer_trusted("https://sts.windows.net/abc/", ["https://sts.windows.net/*/"])
    assert not issuer_trusted(f"{SFB}@fabrikam.com", [f"{SFB}@contoso.com"])
    assert not issuer_trusted(f"{SFB}@contoso.com", [f"{ACS}@*"])
    assert not issuer_trusted(f"{SFB}@contoso.com", [f"{SFB}@contoso.co."])  # dots are not wildcards


def test_issuer_not_trusted_by_server_fires(lab_kit: TokenKit) -> None:
    token = f"Bearer {lab_kit.healthy_user().value}"
    challenge = (("WWW-Authenticate", _challenge(f"{ACS}@{REALM}")),)
    results = _results(_analyzer(lab_kit), exchange(None, status=401, response_headers=challenge), exchange(token))
    found = inventory_findings(_inventory(results))
    assert [f.rule for f in found] == ["issuer-not-trusted-by-server"]
    assert found[0].severity == "error"
    assert found[0].evidence["issuer"] == f"{SFB}@{REALM}"
    assert found[0].evidence["host"] == "mail.contoso.com"


@pytest.mark.parametrize(
    ("trusted", "host"),
    [
        (f"{ACS}@{REALM},{SFB}@*", "mail.contoso.com"),  # trusted through the any-realm wildcard
        (f"{ACS}@{REALM}", "other.contoso.com"),  # another server's challenge says nothing about this one
        (None, "mail.contoso.com"),  # no trusted_issuers at all (AD FS setups): unknown, not wrong
    ],
)
def test_issuer_not_trusted_by_server_close_cases(lab_kit: TokenKit, trusted: str | None, host: str) -> None:
    token = f"Bearer {lab_kit.healthy_user().value}"
    challenge = (("WWW-Authenticate", _challenge(trusted)),)
    results = _results(
        _analyzer(lab_kit), exchange(None, status=401, response_headers=challenge, host=host), exchange(token)
    )
    assert "issuer-not-trusted-by-server" not in _rules(_inventory(results))


def test_a_trusted_issuers_list_cut_short_judges_nothing(lab_kit: TokenKit) -> None:
    token = f"Bearer {lab_kit.healthy_user().value}"
    many = ",".join(f"{ACS}@realm-{n}" for n in range(70)) + f",{SFB}@{REALM}"  # trusted, but past the cut
    challenge = (("WWW-Authenticate", _challenge(many)),)
    results = _results(_analyzer(lab_kit), exchange(None, status=401, response_headers=challenge), exchange(token))
    inventory = _inventory(results)
    (listed,) = inventory.data()["challenges"]
    assert len(listed["trusted_issuers"]) == 65 and listed["trusted_issuers"][-1].endswith("7 more")
    assert "issuer-not-trusted-by-server" not in _rules(inventory)


def test_authorization_uri_missing_fires_once_per_host(lab_kit: TokenKit) -> None:
    bare = (("WWW-Authenticate", _challenge(f"{SFB}@*", uri=False)),)
    results = _results(
        _analyzer(lab_kit),
        exchange(None, status=401, response_headers=bare),
        exchange(None, status=401, response_headers=bare, client="10.0.0.8"),
    )
    found = inventory_findings(_inventory(results))
    assert [f.rule for f in found] == ["authorization-uri-missing"]
    assert found[0].severity == "info"
    assert found[0].evidence["challenges"] == 2


def test_authorization_uri_present_or_no_bearer_challenge_is_quiet(lab_kit: TokenKit) -> None:
    results = _results(
        _analyzer(lab_kit),
        exchange(None, status=401, response_headers=(("WWW-Authenticate", _challenge(f"{SFB}@*")),)),
        exchange(None, status=401, response_headers=(("WWW-Authenticate", 'Basic realm="x"'),), host="b.contoso.com"),
    )
    assert _rules(_inventory(results)) == []


TRUSTING = _challenge(f"{ACS}@{REALM},{SFB}@{REALM}")


def _fleet(kit: TokenKit, answers: list[tuple[str, int]], *, token: str | None = None) -> list[str]:
    value = token or f"Bearer {kit.healthy_user().value}"
    items = [
        exchange(
            value,
            status=status,
            response_headers=_fe_be("FE1", backend, challenge=TRUSTING if status == 401 else None),
            after=n,
        )
        for n, (backend, status) in enumerate(answers)
    ]
    return _rules(_inventory(_results(_analyzer(kit), *items)))


def test_rejections_concentrated_on_one_backend_fires(lab_kit: TokenKit) -> None:
    rules = _fleet(lab_kit, [("BE1", 200), ("BE2", 401), ("BE2", 401), ("BE3", 200), ("BE1", 200)])
    assert rules == ["rejections-concentrated"]


@pytest.mark.parametrize(
    "answers",
    [
        [("BE1", 401), ("BE2", 401), ("BE3", 200)],  # refused on two servers: not one server's problem
        [("BE2", 401), ("BE2", 401), ("BE2", 200)],  # one server only: nothing to compare with
        [("BE1", 200), ("BE2", 200)],  # nothing refused
    ],
)
def test_rejections_concentrated_close_cases(lab_kit: TokenKit, answers: list[tuple[str, int]]) -> None:
    assert "rejections-concentrated" not in _fleet(lab_kit, answers)


def test_rejections_of_broken_tokens_are_not_concentrated(lab_kit: TokenKit) -> None:
    """A forged token refused by one server is the token's fault, not the server's."""
    forged = f"Bearer {lab_kit.forged_signature().value}"
    healthy = f"Bearer {lab_kit.healthy_user().value}"
    analyzer = _analyzer(lab_kit)
    results = _results(
        analyzer,
        exchange(healthy, response_headers=_fe_be("FE1", "BE1")),
        exchange(forged, status=401, response_headers=_fe_be("FE1", "BE2", challenge=BEARER_CHALLENGE)),
    )
    assert "rejections-concentrated" not in _rules(_inventory(results))
