"""The chunked JSON reader under the HAR source: values whole across every chunk boundary, long strings cut at a
safe place, deep and long values stepped over, cuts reported (issue 12 item 13)."""

from __future__ import annotations

import io
import json

import pytest

from inspector.sources import json_stream
from inspector.sources.json_stream import Cut, JsonText, TextDamage

DOCUMENT = '{"a": [1, "x\\"y\\\\", {"b": null}], "c": "\\u00e9\\ud83d\\ude00", "d": -1.5e3}'


def _text(data: bytes) -> JsonText:
    return JsonText(io.BytesIO(data))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_values_are_whole_at_every_chunk_size(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    text = _text(DOCUMENT.encode())
    value = text.value(string_keep=1000, max_chars=1000, max_depth=10)
    assert value is not None and json.loads(value) == json.loads(DOCUMENT)
    assert text.peek() == ""


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
@pytest.mark.parametrize("keep", [1, 2, 5, 6, 7, 8])
def test_long_strings_keep_their_start_and_stay_json(chunk: int, keep: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    value = _text(b'"ab\\u00e9\\\\\\"cdef"').value(string_keep=keep, max_chars=100, max_depth=1)
    assert value is not None
    decoded = json.loads(value)
    assert 'ab\u00e9\\"cdef'.startswith(decoded)


def test_deep_and_long_values_are_stepped_over() -> None:
    text = _text(b"[" * 100 + b"]" * 100 + b' "next"')
    assert text.value(string_keep=10, max_chars=1000, max_depth=64) is None
    assert text.dropped == "JSON nested too deeply"
    assert text.value(string_keep=10, max_chars=1000, max_depth=64) == '"next"'
    text = _text(b'["' + b"x" * 100 + b'"] 5')
    assert text.value(string_keep=1000, max_chars=50, max_depth=64) is None
    assert text.dropped is not None and "over 50 characters" in text.dropped
    assert text.value(string_keep=10, max_chars=10, max_depth=1) == "5"


@pytest.mark.parametrize("data", [b'{"a": "x', b'{"a": [1, 2', b'"\\', b"[" * 10])
def test_a_cut_inside_a_value_is_said(data: bytes) -> None:
    with pytest.raises(Cut):
        _text(data).value(string_keep=10, max_chars=1000, max_depth=64)


def test_bad_utf8_is_kept_and_its_offset_told() -> None:
    text = _text(b'"ok \xff\xfe"')
    assert text.value(string_keep=10, max_chars=100, max_depth=1) == '"ok \udcff\udcfe"'
    assert text.bad_byte == 4


def test_utf16_with_a_bom_and_broken_utf16() -> None:
    assert _text('"\u00e9"'.encode("utf-16")).value(string_keep=10, max_chars=10, max_depth=1) == '"\u00e9"'
    with pytest.raises(TextDamage):
        _text(b"\xff\xfe\x00\xd8").value(string_keep=10, max_chars=10, max_depth=1)


def test_positions_count_lines_and_columns() -> None:
    text = _text(b'\n\n   "x"')
    text.peek()
    assert text.where() == "line 3 column 4 (character 5)"
