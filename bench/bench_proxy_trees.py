"""The live addon's cost in mitmdump for several trees of this project side by side (run by hand, not a test): a
before/after for a change to the addon, on the same traffic at the same moments.

    uv run python bench/bench_proxy_trees.py --tree before=/tmp/old --tree after=. [--rounds 5] [--requests 1500]

Each tree is a checkout of the project (``git archive REV | tar -x -C DIR``). One lab server, and one reverse-mode
mitmdump per tree (its ``inspector`` imported from that tree through ``PYTHONPATH``) plus one without the addon, all
running at once; each round sends every proxy the same block of EWS requests in turn (the traffic mix of
``bench_proxy.py``: 90 % one healthy user token, 5 % app-only, 5 % expired) and reads each mitmdump's CPU time over
its block. Printed: the median CPU per request of the rounds with [min-max], and each tree's share over plain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench_proxy import Client, addon_sets, cpu_seconds, start_lab, start_mitmdump, stop, tokens
from pycache import use_bytecode_cache

from inspector.lab.folder import read_lab_dir
from inspector.lab.server import free_port

ADDON = Path(__file__).resolve().parent.parent / "addons" / "oauth_inspector.py"  # imports inspector.live.addon


def main() -> None:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="NAME=DIR, a checkout of the project")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1500, help="per proxy and round")
    args = parser.parse_args()
    trees = dict(item.split("=", 1) for item in args.tree)
    with tempfile.TemporaryDirectory(prefix="bench-proxy-trees-") as tmp:
        work = Path(tmp)
        lab_process, upstream = start_lab(work / "lab")
        lab = read_lab_dir(work / "lab")
        proxies = {}
        try:
            for name, tree in [("plain", None), *trees.items()]:
                if tree is None:
                    os.environ.pop("PYTHONPATH", None)
                    extra: list[str] = []
                else:
                    os.environ["PYTHONPATH"] = str(Path(tree).resolve())
                    extra = ["-s", str(ADDON), *addon_sets(lab, work / f"{name}.jsonl")]
                port = free_port()
                proxies[name] = (start_mitmdump(upstream, port, extra, work / f"{name}.log"), port)
            os.environ.pop("PYTHONPATH", None)
            mix = tokens(lab)
            clients = {name: Client(port, lab.host) for name, (_, port) in proxies.items()}
            for client in clients.values():  # warm up: connections, caches
                for token in mix:
                    client.call(token)
            cpu: dict[str, list[float]] = {name: [] for name in proxies}
            for _ in range(args.rounds):
                for name, client in clients.items():
                    pid = proxies[name][0].pid
                    before = cpu_seconds(pid)
                    for n in range(args.requests):
                        client.call(mix[n % len(mix)])
                    after = cpu_seconds(pid)
                    if before is None or after is None:
                        raise SystemExit("cannot read the CPU time of mitmdump (/proc)")
                    cpu[name].append(1000 * (after - before) / args.requests)
            for client in clients.values():
                client.close()
        finally:
            for process, _ in proxies.values():
                stop(process)
            stop(lab_process)
    plain = statistics.median(cpu["plain"])
    print(f"{args.rounds} rounds of {args.requests} requests per proxy; load average {os.getloadavg()[0]:.2f}")
    for name, values in cpu.items():
        median = statistics.median(values)
        share = "" if name == "plain" else f"  {median / plain - 1:+.1%} over plain"
        print(f"{name:18s} mitmdump CPU {median:.3f} ms/request [{min(values):.3f}-{max(values):.3f}]{share}")


if __name__ == "__main__":
    sys.exit(main())
