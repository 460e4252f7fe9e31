"""Benchmark of the HTML report (run by hand, not a test): generation time, peak memory and file size for a large
capture, and how long headless Chromium takes until the page is usable.

    uv run python bench/bench_html.py [--exchanges 100000] [--compare-json] [--out FILE]

The exchanges are the lab's conversation (every kind of healthy and broken token, 401 challenges, a Basic fallback,
an NTLM handshake) repeated with fresh ids and spread over 24 hours of capture time, fed through the analyzer, the
inventory and the HTML writer exactly as ``analyze --format html`` does.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.inventory_rules import inventory_findings
from inspector.lab.certs import acs_metadata, acs_signing_cert, exchange_auth_cert
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.policy import Policy
from inspector.report.html import HtmlWriter
from inspector.report.writers import JsonWriter, ReportWriter
from inspector.tally import Totals
from inspector.trust import Trust, key_from_certificate, parse_metadata
from tests.browser import chromium_missing, visit

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--compare-json", action="store_true", help="also time the JSON writer on the same input")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench-report.html")
    args = parser.parse_args()

    kit = TokenKit(auth_cert=exchange_auth_cert(now=NOW), acs_cert=acs_signing_cert(now=NOW), now=NOW)
    acs = parse_metadata(json.dumps(acs_metadata([kit.acs_cert], realm=kit.realm)).encode(), "acs.json")
    trust = Trust.of([key_from_certificate(kit.auth_cert.certificate, "OAuthCert.cer"), *acs])
    conversation = [exchange for exchange, _ in lab_exchanges(kit)]
    step = 86400 / args.exchanges

    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")

    def generate(path: Path, make: Callable[[IO[str]], ReportWriter]) -> float:
        analyzer = Analyzer(trust, Policy(realms=frozenset({kit.realm}), now=NOW))
        inventory = Inventory()
        totals = Totals()
        start = time.perf_counter()
        with path.open("w", encoding="utf-8") as out:
            writer = make(out)
            for n in range(args.exchanges):
                base = conversation[n % len(conversation)]
                shifted = NOW + timedelta(seconds=n * step)
                result = analyzer.feed(replace(base, id=f"bench:{n + 1}", time=shifted, response_time=shifted))
                assert isinstance(result, ExchangeResult)
                totals.add(result)
                inventory.observe(result)
                writer.exchange(result)
            for found in inventory_findings(inventory):
                totals.add(found)
                writer.finding(found)
            writer.close(totals, inventory)
        return time.perf_counter() - start

    sources = [{"path": "bench", "kind": "lab"}]
    if args.compare_json:
        json_path = args.out.with_suffix(".json")
        seconds = generate(json_path, lambda out: JsonWriter(out, sources, show_secrets=False))
        print(
            f"JSON, for comparison   {seconds:.2f} s ({args.exchanges / seconds:,.0f} exchanges/s), "
            f"{json_path.stat().st_size / 1e6:.1f} MB"
        )
    seconds = generate(args.out, lambda out: HtmlWriter(out, sources, show_secrets=False))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = args.out.stat().st_size
    print(f"exchanges              {args.exchanges:,}")
    print(f"HTML generation        {seconds:.2f} s ({args.exchanges / seconds:,.0f} exchanges/s)")
    print(f"peak RSS               {peak:.0f} MB (the whole process)")
    print(f"file size              {size / 1e6:.1f} MB ({size / args.exchanges:.0f} bytes per exchange)")
    missing = chromium_missing()
    if missing is not None:
        print(f"browser                skipped: {missing}")
        return
    empty = args.out.with_name("bench-empty.html")
    empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")
    baseline = visit(empty, screenshot=empty.with_suffix(".png"), timeout=600)
    seen = visit(args.out, screenshot=args.out.with_suffix(".png"), timeout=600)
    ready = re.search(r'data-ready-ms="(\d+)"', seen.dom)
    rows = seen.dom.count('class="ex"')
    assert seen.screenshot_seconds is not None
    assert baseline.screenshot_seconds is not None
    print(
        f"browser screenshot run {seen.screenshot_seconds:.2f} s (an empty page: {baseline.screenshot_seconds:.2f} s)"
    )
    print(f"  so load + first page {seen.screenshot_seconds - baseline.screenshot_seconds:.2f} s beyond start-up")
    if ready:
        print(f"first page ready       {int(ready.group(1)) / 1000:.2f} s after navigation start (page clock)")
    print(f"rows in the DOM        {rows} (one page); console {len(seen.console)} lines; requests {len(seen.requests)}")


if __name__ == "__main__":
    main()
