"""Errors inside answer bodies: EWS/Autodiscover SOAP errors and faults, SharePoint/Teams JSON errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from inspector.analyze import ExchangeResult
from inspector.body_errors import MAX_ERRORS, body_error_findings, errors_in, json_errors, soap_errors
from inspector.lab.outbound import EWS_ERROR_TEMPLATE, EWS_SUCCESS, SOAP_FAULT
from inspector.lab.tokens import TokenKit
from inspector.model import BODY_KEEP_LIMIT, HttpResponse
from tests import outbound
from tests.builders import exchange

XML = (("Content-Type", "text/xml; charset=utf-8"),)
JSON = (("Content-Type", "application/json"),)


def _with_body(status: int, headers: tuple[tuple[str, str], ...], body: bytes):  # type: ignore[no-untyped-def]
    return replace(exchange(status=status), response=HttpResponse(status, headers=headers, body=body))


def test_free_busy_error_inside_a_200_is_found_and_explained() -> None:
    body = EWS_ERROR_TEMPLATE.format(
        text="The remote server returned an error: (401) Unauthorized.", code="ErrorProxyRequestProcessingFailed"
    ).encode()
    (found,) = body_error_findings(_with_body(200, XML, body))
    assert found.rule == "response-error-in-body" and found.severity == "error"
    (error,) = found.evidence["errors"]  # type: ignore[misc]
    assert error["code"] == "ErrorProxyRequestProcessingFailed"
    assert error["message"] == "The remote server returned an error: (401) Unauthorized."
    assert "meaning" in error and "Test-OAuthConnectivity" in error["remedy"]
    assert found.message.startswith(
        "HTTP 200 GetUserAvailability (free/busy) from mail.contoso.com carries ErrorProxyRequestProcessingFailed"
    )
    assert found.evidence["operation"] == "GetUserAvailability"


def test_a_success_is_not_an_error() -> None:
    assert body_error_findings(_with_body(200, XML, EWS_SUCCESS.encode())) == []
    assert soap_errors("<Autodiscover><Response><ErrorCode>NoError</ErrorCode></Response></Autodiscover>") == []


def test_the_operation_of_other_answers() -> None:
    (found,) = body_error_findings(_with_body(500, XML, SOAP_FAULT.encode()))
    assert "operation" not in found.evidence  # a fault names no operation response
    body = b'<m:GetItemResponse><m:GetItemResponseMessage ResponseClass="Error"><m:ResponseCode>ErrorAccessDenied'
    body += b"</m:ResponseCode></m:GetItemResponseMessage></m:GetItemResponse>"
    (found,) = body_error_findings(_with_body(200, XML, body))
    assert found.evidence["operation"] == "GetItem" and found.message.startswith("HTTP 200 GetItem from")


def test_soap_fault_with_exchange_detail() -> None:
    (error,) = soap_errors(SOAP_FAULT)
    assert (error.kind, error.code) == ("soap-fault", "ErrorServerBusy")
    assert error.text == "The server cannot service this request right now. Try again later."


def test_soap_12_fault() -> None:
    body = (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>'
        "<env:Code><env:Value>env:Sender</env:Value></env:Code>"
        '<env:Reason><env:Text xml:lang="en">Access is denied &amp; logged.</env:Text></env:Reason>'
        "</env:Fault></env:Body></env:Envelope>"
    )
    (error,) = soap_errors(body)
    assert (error.code, error.text) == ("env:Sender", "Access is denied & logged.")


def test_autodiscover_error_codes() -> None:
    body = (
        '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
        '<Response><Error Time="10:00:00" Id="1"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message>'
        "</Error></Response></Autodiscover>"
    )
    (error,) = soap_errors(body)
    assert (error.kind, error.code, error.text) == ("autodiscover", "600", "Invalid Request")
    soap = (
        "<a:ErrorCode>InternalServerError</a:ErrorCode><a:ErrorMessage>The request failed.</a:ErrorMessage>"
        "<a:UserResponses><a:UserResponse><a:ErrorCode>NoError</a:ErrorCode></a:UserResponse></a:UserResponses>"
    )
    (error,) = soap_errors(soap)
    assert (error.code, error.text) == ("InternalServerError", "The request failed.")


def test_aadsts_quoted_by_exchange_is_explained() -> None:
    text = (
        "Unable to get token from Auth Server. Error code: 'invalid_client'. Description: 'AADSTS70002: Error "
        "validating credentials. AADSTS50012: Client assertion contains an invalid signature. [Reason - The key "
        "was not found., Thumbprint of key used by client: '" + "A" * 40 + "']'"
    )
    body = EWS_ERROR_TEMPLATE.format(text=text, code="ErrorProxyRequestProcessingFailed").encode()
    (found,) = body_error_findings(_with_body(200, XML, body))
    (error,) = found.evidence["errors"]  # type: ignore[misc]
    codes = [t["code"] for t in error["token_errors"]]
    assert codes == ["AADSTS70002", "AADSTS50012"]
    assert "meaning" in error["token_errors"][1]


def test_many_errors_are_bounded() -> None:
    one = (
        '<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>item {n}</m:MessageText>'
        "</m:GetItemResponseMessage>"
    )
    body = "".join(one.format(n=n) for n in range(500))
    assert len(soap_errors(body)) == MAX_ERRORS


def test_entities_are_not_expanded() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<m:ResponseMessage ResponseClass="Error"><m:MessageText>&lol2;&#65;</m:MessageText></m:ResponseMessage>'
    )
    (error,) = soap_errors(laughs)
    assert error.text == "&lol2;A"


@pytest.mark.parametrize(
    "body",
    [
        "<" * BODY_KEEP_LIMIT,
        '<m:X ResponseClass="Error"' + " a" * 30000,
        "<s:Fault" + "<faultstring " * 5000,
        "<ErrorCode>" * 6000,
    ],
)
def test_pathological_bodies_end_quickly(body: str) -> None:
    soap_errors(body[:BODY_KEEP_LIMIT])


def test_sharepoint_json_with_s2s_code(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "sharepoint-invalid-audience")
    result = outbound.analyzer(lab_kit).feed(case.exchange)
    assert isinstance(result, ExchangeResult)
    (found,) = result.findings
    (error,) = found.evidence["errors"]  # type: ignore[misc]
    assert error["s2s_code"] == 3000003 and "audience" in error["meaning"]


def test_json_code_known_to_the_diagnostics_table() -> None:
    body = json.dumps(
        {"error": {"code": "2000003", "message": {"value": "The audience claim value is invalid 'aud'."}}}
    )
    (found,) = body_error_findings(_with_body(401, JSON, body.encode()))
    (error,) = found.evidence["errors"]  # type: ignore[misc]
    assert error["s2s_code"] == 2000003 and error["remedy"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, '{"error":{"code":"itemNotFound","message":"nope"}}'),
        (200, '{"value":[]}'),
        (401, "[1,2]"),
        (401, "not json"),
        (401, "[" * 100000),
        (401, '{"error":null}'),
    ],
)
def test_json_that_is_not_an_s2s_error(status: int, body: str) -> None:
    assert json_errors(body, status) == []


def test_json_401_error_object_is_reported() -> None:
    (error,) = json_errors('{"error":"invalid_token","error_description":"expired"}', 401)
    assert (error.code, error.text) == ("invalid_token", "expired")


def test_bodies_of_other_kinds_are_not_scanned() -> None:
    body = EWS_ERROR_TEMPLATE.format(text="x", code="ErrorServerBusy").encode()
    assert errors_in(200, (("Content-Type", "text/html"),), body) == []
    assert errors_in(200, XML, None) == []


def test_a_utf16_answer_is_scanned_though_its_bytes_do_not_spell_the_words() -> None:
    """UTF-16 text spells "Error" and "Fault" with zero bytes between the letters: the answer is decoded before the
    scan looks for them, so a fault in it is found."""
    body = SOAP_FAULT.encode("utf-16")
    assert b"Fault" not in body and b"Error" not in body
    (error,) = errors_in(500, XML, body)
    assert (error.kind, error.code) == ("soap-fault", "ErrorServerBusy")
    assert errors_in(200, XML, EWS_SUCCESS.encode("utf-16")) == errors_in(200, XML, EWS_SUCCESS.encode()) == []
