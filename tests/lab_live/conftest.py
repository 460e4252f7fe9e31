from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from inspector.lab.folder import LabDir, prepare_lab_dir
from inspector.lab.responder import ServerOptions
from inspector.lab.server import LabServer


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> LabDir:
    """A lab folder with HTTPS material, made once per session (key generation is the slow part)."""
    return prepare_lab_dir(tmp_path_factory.mktemp("oauth-lab"), realm=None, host=None, tls=True, now=datetime.now(UTC))


@pytest.fixture
def server_log() -> list[str]:
    return []


@pytest.fixture
def lab_server(lab_dir: LabDir, server_log: list[str]) -> Iterator[LabServer]:
    """The lab server on loopback, offering Basic and NTLM beside Bearer (so fallbacks can be shown)."""
    with LabServer(lab_dir, options=ServerOptions(offer_basic=True, offer_ntlm=True), log=server_log.append) as server:
        yield server
