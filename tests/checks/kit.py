"""What the rule-family tests share: feeding exchanges through one analyzer, and an NTLM handshake on the wire."""

from __future__ import annotations

import base64

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab import ntlm
from inspector.model import HttpExchange
from inspector.policy import Policy
from inspector.trust import Trust
from tests.builders import BEARER_CHALLENGE, CLOCK

REFUSED = (("WWW-Authenticate", BEARER_CHALLENGE),)
OFFERS_NTLM = (("WWW-Authenticate", BEARER_CHALLENGE), ("WWW-Authenticate", "NTLM"))
TYPE1 = "NTLM " + base64.b64encode(ntlm.negotiate()).decode()
_INFO = ntlm.target_info(netbios_domain="CONTOSO", netbios_computer="EXCH01", dns_domain="contoso.com", moment=CLOCK)
TYPE2 = "NTLM " + base64.b64encode(ntlm.challenge(netbios_domain="CONTOSO", info=_INFO, seed="s")).decode()
TYPE3 = (
    "NTLM "
    + base64.b64encode(
        ntlm.authenticate(
            domain="CONTOSO",
            user="svc",
            workstation="WS",
            nt_response=ntlm.ntlmv2_response(info=_INFO, moment=CLOCK, spn="HTTP/x", seed="s"),
            seed="s",
        )
    ).decode()
)


def feed(*items: HttpExchange, policy: Policy | None = None) -> tuple[Analyzer, list[ExchangeResult]]:
    """One analyzer fed the exchanges in order: the analyzer (for its end of input) and every result."""
    analyzer = Analyzer(Trust(), policy or Policy())
    results = [analyzer.feed(item) for item in items]
    assert all(isinstance(r, ExchangeResult) for r in results)
    return analyzer, [r for r in results if isinstance(r, ExchangeResult)]


def run(*exchanges: HttpExchange, policy: Policy | None = None) -> list[ExchangeResult]:
    return feed(*exchanges, policy=policy)[1]


def rules_of(result: ExchangeResult) -> list[str]:
    return [f.rule for f in result.findings]
