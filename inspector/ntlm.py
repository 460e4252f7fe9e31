"""NTLM and SPNEGO token decoding for HTTP ``NTLM`` / ``Negotiate`` authentication, sans-IO.

Only identity facts are extracted (message type, domain, user, workstation, target name, response *length*):
challenge/response bytes and session keys are never kept, so nothing returned here can be replayed or cracked.

Everything is bounds-checked against the blob and nothing raises: a damaged field reads as ``None``, a blob
that is not NTLMSSP at all as ``None`` (``decode_ntlm``) or mechanism ``"unknown"`` (``decode_negotiate``).

References: [MS-NLMP] 2.2.1 (message layouts), RFC 4178 (SPNEGO), RFC 2743 3.1 (GSS-API token framing).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "NEGOTIATE_OEM",
    "NEGOTIATE_UNICODE",
    "NTLMSSP_SIGNATURE",
    "NegotiateToken",
    "NtlmMessage",
    "decode_negotiate",
    "decode_ntlm",
]

NTLMSSP_SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_UNICODE = 0x00000001
NEGOTIATE_OEM = 0x00000002

Mechanism = Literal["kerberos", "ntlm", "unknown"]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_SECURITY_BUFFER = struct.Struct("<HHI")  # length, max length, offset

# Fixed header sizes ([MS-NLMP] 2.2.1.x) up to and including the last field every version carries.
_NEGOTIATE_MIN = 16  # signature, type, flags
_CHALLENGE_MIN = 32  # ... target name, flags, server challenge
_AUTHENTICATE_MIN = 52  # ... LM, NT, domain, user, workstation (flags and session key came later)
_AUTHENTICATE_WITH_FLAGS = 64
_V1_NT_RESPONSE_LENGTH = 24


@dataclass(frozen=True, slots=True)
class NtlmMessage:
    message_type: int
    """1 (NEGOTIATE), 2 (CHALLENGE) or 3 (AUTHENTICATE)."""
    domain: str | None = None
    """Type 1 (if supplied) / type 3."""
    user: str | None = None
    """Type 3."""
    workstation: str | None = None
    """Type 1 (if supplied) / type 3."""
    target_name: str | None = None
    """Type 2."""
    ntlm_version: Literal["v1", "v2"] | None = None
    """Type 3: ``v1`` when the NT response is 24 bytes, ``v2`` when longer; ``None`` for anonymous/empty."""
    nt_response_length: int | None = None
    """Type 3: the length only; the response bytes are never kept."""
    flags: int = 0
    anonymous: bool = False
    """Type 3 with an empty user and empty responses (anonymous authentication)."""


@dataclass(frozen=True, slots=True)
class NegotiateToken:
    mechanism: Mechanism
    ntlm: NtlmMessage | None
    """The NTLM message when the token carried NTLMSSP (raw, or inside SPNEGO NegTokenInit/NegTokenResp)."""


def decode_ntlm(blob: bytes) -> NtlmMessage | None:
    """Decode an NTLMSSP message; ``None`` when ``blob`` is not NTLMSSP or too short for its message type."""
    if len(blob) < 12 or not blob.startswith(NTLMSSP_SIGNATURE):
        return None
    (message_type,) = _U32.unpack_from(blob, 8)
    if message_type == 1:
        return _decode_negotiate_message(blob)
    if message_type == 2:
        return _decode_challenge_message(blob)
    if message_type == 3:
        return _decode_authenticate_message(blob)
    return None


def _security_buffer(blob: bytes, at: int) -> bytes | None:
    """The bytes a security buffer at ``at`` points to; ``None`` when the descriptor or its data lie outside."""
    if at + _SECURITY_BUFFER.size > len(blob):
        return None
    length, _, offset = _SECURITY_BUFFER.unpack_from(blob, at)
    if offset + length > len(blob):
        return None
    return blob[offset : offset + length]


def _oem(data: bytes) -> str:
    # The OEM code page is the client's and is not on the wire; UTF-8 covers ASCII, latin-1 never fails.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unicode(data: bytes) -> str:
    return data.decode("utf-16-le", errors="replace")


def _looks_utf16(fields: list[bytes | None]) -> bool:
    """Guess the encoding when no flags say it: UTF-16LE text of Latin script has a zero in every odd byte."""
    data = [f for f in fields if f]
    if not data or any(len(f) % 2 for f in data):
        return False
    joined = b"".join(data)
    return joined[1::2].count(0) * 2 >= len(joined) // 2


def _decode_negotiate_message(blob: bytes) -> NtlmMessage | None:
    if len(blob) < _NEGOTIATE_MIN:
        return None
    (flags,) = _U32.unpack_from(blob, 12)
    # The NEGOTIATE message strings are always OEM ([MS-NLMP] 2.2.1.1), whatever the flags say. A client may
    # fill them without setting the *_SUPPLIED flags; what it sent is still worth showing.
    domain = _security_buffer(blob, 16)
    workstation = _security_buffer(blob, 24)
    return NtlmMessage(
        message_type=1,
        domain=_oem(domain) if domain else None,
        workstation=_oem(workstation) if workstation else None,
        flags=flags,
    )


def _decode_challenge_message(blob: bytes) -> NtlmMessage | None:
    if len(blob) < _CHALLENGE_MIN:
        return None
    (flags,) = _U32.unpack_from(blob, 20)
    target = _security_buffer(blob, 12)
    target_name = None
    if target is not None:
        target_name = _unicode(target) if flags & NEGOTIATE_UNICODE else _oem(target)
    return NtlmMessage(message_type=2, target_name=target_name, flags=flags)


def _decode_authenticate_message(blob: bytes) -> NtlmMessage | None:
    if len(blob) < _AUTHENTICATE_MIN:
        return None
    lm = _security_buffer(blob, 12)
    nt = _security_buffer(blob, 20)
    domain = _security_buffer(blob, 28)
    user = _security_buffer(blob, 36)
    workstation = _security_buffer(blob, 44)

    # Old clients end the header after the workstation field; the payload then starts at offset 52, where a
    # newer header would have its session key and flags. The lowest payload offset tells which one we have.
    payload_start = len(blob)
    for at in (12, 20, 28, 36, 44):
        length, _, offset = _SECURITY_BUFFER.unpack_from(blob, at)
        if length:
            payload_start = min(payload_start, offset)
    has_flags = len(blob) >= _AUTHENTICATE_WITH_FLAGS and payload_start >= _AUTHENTICATE_WITH_FLAGS
    flags = _U32.unpack_from(blob, 60)[0] if has_flags else 0

    if flags & NEGOTIATE_UNICODE:
        unicode = True
    elif flags & NEGOTIATE_OEM:
        unicode = False
    else:
        unicode = _looks_utf16([domain, user, workstation])
    text = _unicode if unicode else _oem

    def read(field: bytes | None) -> str | None:
        return None if field is None else text(field)

    nt_length = None if nt is None else len(nt)
    version: Literal["v1", "v2"] | None = None
    if nt_length == _V1_NT_RESPONSE_LENGTH:
        version = "v1"
    elif nt_length is not None and nt_length > _V1_NT_RESPONSE_LENGTH:
        version = "v2"
    # Anonymous: empty user, empty NT response, LM response empty or a single zero byte ([MS-NLMP] 3.2.5.1.2).
    anonymous = user == b"" and nt == b"" and lm is not None and lm in (b"", b"\x00")
    return NtlmMessage(
        message_type=3,
        domain=read(domain),
        user=read(user),
        workstation=read(workstation),
        ntlm_version=version,
        nt_response_length=nt_length,
        flags=flags,
        anonymous=anonymous,
    )


# --- SPNEGO / GSS-API ------------------------------------------------------------------------------------------


def _encode_oid(dotted: str) -> bytes:
    """DER content octets of an OBJECT IDENTIFIER (compared as bytes, so junk OIDs never need decoding)."""
    arcs = [int(arc) for arc in dotted.split(".")]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


_OID_SPNEGO = _encode_oid("1.3.6.1.5.5.2")
_OID_NTLM = _encode_oid("1.3.6.1.4.1.311.2.2.10")
_KERBEROS_OIDS = frozenset(
    _encode_oid(oid)
    for oid in (
        "1.2.840.113554.1.2.2",  # Kerberos 5 (RFC 4121)
        "1.2.840.48018.1.2.2",  # Microsoft's historical (truncated) Kerberos 5 OID
        "1.2.840.113554.1.2.2.3",  # Kerberos 5 user-to-user
    )
)

_TAG_OID = 0x06
_TAG_OCTET_STRING = 0x04
_TAG_SEQUENCE = 0x30
_TAG_GSS_TOKEN = 0x60  # [APPLICATION 0] InitialContextToken
_TAG_NEG_TOKEN_INIT = 0xA0
_TAG_NEG_TOKEN_RESP = 0xA1
_KERBEROS_MESSAGE_TAGS = frozenset({0x6E, 0x6F, 0x7E})  # AP-REQ, AP-REP, KRB-ERROR without a GSS header
_MAX_LENGTH_OCTETS = 4
_MAX_CHILDREN = 32  # a NegTokenInit has at most 4 fields; mechTypes lists a handful of OIDs
_MAX_NESTING = 2  # an SPNEGO token inside a GSS token inside an SPNEGO token is not something clients send


def _der_element(buf: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at ``pos``; ``None`` unless it fits in ``end``."""
    if pos + 2 > end:
        return None
    tag = buf[pos]
    if tag & 0x1F == 0x1F:  # multi-byte tag numbers never occur in these tokens
        return None
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LENGTH_OCTETS or pos + count > end:  # indefinite length is not DER
            return None
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        return None
    return tag, pos, pos + length


