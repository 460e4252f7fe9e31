"""Every speed benchmark of issue 15's goals in one run, and one table (run by hand, not a test).

    uv run python bench/bench_all.py [--rounds 5] [--capture FILE] [--packets 300000] [--cli all|tokens|none] [--extra]

It runs, each in processes of its own and in interleaved rounds:

- ``bench/bench_engine.py``: cold and cached token decode + verify, exchanges analysed, in-process;
- ``bench/bench_cli.py``: the CLI on a HAR of 3,000 distinct tokens (cost per token beyond a HAR of one), and a
  100,000-entry HAR in every output format;
- ``bench/pcap/bench_reader.py``: the whole ``analyze`` against ``tshark -o tcp.reassemble_out_of_order:TRUE``
  on one capture (made by ``bench/pcap/make_capture.py`` when ``--capture`` is not given), ``--jobs 2`` on that
  one file, the reader alone, and where a C compiler is at hand the same with the capture reader compiled as a
  regular install compiles it (``bench/compiled.py``).

``--extra`` also runs the benchmarks that need more than this (``bench_html.py`` with Chromium,
``bench_proxy.py`` with mitmdump) and prints their own output after the table; ``bench/pcap/bench_tls.py`` needs a
capture made as root by ``make_tls_capture.py`` and is left to be run by hand.

The table gives the median of the rounds with [min-max], by wall clock and by CPU time where both exist, the goal,
and whether the median meets it. The load average is printed before and after: on a shared machine a goal is
only met when the run was quiet (load average below the number of cores), and the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycache import use_bytecode_cache  # bench/ is this script's folder, first on sys.path

BENCH = Path(__file__).resolve().parent


def run(script: Path, *argv: str, pythonpath: Path | None = None) -> None:
    shown = f"PYTHONPATH={pythonpath} " if pythonpath else ""
    print(f"$ {shown}{Path(sys.executable).name} {script.relative_to(BENCH.parent)} {' '.join(argv)}", flush=True)
    env = dict(os.environ, PYTHONPATH=str(pythonpath)) if pythonpath else None
    subprocess.run([sys.executable, str(script), *argv], check=True, env=env)


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def cli_rows(
    row: Callable[[str, list[float], float, str], None],
    rows: list[tuple[str, str, str, bool]],
    cli: dict[str, Any],
    prefix: str,
) -> None:
    """The command line's rows (bench_cli.py), for the pure-Python tree or (``prefix``) the compiled copy."""
    runs = {name.removeprefix(prefix): rs for name, rs in cli["runs"].items() if name.startswith(prefix)}
    if not prefix:
        runs = {name: rs for name, rs in runs.items() if not name.startswith("compiled: ")}
    extra = cli["tokens"] - 1
    for clock in ("wall", "cpu"):
        pairs = list(zip(runs["tokens:distinct"], runs["tokens:one"], strict=True))
        what = f"{prefix}CLI, HAR of {cli['tokens']:,} distinct tokens, jsonl, beyond a HAR of one ({clock})"
        # The cost is a difference of two runs: unless it stands well above the start-up time both runs share,
        # it is noise, and a rate made from it proves nothing.
        if statistics.median(d[clock] - o[clock] for d, o in pairs) < 0.5 * statistics.median(
            o[clock] for _, o in pairs
        ):
            rows.append((what, "difference within the noise", ">= 10,000 exchanges/s", False))
            continue
        per = [extra / (d[clock] - o[clock]) for d, o in pairs if d[clock] > o[clock]]
        row(what, per or [0.0], 10_000, "exchanges/s")
    formats = {
        name.split(":")[1]: [cli["entries"] / r["cpu"] for r in rs] for name, rs in runs.items() if "har:" in name
    }
    for fmt, values in formats.items():
        row(f"{prefix}CLI, {cli['entries']:,}-entry HAR, --format {fmt} (cpu)", values, 20_000, "exchanges/s")
    if "har2:json" in runs and "har:json" in runs:
        two = [cli["entries"] / r["wall"] for r in runs["har2:json"]]
        row(f"{prefix}CLI, {cli['entries']:,}-entry HAR, --format json --jobs 2 (wall)", two, 20_000, "exchanges/s")
        one = [r["wall"] for r in runs["har:json"]]
        ratios = [o / r["wall"] for o, r in zip(one, runs["har2:json"], strict=True)]
        rows.append(
            (f"{prefix}CLI, HAR json: --jobs 2 vs one job (wall, no goal)", f"{spread(ratios, '.2f')} x", "-", True)
        )
    if "mitm:jsonl" in runs:
        mitm = [cli["mitm_entries"] / r["cpu"] for r in runs["mitm:jsonl"]]
        row(f"{prefix}CLI, {cli['mitm_entries']:,}-flow .mitm, --format jsonl (cpu)", mitm, 20_000, "exchanges/s")
    if formats:
        medians = [statistics.median(v) for v in formats.values()]
        gap = max(medians) / min(medians) - 1
        rows.append(
            (f"{prefix}output formats on the HAR, slowest vs fastest (cpu)", f"{gap:.0%}", "<= 15%", gap <= 0.15)
        )


