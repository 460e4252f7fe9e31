from __future__ import annotations

from pathlib import Path

import pytest

from inspector.lab.certs import acs_signing_cert, exchange_auth_cert
from inspector.lab.tokens import TokenKit
from tests.corpus import corpus_dir


@pytest.fixture(scope="session")
def corpus() -> Path:
    found = corpus_dir()
    if found is None:
        pytest.skip("the shared corpus (../shared/corpus beside the repo, or $OAUTH_INSPECTOR_CORPUS) is absent")
    return found


@pytest.fixture(scope="session")
def lab_kit() -> TokenKit:
    """A token kit at the tests' fixed clock, its certificates generated once per session."""
    from tests.builders import CLOCK

    return TokenKit(
        auth_cert=exchange_auth_cert(now=CLOCK),
        acs_cert=acs_signing_cert(now=CLOCK),
        now=CLOCK,
        rogue_cert=exchange_auth_cert(now=CLOCK),
    )
