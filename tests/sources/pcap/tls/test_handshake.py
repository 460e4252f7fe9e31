"""Handshake messages: the hello fields the audit and the decryption need, HelloRetryRequest recognised, and every
length checked (a message cut anywhere is a ``HandshakeError``, never an IndexError)."""

from __future__ import annotations

import pytest

from inspector.sources.pcap.tls.handshake import (
    HRR_RANDOM,
    HandshakeBuffer,
    HandshakeError,
    parse_certificates,
    parse_client_hello,
    parse_encrypted_extensions,
    parse_server_hello,
)


def _ext(kind: int, body: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def _vec(size: int, body: bytes) -> bytes:
    return len(body).to_bytes(size, "big") + body


SNI = _ext(0, _vec(2, b"\x00" + _vec(2, b"mail.contoso.com")))
ALPN = _ext(16, _vec(2, _vec(1, b"h2") + _vec(1, b"http/1.1")))
VERSIONS = _ext(43, _vec(1, b"\x0a\x0a\x03\x04\x03\x03"))
CLIENT_HELLO = (
    b"\x03\x03"
    + bytes(range(32))
    + _vec(1, b"\x01" * 32)
    + _vec(2, b"\x13\x01\xc0\x2f")
    + _vec(1, b"\x00")
    + _vec(2, SNI + ALPN + VERSIONS + _ext(23, b"") + _ext(22, b""))
)


def test_client_hello_fields() -> None:
    hello = parse_client_hello(CLIENT_HELLO)
    assert hello.random == bytes(range(32)) and hello.session_id == b"\x01" * 32
    assert hello.suites == [0x1301, 0xC02F]
    assert hello.sni == "mail.contoso.com"
    assert hello.alpn == ["h2", "http/1.1"]
    assert hello.versions == [0x0A0A, 0x0304, 0x0303]
    assert hello.ems and hello.etm


def test_server_hello_and_hello_retry_request() -> None:
    body = b"\x03\x03" + bytes(32) + _vec(1, b"") + b"\x13\x02\x00" + _vec(2, _ext(43, b"\x03\x04"))
    hello = parse_server_hello(body)
    assert (hello.version, hello.suite, hello.retry) == (0x0304, 0x1302, False)
    retry = parse_server_hello(b"\x03\x03" + HRR_RANDOM + body[34:])
    assert retry.retry
    assert parse_encrypted_extensions(_vec(2, _ext(16, _vec(2, _vec(1, b"h2"))))) == ("h2", False)
    assert parse_encrypted_extensions(_vec(2, _ext(42, b""))) == (None, True)


@pytest.mark.parametrize("cut", range(0, len(CLIENT_HELLO), 7))
def test_a_hello_cut_anywhere_is_a_handshake_error(cut: int) -> None:
    with pytest.raises(HandshakeError):
        parse_client_hello(CLIENT_HELLO[:cut] if cut else b"")


def test_certificate_lists_of_both_versions() -> None:
    chain = _vec(3, _vec(3, b"leaf") + _vec(3, b"ca"))
    assert parse_certificates(chain, tls13=False) == [b"leaf", b"ca"]
    chain13 = _vec(1, b"") + _vec(3, _vec(3, b"leaf") + _vec(2, b"") + _vec(3, b"ca") + _vec(2, b""))
    assert parse_certificates(chain13, tls13=True) == [b"leaf", b"ca"]


def test_messages_are_cut_from_records_split_anywhere() -> None:
    stream = bytes([1]) + len(CLIENT_HELLO).to_bytes(3, "big") + CLIENT_HELLO + b"\x0e\x00\x00\x00"
    for cut in range(len(stream) + 1):
        buffer = HandshakeBuffer()
        messages = [*buffer.feed(stream[:cut]), *buffer.feed(stream[cut:])]
        assert [kind for kind, _ in messages] == [1, 14]
    with pytest.raises(HandshakeError, match="claims"):
        list(HandshakeBuffer().feed(b"\x0b\xff\xff\xff"))
