"""Benchmark of the HTML report (run by hand, not a test): generation time, peak memory and file size for a large
capture, and how long headless Chromium takes until the page is usable.

    uv run python bench/bench_html.py [--exchanges 100000] [--compare-json] [--out FILE]
    uv run python bench/bench_html.py --capture CAPTURE [--repeats 5]

The exchanges are the lab's conversation (every kind of healthy and broken token, 401 challenges, a Basic fallback,
an NTLM handshake) repeated with fresh ids and spread over 24 hours of capture time, fed through the analyzer, the
inventory and the HTML writer exactly as ``analyze --format html`` does.

``--capture`` measures the writers alone on a real input (a pcap/pcapng capture or a HAR, read and analysed once
with no trust, as ``analyze CAPTURE`` does): the same analysed results are fed ``--repeats`` times to the JSON and
the HTML writer in turn, in this process, and each writer's CPU time per exchange (from the first result to the
closed document) is printed as the minimum and the median [min-max] of the repeats, with the HTML page's size.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import re
import resource
import statistics
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
from inspector.rules import Finding
from inspector.run import Publisher
from inspector.tally import Totals
from inspector.timeline import Timeline, timeline_inputs
from inspector.trust import Trust, key_from_certificate, parse_metadata
from tests.browser import chromium_missing, visit

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--compare-json", action="store_true", help="also time the JSON writer on the same input")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench-report.html")
    parser.add_argument("--capture", type=Path, help="time the writers alone on this capture or HAR (see above)")
    parser.add_argument("--repeats", type=int, default=5, help="with --capture: feeds to each writer")
    args = parser.parse_args()
    if args.capture is not None:
        writers_on_capture(args.capture, args.repeats, args.out)
        return

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


class _Collected:
    """A publisher's sink that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.items: list[ExchangeResult | Finding] = []

    def exchange(self, result: ExchangeResult) -> None:
        self.items.append(result)

    def finding(self, item: Finding) -> None:
        self.items.append(item)


def writers_on_capture(capture: Path, repeats: int, out: Path) -> None:
    kind = "har" if capture.suffix.lower() == ".har" else "pcap"
    collected, totals, inventory = _Collected(), Totals(), Inventory()
    publisher = Publisher(Analyzer(Trust(), Policy()), collected, totals, inventory)
    publisher.items(Timeline(on_damage=lambda *_: None).read_all(timeline_inputs([(capture, kind)])))
    publisher.end()
    items = collected.items
    exchanges = sum(isinstance(item, ExchangeResult) for item in items)
    if not exchanges:
        raise SystemExit(f"no exchange in {capture}")
    sources = [{"path": str(capture), "kind": kind}]
    makers: dict[str, Callable[[IO[str]], ReportWriter]] = {
        "json": lambda out: JsonWriter(out, sources, show_secrets=False),
        "html": lambda out: HtmlWriter(out, sources, show_secrets=False),
    }
    seconds: dict[str, list[float]] = {name: [] for name in makers}
    sizes: dict[str, int] = {}
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    apart = len(items) - exchanges
    print(f"{capture}: {exchanges:,} exchanges, {apart:,} findings of no exchange; {repeats} feeds to each writer")
    for _ in range(repeats):
        for name, make in makers.items():
            path = out.with_suffix(f".{name}")
            with path.open("w", encoding="utf-8") as handle:
                writer = make(handle)
                gc.collect()
                start = time.process_time()
                for item in items:
                    if isinstance(item, ExchangeResult):
                        writer.exchange(item)
                    else:
                        writer.finding(item)
                writer.close(totals, inventory)
                seconds[name].append(time.process_time() - start)
            sizes[name] = path.stat().st_size
    for name, values in seconds.items():
        per = [value / exchanges * 1e6 for value in values]
        print(
            f"{name:5s} writer  min {min(per):.1f} us/exchange, median {statistics.median(per):.1f} "
            f"[{min(per):.1f}-{max(per):.1f}], {sizes[name]:,} bytes"
        )
    print(f"html/json (min)      {min(seconds['html']) / min(seconds['json']):.2f}")


if __name__ == "__main__":
    main()
