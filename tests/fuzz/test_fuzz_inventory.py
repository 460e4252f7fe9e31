"""Hostile challenges and tokens into the inventory and its rules: never an exception, the wildcard matcher agrees
with a regular-expression oracle, and merging split inventories gives the whole."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.inventory_rules import inventory_findings, wildcard_match
from inspector.policy import Policy
from inspector.trust import Trust
from tests.builders import exchange, unsigned_jwt

ALPHABET = st.sampled_from("ab*@.-/ ")


@settings(max_examples=300, deadline=None)
@given(st.text(ALPHABET, max_size=12), st.text(ALPHABET, max_size=12))
def test_wildcard_agrees_with_a_regex_oracle(pattern: str, text: str) -> None:
    oracle = re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text, re.DOTALL) is not None
    assert wildcard_match(pattern, text) == oracle


def test_many_stars_stay_fast() -> None:
    assert not wildcard_match("*a" * 128 + "b", "a" * 255 + "c")


WIRE = st.text(st.characters(codec="latin-1"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(WIRE, WIRE, WIRE, st.sampled_from([200, 401, 403]), st.booleans()),
        max_size=6,
    ),
    st.integers(0, 6),
)
def test_hostile_exchanges_never_break_the_inventory(items: list[tuple[str, str, str, int, bool]], cut: int) -> None:
    analyzer = Analyzer(Trust.of([]), Policy())
    results = []
    for issuer, trusted, server, status, challenge in items:
        token = unsigned_jwt({"iss": issuer, "aud": f"00000002-0000-0ff1-ce00-000000000000/h@{issuer}"})
        headers: list[tuple[str, str]] = [("X-BEServer", server)]
        if challenge:
            headers.append(("WWW-Authenticate", f'Bearer trusted_issuers="{trusted}", client_id="{server}"'))
        result = analyzer.feed(exchange(f"Bearer {token}", status=status, response_headers=tuple(headers)))
        assert isinstance(result, ExchangeResult)
        results.append(result)
    whole, left, right = Inventory(), Inventory(), Inventory()
    for n, result in enumerate(results):
        whole.observe(result)
        (left if n < cut else right).observe(result)
    left.merge(right)
    assert left.data() == whole.data()
    for item in inventory_findings(whole):
        assert item.rule in {"issuer-not-trusted-by-server", "authorization-uri-missing", "rejections-concentrated"}
