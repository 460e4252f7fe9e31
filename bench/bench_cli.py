"""Benchmark of the whole command line on HAR input (run by hand, not a test): the real ``oauth-inspector analyze``
process, timed from outside, median of several interleaved rounds with the spread beside it.

    uv run python bench/bench_cli.py [--tokens 3000] [--entries 100000] [--rounds 5] [--formats json,jsonl,...]
                                     [--compiled DIR]   # every job again from a copy made by bench/compiled.py

Two inputs are generated once into a temporary folder:

- *distinct tokens*: a HAR of ``--tokens`` healthy S2S calls, each with its own token (outer + RS256 actor signed by
  the certificate given with ``--cert``), and a HAR of one such call. The cost per token through the CLI is the
  difference of the two runs divided by the difference in exchanges; ``--format jsonl``.
- *big HAR*: the lab's whole conversation (every kind of healthy and broken token, 401 challenges, a Basic fallback,
  an NTLM handshake) repeated to ``--entries`` entries, analysed in every output format; its first
  ``--mitm-entries`` entries are also written as a mitmproxy flow file and analysed with ``--format jsonl``.

Times are wall clock and the child's CPU time (user + system, from ``wait4``): on a shared machine the CPU time is
the steadier of the two. The load average at the start and end is printed, because it decides more than the code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pycache import use_bytecode_cache  # bench/ is this script's folder, first on sys.path

from inspector.lab.certs import acs_metadata, acs_signing_cert, exchange_auth_cert
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import write_flows, write_har
from inspector.model import HttpExchange

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CLI = [sys.executable, "-m", "inspector"]


@dataclass(frozen=True, slots=True)
class Run:
    wall: float
    cpu: float
    peak_mb: float


def run_once(argv: list[str], cwd: Path | None = None) -> Run:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else b""
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def shifted(base: HttpExchange, n: int, step: float) -> HttpExchange:
    at = NOW + timedelta(seconds=n * step)
    return replace(base, id=f"bench:{n + 1}", time=at, response_time=at + timedelta(milliseconds=35))


def make_inputs(folder: Path, tokens: int, entries: int, mitm_entries: int) -> None:
    kit = TokenKit(auth_cert=exchange_auth_cert(now=NOW), acs_cert=acs_signing_cert(now=NOW), now=NOW)
    cert = folder / "OAuthCert.cer"
    cert.write_bytes(kit.auth_cert.der)
    metadata = folder / "acs-metadata.json"
    metadata.write_text(json.dumps(acs_metadata([kit.acs_cert], realm=kit.realm)))
    conversation = [exchange for exchange, _ in lab_exchanges(kit)]
    healthy = next(e for e in conversation if e.response is not None and e.response.status == 200)
    distinct: list[HttpExchange] = []
    for n in range(tokens):
        kit.user = kit.user.__class__(upn=f"user{n}@contoso.com")
        value = kit.user_token("bench", "", (), actor_claims=kit.actor_claims(nameid=None) | {"n": n}).value
        headers = tuple(
            (name, f"Bearer {value}" if name == "Authorization" else text) for name, text in healthy.request.headers
        )
        distinct.append(replace(shifted(healthy, n, 1.0), request=replace(healthy.request, headers=headers)))
    step = 86400 / max(entries, 1)
    big = [shifted(conversation[n % len(conversation)], n, step) for n in range(entries)]
    write_har(distinct[:1], folder / "one-token.har")
    write_har(distinct, folder / "distinct-tokens.har")
    write_har(big, folder / "big.har")
    write_flows(big[:mitm_entries], folder / "big.mitm")
    (folder / "realm.txt").write_text(kit.realm)


def input_paths(folder: Path) -> dict[str, Path]:
    names = {"cert": "OAuthCert.cer", "metadata": "acs-metadata.json", "one": "one-token.har"}
    names |= {"distinct": "distinct-tokens.har", "big": "big.har", "mitm": "big.mitm"}
    return {key: folder / name for key, name in names.items()} | {"realm": Path((folder / "realm.txt").read_text())}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--formats", default="json,jsonl,sarif,table,html")
    parser.add_argument("--mitm-entries", type=int, default=20_000, help="the big HAR's first entries as a .mitm file")
    parser.add_argument("--only", choices=("tokens", "formats"), default=None)
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # internal: write the inputs and stop
    parser.add_argument("--keep", type=Path, help="make the inputs in this folder and keep them")
    parser.add_argument("--json-out", type=Path, help="also write every run's figures to this file")
    parser.add_argument(
        "--compiled", type=Path, help="also run every job from this tree (bench/compiled.py), named 'compiled: JOB'"
    )
    args = parser.parse_args()
    tokens = args.tokens if args.only != "formats" else 1
    entries = args.entries if args.only != "tokens" else 1
    if args.make:
        make_inputs(args.make, tokens, entries, args.mitm_entries if args.only != "tokens" else 0)
        return

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        made = time.perf_counter()
        # Made by a child process, so that this one stays small: a child forked from a big parent reports the
        # parent's size as its own peak RSS.
        subprocess.run([sys.executable, __file__, "--make", str(folder), *sys.argv[1:]], check=True)
        inputs = input_paths(folder)
        print(f"inputs made in {time.perf_counter() - made:.1f} s; load average {load()}")
        trust = ["--cert", str(inputs["cert"]), "--metadata", str(inputs["metadata"]), "--realm", str(inputs["realm"])]
        jobs: dict[str, list[str]] = {}
        if args.only != "formats":
            for name in ("one", "distinct"):
                jobs[f"tokens:{name}"] = [*CLI, "analyze", str(inputs[name]), *trust, "--format", "jsonl", "-q"]
        if args.only != "tokens":
            for fmt in args.formats.split(","):
                out = folder / f"out.{fmt}"
                jobs[f"har:{fmt}"] = [*CLI, "analyze", str(inputs["big"]), *trust, "--format", fmt, "-o", str(out)]
                jobs[f"har:{fmt}"].append("-q")
            # The same HAR as a pipeline of two processes (one reads, one judges): wall clock is its measure.
            out = folder / "out.jobs2.json"
            jobs["har2:json"] = [*CLI, "analyze", str(inputs["big"]), *trust, "--format", "json", "-o", str(out)]
            jobs["har2:json"] += ["--jobs", "2", "-q"]
            if args.mitm_entries:
                out = folder / "out.mitm.jsonl"
                jobs["mitm:jsonl"] = [*CLI, "analyze", str(inputs["mitm"]), *trust, "--format", "jsonl", "-o", str(out)]
                jobs["mitm:jsonl"].append("-q")
        places: dict[str, Path | None] = dict.fromkeys(jobs)
        if args.compiled:  # the same jobs run from the compiled copy: its modules come first on the path
            for name in list(jobs):
                jobs[f"compiled: {name}"] = jobs[name]
                places[f"compiled: {name}"] = args.compiled.resolve()
        runs: dict[str, list[Run]] = {name: [] for name in jobs}
        for _ in range(args.rounds):  # interleaved: outside load hits every job of a round alike
            for name, argv in jobs.items():
                runs[name].append(run_once(argv, places[name]))
        print(f"load average at the end {load()}; {args.rounds} rounds, median [min-max]")
        print(f"{'job':32s} {'wall s':>24s} {'cpu s':>24s} {'per second (cpu)':>18s} {'peak MB':>8s}")
        for name, results in runs.items():
            wall = summary([r.wall for r in results])
            cpu = summary([r.cpu for r in results])
            mitm = min(args.mitm_entries, args.entries)
            counts = {"tokens:distinct": args.tokens, "tokens:one": 1, "mitm:jsonl": mitm}
            count = counts.get(name.removeprefix("compiled: "), args.entries)
            print(
                f"{name:32s} {wall[0]:8.2f} [{wall[1]:6.2f}-{wall[2]:6.2f}] {cpu[0]:8.2f} [{cpu[1]:6.2f}-{cpu[2]:6.2f}]"
                f" {count / cpu[0]:18,.0f} {max(r.peak_mb for r in results):8.0f}"
            )
        for prefix in ("", "compiled: ") if args.compiled else ("",):
            if args.only != "formats":
                extra = args.tokens - 1
                pairs = list(zip(runs[f"{prefix}tokens:distinct"], runs[f"{prefix}tokens:one"], strict=True))
                wall_per = [(d.wall - o.wall) / extra for d, o in pairs]  # the same round's runs
                cpu_per = [(d.cpu - o.cpu) / extra for d, o in pairs]
                w, c = summary(wall_per), summary(cpu_per)
                print(
                    f"{prefix}distinct tokens: {1 / w[0]:,.0f} exchanges/s wall [{1 / w[2]:,.0f}-{1 / w[1]:,.0f}], "
                    f"{1 / c[0]:,.0f}/s cpu [{1 / c[2]:,.0f}-{1 / c[1]:,.0f}] beyond a HAR of one"
                )
            if args.only != "tokens":
                har = [n for n in runs if n.removeprefix(prefix).startswith("har:") and n.startswith(prefix)]
                rates = {n: args.entries / statistics.median(r.cpu for r in runs[n]) for n in har}
                fastest, slowest = max(rates.values()), min(rates.values())
                print(f"{prefix}formats: slowest is {fastest / slowest - 1:.0%} slower than the fastest (cpu medians)")
        if args.json_out:
            figures = {
                name: [{"wall": r.wall, "cpu": r.cpu, "peak_mb": r.peak_mb} for r in rs] for name, rs in runs.items()
            }
            mitm = min(args.mitm_entries, args.entries)
            sizes = {"tokens": args.tokens, "entries": args.entries, "mitm_entries": mitm}
            args.json_out.write_text(json.dumps(sizes | {"runs": figures}))


if __name__ == "__main__":
    main()
