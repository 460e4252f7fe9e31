"""One header grammar for every line-end style (``http_heads``), as the parser uses it: heads with bodies in the same
segment, whitespace before a colon."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.model import InputError
from inspector.sources.pcap import http1, read_capture
from inspector.sources.pcap.http_heads import _crlf_fields_by_line, crlf_fields, parse_head
from tests.corpus import corpus_dir
from tests.sources.pcap.capture_builder import capture
from tests.sources.pcap.test_http1 import parse
from tests.sources.pcap.test_reader import OK, conversation, read

SPACED = "GET /ews HTTP/1.1{eol}Host: mail.contoso.com{eol}Authorization : Bearer abc{eol}{eol}"


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_whitespace_before_a_colon_is_read_alike_with_either_line_end(eol: str) -> None:
    events = parse([SPACED.format(eol=eol).encode()]).events
    request = events[0]
    assert request[0] == "request"
    assert request[4] == (("Host", "mail.contoso.com"), ("Authorization", "Bearer abc"))


def test_the_fast_path_declines_what_it_would_read_differently() -> None:
    assert crlf_fields(SPACED.format(eol="\r\n")) is None
    start, fields = parse_head(SPACED.format(eol="\r\n"))
    assert start == "GET /ews HTTP/1.1"
    assert fields.spaced_names == ("Authorization",)
    # A CR before the CR LF is part of the value under both.
    text = "GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n"
    plain = crlf_fields(text)
    assert plain is not None
    assert plain[1] == parse_head(text)[1].headers == (("X-A", "a\r"),)


_HEADS: list[str] = []


def _corpus_heads() -> list[str]:
    """Every head text the capture reader parsed in the shared corpus and the lab capture."""
    if _HEADS:
        return _HEADS
    original = http1.crlf_fields
    seen: list[str] = []

    def recording(text: str) -> object:
        seen.append(text)
        return original(text)

    http1.crlf_fields = recording  # type: ignore[assignment]
    try:
        corpus = corpus_dir()
        paths = sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng")) if corpus else []
        for path in [*paths, Path(__file__).parents[3] / "captures/lab/lab.pcapng"]:
            with contextlib.suppress(InputError):  # damaged files: their heads up to the damage still count
                for _ in read_capture(path):
                    pass
    finally:
        http1.crlf_fields = original  # type: ignore[assignment]
    _HEADS.extend(seen)
    return _HEADS


@pytest.mark.pure_python  # collects the heads by replacing http1.crlf_fields
def test_both_parsers_agree_on_every_corpus_head() -> None:
    heads = _corpus_heads()
    assert len(heads) > 300
    plain = 0
    for text in heads:
        fast = crlf_fields(text)
        if fast is None:
            continue
        plain += 1
        start, full = parse_head(text)
        assert (fast[0], fast[1]) == (start, full.headers), text
        assert full.bad_lines == 0
        assert full.spaced_names == ()
    assert plain > 300


_PIECES = st.sampled_from(
    ["\r", "\n", "\r\n", ":", " ", "\t", "a", "Content-Length", "GET / HTTP/1.1", "x: y", "\r\n\r\n"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_the_split_on_crlf_answers_as_the_line_by_line_checks(text: str) -> None:
    # crlf_fields splits on CRLF when every LF follows a CR; the line-by-line form is the definition.
    assert crlf_fields(text) == _crlf_fields_by_line(text)


def test_a_bare_lf_head_with_its_body_in_the_same_segment_is_found() -> None:
    data = b"POST /ews HTTP/1.1\nHost: x\nAuthorization: Basic dTpw\nContent-Length: 4\n\nbody"
    events = parse([data]).events
    assert events[0][:3] == ("request", "POST", "/ews")
    assert ("Authorization", "Basic dTpw") in events[0][4]  # type: ignore[operator]
    assert events[1] == ("end", b"body", True)


def test_whitespace_before_a_colon_is_reported_and_the_field_still_judged(tmp_path: Path) -> None:
    spaced = SPACED.format(eol="\r\n").encode()
    exchanges, notices, _ = read(capture(conversation(spaced, OK)), tmp_path)
    (exchange,) = exchanges
    assert exchange.request.header("authorization") == "Bearer abc"
    (notice,) = notices
    assert notice.rule == "http-malformed"
    assert notice.exchange_id == exchange.id
    assert notice.evidence["spaced_header_names"] == ["Authorization"]
    assert "request-smuggling" in notice.message
    # The same request without the space: nothing to report.
    _, clean, _ = read(capture(conversation(spaced.replace(b" :", b":"), OK)), tmp_path, "clean.pcap")
    assert clean == []