def _der_children(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    for _ in range(_MAX_CHILDREN):
        element = _der_element(buf, pos, end)
        if element is None:
            return
        yield element
        pos = element[2]


def _context_fields(buf: bytes, start: int, end: int) -> dict[int, tuple[int, int]]:
    """The explicitly tagged fields ``[n]`` of the SEQUENCE wrapped by a NegTokenInit/NegTokenResp tag."""
    sequence = _der_element(buf, start, end)
    if sequence is None or sequence[0] != _TAG_SEQUENCE:
        return {}
    fields: dict[int, tuple[int, int]] = {}
    for tag, content_start, content_end in _der_children(buf, sequence[1], sequence[2]):
        if tag & 0xE0 == 0xA0:  # context-specific, constructed
            fields.setdefault(tag & 0x1F, (content_start, content_end))
    return fields


def _oid_mechanism(oid: bytes) -> Mechanism:
    if oid in _KERBEROS_OIDS:
        return "kerberos"
    if oid == _OID_NTLM:
        return "ntlm"
    return "unknown"


def _octet_string(buf: bytes, field: tuple[int, int] | None) -> bytes | None:
    if field is None:
        return None
    element = _der_element(buf, field[0], field[1])
    if element is None or element[0] != _TAG_OCTET_STRING:
        return None
    return buf[element[1] : element[2]]


def _first_oid(buf: bytes, field: tuple[int, int] | None, *, in_sequence: bool) -> bytes | None:
    if field is None:
        return None
    element = _der_element(buf, field[0], field[1])
    if element is not None and in_sequence:
        if element[0] != _TAG_SEQUENCE:
            return None
        element = _der_element(buf, element[1], element[2])
    if element is None or element[0] != _TAG_OID:
        return None
    return buf[element[1] : element[2]]


def _with_hint(token: NegotiateToken, hint: bytes | None) -> NegotiateToken:
    """Use the mechanism OID the SPNEGO layer names when the inner token itself did not say."""
    if token.mechanism != "unknown" or hint is None:
        return token
    return NegotiateToken(_oid_mechanism(hint), None)


def _decode(buf: bytes, depth: int) -> NegotiateToken:
    if buf.startswith(NTLMSSP_SIGNATURE):
        return NegotiateToken("ntlm", decode_ntlm(buf))
    unknown = NegotiateToken("unknown", None)
    element = _der_element(buf, 0, len(buf))
    if element is None or depth > _MAX_NESTING:
        return unknown
    tag, start, end = element
    if tag in _KERBEROS_MESSAGE_TAGS:
        return NegotiateToken("kerberos", None)
    if tag == _TAG_GSS_TOKEN:
        oid = _der_element(buf, start, end)
        if oid is None or oid[0] != _TAG_OID:
            return unknown
        mech = buf[oid[1] : oid[2]]
        inner = buf[oid[2] : end]
        if mech == _OID_SPNEGO:
            return _decode(inner, depth + 1)
        if mech == _OID_NTLM and inner.startswith(NTLMSSP_SIGNATURE):
            return NegotiateToken("ntlm", decode_ntlm(inner))
        return NegotiateToken(_oid_mechanism(mech), None)
    if tag == _TAG_NEG_TOKEN_INIT:
        fields = _context_fields(buf, start, end)
        # The optimistic mechToken is for the first (preferred) mechanism in mechTypes.
        preferred = _first_oid(buf, fields.get(0), in_sequence=True)
        mech_token = _octet_string(buf, fields.get(2))
        inner_token = unknown if mech_token is None else _decode(mech_token, depth + 1)
        return _with_hint(inner_token, preferred)
    if tag == _TAG_NEG_TOKEN_RESP:
        fields = _context_fields(buf, start, end)
        supported = _first_oid(buf, fields.get(1), in_sequence=False)
        response_token = _octet_string(buf, fields.get(2))
        inner_token = unknown if response_token is None else _decode(response_token, depth + 1)
        return _with_hint(inner_token, supported)
    return unknown


def decode_negotiate(blob: bytes) -> NegotiateToken:
    """Classify an HTTP ``Negotiate`` token (SPNEGO, a bare Kerberos GSS token, or raw NTLMSSP)."""
    return _decode(blob, 0)
