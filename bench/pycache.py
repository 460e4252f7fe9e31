"""The benchmarks time the tool as an installed copy runs: with its modules' bytecode cached.

An install (``pip``/``uv tool install``) writes ``.pyc`` files, or the first run does. This machine sets
``PYTHONDONTWRITEBYTECODE=1``, so every ``python -m inspector`` here compiles every module it imports again (0.35 to
0.5 s of CPU per run, most of a small input's time, hpack's Huffman table alone 0.28 s): a cost no user pays, and
one tshark, the yardstick, does not pay either. :func:`use_bytecode_cache` gives this process and every child a
bytecode cache in a folder of its own (``PYTHONPYCACHEPREFIX``, the source trees are left alone) and fills it once.
"""

from __future__ import annotations

import compileall
import os
import site
import sys
import tempfile
from pathlib import Path

CACHE = Path(tempfile.gettempdir()) / "oauth-inspector-bench-pycache"


def use_bytecode_cache() -> None:
    """Cached bytecode for this process and its children; compiled now where missing (a minute the first time)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(CACHE)
    sys.dont_write_bytecode = False
    sys.pycache_prefix = str(CACHE)
    package = Path(__file__).resolve().parent.parent / "inspector"
    for folder in [package, *map(Path, site.getsitepackages())]:
        compileall.compile_dir(folder, quiet=2, workers=0)
