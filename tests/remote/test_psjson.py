"""Reading what PowerShell's ConvertTo-Json writes, whichever PowerShell wrote it: every reader total."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from inspector.remote.psjson import as_bool, as_bytes, as_list, as_text, as_time, decode_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1776763812000)/", datetime(2026, 4, 21, 9, 30, 12, tzinfo=UTC)),
        ("/Date(1776763812000+0200)/", datetime(2026, 4, 21, 9, 30, 12, tzinfo=UTC)),
        ({"value": "/Date(1776763812000)/", "DisplayHint": 2}, datetime(2026, 4, 21, 9, 30, 12, tzinfo=UTC)),
        ("2026-04-21T09:30:12.1234567Z", datetime(2026, 4, 21, 9, 30, 12, 123456, tzinfo=UTC)),
        ("2026-04-21T11:30:12+02:00", datetime(2026, 4, 21, 9, 30, 12, tzinfo=UTC)),
        ("Tuesday, April 21, 2026 9:30:12 AM", None),
        ("/Date(99999999999999999)/", None),
        (12, None),
    ],
)
def test_dates_in_every_powershell_shape(value: object, expected: datetime | None) -> None:
    assert as_time(value) == expected


def test_other_powershell_quirks() -> None:
    assert as_list(None) == [] and as_list({"a": 1}) == [{"a": 1}] and as_list([1, 2]) == [1, 2]
    assert [as_bool(v) for v in (True, "True", "$false", 1, 0, "maybe", {"IsPresent": True})] == [
        True,
        True,
        False,
        True,
        False,
        None,
        True,
    ]
    assert as_text({"Name": "X", "DistinguishedName": "CN=X,DC=c"}) == "CN=X,DC=c"
    assert as_text(128) == "128" and as_text(None) is None
    assert as_bytes([48, 130]) == b"\x30\x82" and as_bytes("MII=") == base64.b64decode("MII=")
    assert as_bytes([300]) is None and as_bytes("not base64!") is None


def test_text_as_windows_powershell_writes_it() -> None:
    assert decode_text("{}".encode("utf-16")) == "{}"
    assert decode_text("\ufeff{}".encode()) == "{}"
    assert decode_text(b"{}") == "{}"
