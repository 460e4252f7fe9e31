"""Steps 5-6 at the Graph boundary: the double's write semantics (PATCH replaces the list, re-sent keyIds refused,
dates bounded by the certificate, addKey's proof rule), the executor's merge against them, and the endpoints of
each cloud, down to msal's sign-in request."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest

from inspector.provision.graph import GraphExecutor, GraphKeyStore, merged, new_key, once
from inspector.provision.state import StepFailed
from inspector.provision.steps import MergeKey, ReadBackKey
from inspector.provision.validate import certificate_file
from inspector.remote.graph import CLOUDS, GraphSettings, msal_token_provider
from inspector.remote.http import request
from tests.provision.conftest import NOW, TOKEN, Certs, stored_key
from tests.provision.exchange_double import SFB, TENANT
from tests.remote.test_graph import TokenEndpointDouble
from tests.verifyoauth.graph_double import GRAPH_AUDIENCE, GraphDouble, object_id

AUTH = (("Authorization", f"Bearer {TOKEN}"), ("Content-Type", "application/json"))


def send(graph: GraphDouble, method: str, path: str, document: Any) -> tuple[int, dict[str, Any] | None]:
    answer = request(f"{graph.url}{path}", method=method, headers=AUTH, body=json.dumps(document).encode(), timeout=5)
    return answer.status, json.loads(answer.body) if answer.body else None


def store(graph: GraphDouble) -> GraphKeyStore:
    return GraphKeyStore(GraphSettings(tenant=TENANT, timeout=5), lambda: TOKEN, graph_base=graph.url)


@pytest.fixture
def cert_facts(certs: Certs, tmp_path: Any) -> Any:
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(certs.auth.der)
    return certificate_file(path)


# --- the double behaves as Graph does ------------------------------------------------------------------------------


def test_patch_replaces_the_whole_list(graph: GraphDouble, certs: Certs) -> None:
    only = {"key": base64.b64encode(certs.auth.der).decode(), "type": "AsymmetricX509Cert", "usage": "Verify"}
    status, _ = send(graph, "PATCH", f"/v1.0/servicePrincipals(appId='{SFB}')", {"keyCredentials": [only]})
    assert status == 204
    (left,) = graph.state.principals[SFB]
    assert base64.b64decode(left["key"]) == certs.auth.der  # the two earlier keys are gone: that is the pitfall
    assert left["startDateTime"] == certs.auth.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert left["customKeyIdentifier"] == certs.auth.thumbprint


def test_patch_by_object_id_and_reading_back(graph: GraphDouble) -> None:
    path = f"/v1.0/servicePrincipals/{object_id(SFB)}"
    status, document = send(graph, "GET", path + "?$select=id,appId,keyCredentials", None)
    assert status == 200 and document is not None
    assert document["id"] == object_id(SFB) and document["appId"] == SFB and len(document["keyCredentials"]) == 2
    assert send(graph, "PATCH", path, {"keyCredentials": []})[0] == 204
    assert graph.state.principals[SFB] == []


def test_resending_a_key_id_is_refused(graph: GraphDouble) -> None:
    existing = [dict(c) for c in graph.state.principals[SFB]]
    status, document = send(graph, "PATCH", f"/v1.0/servicePrincipals(appId='{SFB}')", {"keyCredentials": existing})
    assert status == 400 and document is not None
    assert "Update to existing credential with KeyId" in document["error"]["message"]
    assert graph.state.principals[SFB] == existing  # refused: nothing replaced


def test_dates_outside_the_certificate_are_refused(graph: GraphDouble, certs: Certs) -> None:
    entry = {
        "key": base64.b64encode(certs.auth.der).decode(),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "endDateTime": (certs.auth.certificate.not_valid_after_utc + timedelta(days=1)).isoformat(),
    }
    status, document = send(graph, "PATCH", f"/v1.0/servicePrincipals(appId='{SFB}')", {"keyCredentials": [entry]})
    assert (
        status == 400 and document is not None and document["error"]["message"] == "Key credential end date is invalid."
    )


def _proof(signer: Any, *, app_id: str = SFB, lifetime: int = 600, audience: str = GRAPH_AUDIENCE) -> str:
    nbf = int(NOW.timestamp())
    claims = {"aud": audience, "iss": object_id(app_id), "nbf": nbf, "exp": nbf + lifetime}
    return jwt.encode(claims, signer.key, algorithm="RS256", headers={"x5t": signer.x5t})


@pytest.mark.parametrize(
    ("signer", "lifetime", "audience", "accepted", "message"),
    [
        ("other", 600, GRAPH_AUDIENCE, True, ""),
        ("old", 600, GRAPH_AUDIENCE, False, "not signed by a valid certificate"),  # expired key: no proof
        ("auth", 600, GRAPH_AUDIENCE, False, "not signed by a valid certificate"),  # not on the SP
        ("other", 3600, GRAPH_AUDIENCE, False, "10 minutes"),
        ("other", 600, "https://graph.microsoft.com", False, "not signed by a valid certificate"),
    ],
)
def test_add_key_needs_a_proof_from_an_existing_valid_key(
    graph: GraphDouble, certs: Certs, signer: str, lifetime: int, audience: str, accepted: bool, message: str
) -> None:
    body = {
        "keyCredential": {
            "key": base64.b64encode(certs.auth.der).decode(),
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        },
        "passwordCredential": None,
        "proof": _proof(getattr(certs, signer), lifetime=lifetime, audience=audience),
    }
    status, document = send(graph, "POST", f"/v1.0/servicePrincipals/{object_id(SFB)}/addKey", body)
    assert document is not None
    if accepted:
        assert status == 200 and len(graph.state.principals[SFB]) == 3  # added, not replaced
    else:
        assert status == 400 and message in document["error"]["message"]
        assert len(graph.state.principals[SFB]) == 2


def test_add_key_is_refused_without_a_valid_key(graph: GraphDouble, certs: Certs) -> None:
    graph.state.principals[SFB] = [stored_key(certs.old, "8d2a2f34-6b8e-4c55-9d3c-1a6f0e1c0a09")]
    body = {"keyCredential": new_key_entry(certs), "proof": _proof(certs.old)}
    status, document = send(graph, "POST", f"/v1.0/servicePrincipals/{object_id(SFB)}/addKey", body)
    assert status == 400 and document is not None and "has none" in document["error"]["message"]


def new_key_entry(certs: Certs) -> dict[str, str]:
    return {"key": base64.b64encode(certs.auth.der).decode(), "type": "AsymmetricX509Cert", "usage": "Verify"}


# --- the executor against it -----------------------------------------------------------------------------------------


def test_merge_then_read_back(graph: GraphDouble, certs: Certs, cert_facts: Any) -> None:
    executor = GraphExecutor(store(graph), now=lambda: NOW)
    assert executor.survey(MergeKey("5.1", "merge"), cert_facts).status == "change"
    result = executor.perform(MergeKey("5.1", "merge"), cert_facts)
    assert result.outcome == "changed" and "kept 2" in result.detail
    assert [k["thumbprints"] for k in result.record["keys_before"]] == [
        [certs.other.thumbprint],
        [certs.old.thumbprint],
    ]
    assert result.record["added"]["key"] is None  # the audit keeps the dates and names, not the certificate twice
    back = executor.perform(ReadBackKey("6.1", "read back"), cert_facts)
    assert back.outcome == "verified" and "2 other key(s)" in back.detail and "1 expired" in back.detail
    assert executor.perform(MergeKey("5.1", "merge"), cert_facts).outcome == "already"


def test_read_back_catches_lost_keys_and_wrong_dates(graph: GraphDouble, certs: Certs, cert_facts: Any) -> None:
    executor = GraphExecutor(store(graph), now=lambda: NOW)
    executor.perform(MergeKey("5.1", "merge"), cert_facts)
    mine = graph.state.principals[SFB][-1]
    graph.state.principals[SFB] = [mine]  # as if someone else's PATCH raced ours and dropped the others
    with pytest.raises(StepFailed, match="2 key\\(s\\) that were on the service principal") as raised:
        executor.perform(ReadBackKey("6.1", "read back"), cert_facts)
    assert "keys_before" in raised.value.remedy
    graph.state.principals[SFB] = [dict(mine, endDateTime="2099-01-01T00:00:00Z")]
    executor.before.clear()
    executor.before[SFB] = []
    with pytest.raises(StepFailed, match="dates are not the certificate's"):
        executor.perform(ReadBackKey("6.1", "read back"), cert_facts)


def test_merged_body_shape(certs: Certs, cert_facts: Any) -> None:
    existing = [stored_key(certs.other, "k1")]
    body = merged(existing, cert_facts)
    assert body[0] == {"key": existing[0]["key"], "type": "AsymmetricX509Cert", "usage": "Verify"}
    assert body[1] == new_key(cert_facts)
    assert body[1]["startDateTime"] == certs.auth.certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sign_in_happens_once() -> None:
    calls: list[int] = []

    def provider() -> str:
        calls.append(1)
        return TOKEN

    cached = once(provider)
    assert cached() == cached() == TOKEN and len(calls) == 1


# --- sovereign clouds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cloud", "login", "graph_base"),
    [
        ("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        ("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_cloud_endpoints_used(cloud: str, login: str, graph_base: str) -> None:
    settings = GraphSettings(tenant=TENANT, cloud=cloud, delegated_scope="Application.ReadWrite.All")
    keys = GraphKeyStore(settings, lambda: TOKEN)
    assert keys.url(SFB) == f"{graph_base}/v1.0/servicePrincipals(appId='{SFB}')"
    assert CLOUDS[cloud].graph == graph_base
    double = TokenEndpointDouble(login, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3599})
    shown: list[str] = []
    assert msal_token_provider(settings, show=shown.append, http_client=double)() == TOKEN
    (device_url, device_form), (token_url, _) = double.posts
    assert device_url == f"{login}/{TENANT}/oauth2/v2.0/devicecode"
    assert token_url == f"{login}/{TENANT}/oauth2/v2.0/token"
    assert f"{graph_base}/Application.ReadWrite.All" in device_form["scope"][0]
    assert all(url.startswith(login) for url in double.gets)
