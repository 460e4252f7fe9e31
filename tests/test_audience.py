"""The audience principal: a token must be made for the service the request went to, not only for its host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analyze import Analyzer, ExchangeResult
from inspector.audience import expected_audience, parse_audience_principal
from inspector.lab.tokens import Minted, TokenKit
from inspector.policy import EXCHANGE, SFB_ONLINE, SHAREPOINT, Policy
from inspector.rules import Finding
from tests.builders import exchange, unsigned_jwt
from tests.test_analyze_tokens import trust_for
from tests.test_cli import EXPECTED, SAMPLES, TRUST, invoke

AAD_GRAPH = "00000002-0000-0000-c000-000000000000"


def _token_for(kit: TokenKit, principal: str) -> Minted:
    """A healthy S2S user token whose audience names ``principal`` on the kit's host."""
    aud = f"{principal}/{kit.host}@{kit.realm}"
    return kit.user_token(
        "for-" + principal[:8],
        "a valid token for another service",
        (),
        actor_claims=kit.actor_claims(aud=aud),
        outer_claims=lambda actor: kit.outer_claims(actor, aud=aud),
    )


def _rules(
    kit: TokenKit, value: str, *, target: str, host: str | None = None, policy: Policy | None = None
) -> list[Finding]:
    analyzer = Analyzer(trust_for(kit), policy or Policy(realms=frozenset({kit.realm})))
    result = analyzer.feed(exchange(f"Bearer {value}", host=host or kit.host, target=target))
    assert isinstance(result, ExchangeResult)
    return [f for f in result.findings if f.rule == "audience-mismatch"]


def test_a_sharepoint_token_sent_to_exchange_is_an_audience_mismatch(lab_kit: TokenKit) -> None:
    token = _token_for(lab_kit, SHAREPOINT).value
    (mismatch,) = _rules(lab_kit, token, target="/EWS/Exchange.asmx")
    assert "made for SharePoint (00000003-0000-0ff1-ce00-000000000000)" in mismatch.message
    assert "went to Exchange" in mismatch.message
    assert mismatch.evidence["expected_principal"] == EXCHANGE
    assert mismatch.evidence["expected_from"] == "path /ews/"
    # The same token where SharePoint answers: nothing wrong.
    assert _rules(lab_kit, token, target="/_api/web/lists") == []


def test_an_exchange_token_to_exchange_paths_is_clean(lab_kit: TokenKit) -> None:
    token = lab_kit.healthy_user().value
    for target in ("/EWS/Exchange.asmx", "/autodiscover/autodiscover.svc", "/api/v2.0/me", "/mapi/emsmdb/"):
        assert _rules(lab_kit, token, target=target) == [], target
    # Skype's Autodiscover lives under Exchange's prefix: the longer prefix names Skype.
    (mismatch,) = _rules(lab_kit, token, target="/Autodiscover/AutodiscoverService.svc/root")
    assert mismatch.evidence["expected_principal"] == SFB_ONLINE


def test_an_aad_token_for_aad_graph_sent_to_exchange_online(lab_kit: TokenKit) -> None:
    # An Entra access token's aud is an application ID (or a URL): judged the same way.
    value = unsigned_jwt({"aud": AAD_GRAPH, "iss": "https://sts.windows.net/x/", "appid": "y"})
    (mismatch,) = _rules(lab_kit, value, target="/EWS/Exchange.asmx", host="outlook.office365.com")
    assert f"made for Azure AD Graph ({AAD_GRAPH})" in mismatch.message
    assert "outlook.office365.com" in mismatch.message


def test_a_configured_host_principal_is_used_where_the_path_does_not_say(lab_kit: TokenKit) -> None:
    token = lab_kit.healthy_user().value  # made for Exchange
    assert _rules(lab_kit, token, target="/custom/service") == []  # an unknown service: only the host counts
    policy = Policy(realms=frozenset({lab_kit.realm}), audience_principals=(("pool.contoso.com", SFB_ONLINE),))
    found = _rules(lab_kit, token, target="/custom/service", host="pool.contoso.com.:443", policy=policy)
    (principal,) = [f for f in found if "expected_principal" in f.evidence]
    assert principal.evidence["expected_from"] == "--audience-principal for pool.contoso.com"
    assert "made for Exchange" in principal.message


