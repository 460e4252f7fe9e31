"""Run the fuzz harnesses of ``tests/fuzz/`` for minutes instead of CI's seconds, by hand:

    uv run python bench/fuzz.py --scale 100            # every harness, 100x its CI examples, random inputs
    uv run python bench/fuzz.py --scale 500 -k har     # one harness (a pytest -k expression)

Each harness's ``max_examples`` is multiplied by ``--scale`` (``OAUTH_INSPECTOR_FUZZ_SCALE``), and inputs are drawn
at random instead of CI's fixed (derandomized) draw, so every run explores new inputs. A failure prints hypothesis's
smallest failing input: turn it into a regression test beside the code it breaks, then fix the code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100, help="multiply every harness's examples by this")
    parser.add_argument("-k", dest="select", help="only harnesses matching this pytest -k expression")
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "tests" / "fuzz")]
    if args.select:
        command += ["-k", args.select]
    started = time.perf_counter()
    code = subprocess.call(command, cwd=REPO, env={**os.environ, "OAUTH_INSPECTOR_FUZZ_SCALE": str(args.scale)})
    print(f"fuzzed at scale {args.scale} for {time.perf_counter() - started:.0f} s: exit {code}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
