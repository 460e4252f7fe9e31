"""Real-looking NTLM messages (MS-NLMP 2.2.1) for lab traffic: a NEGOTIATE, a CHALLENGE with target info, and an
AUTHENTICATE carrying domain, user, workstation and an NTLMv2 response.

The response bytes are derived from a seed, not computed from a password: they have the right structure for a
decoder, and nothing in them can be cracked.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE_FLAGS = 0xE2088297
"""What Windows 10+ clients send: Unicode, NTLM, extended session security, 128/56-bit, key exchange, version."""
CHALLENGE_FLAGS = 0xE2898215
AUTHENTICATE_FLAGS = 0xE2888215
_VERSION = struct.pack("<BBH3xB", 10, 0, 19041, 15)  # Windows 10.0 build 19041, NTLM revision 15

_AV_EOL = 0
_AV_NB_COMPUTER = 1
_AV_NB_DOMAIN = 2
_AV_DNS_COMPUTER = 3
_AV_DNS_DOMAIN = 4
_AV_DNS_TREE = 5
_AV_FLAGS = 6
_AV_TIMESTAMP = 7
_AV_TARGET_NAME = 9
_FILETIME_EPOCH_OFFSET = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01


def _seeded(seed: str, size: int) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()[:size]


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def filetime(moment: datetime) -> bytes:
    return struct.pack("<Q", (int(moment.timestamp()) + _FILETIME_EPOCH_OFFSET) * 10_000_000)


def _av_pairs(pairs: list[tuple[int, bytes]]) -> bytes:
    out = b"".join(struct.pack("<HH", av_id, len(value)) + value for av_id, value in pairs)
    return out + struct.pack("<HH", _AV_EOL, 0)


def _fields(length: int, offset: int) -> bytes:
    return struct.pack("<HHI", length, length, offset)


def negotiate() -> bytes:
    """Type 1, without domain or workstation (as modern Windows sends it)."""
    header_size = 40
    return (
        SIGNATURE
        + struct.pack("<II", 1, NEGOTIATE_FLAGS)
        + _fields(0, header_size)
        + _fields(0, header_size)
        + _VERSION
    )


def target_info(*, netbios_domain: str, netbios_computer: str, dns_domain: str, moment: datetime) -> bytes:
    return _av_pairs(
        [
            (_AV_NB_DOMAIN, _utf16(netbios_domain)),
            (_AV_NB_COMPUTER, _utf16(netbios_computer)),
            (_AV_DNS_DOMAIN, _utf16(dns_domain)),
            (_AV_DNS_COMPUTER, _utf16(f"{netbios_computer.lower()}.{dns_domain}")),
            (_AV_DNS_TREE, _utf16(dns_domain)),
            (_AV_TIMESTAMP, filetime(moment)),
        ]
    )


def challenge(*, netbios_domain: str, info: bytes, seed: str) -> bytes:
    """Type 2: the server challenge with the target name and target info."""
    header_size = 56
    name = _utf16(netbios_domain)
    return (
        SIGNATURE
        + struct.pack("<I", 2)
        + _fields(len(name), header_size)
        + struct.pack("<I", CHALLENGE_FLAGS)
        + _seeded(seed + ":server-challenge", 8)
        + bytes(8)
        + _fields(len(info), header_size + len(name))
        + _VERSION
        + name
        + info
    )


def ntlmv2_response(*, info: bytes, moment: datetime, spn: str, seed: str) -> bytes:
    """NTProofStr followed by the NTLMv2 client challenge blob (MS-NLMP 2.2.2.7)."""
    pairs = info[:-4]  # the server's pairs without their EOL, then the client's own additions
    client_pairs = (
        pairs
        + struct.pack("<HHI", _AV_FLAGS, 4, 0x2)  # a MIC is present
        + struct.pack("<HH", _AV_TARGET_NAME, len(_utf16(spn)))
        + _utf16(spn)
        + struct.pack("<HH", _AV_EOL, 0)
    )
    blob = (
        struct.pack("<BBHI", 1, 1, 0, 0)
        + filetime(moment)
        + _seeded(seed + ":client-challenge", 8)
        + bytes(4)
        + client_pairs
        + bytes(4)
    )
    return _seeded(seed + ":nt-proof", 16) + blob


def authenticate(*, domain: str, user: str, workstation: str, nt_response: bytes, seed: str) -> bytes:
    """Type 3: LMv2 zeroed (the target info carries a timestamp), NTLMv2 response, MIC and session key."""
    header_size = 88
    payload = [_utf16(domain), _utf16(user), _utf16(workstation), bytes(24), nt_response, _seeded(seed + ":key", 16)]
    offsets = []
    offset = header_size
    for part in payload:
        offsets.append(offset)
        offset += len(part)
    domain_b, user_b, workstation_b, lm, nt, key = payload
    o_domain, o_user, o_workstation, o_lm, o_nt, o_key = offsets
    return (
        SIGNATURE
        + struct.pack("<I", 3)
        + _fields(len(lm), o_lm)
        + _fields(len(nt), o_nt)
        + _fields(len(domain_b), o_domain)
        + _fields(len(user_b), o_user)
        + _fields(len(workstation_b), o_workstation)
        + _fields(len(key), o_key)
        + struct.pack("<I", AUTHENTICATE_FLAGS)
        + _VERSION
        + _seeded(seed + ":mic", 16)
        + b"".join(payload)
    )
