from __future__ import annotations

import pytest

from inspector.lab.tokens import TokenKit
from tests.lab.kit import session_kit


@pytest.fixture
def kit() -> TokenKit:
    return session_kit()
