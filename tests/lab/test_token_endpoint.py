"""The token-endpoint double: answers as Entra and ACS do, judging the assertion by the registered certificates."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from inspector.lab.token_endpoint import (
    acs_token_call,
    answer_token_request,
    client_assertion,
    entra_token_call,
    is_token_path,
)
from inspector.lab.tokens import TokenKit
from inspector.tokens import decode_jwt


def test_a_registered_certificate_gets_a_token(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now)
    answer = answer_token_request(call.path, call.body, registered=[lab_kit.auth_cert], issuer_cert=lab_kit.acs_cert,
                                  now=lab_kit.now)  # fmt: skip
    assert (answer.status, answer.said) == (200, "issued")
    token = json.loads(answer.body)["access_token"]
    assert decode_jwt(token).claims["roles"] == ["full_access_as_app"]


def test_an_unregistered_certificate_is_named_by_its_thumbprint(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.rogue_cert, now=lab_kit.now)
    answer = answer_token_request(call.path, call.body, registered=[lab_kit.auth_cert], issuer_cert=lab_kit.acs_cert,
                                  now=lab_kit.now)  # fmt: skip
    body = json.loads(answer.body)
    assert (answer.status, answer.said, body["error"]) == (401, "AADSTS700027", "invalid_client")
    assert f"Thumbprint of key used by client: '{lab_kit.rogue_cert.thumbprint}'" in body["error_description"]
    assert body["error_codes"] == [700027]


def test_a_client_secret_and_acs(lab_kit: TokenKit) -> None:
    call = entra_token_call(lab_kit.auth_cert, now=lab_kit.now)
    form = dict(parse_qsl(call.body.decode()))
    secret = f"grant_type=client_credentials&client_id={form['client_id']}&client_secret=x".encode()
    answer = answer_token_request(call.path, secret, registered=[lab_kit.auth_cert], issuer_cert=lab_kit.acs_cert,
                                  now=lab_kit.now)  # fmt: skip
    assert (answer.status, answer.said) == (401, "AADSTS7000215")
    acs = acs_token_call(lab_kit.rogue_cert, now=lab_kit.now)
    answer = answer_token_request(acs.path, acs.body, registered=[lab_kit.auth_cert], issuer_cert=lab_kit.acs_cert,
                                  now=lab_kit.now)  # fmt: skip
    assert (answer.status, answer.said) == (401, "ACS50012")
    assert json.loads(answer.body)["error_description"].startswith("ACS50012: Authentication failed.")


def test_assertion_shape_and_paths(lab_kit: TokenKit) -> None:
    jwt = decode_jwt(client_assertion(lab_kit.auth_cert, client_id="c", audience="https://a/t", now=lab_kit.now))
    assert jwt.header["x5t"] == lab_kit.auth_cert.x5t and jwt.claims["iss"] == jwt.claims["sub"] == "c"
    assert jwt.claims["exp"] - jwt.claims["nbf"] == 600
    assert is_token_path("/t/oauth2/token") and is_token_path("/t/tokens/OAuth/2/") and not is_token_path("/ews")