def main() -> int:
    use_bytecode_cache()  # every child inherits it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--capture", type=Path, help="a capture made by make_capture.py (its .cer beside it)")
    parser.add_argument("--packets", type=int, default=300_000, help="size of the capture made when none is given")
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--extra", action="store_true", help="also run bench_html.py and bench_proxy.py")
    parser.add_argument(
        "--cli",
        choices=("all", "tokens", "none"),
        default="all",
        help="the command line's HAR rows: all (the longest part of the run), the distinct-tokens row only, or none",
    )
    args = parser.parse_args()
    rounds = str(args.rounds)
    start_load = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        folder = Path(tmp)
        capture = args.capture
        if capture is None:
            capture = folder / "bench.pcap"
            run(BENCH / "pcap" / "make_capture.py", str(capture), "--packets", str(args.packets))
        # The readers and the analyzer as a regular install gets them where a C compiler is at hand (compiled by
        # mypyc), from a copy of the tree: rows of their own beside the pure-Python ones (``uv run``, the quick start).
        compiled: Path | None = folder / "compiled"
        made = subprocess.run([sys.executable, str(BENCH / "compiled.py"), str(compiled)], check=False)
        if made.returncode != 0:
            compiled = None
        engine_out, cli_out, reader_out = folder / "engine.json", folder / "cli.json", folder / "reader.json"
        engine_args = ["--tokens", "1000", "--exchanges", "20000", "--rounds", rounds]
        run(BENCH / "bench_engine.py", *engine_args, "--json-out", str(engine_out))
        compiled_engine_out = folder / "engine-compiled.json"
        if compiled:
            run(BENCH / "bench_engine.py", *engine_args, "--json-out", str(compiled_engine_out), pythonpath=compiled)
        cli_args = ["--tokens", str(args.tokens), "--entries", str(args.entries), "--rounds", rounds]
        cli_args += ["--compiled", str(compiled)] if compiled else []
        cli_args += ["--only", "tokens"] if args.cli == "tokens" else []
        if args.cli != "none":
            run(BENCH / "bench_cli.py", *cli_args, "--json-out", str(cli_out))
        reader_args = [
            "--rounds",
            rounds,
            "--tools",
            "analyze,jobs1,jobs3,compiled,compiled-jobs1,reader,tshark-ooo"
            if compiled
            else "analyze,jobs1,jobs3,reader,tshark-ooo",
            "--formats",
            "json,jsonl,table,sarif,html",  # every output format: the goal is all of them within 15 %
        ]
        reader_args += ["--compiled", str(compiled)] if compiled else []
        run(BENCH / "pcap" / "bench_reader.py", str(capture), *reader_args, "--json-out", str(reader_out))
        engine: dict[str, list[float]] = json.loads(engine_out.read_text())
        compiled_engine = json.loads(compiled_engine_out.read_text()) if compiled else None
        cli: dict[str, Any] | None = json.loads(cli_out.read_text()) if args.cli != "none" else None
        reader: dict[str, Any] = json.loads(reader_out.read_text())
        if args.extra:
            run(BENCH / "bench_html.py", "--exchanges", "100000", "--compare-json")
            run(BENCH / "bench_proxy.py", "--only", "latency")

    end_load = os.getloadavg()
    cores = os.cpu_count() or 1
    quiet = max(start_load[0], end_load[0]) < cores
    rows: list[tuple[str, str, str, bool]] = []

    def row(what: str, values: list[float], goal: float, unit: str, fmt: str = ",.0f") -> None:
        rows.append(
            (what, f"{spread(values, fmt)} {unit}", f">= {goal:{fmt}} {unit}", statistics.median(values) >= goal)
        )

    for prefix, figures in (("", engine), ("compiled: ", compiled_engine)):
        if figures is not None:
            row(f"{prefix}token decode+verify, cold (wall)", figures["decode+verify, cold"], 20_000, "/s")
            row(f"{prefix}token decode+verify, cold (cpu)", figures["decode+verify, cold (cpu)"], 20_000, "/s")
    if cli is not None:
        for prefix in ("", "compiled: ") if compiled_engine is not None else ("",):
            cli_rows(row, rows, cli, prefix)
    tshark = [float(r["seconds"]) for r in reader["runs"]["tshark-ooo"]]
    for name, results in reader["runs"].items():
        if not name.startswith(("analyze", "compiled")):
            continue
        ratios = [t / float(r["seconds"]) for r, t in zip(results, tshark, strict=True)]
        row(f"capture: {name}, x tshark-ooo (wall)", ratios, 5.0, "x", ".2f")
    single = [float(r["seconds"]) for r in reader["runs"]["analyze --format json"]]
    double = [float(r["seconds"]) for r in reader["runs"]["analyze --jobs 2 (one file)"]]
    row(
        "capture: --jobs 2 on one file vs one job",
        [s / d for s, d in zip(single, double, strict=True)],
        1.7,
        "x",
        ".2f",
    )
    compiled_one = [float(r["seconds"]) for r in reader["runs"].get("compiled: analyze --format json", [])]
    compiled_two = [float(r["seconds"]) for r in reader["runs"].get("compiled: --jobs 2 (one file)", [])]
    if compiled_one and compiled_two:
        pairs = zip(compiled_one, compiled_two, strict=True)
        row("capture, compiled: --jobs 2 on one file vs one job", [s / d for s, d in pairs], 1.7, "x", ".2f")
    if compiled_one:
        ratios = [s / c for s, c in zip(single, compiled_one, strict=True)]
        rows.append(("capture: compiled vs pure Python, json (no goal)", f"{spread(ratios, '.2f')} x", "-", True))
    shards = [float(r["seconds"]) for r in reader["runs"].get("analyze --jobs 3 (one file)", [])]
    if shards:  # two reading shards beside the analysing process: the other way to spend two cores
        ratios = [s / d for s, d in zip(single, shards, strict=True)]
        rows.append(("capture: --jobs 3 on one file vs one job (no goal)", f"{spread(ratios, '.2f')} x", "-", True))
    on_capture = {
        n.removeprefix("analyze --format "): v for n, v in reader["runs"].items() if n.startswith("analyze --format")
    }
    cpu_medians = [statistics.median(float(r["cpu_seconds"]) for r in v) for v in on_capture.values()]
    gap = max(cpu_medians) / min(cpu_medians) - 1
    rows.append(
        (f"capture formats {'/'.join(on_capture)}: slowest vs fastest (cpu)", f"{gap:.0%}", "<= 15%", gap <= 0.15)
    )
    # The goal is the one process's memory; --jobs 2 runs more processes, shown beside it without a goal.
    single_runs = [r for n, rs in reader["runs"].items() if "--format" in n for r in rs]
    peak = max(float(r["peak_rss_mb"]) for r in single_runs)
    rows.append(("capture: peak RSS of analyze (one process)", f"{peak:.0f} MB", "<= 100 MB", peak <= 100))
    sharded = max(float(r["peak_rss_mb"]) for r in reader["runs"]["analyze --jobs 2 (one file)"])
    rows.append(("capture: peak RSS of analyze --jobs 2 (largest process)", f"{sharded:.0f} MB", "-", True))

    print()
    print(f"{args.rounds} rounds, median [min-max]; {cores} cores; load average {start_load[0]:.2f} at the start,")
    print(f"{end_load[0]:.2f} at the end: {'quiet' if quiet else 'NOT quiet: figures are pessimistic, goals unproven'}")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':{width}}  {'result':>40}  {'goal':>22}  verdict")
    for what, result, goal, met in rows:
        verdict = "-" if goal == "-" else ("meets" if met else "below") + ("" if quiet else " (noisy)")
        print(f"{what:{width}}  {result:>40}  {goal:>22}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
