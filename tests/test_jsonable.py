"""JSON-native values: what the report's encoder writes, without the encode-and-parse round trip."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.jsonable import json_native
from inspector.report.serialize import dump_json
from inspector.rules import finding


class _Code(IntEnum):
    GAP = 7


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=8),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from([_Code.GAP]),
)
_keys = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        # keys that the encoder writes alike ('true' and True, '1' and 1) would be one key in any JSON reader
        st.dictionaries(_keys, inner, max_size=4).filter(
            lambda d: len({k if isinstance(k, str) else json.dumps(k) for k in d}) == len(d)
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_the_same_as_a_round_trip_through_the_encoder(value: Any) -> None:
    native = json_native(value)
    assert native == json.loads(dump_json(value))
    assert dump_json(native) == dump_json(value)


def test_a_copy_not_the_original() -> None:
    inner = {"a": [1, 2]}
    native = json_native({"x": inner})
    native["x"]["a"].append(3)
    assert inner == {"a": [1, 2]}


def test_nan_and_infinities_become_strings_as_strict_json_has_them() -> None:
    # Issue 12 item 6: bare NaN/Infinity are not JSON; jq and strict parsers refused the report.
    native = json_native({"n": math.nan, math.inf: -math.inf, "i": math.inf})
    assert native == {"n": "NaN", "Infinity": "-Infinity", "i": "Infinity"}
    assert dump_json({"n": math.nan}) == '{"n":"NaN"}'


def test_lone_surrogates_become_text() -> None:
    assert json_native({"\ud800": ["a\udfff"]}) == {"\\ud800": ["a\\udfff"]}
    assert json_native("\ud83d\ude00") == "\\ud83d\\ude00"  # as str: two lone halves (a pair is one character)
    assert json_native("\U0001f600") == "\U0001f600"


def test_a_notices_evidence_is_json_native_from_creation() -> None:
    from inspector.model import Notice

    notice = Notice("capture-gap", "gap", "cap.pcap", evidence={"frames": (1, 2), "code": _Code.GAP})
    assert notice.evidence == {"frames": [1, 2], "code": 7}


def test_a_findings_evidence_is_json_native_from_creation() -> None:
    moment = datetime(2026, 4, 21, tzinfo=UTC)
    item = finding("capture-gap", "gap", frames=(1, 2), at=moment, code=_Code.GAP, nested={1: ("a",)})
    assert item.evidence == {"frames": [1, 2], "at": str(moment), "code": 7, "nested": {"1": ["a"]}}
    assert type(item.evidence["code"]) is int
