"""Benchmark of live inspection (run by hand, not a test).

1. Latency and throughput: the lab server runs in its own process; two mitmdump processes in reverse mode in front
   of it, one plain and one with the oauth-inspector addon (trust options and a JSONL report, as
   ``oauth-inspector proxy`` sets them). The same requests (EWS calls with S2S tokens, mostly healthy) go through
   both, interleaved in rounds so that drift hits both alike; then the same through four concurrent clients.
2. Memory: 100,000 flows through the addon in this process (mitmproxy's test harness), every flow from a distinct
   client address and thousands of distinct tokens, so the analyzer's per-client state and token cache fill up;
   RSS is printed along the way to show it levels off.

    uv run python bench/bench_proxy.py [--requests 3000] [--rounds 20] [--concurrent-rounds 6] [--flows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import logging
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mitmproxy.version

from inspector.lab.folder import ACS_METADATA_FILE, AUTH_CERT_FILE, LabDir, read_lab_dir
from inspector.lab.scenarios import EWS_PATH, bearer_challenge
from inspector.lab.server import free_port
from inspector.proxy import mitmproxy_command, script_path

SOAP = b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>'


# --- processes ------------------------------------------------------------------------------------------------


def start_lab(folder: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-c", "from inspector.cli import run; run()", "lab", "serve", "--listen-port", "0"]
    command += ["--cert-dir", str(folder), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    match = re.search(r"listening on (\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit("lab serve did not start")
    return process, match.group(1)


def start_mitmdump(upstream: str, port: int, extra: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    command = [*mitmproxy_command("mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port)]
    command += ["--mode", f"reverse:{upstream}", "--set", "keep_host_header=true", *extra]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"mitmdump exited: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.1)
    process.kill()
    raise SystemExit("mitmdump did not start")


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


# --- traffic ---------------------------------------------------------------------------------------------------


def tokens(lab: LabDir) -> list[str]:
    """A traffic mix: mostly one healthy user token (as S2S callers reuse theirs), some app-only and expired."""
    kit = lab.kit(datetime.now(UTC))
    healthy, app, expired = kit.healthy_user().value, kit.app_only().value, kit.expired().value
    return [healthy] * 18 + [app, expired]


class Client:
    def __init__(self, port: int, host: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.host = host

    def call(self, token: str) -> float:
        started = time.perf_counter()
        self.connection.request(
            "POST",
            EWS_PATH,
            body=SOAP,
            headers={"Host": self.host, "Authorization": f"Bearer {token}", "Content-Type": "text/xml"},
        )
        response = self.connection.getresponse()
        response.read()
        return time.perf_counter() - started

    def close(self) -> None:
        self.connection.close()


@dataclass
class Round:
    """One proxy's block of requests within a round: latencies, and its mitmdump's CPU seconds over the block."""

    times: list[float]
    cpu: float | None


def sequential(
    ports: dict[str, int], host: str, mix: list[str], requests: int, rounds: int, processes: dict[str, int]
) -> dict[str, list[Round]]:
    """Interleaved rounds: in each, every proxy gets the same block of requests, in alternating order, so that a
    burst of load on the (shared, virtual) machine hits one round rather than one proxy."""
    clients = {name: Client(port, host) for name, port in ports.items()}
    out: dict[str, list[Round]] = {name: [] for name in ports}
    for client in clients.values():  # warm up: connections, token caches, imports
        for token in mix:
            client.call(token)
    per_round = requests // rounds
    for round_number in range(rounds):
        order = list(clients.items()) if round_number % 2 == 0 else list(reversed(clients.items()))
        for name, client in order:
            pid = processes.get(name)
            before = cpu_seconds(pid) if pid is not None else None
            times = [client.call(mix[n % len(mix)]) for n in range(per_round)]
            after = cpu_seconds(pid) if pid is not None else None
            cpu = after - before if before is not None and after is not None else None
            out[name].append(Round(times, cpu))
    for client in clients.values():
        client.close()
    return out


def concurrent(port: int, host: str, mix: list[str], requests: int, workers: int) -> float:
    """Requests per second with ``workers`` clients on their own connections."""
    each = requests // workers

    def work() -> None:
        client = Client(port, host)
        for n in range(each):
            client.call(mix[n % len(mix)])
        client.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return each * workers / (time.perf_counter() - started)


def spread(ratios: list[float]) -> str:
    """Median of per-round ratios with the middle half of the rounds, as percentages."""
    ordered = sorted(ratios)
    low, high = ordered[len(ordered) // 4], ordered[(3 * len(ordered)) // 4]
    return f"{statistics.median(ordered) - 1:+.1%} (middle half of the rounds {low - 1:+.1%} to {high - 1:+.1%})"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc); ``None`` elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(len(ordered) * 0.95)]
    return (
        f"{statistics.median(values) * 1000:7.3f} ms {statistics.fmean(values) * 1000:7.3f} ms "
        f"{p95 * 1000:7.3f} ms {len(values) / sum(values):8,.0f}/s"
    )


def addon_sets(lab: LabDir, report: Path) -> list[str]:
    """``--set`` for the addon as ``oauth-inspector proxy`` sets it: the lab's trust, and a JSONL report."""
    sets = {
        "oauth_cert": lab.path / AUTH_CERT_FILE,
        "oauth_metadata": lab.path / ACS_METADATA_FILE,
        "oauth_realm": lab.realm,
        "oauth_report": report,
    }
    return [arg for name, value in sets.items() for arg in ("--set", f"{name}={value}")]


