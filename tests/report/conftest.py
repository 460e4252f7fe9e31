from __future__ import annotations

import json

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.certs import acs_metadata
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.trust import Trust, key_from_certificate, parse_metadata


@pytest.fixture(scope="session")
def lab_results(lab_kit: TokenKit) -> list[ExchangeResult]:
    """The lab conversation judged with the lab's trust: every kind of exchange the reports show."""
    acs = parse_metadata(json.dumps(acs_metadata([lab_kit.acs_cert], realm=lab_kit.realm)).encode(), "acs.json")
    trust = Trust.of([key_from_certificate(lab_kit.auth_cert.certificate, "OAuthCert.cer"), *acs])
    analyzer = Analyzer(trust, Policy(realms=frozenset({lab_kit.realm})))
    out = []
    for exchange, _ in lab_exchanges(lab_kit):
        result = analyzer.feed(exchange)
        assert isinstance(result, ExchangeResult)
        out.append(result)
    return out
