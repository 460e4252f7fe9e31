"""Ring-buffer file names of any content: a ring and a counter for each, never a crash; a tcpdump -C counter
appended to any name keeps it in its ring."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.follow import ring_number, ring_of

NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=80)


@settings(max_examples=300, deadline=None)
@given(NAMES, st.integers(1, 10**6))
def test_any_name_has_a_ring_and_a_counter(name: str, counter: int) -> None:
    assert ring_of(name)
    assert ring_number(name) >= 0
    if name[-1] not in "0123456789":  # tcpdump -C -w NAME writes NAME, NAME1, NAME2...
        assert ring_of(f"{name}{counter}") == ring_of(name)
        assert ring_number(f"{name}{counter}") == counter