def latency_part(args: argparse.Namespace, work: Path) -> None:
    lab_process, upstream = start_lab(work / "lab")
    lab = read_lab_dir(work / "lab")
    trust = addon_sets(lab, work / "report.jsonl")
    ports = {"mitmdump": free_port(), "mitmdump + addon": free_port()}
    plain = start_mitmdump(upstream, ports["mitmdump"], [], work / "plain.log")
    inspected = start_mitmdump(
        upstream, ports["mitmdump + addon"], ["-s", str(script_path()), *trust], work / "addon.log"
    )
    try:
        mix = tokens(lab)
        upstream_port = int(upstream.rsplit(":", 1)[1])
        print(
            f"\n1. {args.requests:,} EWS requests per proxy (90% one healthy S2S user token, 5% app-only, 5% expired),"
        )
        print(
            f"   one keep-alive client, sequential, interleaved in {args.rounds} rounds; lab server in its own process"
        )
        processes = {"mitmdump": plain.pid, "mitmdump + addon": inspected.pid}
        rounds = sequential(
            {"direct (no proxy)": upstream_port, **ports}, lab.host, mix, args.requests, args.rounds, processes
        )
        times = {name: [t for r in blocks for t in r.times] for name, blocks in rounds.items()}
        print(f"   {'':<22}{'median':>10} {'mean':>10} {'p95':>10} {'rate':>10}")
        for name, values in times.items():
            print(f"   {name:<22}{milliseconds(values)}")
        plain_t, addon_t = times["mitmdump"], times["mitmdump + addon"]
        added_median = (statistics.median(addon_t) - statistics.median(plain_t)) * 1000
        added_mean = (statistics.fmean(addon_t) - statistics.fmean(plain_t)) * 1000
        print(f"   added latency per request, all rounds: median {added_median:+.3f} ms, mean {added_mean:+.3f} ms")
        pairs = list(zip(rounds["mitmdump"], rounds["mitmdump + addon"], strict=True))
        latency = [statistics.fmean(a.times) / statistics.fmean(p.times) for p, a in pairs]
        print(f"   mean latency, addon / plain, per round: {spread(latency)}")
        print(f"   throughput ratio (addon / plain), sequential, all rounds: {sum(plain_t) / sum(addon_t):.3f}")
        if all(p.cpu and a.cpu for p, a in pairs):
            cpu_plain = sum(p.cpu or 0 for p, _ in pairs) / len(plain_t) * 1000
            cpu_addon = sum(a.cpu or 0 for _, a in pairs) / len(addon_t) * 1000
            print(
                f"   mitmdump CPU per request: {cpu_plain:.3f} ms plain, {cpu_addon:.3f} ms with the addon "
                f"({cpu_addon - cpu_plain:+.3f} ms)"
            )
            print(
                f"   mitmdump CPU, addon / plain, per round: {spread([(a.cpu or 0) / (p.cpu or 1) for p, a in pairs])}"
            )
        ratios = []
        for round_number in range(args.concurrent_rounds):
            order = list(ports.items()) if round_number % 2 == 0 else list(reversed(ports.items()))
            rates = {
                name: concurrent(port, lab.host, mix, args.requests // args.concurrent_rounds, 4)
                for name, port in order
            }
            ratios.append(rates["mitmdump"] / rates["mitmdump + addon"])  # time ratio: above 1 is slower
        print(f"   4 concurrent clients, time per request addon / plain, per round: {spread(ratios)}")
        print(f"   throughput ratio (addon / plain), 4 clients: {1 / statistics.median(ratios):.3f} (median round)")
    finally:
        stop(inspected)
        stop(plain)
        stop(lab_process)
    lines = sum(1 for _ in (work / "report.jsonl").open(encoding="utf-8"))
    print(f"   the addon's report: {lines:,} lines")


# --- memory ------------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak, on systems without /proc


def memory_part(args: argparse.Namespace, work: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ldap3 via mitmproxy's addons
        from mitmproxy import connection, http
        from mitmproxy.test import taddons

    from inspector.live.addon import OAuthInspector

    lab = read_lab_dir(work / "lab")
    kit = lab.kit(datetime.now(UTC))
    print(
        f"\n2. {args.flows:,} flows through the addon in-process, the worst case for its state: every flow from a new"
    )
    print("   client address, carrying one of 3,000 distinct tokens (the token cache holds 2,048) and refused with a")
    print("   401 Bearer challenge (each one remembered for fallback detection, up to 65,536); report to /dev/null")
    distinct = []
    for n in range(3000):
        distinct.append(kit.user_token("bench", "", (), actor_claims=kit.actor_claims() | {"n": n}).value)
    answer = ((b"WWW-Authenticate", bearer_challenge(kit, error=True).encode()),)
    logging.getLogger("inspector.live.addon").setLevel(logging.WARNING)
    addon = OAuthInspector()
    report = os.devnull
    with taddons.context(addon) as context:  # type: ignore[no-untyped-call]
        context.configure(
            addon,
            oauth_cert=[str(lab.path / AUTH_CERT_FILE)],
            oauth_metadata=[str(lab.path / ACS_METADATA_FILE)],
            oauth_realm=[lab.realm],
            oauth_report=report,
        )
        checkpoints = {10_000, 50_000, 75_000, args.flows}
        print(f"   {'flows':>9} {'RSS':>9} {'addon time per flow':>22}")
        print(f"   {0:>9,} {rss_mb():>6.1f} MB")
        started = time.perf_counter()
        judged_time = 0.0
        for n in range(1, args.flows + 1):
            peer = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 40000 + n % 20000)
            client = connection.Client(peername=peer, sockname=("10.0.0.9", 443), timestamp_start=time.time())
            server = connection.Server(address=("10.0.0.9", 443))
            flow = http.HTTPFlow(client, server, live=True)
            headers = (
                (b"Host", lab.host.encode()),
                (b"Authorization", b"Bearer " + distinct[n % len(distinct)].encode()),
            )
            flow.request = http.Request(
                "10.0.0.9",
                443,
                b"POST",
                b"https",
                b"",
                EWS_PATH.encode(),
                b"HTTP/1.1",
                tuple(headers),
                SOAP,
                None,
                time.time(),
                time.time(),
            )
            flow.response = http.Response(b"HTTP/1.1", 401, b"", answer, b"", None, time.time(), time.time())
            t0 = time.perf_counter()
            addon.response(flow)
            judged_time += time.perf_counter() - t0
            if n % 1000 == 0:  # let mitmproxy's log handler deliver what it queued on the (idle) event loop
                context.master.event_loop.run_until_complete(asyncio.sleep(0))
            if n in checkpoints:
                print(f"   {n:>9,} {rss_mb():>6.1f} MB {judged_time / n * 1e6:>17.0f} µs")
        addon.done()
        assert addon.internal_errors == 0
        print(f"   ({time.perf_counter() - started:.1f} s in all, including making the flows)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrent-rounds", type=int, default=6)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--only", choices=("latency", "memory"), default=None, help="run one part only")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"mitmproxy {mitmproxy.version.VERSION}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as folder:
        work = Path(folder)
        if args.only != "memory":
            latency_part(args, work)
        else:
            stop(start_lab(work / "lab")[0])  # only its certificate folder is needed
        if args.only != "latency":
            memory_part(args, work)


if __name__ == "__main__":
    main()
