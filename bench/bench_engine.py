"""Benchmark of the engine (run by hand, not a test): tokens decoded and verified per second, cold and with the
verification cache, and exchanges analysed per second over the lab's traffic mix.

    uv run python bench/bench_engine.py [--tokens 2000] [--exchanges 50000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from inspector.analyze import Analyzer
from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.tokens import decode_bearer
from inspector.trust import Trust, key_from_certificate
from inspector.verify import Verifier
from tests.builders import exchange

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--exchanges", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=1, help="repeat each measure; median and [min-max] shown")
    parser.add_argument("--json-out", type=Path, help="also write the rates (per round) to this file")
    args = parser.parse_args()

    kit = TokenKit(auth_cert=exchange_auth_cert(now=NOW), acs_cert=acs_signing_cert(now=NOW), now=NOW)
    trust = Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer")])
    distinct = []
    for n in range(args.tokens):
        kit.user = kit.user.__class__(upn=f"user{n}@contoso.com")  # distinct outer tokens, distinct actors
        distinct.append(kit.user_token("bench", "", (), actor_claims=kit.actor_claims(nameid=None) | {"n": n}).value)
    mix = [m.value for m in kit.scenarios()]
    exchanges = [exchange(f"Bearer {mix[n % len(mix)]}", exchange_id=f"b:{n}") for n in range(args.exchanges)]
    repeated = [distinct[n % 10] for n in range(args.tokens * 10)]

    def cold() -> tuple[int, float, float]:
        verifier = Verifier(trust, cache_size=0)
        start, cpu = time.perf_counter(), time.process_time()
        for value in distinct:
            decoded = decode_bearer(value)
            assert decoded.actor is not None
            assert verifier.verify(decoded.actor, decoded.actor.claim_str("iss")).verdict == "valid"
        return len(distinct), time.perf_counter() - start, time.process_time() - cpu

    def cached() -> tuple[int, float, float]:
        verifier = Verifier(trust)
        start, cpu = time.perf_counter(), time.process_time()
        for value in repeated:
            decoded = decode_bearer(value)
            assert decoded.actor is not None
            verifier.verify(decoded.actor, decoded.actor.claim_str("iss"))
        return len(repeated), time.perf_counter() - start, time.process_time() - cpu

    def analysed() -> tuple[int, float, float]:
        analyzer = Analyzer(trust, Policy(realms=frozenset({kit.realm})))
        start, cpu = time.perf_counter(), time.process_time()
        for item in exchanges:
            analyzer.feed(item)
        return len(exchanges), time.perf_counter() - start, time.process_time() - cpu

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    measures = {"decode+verify, cold": cold, "decode+verify, cached": cached, "exchanges analysed": analysed}
    # Wall-clock rates, and rates by the process's CPU time: on a shared machine a process waiting for a core
    # loses wall time but no CPU time, so the second is the steadier figure there.
    rates: dict[str, list[float]] = {name: [] for name in measures}
    cpu_rates: dict[str, list[float]] = {f"{name} (cpu)": [] for name in measures}
    for _ in range(args.rounds):  # interleaved, like every benchmark here
        for name, measure in measures.items():
            count, seconds, cpu_seconds = measure()
            rates[name].append(count / seconds)
            cpu_rates[f"{name} (cpu)"].append(count / cpu_seconds)
    rates |= cpu_rates
    for name, values in rates.items():
        spread = f"  [{min(values):,.0f}-{max(values):,.0f}] over {len(values)} rounds" if len(values) > 1 else ""
        print(f"{name:31s}{statistics.median(values):12,.0f}/s{spread}")
    if args.json_out:
        args.json_out.write_text(json.dumps(rates))


if __name__ == "__main__":
    main()
