"""The addon's serialiser writes exactly what the report writers write, however often a token comes back."""

from __future__ import annotations

import io
import json

import pytest

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.certs import acs_metadata
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.live.annotate import Serializer, verdict_line
from inspector.policy import Policy
from inspector.report.writers import JsonlWriter
from inspector.trust import Trust, key_from_certificate, parse_metadata


def _results(kit: TokenKit) -> list[ExchangeResult]:
    acs = parse_metadata(json.dumps(acs_metadata([kit.acs_cert], realm=kit.realm)).encode(), "acs.json")
    analyzer = Analyzer(Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer"), *acs]), Policy())
    out = []
    for exchange, _ in lab_exchanges(kit) * 2:  # twice: the second round hits the token memory
        result = analyzer.feed(exchange)
        assert isinstance(result, ExchangeResult)
        out.append(result)
    return out


@pytest.mark.parametrize("show_secrets", [False, True])
def test_lines_and_metadata_match_the_jsonl_writer(lab_kit: TokenKit, show_secrets: bool) -> None:
    serializer = Serializer(show_secrets=not show_secrets)
    results = _results(lab_kit)
    serializer.exchange(results[1])  # remembered under the other setting first
    serializer.show_secrets = show_secrets
    for result in results:
        out = io.StringIO()
        JsonlWriter(out, show_secrets=show_secrets).exchange(result)
        encoded = serializer.exchange(result)
        line, data = encoded.line, encoded.data
        assert line + "\n" == out.getvalue()
        expected = json.loads(line)
        expected.pop("type")
        assert data == expected
        json.dumps(data, allow_nan=False)  # plain JSON


def test_the_verdict_is_one_inert_line(lab_kit: TokenKit) -> None:
    for result in _results(lab_kit):
        line = verdict_line(result)
        assert line.startswith("oauth-inspector: ")
        assert line.isprintable()
        assert len(line) <= 300
