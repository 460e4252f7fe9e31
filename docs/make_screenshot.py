"""Regenerates docs/report.png: the HTML report of the bundled sample (the README's quick start arguments) in
headless Chromium.

    uv run python docs/make_screenshot.py [--keep-html FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from inspector.cli import main as cli
from tests.browser import chromium_missing, visit

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
QUICK_START = [
    "analyze",
    "captures/lab/lab.har",
    "--cert",
    "captures/lab/OAuthCert.cer",
    "--metadata",
    "captures/lab/acs-metadata.json",
    "--realm",
    "5de110f8-2e0f-4d45-891d-bcf2218e253d",
]


def make(html: Path, png: Path) -> None:
    try:
        cli([*QUICK_START, "--format", "html", "-o", str(html), "--quiet"], standalone_mode=False)
    except SystemExit as exc:  # the sample holds errors on purpose: exit 1 is the expected outcome
        if exc.code not in (0, 1):
            raise
    seen = visit(html, screenshot=png, size="1280,1500")
    if seen.console or seen.requests:
        raise SystemExit(f"the report misbehaved in the browser: {seen.console} {seen.requests}")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-html", type=Path, default=None, help="also keep the HTML report here")
    args = parser.parse_args()
    missing = chromium_missing()
    if missing is not None:
        sys.exit(f"cannot make the screenshot: {missing}")
    os.chdir(REPO)  # the quick start's relative paths, as the report then shows them
    with tempfile.TemporaryDirectory() as folder:
        html = args.keep_html or Path(folder) / "report.html"
        make(html, DOCS / "report.png")
    print(f"wrote {DOCS / 'report.png'}")


if __name__ == "__main__":
    run()
