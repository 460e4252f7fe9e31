"""The lab's NTLM messages, read back by an independent implementation (pyspnego): a Unicode Type 1, a Type 2
naming the domain, a Type 3 with an NTLMv2 response stamped at the kit's moment; the same seed, the same bytes."""

from __future__ import annotations

import base64

from spnego._ntlm_raw.messages import Authenticate, Challenge, Negotiate, NTClientChallengeV2

from inspector.lab import ntlm
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit


def test_ntlm_handshake_decodes_as_ntlmv2(kit: TokenKit) -> None:
    ntlm = [(e, x) for e, x in lab_exchanges(kit) if (e.request.header("authorization") or "").startswith("NTLM ")]
    assert [x for _, x in ntlm] == [(), ("legacy-auth",)]
    (first, _), (third, _) = ntlm
    assert first.client == third.client
    negotiate = Negotiate.unpack(base64.b64decode((first.request.header("authorization") or "").split()[1]))
    assert negotiate.flags & 0x1  # Unicode
    assert first.response is not None
    type2 = first.response.header("www-authenticate") or ""
    challenge = Challenge.unpack(base64.b64decode(type2.split()[1]))
    assert challenge.target_name == "CONTOSO"
    assert len(challenge.server_challenge) == 8
    authenticate = Authenticate.unpack(base64.b64decode((third.request.header("authorization") or "").split()[1]))
    assert (authenticate.domain_name, authenticate.user_name, authenticate.workstation) == (
        "CONTOSO",
        "svc-sfb",
        "SFB-FE01",
    )
    nt_response = authenticate.nt_challenge_response
    assert nt_response is not None and len(nt_response) > 24  # NTLMv2, not a 24-byte NTLMv1 response
    blob = NTClientChallengeV2.unpack(nt_response[16:])
    assert blob.time_stamp.year == kit.now.year
    assert third.response is not None and third.response.status == 200


def test_the_same_seed_gives_the_same_bytes(kit: TokenKit) -> None:
    info = ntlm.target_info(netbios_domain="C", netbios_computer="S", dns_domain="c.example", moment=kit.now)
    first = ntlm.challenge(netbios_domain="C", info=info, seed="a")
    assert ntlm.challenge(netbios_domain="C", info=info, seed="a") == first
    assert ntlm.challenge(netbios_domain="C", info=info, seed="b") != first
    response = ntlm.ntlmv2_response(info=info, moment=kit.now, spn="HTTP/s", seed="a")
    assert response == ntlm.ntlmv2_response(info=info, moment=kit.now, spn="HTTP/s", seed="a")
    assert Challenge.unpack(first).target_name == "C"
