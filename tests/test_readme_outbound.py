"""The README's description of the outbound leg matches what the tool does (rows, fields, codes)."""

from __future__ import annotations

import re

from inspector.analyze import ExchangeResult
from inspector.lab.tokens import TokenKit
from inspector.report.serialize import exchange_data
from inspector.rules import CATALOGUE
from inspector.token_errors import KNOWN_TOKEN_ERRORS
from tests import outbound
from tests.corpus import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_rule_has_a_catalogue_row() -> None:
    rows = set(re.findall(r"^\| `([a-z-]+)` \| (?:error|warning|info) \|", README, re.MULTILINE))
    assert set(CATALOGUE) <= rows


def test_every_known_code_is_in_the_table() -> None:
    rows = set(re.findall(r"^\| `((?:AADSTS|ACS)[0-9]+)` \|", README, re.MULTILINE))
    assert rows == set(KNOWN_TOKEN_ERRORS)


def test_token_request_json_fields_are_the_documented_ones(lab_kit: TokenKit) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "entra-success")
    result = outbound.analyzer(lab_kit).feed(case.exchange)
    assert isinstance(result, ExchangeResult)
    data = exchange_data(result, show_secrets=False)["token_request"]
    block = README.split("has a `token_request` object beside `auth`:", 1)[1].split("```", 2)[1]
    documented = re.findall(r'"([a-z_]+)":', block)
    top = [key for key in documented if key in data]
    assert top == list(data), "the README's token_request example lists the fields in the order written"
    assert data["client_assertion"]["kind"] == "client-assertion" and '"kind": "client-assertion"' in block
