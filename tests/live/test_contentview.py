"""The token content view: decoded JWTs in bodies, never a usable token, and out of the way for other bodies."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from mitmproxy import contentviews
from mitmproxy.contentviews import ContentviewRegistry, Metadata, json_view, raw  # type: ignore[attr-defined]
from mitmproxy.test import tflow, tutils

from inspector.lab.tokens import TokenKit
from inspector.live.contentview import PRIORITY, TokenContentview
from tests.live.conftest import addon_context

JSON = Metadata(content_type="application/json; charset=utf-8")
FORM = Metadata(content_type="application/x-www-form-urlencoded")


@pytest.fixture
def view() -> TokenContentview:
    return TokenContentview()


def _token_response(kit: TokenKit) -> tuple[bytes, str]:
    token = kit.healthy_user().value
    body = {
        "token_type": "Bearer",
        "expires_in": "3599",
        "access_token": token,
        "refresh_token": "0.AAAA-opaque-refresh-token",
    }
    return json.dumps(body).encode(), token


def test_a_token_response_shows_both_tokens_decoded_without_signatures(
    view: TokenContentview, lab_kit: TokenKit
) -> None:
    body, token = _token_response(lab_kit)
    assert view.render_priority(body, JSON) == PRIORITY > 1
    text = view.prettify(body, JSON)
    shown = json.loads(text)
    access = shown["access_token"]
    assert access["kind"] == "s2s-user"
    assert access["outer"]["header"]["alg"] == "none"
    assert access["actor"]["header"]["alg"] == "RS256"
    assert access["actor"]["claims"]["nameid"].startswith("00000004-")
    assert access["outer"]["times_utc"]["nbf"].endswith("Z")
    assert access["signature"] == "dropped"
    actor = lab_kit.healthy_user().outer_claims["actortoken"]  # type: ignore[index]
    for secret in (token, actor, actor.rsplit(".", 1)[1], "opaque-refresh-token"):
        assert secret not in text
    assert shown["refresh_token"].startswith("[secret:")
    assert shown["expires_in"] == "3599"


def test_form_bodies_with_an_assertion(view: TokenContentview, lab_kit: TokenKit) -> None:
    app_only = lab_kit.app_only().value
    body = urlencode(
        {"grant_type": "client_credentials", "client_assertion": app_only, "client_secret": "s3cret"}
    ).encode()
    assert view.render_priority(body, FORM) == PRIORITY
    assert view.render_priority(body, Metadata()) == PRIORITY  # no content type: recognised by its shape
    shown = json.loads(view.prettify(body, FORM))
    assert shown["client_assertion"]["token"]["claims"]["iss"].startswith("00000004-")
    assert "signature" not in shown["client_assertion"]["token"]
    assert shown["client_secret"] == "[secret: 6 characters, not shown]"
    assert app_only.rsplit(".", 1)[1] not in view.prettify(body, FORM)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"token_type":"Bearer"}',
        b'{"access_token":"an-opaque-value"}',  # no JWT to decode
        b'["access_token"]',
        b"<xml>access_token</xml>",
        b'{"access_token": "eyJhbGciOi' + b"\xff" * 40 + b'"}',
        b"access_token=" + b"%ff" * 50,
        b'{"access_token":' * 50_000,  # deep and unterminated
    ],
)
def test_other_bodies_are_left_to_other_views(view: TokenContentview, body: bytes) -> None:
    assert view.render_priority(body, JSON) < 0
    with pytest.raises(ValueError, match="JWT"):
        view.prettify(body, JSON)


def test_a_huge_body_is_not_looked_at(view: TokenContentview, lab_kit: TokenKit) -> None:
    body, _ = _token_response(lab_kit)
    huge = body[:-1] + b', "padding": "' + b"x" * (2 << 20) + b'"}'
    started = time.perf_counter()
    assert view.render_priority(huge, JSON) < 0
    with pytest.raises(ValueError, match="over"):
        view.prettify(huge, JSON)
    assert time.perf_counter() - started < 1


def test_auto_selection_picks_the_view_for_token_responses(lab_kit: TokenKit) -> None:
    registry = ContentviewRegistry()  # type: ignore[no-untyped-call]
    registry.register(json_view)
    registry.register(raw)
    registry.register(TokenContentview)
    body, _ = _token_response(lab_kit)
    response = tutils.tresp(content=body)
    response.headers["Content-Type"] = "application/json"
    plain = tutils.tresp(content=b'{"hello": "world"}')
    plain.headers["Content-Type"] = "application/json"
    with addon_context():  # mitmproxy reads its options while rendering
        result = contentviews.prettify_message(response, tflow.tflow(resp=response), registry=registry)
        other = contentviews.prettify_message(plain, tflow.tflow(resp=plain), registry=registry)
    assert result.view_name == "OAuth token"
    assert "s2s-user" in result.text
    assert other.view_name == "JSON"
