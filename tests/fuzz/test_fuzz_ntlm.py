"""NTLM and SPNEGO blobs: mutated lab handshake messages and random bytes through the bounded decoders, alone and
as Authorization values: no exception, the outputs hold, and the NTLMv2 response never leaks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from inspector.lab.ntlm import authenticate, challenge, negotiate, ntlmv2_response, target_info
from inspector.ntlm import decode_negotiate, decode_ntlm
from tests.builders import exchange
from tests.fuzz.harness import Timed, analyse, assert_outputs_hold, fuzz, mutated

_MOMENT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
_INFO = target_info(netbios_domain="CONTOSO", netbios_computer="EX01", dns_domain="contoso.com", moment=_MOMENT)
_RESPONSE = ntlmv2_response(info=_INFO, moment=_MOMENT, spn="HTTP/mail.contoso.com", seed="fuzz")
SEEDS = [
    negotiate(),
    challenge(netbios_domain="CONTOSO", info=_INFO, seed="fuzz"),
    authenticate(domain="CONTOSO", user="svc-sfb", workstation="SFB01", nt_response=_RESPONSE, seed="fuzz"),
]
# A SPNEGO NegTokenInit wrapping the NTLM negotiate message (mechType NTLMSSP), as browsers send it.
_NTLM_OID = bytes.fromhex("060a2b0601040182370202 0a".replace(" ", ""))
SEEDS.append(
    b"\x60" + bytes([len(SEEDS[0]) + 30]) + b"\x06\x06\x2b\x06\x01\x05\x05\x02\xa0" + bytes([len(SEEDS[0]) + 20])
    + b"\x30" + bytes([len(SEEDS[0]) + 18]) + b"\xa0\x0e\x30\x0c" + _NTLM_OID + b"\xa2" + bytes([len(SEEDS[0]) + 2])
    + b"\x04" + bytes([len(SEEDS[0])]) + SEEDS[0]
)  # fmt: skip


@fuzz(150)
@given(mutated(SEEDS), st.sampled_from(["NTLM", "Negotiate"]))
def test_mutated_handshake_messages(blob: bytes, scheme: str) -> None:
    with Timed():
        decode_ntlm(blob)
        decode_negotiate(blob)
        results = analyse([exchange(f"{scheme} {base64.b64encode(blob).decode()}", status=401)])
    assert_outputs_hold(results, secrets=[base64.b64encode(_RESPONSE).decode()[:40]])


@fuzz(100)
@given(st.binary(max_size=600))
def test_random_bytes(blob: bytes) -> None:
    decode_ntlm(blob)
    decode_negotiate(blob)
