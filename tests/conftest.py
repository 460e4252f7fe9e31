from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus import corpus_dir


@pytest.fixture(scope="session")
def corpus() -> Path:
    found = corpus_dir()
    if found is None:
        pytest.skip("the shared corpus (../shared/corpus beside the repo, or $OAUTH_INSPECTOR_CORPUS) is absent")
    return found
