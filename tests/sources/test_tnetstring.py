"""The one-pass tnetstring parse against mitmproxy's own reader: where it answers, the same value; within the
limits; declining (None) whatever it does not read exactly as mitmproxy does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from inspector.sources.tnetstring import read_frame
from tests.fuzz.harness import CAPTURES

LIMITS = {"max_values": 100_000, "max_depth": 32, "max_prefix_digits": 12}

scalars = st.one_of(
    st.binary(max_size=20),
    st.text(max_size=10),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.one_of(st.text(max_size=8), st.binary(max_size=8)), inner)
    ),
    max_leaves=30,
)
containers = st.one_of(st.lists(values, max_size=5), st.dictionaries(st.text(max_size=8), values, max_size=5))


def same(ours: Any, theirs: Any) -> bool:
    # NaN aside, equality with types: True == 1 and 1 == 1.0 in Python, but not here.
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, list):
        return len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs, strict=True))
    if isinstance(ours, dict):
        return list(ours) == list(theirs) and all(same(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, float) and math.isnan(ours):
        return math.isnan(theirs)
    return bool(ours == theirs)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(containers)
def test_what_mitmproxy_writes_is_read_as_mitmproxy_reads_it(value: list[Any] | dict[str, Any]) -> None:
    frame = tnetstring.dumps(value)
    ours = read_frame(frame, **LIMITS).value
    assert ours is not None
    assert same(ours, tnetstring.loads(frame))


def test_the_lab_flows_are_read_whole() -> None:
    data = (CAPTURES / "lab.mitm").read_bytes()
    first_length = int(data[: data.index(b":")])
    frame = data[: data.index(b":") + 1 + first_length + 1]
    ours = read_frame(frame, **LIMITS).value
    assert isinstance(ours, dict)
    assert same(ours, tnetstring.loads(frame))
    assert ours["type"] == "http"


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"5:1:a,]", "a prefix shorter than its payload"),
        (b"4:1:a,]1:a,", "something after the value"),
        (b"3:1:a,}", "a key without its value"),
        (b"8:2:#1,]]", "a list as a key (wrongly framed too)"),
        (b"2:0:]}", "a list as a dict key"),
        (b"4: 1:a,]", "a length prefix with a space (mitmproxy's int() would take it)"),
        (b"5:2:1_#]", "an integer mitmproxy's int() reads and this reader might not agree on"),
        (b"5:2:\xff\xfe;]", "text that is not UTF-8"),
        (b"4:1:x!]", "a boolean that is neither"),
        (b"4:1:x~]", "a null with a payload"),
        (b"4:1:x?]", "an unknown type tag"),
        (b"1:a,", "a scalar alone"),
    ],
)
def test_what_is_not_plainly_a_container_is_declined(frame: bytes, why: str) -> None:
    assert read_frame(frame, **LIMITS).value is None, why


def test_empty_containers_are_read() -> None:
    assert read_frame(b"0:]", **LIMITS).value == []
    assert read_frame(b"0:}", **LIMITS).value == {}
    assert read_frame(b"6:0:]0:]]", **LIMITS).value == [[], []]


def test_the_limits_decline_before_mitmproxy_is_asked() -> None:
    deep = b"0:]"
    for _ in range(40):
        deep = str(len(deep)).encode() + b":" + deep + b"]"
    assert read_frame(deep, **LIMITS).value is None
    assert read_frame(deep, **{**LIMITS, "max_depth": 64}).value is not None
    many = tnetstring.dumps(list(range(200)))
    assert read_frame(many, **{**LIMITS, "max_values": 100}).value is None
    assert read_frame(many, **LIMITS).value == list(range(200))


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (b"x:0:]", "a malformed tnetstring at byte 0 of the flow"),
        (b"4:1:a,", "a tnetstring at byte 0 of the flow overruns its container"),
        (b"6:4:abc,]", "a tnetstring at byte 2 of the flow overruns its container"),
        (b"9:1:a,x:0:]]", "a malformed tnetstring at byte 6 of the flow"),
    ],
)
def test_a_broken_structure_is_named_with_its_place(frame: bytes, problem: str) -> None:
    assert read_frame(frame, **LIMITS) == (None, problem)


def test_a_value_not_read_plainly_still_has_its_structure_checked() -> None:
    # "x" is no boolean: nothing is built from there on, but the overrun after it is found all the same.
    assert read_frame(b"11:1:x!9:1:a,]]", **LIMITS) == (
        None,
        "a tnetstring at byte 7 of the flow overruns its container",
    )
    assert read_frame(b"4:1:x!]", **LIMITS) == (None, None)
    assert read_frame(b"6:3:100#]", **LIMITS) == ([100], None)
    assert read_frame(b"1:a,", **LIMITS) == (None, None)  # a scalar alone: no problem, nothing built
    over = read_frame(tnetstring.dumps(list(range(200))), **{**LIMITS, "max_values": 100})
    assert over == (None, "it holds more than 100 values")
