"""Where the shared corpus of real captures, tokens and certificates lives (``../shared/corpus`` beside the repo).

Tests that need it use the ``corpus`` fixture, which skips with a clear reason when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path | None:
    configured = os.environ.get("OAUTH_INSPECTOR_CORPUS")
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO.parent / "shared" / "corpus")
    for candidate in candidates:
        if (candidate / "EXPECTED_pcap.json").is_file():
            return candidate
    return None
