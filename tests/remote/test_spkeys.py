"""A service principal's keyCredentials in every shape they are saved in, each matched to its certificate."""

from __future__ import annotations

import base64

import pytest

from inspector.lab.tokens import TokenKit
from inspector.remote.errors import SourceError
from inspector.remote.spkeys import parse_sp_keys
from tests.verifyoauth.conftest import render

SFB = "00000004-0000-0ff1-ce00-000000000000"


@pytest.mark.parametrize(
    ("name", "has_key"),
    [
        ("sp-graph-select.json", True),
        ("sp-graph-collection.json", False),
        ("sp-mg-ps51.json", False),
        ("sp-mg-credentials-only.json", False),
    ],
)
def test_sp_shapes_name_the_certificate(lab_kit: TokenKit, name: str, has_key: bool) -> None:
    keys = parse_sp_keys(render(name, lab_kit.auth_cert), name, app_id=SFB)
    assert len(keys.credentials) == 1
    credential = keys.credentials[0]
    assert lab_kit.auth_cert.thumbprint in credential.thumbprints
    assert credential.has_key is has_key
    assert credential.end == lab_kit.auth_cert.certificate.not_valid_after_utc
    assert (credential.usage, credential.type) == ("Verify", "AsymmetricX509Cert")


def test_teams_procedure_key_is_base64_of_base64(lab_kit: TokenKit) -> None:
    doubled = base64.b64encode(base64.b64encode(lab_kit.auth_cert.der)).decode()
    keys = parse_sp_keys({"keyCredentials": [{"key": doubled, "usage": "Verify"}]}, "x", app_id=SFB)
    assert keys.credentials[0].thumbprints == {lab_kit.auth_cert.thumbprint}


def test_msonline_credential_shape(lab_kit: TokenKit) -> None:
    old = [
        {
            "Type": "Asymmetric",
            "Value": base64.b64encode(lab_kit.auth_cert.der).decode(),
            "KeyId": "k",
            "StartDate": "/Date(1700000000000)/",
            "EndDate": "/Date(1900000000000)/",
            "Usage": "Verify",
        }
    ]
    keys = parse_sp_keys(old, "msol.json", app_id=SFB)
    assert keys.credentials[0].thumbprints == {lab_kit.auth_cert.thumbprint}


def test_sp_collection_chooses_by_app_id(lab_kit: TokenKit) -> None:
    other = {"appId": "7557eb47-c689-4224-abcf-aef9bd7573df", "keyCredentials": []}
    document = render("sp-graph-collection.json", lab_kit.auth_cert)
    document["value"].insert(0, other)
    assert len(parse_sp_keys(document, "x", app_id=SFB).credentials) == 1
    with pytest.raises(SourceError, match="none has appId"):
        parse_sp_keys({"value": [other, dict(other)]}, "x", app_id=SFB)


@pytest.mark.parametrize("document", [{}, [], {"value": []}, {"displayName": "x"}, "text"])
def test_sp_json_without_credentials(document: object) -> None:
    with pytest.raises(SourceError, match="holds no keyCredentials"):
        parse_sp_keys(document, "sp.json", app_id=SFB)
