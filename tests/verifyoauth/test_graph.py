"""``--graph`` at its boundaries: the exact Graph request against a local Graph double (a real http.server on
127.0.0.1), its error answers, and msal's sign-in against a token-endpoint double (msal's own ``http_client``
hook), so no request leaves the machine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.remote.errors import SourceError
from inspector.remote.graph import GraphSettings
from inspector.verifyoauth.context import Request
from inspector.verifyoauth.graph import GraphSource
from tests.verifyoauth.conftest import Material, check_map, render
from tests.verifyoauth.graph_double import GraphDouble

SFB = "00000004-0000-0ff1-ce00-000000000000"
TENANT = "5de110f8-2e0f-4d45-891d-bcf2218e253d"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.graph-test-token.c2ln"


@pytest.fixture
def graph(material: Material) -> Iterator[GraphDouble]:
    with GraphDouble() as double:
        double.state.principals[SFB] = render("sp-graph-select.json", material.current)["keyCredentials"]
        yield double


def source(double: GraphDouble) -> GraphSource:
    return GraphSource(GraphSettings(tenant=TENANT, timeout=5), lambda: TOKEN, graph_base=double.url)


def test_exact_request_and_a_passing_check(graph: GraphDouble, material: Material, cert_file: Path) -> None:
    checks = check_map(Request(cert=cert_file, sp_source=source(graph)))
    assert checks["entra.sp-key"].status == "PASS" and "matched by" not in checks["entra.sp-key"].reason
    ((method, path, headers),) = graph.state.requests
    assert (method, path) == ("GET", f"/v1.0/servicePrincipals(appId='{SFB}')?$select=keyCredentials")
    assert headers["authorization"] == f"Bearer {TOKEN}" and headers["accept"] == "application/json"
    assert TOKEN not in json.dumps([c.evidence for c in checks.values()], default=str)


def test_graph_double_returns_key_only_with_select(graph: GraphDouble) -> None:
    from inspector.remote.http import request

    answer = request(f"{graph.url}/v1.0/servicePrincipals(appId='{SFB}')", headers=(("Authorization", "Bearer x" * 2),))
    assert answer.status == 200 and json.loads(answer.body)["keyCredentials"][0]["key"] is None


@pytest.mark.parametrize(
    ("mode", "app_id", "message", "remedy"),
    [
        ("normal", "11111111-2222-3333-4444-555555555555", "No service principal with appId", "New-MgServicePrincipal"),
        (
            "forbidden",
            SFB,
            "403 Forbidden: Authorization_RequestDenied: Insufficient privileges",
            "Application.Read.All",
        ),
        ("error", SFB, "answered 500", None),
    ],
)
def test_graph_errors(graph: GraphDouble, mode: str, app_id: str, message: str, remedy: str | None) -> None:
    graph.state.mode = mode
    with pytest.raises(SourceError, match=message) as raised:
        source(graph).load(app_id)
    assert raised.value.remedy == remedy or (remedy is not None and remedy in (raised.value.remedy or ""))


def test_graph_500_fails_only_its_check(graph: GraphDouble, cert_file: Path) -> None:
    graph.state.mode = "error"
    checks = check_map(Request(cert=cert_file, sp_source=source(graph)))
    assert checks["entra.sp-key"].status == "FAIL" and "run again later" in checks["entra.sp-key"].reason
    assert checks["cert.readable"].status == "PASS" and checks["cert.validity"].status == "PASS"


def test_graph_unreachable(cert_file: Path) -> None:
    from tests.verifyoauth.conftest import closed_port

    unreachable = GraphSource(
        GraphSettings(tenant=TENANT), lambda: TOKEN, graph_base=f"http://127.0.0.1:{closed_port()}"
    )
    check = check_map(Request(cert=cert_file, sp_source=unreachable))["entra.sp-key"]
    assert check.status == "FAIL" and "could not be reached" in check.reason


# --- msal, against a token-endpoint double -------------------------------------------------------------------------
