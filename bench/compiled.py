"""A copy of this tree with the readers and the analyzer compiled by mypyc (``hatch_build.COMPILED``), for the
benchmarks and for ``tests/test_compiled.py`` (by hand, not a test):

    uv run python bench/compiled.py DEST        # copy the tree's tracked files to DEST, compile there
    uv run python bench/compiled.py DEST --wheel WHEEL   # the same copy, with a built wheel's compiled modules
    cd DEST && python -m inspector analyze ...   # run from DEST: its compiled modules shadow the sources

Only a copy is compiled, never the working tree: an extension module beside its ``.py`` is imported first, so a
compiled module that an edit has made stale would silently run instead of the edit.

What is compiled, and how, is the wheel's build hook's (``hatch_build.py``): this compiles a copy as a wheel does.
The modules are mypy-strict already, so mypyc needs no annotations of its own. What a compiled build changes:
classes are checked at run time (a parameter annotated with a class refuses a look-alike: ``http2.Http2Connection``
is a protocol for that), attributes may be deleted only where ``__deletable__`` names them, and a compiled class (a
frozen dataclass, a value class) is unpickled through its constructor (``frozen.pickled_by_constructor``). Needs a C
compiler, mypy (mypyc ships with it) and setuptools (the dev group).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from hatch_build import compile_in_place  # noqa: E402 - the wheel's build hook: one definition


def copy_tree(dest: Path) -> None:
    """The files git tracks (what a fresh clone holds), not build output, caches or the virtual environment."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (REPO / name).is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)


def unpack_compiled(wheel: Path, dest: Path) -> list[Path]:
    """The wheel's extension modules, put beside their sources in ``dest`` (what installing the wheel gives)."""
    made = []
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("inspector/") and name.endswith((".so", ".pyd")):
                target = dest / name
                target.write_bytes(archive.read(name))
                made.append(target)
    return made


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path, help="an empty or absent folder")
    parser.add_argument("--wheel", type=Path, help="take the compiled modules from this wheel instead of compiling")
    args = parser.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        parser.error(f"{args.dest} is not empty")
    copy_tree(args.dest)
    if args.wheel is not None:
        made = unpack_compiled(args.wheel, args.dest)
        if not made:
            print(f"not compiled: {args.wheel} holds no compiled module", file=sys.stderr)
            return 1
    else:
        try:
            made = compile_in_place(args.dest)
        except RuntimeError as exc:
            print(f"not compiled: {exc}", file=sys.stderr)
            return 1
    print(f"{len(made)} extension modules in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
