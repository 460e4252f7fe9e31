"""The outbound lab cases for tests: one set per session, the analyzer they are judged with."""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib

from inspector.analyze import Analyzer, ExchangeResult
from inspector.lab.outbound import OutboundCase, outbound_cases
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.rules import Finding
from inspector.trust import Trust, key_from_certificate


def cases(kit: TokenKit) -> list[OutboundCase]:
    return outbound_cases(kit.auth_cert, kit.acs_cert, now=kit.now, rogue_cert=kit.rogue_cert)


def trust(kit: TokenKit) -> Trust:
    """The auth certificate as a ``--cert OAuthCert.cer`` gives it (trusted for any issuer)."""
    return Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer")])


def analyzer(kit: TokenKit) -> Analyzer:
    return Analyzer(trust(kit), Policy())


def rules_by_exchange(items: list[ExchangeResult | Finding]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in items:
        if isinstance(item, ExchangeResult):
            out.setdefault(item.exchange.id, set()).update(f.rule for f in item.findings)
    return out


_BLOCK = re.compile(r'<script type="[^"]+" id="[^"]+">([A-Za-z0-9+/=]+)</script>')


def readable(report: str) -> str:
    """A report as text to search for secrets: an HTML report's compressed data blocks inflated and appended."""
    inflated = []
    for block in _BLOCK.findall(report):
        try:
            inflated.append(gzip.decompress(base64.b64decode(block)).decode("utf-8"))
        except (binascii.Error, OSError, EOFError, zlib.error, UnicodeDecodeError):
            continue
    return "\n".join([report, *inflated])
