"""What the lab server answers, without a socket: the engine's verdict turned into Exchange's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from inspector.http_auth import parse_ms_diagnostics
from inspector.lab.folder import LabDir, prepare_lab_dir
from inspector.lab.responder import FAULTS, Responder, ServerOptions
from inspector.lab.scenarios import BASIC_PASSWORD, BASIC_USER
from inspector.model import Endpoint, HttpExchange, HttpRequest, Provenance
from inspector.policy import EWS_PATH
from tests.builders import basic
from tests.lab.kit import ACCEPTED, DIAGNOSTIC_CODES


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabDir:
    return prepare_lab_dir(tmp_path_factory.mktemp("lab"), realm=None, host=None, tls=False, now=datetime.now(UTC))


def _request(lab: LabDir, authorization: str | None) -> HttpExchange:
    headers = [("Host", lab.host)] + ([("Authorization", authorization)] if authorization else [])
    return HttpExchange(
        id="t:1",
        request=HttpRequest("POST", EWS_PATH, headers=tuple(headers)),
        response=None,
        time=datetime.now(UTC),
        provenance=Provenance(kind="lab", source="test"),
        client=Endpoint("127.0.0.10", 50000),
        scheme="https",
    )


def _answer(responder: Responder, lab: LabDir, authorization: str | None):  # type: ignore[no-untyped-def]
    return responder.ews(responder.judge(_request(lab, authorization)))


def test_healthy_tokens_get_200_and_the_others_exchanges_diagnostics(lab: LabDir) -> None:
    now = datetime.now(UTC)
    responder = Responder(lab, ServerOptions(), started=now)
    for minted in lab.kit(now).scenarios():
        answer = _answer(responder, lab, f"Bearer {minted.value}")
        if minted.name in ACCEPTED:
            assert (answer.status, answer.rules) == (200, ()), minted.name
            assert b"NoError" in answer.body
        elif minted.name in DIAGNOSTIC_CODES:
            assert answer.status == 401, minted.name
            diagnostics = dict(answer.headers)["x-ms-diagnostics"]
            assert parse_ms_diagnostics(diagnostics).code == DIAGNOSTIC_CODES[minted.name], minted.name
            assert set(answer.rules) <= set(minted.expects), minted.name


def test_basic_and_ntlm_are_accepted_only_when_offered(lab: LabDir) -> None:
    now = datetime.now(UTC)
    password = basic(BASIC_USER, BASIC_PASSWORD)
    assert _answer(Responder(lab, ServerOptions(), started=now), lab, password).status == 401
    offering = Responder(lab, ServerOptions(offer_basic=True, offer_ntlm=True), started=now)
    assert _answer(offering, lab, password).status == 200
    assert _answer(offering, lab, basic(BASIC_USER, "wrong")).status == 401
    refused = _answer(offering, lab, None)
    challenges = [value.split(" ", 1)[0] for name, value in refused.headers if name == "WWW-Authenticate"]
    assert challenges == ["Bearer", "Basic", "Negotiate", "NTLM"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_refuses_even_a_healthy_token(lab: LabDir, fault: str) -> None:
    now = datetime.now(UTC)
    responder = Responder(lab, ServerOptions(faults=frozenset({fault})), started=now)
    healthy = next(m for m in lab.kit(now).scenarios() if m.name == "healthy-user")
    answer = _answer(responder, lab, f"Bearer {healthy.value}")
    assert answer.status == 401
    assert answer.rules == (f"fault {fault}",)


def test_the_metadata_served_publishes_the_folders_auth_certificate(lab: LabDir) -> None:
    document = json.loads(Responder(lab, ServerOptions(), started=datetime.now(UTC)).metadata)
    assert [key["keyinfo"]["x5t"] for key in document["keys"]] == [lab.auth_cert.x5t]
    assert document["endpoints"][0]["location"] == f"https://{lab.host}/autodiscover/metadata/json/1"