def test_audience_principal_option_values() -> None:
    assert parse_audience_principal("Pool.Contoso.com=skype") == ("pool.contoso.com", SFB_ONLINE)
    assert parse_audience_principal("sp.contoso.com = 00000003-0000-0ff1-ce00-000000000000") == (
        "sp.contoso.com",
        SHAREPOINT,
    )
    for bad in ("pool.contoso.com", "=exchange", "a.b=c/d@e"):
        with pytest.raises(ValueError, match="audience principal"):
            parse_audience_principal(bad)
    assert expected_audience((), "mail.contoso.com", "https://mail.contoso.com/EWS/x?y") is not None


def test_the_option_and_the_config_file_name_a_hosts_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = EXPECTED["host"]
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--audience-principal", f"{host}=sharepoint")
    assert "made for Exchange" in out
    (tmp_path / "oauth-inspector.toml").write_text(f'audience-principal = ["{host}=sharepoint"]\nformat = "json"\n')
    monkeypatch.chdir(tmp_path)
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST)
    reasons = {
        f["evidence"].get("expected_from") for f in json.loads(out)["findings"] if f["rule"] == "audience-mismatch"
    }
    assert f"--audience-principal for {host}" in reasons
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"), "--audience-principal", "no-equals-sign")
    assert code == 2
    assert "HOST=PRINCIPAL" in err


def test_the_readme_table_is_the_code_table() -> None:
    from inspector.audience import SERVICE_PATHS
    from inspector.policy import WELL_KNOWN_PRINCIPALS
    from tests.corpus import REPO

    readme = (REPO / "README.md").read_text()
    table = readme.split("<!-- audience-table:", 1)[1].split("<!-- /audience-table -->", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{p}` | {WELL_KNOWN_PRINCIPALS[g]} | `{g}` |" for p, g in SERVICE_PATHS]


def test_an_entra_token_with_a_url_audience_names_its_service(lab_kit: TokenKit) -> None:
    graph = unsigned_jwt({"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/x/"})
    found = _rules(lab_kit, graph, target="/EWS/Exchange.asmx", host="outlook.office365.com")
    (principal,) = [f for f in found if "expected_principal" in f.evidence]
    assert "made for Microsoft Graph" in principal.message
    exchange_online = unsigned_jwt({"aud": "https://outlook.office365.com/", "iss": "https://sts.windows.net/x/"})
    assert _rules(lab_kit, exchange_online, target="/EWS/Exchange.asmx", host="outlook.office365.com") == []


def test_the_addon_and_the_proxy_have_the_option_from_the_one_table() -> None:
    from inspector.settings import BY_PARAM, TrustArguments, addon_arguments

    row = BY_PARAM["audience_principals"]
    assert row.addon_name == "oauth_audience_principal"
    assert row.config_key == "audience-principal"
    given = TrustArguments(audience_principals=("pool.contoso.com=skype",))
    assert ("oauth_audience_principal", "pool.contoso.com=skype") in addon_arguments(given)


def _longest_prefix_slowly(target: str) -> tuple[str, str] | None:
    """The rule spelled out: of the prefixes the lower-cased path starts with, the longest (the table's first on a
    tie)."""
    from inspector.audience import SERVICE_PATHS

    path = target.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    best: tuple[str, str] | None = None
    for prefix, principal in SERVICE_PATHS:
        if path.lower().startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, principal)
    return best


@pytest.mark.parametrize(
    "target",
    [
        "/EWS/Exchange.asmx",
        "/Autodiscover/AutodiscoverService.svc/root",
        "/autodiscover/autodiscover.xml",
        "/AUTODISCOVER/AUTODISCOVERSERVICE.SVC",
        "/powershell?serializationLevel=Full",
        "/PowerShell-LiveID",
        "/_api/web",
        "https://mail.contoso.com/ucwa/v1/applications",
        "/ews",
        "/",
        "",
        "/unknown/path",
    ],
)
def test_the_service_is_the_longest_prefix_the_path_starts_with(target: str) -> None:
    slow = _longest_prefix_slowly(target)
    found = expected_audience((), "mail.contoso.com", target)
    assert (found.principal, found.why) == (slow[1], f"path {slow[0]}") if slow else found is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/_-.?:aeiouswcdpltmrvgnbhkAEWSX", max_size=40))
def test_any_path_gets_the_service_the_slow_rule_gives(target: str) -> None:
    slow = _longest_prefix_slowly(target)
    found = expected_audience((), None, target)
    assert (found.principal, found.why) == (slow[1], f"path {slow[0]}") if slow else found is None
