"""Wire text made inert: control and bidirectional characters escaped, length capped, everything else kept."""

from __future__ import annotations

import pytest

from inspector.text import safe


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain text, ünïcode ok", "plain text, ünïcode ok"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("line\r\nbreak\ttab", "line\\x0d\\x0abreak\\x09tab"),
        ("c1 \x85 \x9b", "c1 \\x85 \\x9b"),
        ("bidi \u202e \u2066 \u200f", "bidi \\u202e \\u2066 \\u200f"),
        ("separators \u2028\u2029", "separators \\u2028\\u2029"),
        ("[bold]markup[/bold]", "[bold]markup[/bold]"),  # rich markup is left to Text, which prints it literally
        (42, "42"),
    ],
)
def test_what_is_escaped_and_what_is_kept(value: object, shown: str) -> None:
    assert safe(value) == shown


def test_the_length_is_capped_with_an_ellipsis() -> None:
    assert safe("x" * 10, 10) == "x" * 10
    assert safe("x" * 11, 10) == "x" * 9 + "…"
    assert len(safe("\x00" * 100, 50)) == 50  # capped after escaping: the escapes count
