"""Count the instructions a command executes (run by hand, not a test): a measure of CPU work that load on a shared
machine does not change, for judging a change by itself where wall and CPU time vary by 10-20 % from run to run.

    uv run python bench/instructions.py [--base DIR] [--startup] -- analyze CAPTURE --format json -o /dev/null
    uv run python bench/instructions.py --script bench/some_script.py -- ARGS

The command runs as ``python -m inspector ARGS`` (or ``python SCRIPT ARGS``) under ``valgrind --tool=cachegrind
--cache-sim=no``, which counts the instructions executed in user space (``I refs``), about 30 times slower than a
plain run, so give it small inputs (a capture of 20,000 packets takes a minute). ``PYTHONHASHSEED=0`` keeps dict
and set layouts, and so the count, the same from run to run (without it the count varies by about 0.1 %).

With ``--base DIR`` (the tree of another commit, e.g. ``git archive OLD | tar -x -C DIR``) the same command also
runs with ``PYTHONPATH=DIR``, so that ``inspector`` is imported from there, and the ratio is printed. Startup (imports,
and with ``PYTHONDONTWRITEBYTECODE`` set, their compilation) is counted too; ``--startup`` also counts
``python -m inspector --version`` and shows the figures without it.

Instructions are not time: a cache miss costs more than an add. Use this to see whether a change does less work,
and CPU time on a quiet machine for what the work costs.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count(command: list[str], pythonpath: str | None) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run([*valgrind, *command], env=env, capture_output=True, text=True, check=False)
    found = _IREFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"the command failed under valgrind (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, help="also run with inspector imported from this tree")
    parser.add_argument("--script", type=Path, help="run this Python script instead of python -m inspector")
    parser.add_argument("--startup", action="store_true", help="also count `python -m inspector --version`")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="after --: the arguments")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    rest = args.args[1:] if args.args[:1] == ["--"] else args.args
    # -P: the current directory is not put first on sys.path, so --base decides which tree is imported.
    command = [sys.executable, "-P", *([str(args.script)] if args.script else ["-m", "inspector"]), *rest]
    trees: dict[str, str | None] = {"this tree": None}
    if args.base:
        trees["base"] = str(args.base.resolve())
    figures: dict[str, int] = {}
    for name, path in trees.items():
        total = count(command, path)
        startup = count([sys.executable, "-P", "-m", "inspector", "--version"], path) if args.startup else 0
        figures[name] = total - startup
        extra = f" ({total:,} with startup {startup:,})" if args.startup else ""
        print(f"{name:10s} {figures[name]:>16,} instructions{extra}", flush=True)
    if "base" in figures:
        print(f"this tree / base: {figures['this tree'] / figures['base']:.3f}")


if __name__ == "__main__":
    main()
