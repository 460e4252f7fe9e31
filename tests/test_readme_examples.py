"""The README's example outputs are what the commands print today (docs/readme_examples.py makes them)."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_readme_examples_are_current() -> None:
    spec = importlib.util.spec_from_file_location("readme_examples", REPO / "docs" / "readme_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_examples"] = module
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: uv run python docs/readme_examples.py"
