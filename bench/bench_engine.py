"""Benchmark of the engine (run by hand, not a test): tokens decoded and verified per second, cold and with the
verification cache, and exchanges analysed per second over the lab's traffic mix.

    uv run python bench/bench_engine.py [--tokens 2000] [--exchanges 50000]
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import UTC, datetime

from inspector.analyze import Analyzer
from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.tokens import decode_bearer
from inspector.trust import Trust, key_from_certificate
from inspector.verify import Verifier
from tests.builders import exchange

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:12,.0f}/s  ({count:,} in {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--exchanges", type=int, default=50_000)
    args = parser.parse_args()

    kit = TokenKit(auth_cert=exchange_auth_cert(now=NOW), acs_cert=acs_signing_cert(now=NOW), now=NOW)
    trust = Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer")])
    distinct = []
    for n in range(args.tokens):
        kit.user = kit.user.__class__(upn=f"user{n}@contoso.com")  # distinct outer tokens, distinct actors
        distinct.append(kit.user_token("bench", "", (), actor_claims=kit.actor_claims(nameid=None) | {"n": n}).value)

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    verifier = Verifier(trust, cache_size=0)
    start = time.perf_counter()
    for value in distinct:
        decoded = decode_bearer(value)
        assert decoded.actor is not None
        assert verifier.verify(decoded.actor, decoded.actor.claim_str("iss")).verdict == "valid"
    print("decode+verify, cold      ", rate(len(distinct), time.perf_counter() - start))

    verifier = Verifier(trust)
    repeated = [distinct[n % 10] for n in range(args.tokens * 10)]
    start = time.perf_counter()
    for value in repeated:
        decoded = decode_bearer(value)
        assert decoded.actor is not None
        verifier.verify(decoded.actor, decoded.actor.claim_str("iss"))
    print("decode+verify, cached    ", rate(len(repeated), time.perf_counter() - start))

    mix = [m.value for m in kit.scenarios()]
    exchanges = [exchange(f"Bearer {mix[n % len(mix)]}", exchange_id=f"b:{n}") for n in range(args.exchanges)]
    analyzer = Analyzer(trust, Policy(realms=frozenset({kit.realm})))
    start = time.perf_counter()
    for item in exchanges:
        analyzer.feed(item)
    print("exchanges analysed       ", rate(len(exchanges), time.perf_counter() - start))


if __name__ == "__main__":
    main()
