"""One command run from two trees in adjacent pairs (run by hand, not a test): on a machine whose speed changes
from minute to minute, the ratio within a pair is steadier than the ratio of two medians taken apart.

    uv run python bench/ab.py --b DIR [--a DIR] [--pairs 10] -- analyze CAPTURE --format json -o /dev/null

Each pair runs ``python -m inspector ARGS`` from tree A (this one by default) and then from tree B (e.g. a copy made
by ``bench/compiled.py``: run from its folder, its modules come first on the path), each in a fresh process, with
the bytecode cache of ``bench/pycache.py``. Prints each tree's median wall time and the median of the per-pair
ratios A/B with their [min-max]: above 1, B is faster.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pycache import use_bytecode_cache  # bench/ is this script's folder, first on sys.path

REPO = Path(__file__).resolve().parents[1]


def timed(tree: Path, args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "inspector", *args], cwd=tree, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"exit {done.returncode} from {tree}: {done.stderr.decode(errors='replace')[-2000:]}")
    return seconds


def main(argv: list[str]) -> int:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, default=REPO, help="tree A (default: this one)")
    parser.add_argument("--b", type=Path, required=True, help="tree B")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then the command's arguments")
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    if not args:
        parser.error("give the command's arguments after --")
    pairs = [(timed(options.a, args), timed(options.b, args)) for _ in range(options.pairs)]
    ratios = [a / b for a, b in pairs]
    print(f"A {options.a}: {statistics.median(a for a, _ in pairs):.2f} s median")
    print(f"B {options.b}: {statistics.median(b for _, b in pairs):.2f} s median")
    spread = f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
    print(f"A/B per pair: {spread} over {len(pairs)} pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
