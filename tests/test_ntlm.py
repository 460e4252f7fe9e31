from __future__ import annotations

import base64
import re
import struct
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spnego._ntlm_raw.messages import Authenticate
from spnego._spnego import InitialContextToken, NegTokenInit, NegTokenResp

from inspector.ntlm import (
    NEGOTIATE_OEM,
    NEGOTIATE_UNICODE,
    NTLMSSP_SIGNATURE,
    NegotiateToken,
    NtlmMessage,
    decode_negotiate,
    decode_ntlm,
)

# --- reading auth headers out of the corpus captures (tests only) ------------------------------------------------

_AUTH_HEADER = re.compile(rb"(?im)^(authorization|www-authenticate)[ \t]*:[ \t]*([^\r\n]*)")


def auth_headers_in_pcap(path: Path) -> list[tuple[str, str]]:
    """(lower-case header name, value) of every auth header, per TCP direction in order of sequence number."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    flows: dict[tuple[object, ...], dict[int, bytes]] = defaultdict(dict)
    for packet in rdpcap(str(path)):
        tcp = packet.getlayer(TCP)
        while tcp is not None:  # a tunnelled (GRE) capture has a second TCP layer under the first
            ip = tcp.underlayer
            payload = bytes(tcp.payload)
            if isinstance(ip, IP) and ip.len:  # drop Ethernet padding of short frames
                payload = payload[: max(ip.len - ip.ihl * 4 - tcp.dataofs * 4, 0)]
            if payload and isinstance(ip, IP | IPv6):
                flows[(ip.src, tcp.sport, ip.dst, tcp.dport)].setdefault(tcp.seq, payload)
            tcp = tcp.payload.getlayer(TCP) if tcp.payload else None
    found = []
    for segments in flows.values():
        stream = b"".join(segments[seq] for seq in sorted(segments))
        for match in _AUTH_HEADER.finditer(stream):
            found.append((match.group(1).decode().lower(), match.group(2).decode("latin-1").strip()))
    return found


def _ntlm_blobs(path: Path, header: str, scheme: str) -> list[bytes]:
    prefix = scheme + " "
    return [
        base64.b64decode(value[len(prefix) :])
        for name, value in auth_headers_in_pcap(path)
        if name == header and value.startswith(prefix)
    ]


def _type3(blobs: list[bytes]) -> list[NtlmMessage]:
    messages = [decode_ntlm(blob) for blob in blobs]
    assert all(m is not None for m in messages)
    return [m for m in messages if m is not None and m.message_type == 3]


# --- real captures ------------------------------------------------------------------------------------------------


def test_erspan_sharepoint_handshake(corpus: Path) -> None:
    pcap = corpus / "pcap/auth/zeek/erspan.pcap"
    requests = [decode_ntlm(b) for b in _ntlm_blobs(pcap, "authorization", "NTLM")]
    assert [m.message_type if m else None for m in requests] == [1, 3, 1, 1, 1]
    (type3,) = [m for m in requests if m and m.message_type == 3]
    assert (type3.domain, type3.user, type3.workstation) == ("sp", "administrator", "STEVE-PC")
    assert type3.ntlm_version == "v2"
    assert type3.nt_response_length == 280
    assert type3.flags & NEGOTIATE_UNICODE
    assert not type3.anonymous
    (challenge,) = [decode_ntlm(b) for b in _ntlm_blobs(pcap, "www-authenticate", "NTLM")]
    assert challenge is not None
    assert (challenge.message_type, challenge.target_name) == (2, "SP")


def test_arkime_synthetic_ntlm_and_negotiate(corpus: Path) -> None:
    pcap = corpus / "pcap/auth/arkime/ntlm_synthetic.pcap"
    ntlm = [decode_ntlm(b) for b in _ntlm_blobs(pcap, "authorization", "NTLM")]
    assert [m.message_type if m else None for m in ntlm] == [1, 3]
    negotiate_request, authenticate = ntlm
    assert negotiate_request is not None and authenticate is not None
    # The type 1 carries OEM domain/workstation although the *_SUPPLIED flags are clear.
    assert (negotiate_request.domain, negotiate_request.workstation) == ("HTTPDOM", "HTTPHOST")
    assert (authenticate.domain, authenticate.user, authenticate.workstation) == ("HTTPDOM", "dave", "HTTPHOST")
    assert authenticate.ntlm_version == "v1"

    tokens = [decode_negotiate(b) for b in _ntlm_blobs(pcap, "authorization", "Negotiate")]
    assert [t.mechanism for t in tokens] == ["ntlm", "ntlm"]
    eve = tokens[1].ntlm
    assert eve is not None
    assert (eve.message_type, eve.domain, eve.user, eve.workstation) == (3, "HTTP6DOM", "eve", "HTTP6HOST")
    (server,) = [decode_negotiate(b) for b in _ntlm_blobs(pcap, "www-authenticate", "Negotiate")]
    assert server.ntlm is not None
    assert (server.ntlm.message_type, server.ntlm.target_name) == (2, "HTTP6TGT")


def test_credslayer_ntlm_v1_without_challenges(corpus: Path) -> None:
    blobs = _ntlm_blobs(corpus / "pcap/auth/credslayer/http-ntlm.pcap", "authorization", "NTLM")
    assert len(blobs) == 14
    type3 = _type3(blobs)
    assert len(type3) == 7
    for message in type3:
        assert (message.domain, message.user, message.workstation) == ("example", "administrator", "WANG_WENCHAO")
        assert (message.ntlm_version, message.nt_response_length) == ("v1", 24)


def test_webdav_oem_strings_ntlm_v2(corpus: Path) -> None:
    pcap = corpus / "pcap/auth/ndpi/webdav.pcap"  # pcapng despite the name
    type3 = _type3(_ntlm_blobs(pcap, "authorization", "NTLM"))
    assert len(type3) == 7
    for message in type3:
        assert not message.flags & NEGOTIATE_UNICODE  # the strings are OEM, not UTF-16
        assert (message.domain, message.user, message.workstation) == (
            "www.dlp-test.com",
            "WebDAV",
            "ivan-Latitude-E6540",
        )
        assert (message.ntlm_version, message.nt_response_length) == ("v2", 168)


def test_agrees_with_pyspnego_on_corpus_type3(corpus: Path) -> None:
    for relative in ("pcap/auth/zeek/erspan.pcap", "pcap/auth/ndpi/webdav.pcap", "pcap/auth/credslayer/http-ntlm.pcap"):
        for blob in _ntlm_blobs(corpus / relative, "authorization", "NTLM"):
            mine = decode_ntlm(blob)
            assert mine is not None
            if mine.message_type != 3:
                continue
            theirs = Authenticate.unpack(blob)
            assert (mine.domain, mine.user, mine.workstation) == (
                theirs.domain_name,
                theirs.user_name,
                theirs.workstation,
            )
            assert mine.nt_response_length == len(theirs.nt_challenge_response or b"")
            assert mine.flags == int(theirs.flags)


# --- synthetic messages -------------------------------------------------------------------------------------------


def _authenticate(
    *,
    domain: bytes = b"",
    user: bytes = b"",
    workstation: bytes = b"",
    lm: bytes = b"",
    nt: bytes = b"",
    flags: int | None = NEGOTIATE_UNICODE,
) -> bytes:
    """A type 3 message; ``flags=None`` builds the old 52-byte header without session key and flags."""
    header_size = 52 if flags is None else 64
    payload = b""
    fields = b""
    for data in (lm, nt, domain, user, workstation):
        fields += struct.pack("<HHI", len(data), len(data), header_size + len(payload))
        payload += data
    header = NTLMSSP_SIGNATURE + struct.pack("<I", 3) + fields
    if flags is not None:
        header += struct.pack("<HHI", 0, 0, header_size + len(payload)) + struct.pack("<I", flags)
    return header + payload


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def test_type3_unicode_fields_and_v1_v2_boundary() -> None:
    def build(nt: bytes) -> bytes:
        return _authenticate(domain=_utf16("CORP"), user=_utf16("Jürgen"), workstation=_utf16("WS1"), nt=nt)

    v1 = decode_ntlm(build(bytes(24)))
    assert v1 == NtlmMessage(3, "CORP", "Jürgen", "WS1", None, "v1", 24, NEGOTIATE_UNICODE, False)
    v2 = decode_ntlm(build(bytes(25)))
    assert v2 is not None and v2.ntlm_version == "v2" and v2.nt_response_length == 25
    odd = decode_ntlm(build(bytes(16)))  # neither size: no version claimed
    assert odd is not None and odd.ntlm_version is None and odd.nt_response_length == 16


def test_type3_oem_fields_follow_the_flag() -> None:
    message = decode_ntlm(_authenticate(domain=b"CORP", user=b"bob", workstation=b"PC", flags=NEGOTIATE_OEM))
    assert message is not None
    assert (message.domain, message.user, message.workstation) == ("CORP", "bob", "PC")
    latin = decode_ntlm(_authenticate(user="Jörg".encode("latin-1"), flags=NEGOTIATE_OEM))
    assert latin is not None and latin.user == "Jörg"


@pytest.mark.parametrize(
    ("user", "expected"),
    [(_utf16("alice"), "alice"), (b"alice!", "alice!"), (b"bob", "bob")],
)
def test_type3_without_flags_guesses_the_encoding(user: bytes, expected: str) -> None:
    message = decode_ntlm(_authenticate(user=user, nt=bytes(24), flags=None))
    assert message is not None
    assert message.flags == 0
    assert message.user == expected


def test_anonymous_type3() -> None:
    for lm in (b"", b"\x00"):
        message = decode_ntlm(_authenticate(lm=lm))
        assert message is not None
        assert message.anonymous
        assert (message.user, message.ntlm_version, message.nt_response_length) == ("", None, 0)
    named = decode_ntlm(_authenticate(user=_utf16("x")))
    assert named is not None and not named.anonymous


def test_field_pointing_outside_the_blob_reads_as_none() -> None:
    blob = bytearray(_authenticate(domain=_utf16("D"), user=_utf16("u"), nt=bytes(24)))
    struct.pack_into("<HHI", blob, 36, 200, 200, 60000)  # user field: far past the end
    struct.pack_into("<HHI", blob, 20, 24, 24, len(blob) - 4)  # NT response: runs past the end
    message = decode_ntlm(bytes(blob))
    assert message is not None
    assert (message.domain, message.user) == ("D", None)
    assert (message.nt_response_length, message.ntlm_version) == (None, None)


def test_type1_and_type2_layouts() -> None:
    bare = NTLMSSP_SIGNATURE + struct.pack("<II", 1, 0xA2088207)
    assert decode_ntlm(bare) == NtlmMessage(1, flags=0xA2088207)
    supplied = (
        NTLMSSP_SIGNATURE
        + struct.pack("<II", 1, 0x3000)
        + struct.pack("<HHI", 4, 4, 32)
        + struct.pack("<HHI", 2, 2, 36)
        + b"CORPPC"
    )
    assert decode_ntlm(supplied) == NtlmMessage(1, domain="CORP", workstation="PC", flags=0x3000)
    target = _utf16("CONTOSO")
    challenge = (
        NTLMSSP_SIGNATURE
        + struct.pack("<I", 2)
        + struct.pack("<HHI", len(target), len(target), 48)
        + struct.pack("<I", NEGOTIATE_UNICODE)
        + bytes(8 + 8 + 8)  # server challenge, reserved, target info descriptor
        + target
    )
    assert decode_ntlm(challenge) == NtlmMessage(2, target_name="CONTOSO", flags=NEGOTIATE_UNICODE)
    assert decode_ntlm(challenge[:-2]) == NtlmMessage(2, target_name=None, flags=NEGOTIATE_UNICODE)  # cut short
    oem = challenge[:20] + struct.pack("<I", NEGOTIATE_OEM) + challenge[24:48] + b"CONTOSO"
    oem = oem[:12] + struct.pack("<HHI", 7, 7, 48) + oem[20:]
    assert decode_ntlm(oem) == NtlmMessage(2, target_name="CONTOSO", flags=NEGOTIATE_OEM)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"NTLMSSP",
        b"NTLMSSP\x00",
        NTLMSSP_SIGNATURE + struct.pack("<I", 4) + bytes(60),  # no such message type
        NTLMSSP_SIGNATURE + struct.pack("<I", 3) + bytes(30),  # type 3 shorter than its fixed header
        NTLMSSP_SIGNATURE + struct.pack("<I", 2) + bytes(10),
        NTLMSSP_SIGNATURE + struct.pack("<I", 1),
        b"NTLMSSQ\x00" + struct.pack("<I", 1) + bytes(30),
        b"\x60\x03\x06\x01\x00",
    ],
)
def test_not_ntlm_or_too_damaged(blob: bytes) -> None:
    assert decode_ntlm(blob) is None


def test_every_truncation_of_a_real_type3_is_safe() -> None:
    blob = _authenticate(domain=_utf16("CORP"), user=_utf16("bob"), workstation=_utf16("PC"), nt=bytes(40))
    for end in range(len(blob) + 1):
        message = decode_ntlm(blob[:end])
        if end < 52:
            assert message is None
        else:
            assert message is not None and message.message_type == 3
    assert decode_ntlm(blob) is not None


# --- SPNEGO / Negotiate -------------------------------------------------------------------------------------------

_TYPE1 = NTLMSSP_SIGNATURE + struct.pack("<II", 1, 0xA2088207) + bytes(16)
_KRB5 = "1.2.840.113554.1.2.2"
_MS_KRB5 = "1.2.840.48018.1.2.2"
_NTLM = "1.3.6.1.4.1.311.2.2.10"
_NEGOEX = "1.3.6.1.4.1.311.2.2.30"
_AP_REQ = bytes.fromhex("6e0a3008a003020105a10302010e")  # [APPLICATION 14] with pvno 5, msg-type 14


def _krb_gss_token(oid: str = _KRB5) -> bytes:
    return InitialContextToken(oid, b"\x01\x00" + _AP_REQ).pack()


def test_spnego_init_with_ntlm_mech_token() -> None:
    token = decode_negotiate(NegTokenInit([_NTLM], mech_token=_TYPE1).pack())
    assert token.mechanism == "ntlm"
    assert token.ntlm == NtlmMessage(1, flags=0xA2088207)


@pytest.mark.parametrize("oid", [_KRB5, _MS_KRB5])
def test_spnego_init_with_kerberos(oid: str) -> None:
    with_token = NegTokenInit([oid, _NTLM], mech_token=_krb_gss_token(oid)).pack()
    assert decode_negotiate(with_token) == NegotiateToken("kerberos", None)
    mech_list_only = NegTokenInit([oid, _NTLM]).pack()
    assert decode_negotiate(mech_list_only) == NegotiateToken("kerberos", None)


def test_spnego_init_preferring_ntlm_without_token() -> None:
    assert decode_negotiate(NegTokenInit([_NTLM, _KRB5]).pack()) == NegotiateToken("ntlm", None)


def test_spnego_init_with_negoex_first_is_unknown() -> None:
    assert decode_negotiate(NegTokenInit([_NEGOEX, _NTLM]).pack()).mechanism == "unknown"


def test_spnego_resp_with_ntlm_response_token() -> None:
    authenticate = _authenticate(domain=_utf16("CORP"), user=_utf16("bob"), nt=bytes(40))
    token = decode_negotiate(NegTokenResp(response_token=authenticate, supported_mech=_NTLM).pack())
    assert token.mechanism == "ntlm"
    assert token.ntlm is not None and (token.ntlm.domain, token.ntlm.user) == ("CORP", "bob")


def test_spnego_resp_naming_kerberos_with_ap_rep() -> None:
    ap_rep = bytes.fromhex("6f0a3008a003020105a10302010f")
    token = decode_negotiate(NegTokenResp(supported_mech=_MS_KRB5, response_token=ap_rep).pack())
    assert token == NegotiateToken("kerberos", None)


def test_iis_final_negotiate_challenge_has_no_mechanism() -> None:
    # A 401/200 "Negotiate oRsw..." carrying only negState and an NTLM mechListMIC: nothing names a mechanism.
    blob = base64.b64decode("oRswGaADCgEBoxIEEAEAAABDh+CIwTbjqQAAAAA=")
    assert decode_negotiate(blob) == NegotiateToken("unknown", None)


def test_bare_kerberos_tokens() -> None:
    assert decode_negotiate(_krb_gss_token()).mechanism == "kerberos"
    assert decode_negotiate(_AP_REQ).mechanism == "kerberos"


def test_gss_framed_ntlm() -> None:
    token = decode_negotiate(InitialContextToken(_NTLM, _TYPE1).pack())
    assert token.mechanism == "ntlm" and token.ntlm is not None


def test_pyspnego_client_tokens() -> None:
    import spnego

    client = spnego.client("CORP\\bob", "not-a-real-password", hostname="server", protocol="negotiate")
    token = decode_negotiate(client.step() or b"")
    assert token.mechanism in ("ntlm", "kerberos")  # kerberos only where a KDC is configured
    if token.mechanism == "ntlm":
        assert token.ntlm is not None and token.ntlm.message_type == 1


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x60",
        b"\x60\x80\x06\x06+\x06\x01\x05\x05\x02",  # indefinite length
        b"\x60\x84\xff\xff\xff\xff",  # length far beyond the blob
        b"\x60\x85\x01\x00\x00\x00\x00\x00",  # five length octets
        b"\x7f\x81\x01\x00",  # multi-byte tag
        b"\xa0\x02\x30\x00",  # empty NegTokenInit
        b"\xa1\x03\x30\x01\xa0",  # NegTokenResp with a truncated field
        b"\x60\x08\x06\x06+\x06\x01\x05\x05\x02",  # SPNEGO OID with nothing after it
        b"hello world",
    ],
)
def test_junk_negotiate_tokens_are_unknown(blob: bytes) -> None:
    assert decode_negotiate(blob) == NegotiateToken("unknown", None)


def _wrap_in_spnego(token: bytes, times: int) -> bytes:
    for _ in range(times):
        token = InitialContextToken("1.3.6.1.5.5.2", NegTokenInit([_NEGOEX], mech_token=token).pack()).pack()
    return token


def test_nested_spnego_recursion_is_bounded() -> None:
    assert decode_negotiate(_wrap_in_spnego(_TYPE1, 1)).mechanism == "ntlm"
    assert decode_negotiate(_wrap_in_spnego(_TYPE1, 50)) == NegotiateToken("unknown", None)


# --- properties ---------------------------------------------------------------------------------------------------

_REAL_TYPE3 = _authenticate(domain=_utf16("CORP"), user=_utf16("bob"), workstation=_utf16("PC"), nt=bytes(40))


@settings(max_examples=400, deadline=1000)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(blob: bytes) -> None:
    decode_ntlm(blob)
    decode_negotiate(blob)
    for message_type in (1, 2, 3):
        decoded = decode_ntlm(NTLMSSP_SIGNATURE + struct.pack("<I", message_type) + blob)
        assert decoded is None or decoded.message_type == message_type
    for prefix in (b"\x60", b"\xa0", b"\xa1", b"\x60\x82\x01\x00\x06\x06+\x06\x01\x05\x05\x02"):
        assert decode_negotiate(prefix + blob).mechanism in ("kerberos", "ntlm", "unknown")


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.tuples(st.integers(0, len(_REAL_TYPE3) - 1), st.integers(0, 255)), max_size=8))
def test_mutated_type3_never_raises(edits: list[tuple[int, int]]) -> None:
    blob = bytearray(_REAL_TYPE3)
    for index, value in edits:
        blob[index] = value
    message = decode_ntlm(bytes(blob))
    assert message is None or message.message_type in (1, 2, 3)
    decode_negotiate(NegTokenResp(response_token=bytes(blob)).pack())
