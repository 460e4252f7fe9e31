"""Fuzzing what reads bodies: kept prefixes, SOAP/JSON error scans, token requests and their answers."""

from __future__ import annotations

import functools
import gzip
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analyze import Analyzer
from inspector.bodies import kept_body
from inspector.body_errors import errors_in
from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit
from inspector.model import BODY_KEEP_LIMIT, HttpRequest, HttpResponse
from inspector.token_errors import error_codes, thumbprint_in
from inspector.token_requests import form_fields, token_request_fields
from tests.builders import CLOCK, exchange
from tests.outbound import analyzer

FRAGMENTS = st.sampled_from(
    [
        '<m:GetItemResponseMessage ResponseClass="Error">',
        "<m:MessageText>",
        "</m:MessageText>",
        "<m:ResponseCode>ErrorServerBusy</m:ResponseCode>",
        "<s:Fault>",
        "<faultstring>",
        "<ErrorCode>",
        "NoError",
        "&amp;&#x41;&lol;",
        '{"error":',
        '"error_description":"3000003 AADSTS700027 Thumbprint of key used by client: \'',
        "}",
        "<",
        '"',
    ]
)
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=40).map("".join)
TYPES = st.sampled_from(["text/xml", "application/json", "application/soap+xml", "text/plain", ""])
CODINGS = st.sampled_from([None, "gzip", "deflate", "br", "gzip, gzip", "identity"])


@settings(max_examples=300, deadline=None)
@given(TEXT, TYPES, st.integers(100, 599), CODINGS, st.booleans())
def test_error_scans(text: str, content_type: str, status: int, coding: str | None, compress: bool) -> None:
    body = text.encode("utf-8", errors="replace")
    if compress:
        body = gzip.compress(body)
    headers: tuple[tuple[str, str], ...] = (("Content-Type", content_type),)
    if coding:
        headers += (("Content-Encoding", coding),)
    kept = kept_body(headers, body)
    assert kept is None or len(kept) <= BODY_KEEP_LIMIT
    errors_in(status, headers, kept)
    error_codes(text)
    thumbprint_in(text)


@functools.cache
def _analyzer() -> Analyzer:
    """One analyzer trusting a lab auth certificate, made once (key generation is slow)."""
    kit = TokenKit(auth_cert=exchange_auth_cert(now=CLOCK), acs_cert=acs_signing_cert(now=CLOCK), now=CLOCK)
    return analyzer(kit)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, st.sampled_from(["/t/oauth2/token", "/x/tokens/OAuth/2", "/a/oauth2/v2.0/token", "/other"]))
def test_token_requests_and_answers(form: str, answer: str, path: str) -> None:
    form_fields(form.encode("utf-8", errors="replace"))
    base = exchange(target=path)
    body = ("grant_type=client_credentials&client_assertion=" + form).encode("utf-8", errors="replace")
    headers = (*base.request.headers, ("Content-Type", "application/x-www-form-urlencoded"))
    json_type = (("Content-Type", "application/json"),)
    item = replace(
        base,
        request=HttpRequest("POST", path, headers=headers, body=body),
        response=HttpResponse(400, headers=json_type, body=answer.encode("utf-8", "replace")),
    )
    token_request_fields(item)
    _analyzer().feed(item)
