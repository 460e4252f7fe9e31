"""The lab's whole EWS conversation: every exchange raises exactly the rules the scenario declares."""

from __future__ import annotations

import json

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.certs import acs_metadata
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.tally import Totals
from inspector.trust import Trust, key_from_certificate, parse_metadata


def test_every_lab_exchange_raises_its_declared_rules(lab_kit: TokenKit) -> None:
    acs = parse_metadata(json.dumps(acs_metadata([lab_kit.acs_cert], realm=lab_kit.realm)).encode(), "acs.json")
    trust = Trust.of([key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer"), *acs])
    analyzer = Analyzer(trust, Policy(realms=frozenset({lab_kit.realm})))
    totals = Totals()
    pairs = lab_exchanges(lab_kit)
    assert len(pairs) > 20
    for exchange, expected in pairs:
        result = analyzer.feed(exchange)
        assert isinstance(result, ExchangeResult)
        totals.add(result)
        got = {f.rule for f in result.findings}
        assert got == set(expected), (exchange.id, [f.message for f in result.findings])
    schemes = totals.schemes
    assert schemes["bearer"] >= 17
    assert schemes["basic"] == 1
    assert schemes["ntlm"] == 2
