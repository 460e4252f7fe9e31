"""Benchmark of ``analyze --dask`` (run by hand, not a test): throughput with 1 and 2 local Dask workers on several
capture files, beside ``--jobs 1`` and ``--jobs 2`` on the same files.

    uv run python bench/bench_dask.py [--packets 160000] [--files 4] [--rounds 3]

A capture of ``--packets`` packets is made by bench/pcap/make_capture.py (keep-alive S2S traffic with 401
challenges, Basic, NTLM, reordering and retransmissions) and split by ``editcap -c`` into ``--files`` ring files.

- *Dask*: two LocalClusters of worker processes on 127.0.0.1 (1 and 2 workers, one thread each) are started once
  (their start-up time is printed apart: a long-lived cluster pays it once); a round reads the files' timeline on
  each cluster (one shard per worker) and judges the joined parts in this process into a JSONL report on /dev/null
  (``gather_shards`` + ``run_dask``, what ``analyze --dask`` runs between start-up and exit).
- *--jobs*: the real ``oauth-inspector analyze DIR --jobs N`` process, timed from outside (its start-up included).

Rounds are interleaved (1 worker, 2 workers, --jobs 1, --jobs 2, then again), so load that comes and goes on a
shared machine falls on all of them alike; the median of the rounds is printed with [min–max], and the load average
at the start and end, because on a shared machine it decides more than the code.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pycache import use_bytecode_cache  # bench/ is this script's folder, first on sys.path

from inspector.analyze import Analyzer
from inspector.distributed import expand, gather_shards, local_cluster, run_dask, shards_of
from inspector.policy import Policy
from inspector.report.writers import JsonlWriter
from inspector.tally import Totals
from inspector.trust import build_trust

BENCH = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "inspector"]


def make_files(folder: Path, packets: int, files: int) -> tuple[list[Path], Path, int]:
    whole = folder / "whole.pcap"
    subprocess.run(
        [sys.executable, str(BENCH / "pcap" / "make_capture.py"), str(whole), "--packets", str(packets)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    ring = folder / "ring"
    ring.mkdir()
    per_file = -(-packets // files)
    subprocess.run(["editcap", "-c", str(per_file), str(whole), str(ring / "ring.pcap")], check=True)
    size = whole.stat().st_size
    cert = whole.with_suffix(".cer")
    whole.unlink()
    return sorted(ring.iterdir()), cert, size


def dask_round(client: object, folder: Path, cert: Path, phases: list[tuple[float, float]]) -> float:
    """One run; ``phases`` gets (reading on the cluster, joining and judging here) in seconds."""
    start = time.perf_counter()
    sources, _ = expand([str(folder)])
    results = gather_shards(client, sources, None, shards_of(client))  # type: ignore[arg-type]
    gathered = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as out:
        writer = JsonlWriter(out, show_secrets=False)
        totals = Totals()
        outcome = run_dask(results, Analyzer(build_trust(certs=[cert]), Policy()), writer, totals)
        writer.close(totals, outcome.inventory)
    if outcome.errors or not totals.exchanges:
        raise SystemExit(f"the Dask run read nothing or failed: {outcome.errors}")
    end = time.perf_counter()
    phases.append((gathered - start, end - gathered))
    return end - start


def jobs_round(folder: Path, cert: Path, jobs: int) -> float:
    start = time.perf_counter()
    argv = [*CLI, "analyze", str(folder), "--cert", str(cert), "--jobs", str(jobs), "--format", "jsonl", "-q"]
    done = subprocess.run([*argv, "-o", os.devnull], capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=160_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.files < 4 or args.rounds < 3:
        parser.error("at least 4 files and 3 rounds")
    if shutil.which("editcap") is None:
        raise SystemExit("editcap (wireshark-common) is needed to split the capture")
    from distributed import Client

    logging.getLogger("distributed").setLevel(logging.ERROR)  # its INFO lines at start and close drown the figures

    print(
        f"command: uv run python bench/bench_dask.py --packets {args.packets} --files {args.files} "
        f"--rounds {args.rounds}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        files, cert, size = make_files(Path(tmp), args.packets, args.files)
        folder = files[0].parent
        mb = size / 1e6
        print(f"{len(files)} files, {args.packets} packets, {mb:.0f} MB in all")
        clusters = {}
        clients = {}
        try:
            for workers in (1, 2):
                start = time.perf_counter()
                clusters[workers] = local_cluster(workers)
                clients[workers] = Client(clusters[workers])
                print(f"LocalCluster of {workers} worker(s) started in {time.perf_counter() - start:.1f} s")
            times: dict[str, list[float]] = {"dask 1 worker": [], "dask 2 workers": [], "--jobs 1": [], "--jobs 2": []}
            phases: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
            for round_ in range(args.rounds):
                times["dask 1 worker"].append(dask_round(clients[1], folder, cert, phases[1]))
                times["dask 2 workers"].append(dask_round(clients[2], folder, cert, phases[2]))
                times["--jobs 1"].append(jobs_round(folder, cert, 1))
                times["--jobs 2"].append(jobs_round(folder, cert, 2))
                print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()))
        finally:
            for client in clients.values():
                client.close()
            for cluster in clusters.values():
                cluster.close()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print("| run | median s | [min–max] s | MB/s (median) | packets/s (median) |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.1f} | [{min(values):.1f}–{max(values):.1f}] | {mb / median:.1f} | "
            f"{args.packets / median:,.0f} |"
        )
    one, two = statistics.median(times["dask 1 worker"]), statistics.median(times["dask 2 workers"])
    print(f"dask: 2 workers / 1 worker speed-up {one / two:.2f}x")
    for workers, measured in phases.items():
        reading = statistics.median(r for r, _ in measured)
        judging = statistics.median(j for _, j in measured)
        print(f"dask {workers} worker(s): reading on the cluster {reading:.1f} s, joining and judging {judging:.1f} s")


if __name__ == "__main__":
    main()
