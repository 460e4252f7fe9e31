"""Which bodies an exchange keeps: the kinds a rule reads, a bounded prefix, content codings undone within bounds."""

from __future__ import annotations

import gzip
import zlib

import pytest

from inspector.bodies import body_text, kept_body, wants_body
from inspector.model import BODY_KEEP_LIMIT

XML = (("Content-Type", "text/xml; charset=utf-8"),)


@pytest.mark.parametrize(
    "content_type",
    [
        "text/xml",
        "application/soap+xml; charset=utf-8",
        "application/json",
        "Application/JSON;odata=verbose",
        "application/problem+json",
    ],
)
def test_kept_answer_kinds(content_type: str) -> None:
    assert wants_body((("content-type", content_type),))
    assert kept_body((("Content-Type", content_type),), b"x" * (BODY_KEEP_LIMIT + 10)) == b"x" * BODY_KEEP_LIMIT
    assert not wants_body((("content-type", content_type),), request=True)  # no rule reads a request's XML/JSON


def test_kept_request_kind_is_the_form() -> None:
    form = (("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),)
    assert kept_body(form, b"grant_type=x", request=True) == b"grant_type=x"
    assert kept_body(form, b"grant_type=x") is None  # an answer's form is read by no rule


@pytest.mark.parametrize(
    "content_type", [None, "image/png", "application/octet-stream", "text/html", "multipart/mixed"]
)
def test_other_kinds_are_not_kept(content_type: str | None) -> None:
    headers = (("Content-Type", content_type),) if content_type else ()
    assert kept_body(headers, b"<x/>") is None


def test_no_body_and_empty_body() -> None:
    assert kept_body(XML, None) is None
    assert kept_body(XML, b"") == b""


def _raw_deflate(data: bytes) -> bytes:
    encoder = zlib.compressobj(wbits=-15)
    return encoder.compress(data) + encoder.flush()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
        ("identity", lambda data: data),
    ],
)
def test_content_codings_are_undone(coding: str, encode) -> None:  # type: ignore[no-untyped-def]
    body = b"<m:ResponseCode>NoError</m:ResponseCode>" * 10
    assert kept_body((*XML, ("Content-Encoding", coding)), encode(body)) == body


def test_a_decompression_bomb_yields_at_most_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    kept = kept_body((*XML, ("Content-Encoding", "gzip")), bomb)
    assert kept is not None and len(kept) == BODY_KEEP_LIMIT
    stacked = gzip.compress(bomb)
    kept = kept_body((*XML, ("Content-Encoding", "gzip, gzip")), stacked)
    assert kept is not None and len(kept) == BODY_KEEP_LIMIT


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, br", "gzip," * 5])
def test_codings_not_undone_are_not_kept(coding: str) -> None:
    assert kept_body((*XML, ("Content-Encoding", coding)), gzip.compress(b"<x/>")) is None


def test_broken_gzip_is_not_kept() -> None:
    assert kept_body((*XML, ("Content-Encoding", "gzip")), b"not gzip at all") is None


def test_kept_prefix_of_a_truncated_stream() -> None:
    body = "".join(f"<a n='{n * 7919 % 10007}'/>" for n in range(5000)).encode()
    data = gzip.compress(body)
    kept = kept_body((*XML, ("Content-Encoding", "gzip")), data[: len(data) // 2])
    assert kept is not None and len(kept) > 1000 and body.startswith(kept)


def test_body_text_never_fails() -> None:
    assert body_text(b"\xef\xbb\xbf<a>\xc3\xa9</a>") == "<a>é</a>"
    assert body_text("<a/>".encode("utf-16")) == "<a/>"
    assert body_text(b"\xff\xfe\xff") != ""
    assert body_text(b"<a>\xe9</a>") == "<a>\ufffd</a>"
