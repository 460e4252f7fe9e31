"""The audit log: one JSON object per line, appended and flushed to disk as each thing happens, so that whatever
stops the run (an error, Ctrl-C, a power cut) the file says what was done up to that moment.

Records carry a run ID, the time (UTC) and an event name (``start``, ``plan``, ``confirm``, ``action``,
``stopped``, ``verify``, ``finish``). What the executors sent is recorded as command text; passwords, tokens and
private keys never reach them, and fields named like secrets are refused here as a second line of defence.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from inspector import __version__
from inspector.model import ConfigError

FORMAT = "oauth-inspector.provision.audit"
_SECRET_WORDS = ("password", "token", "secret", "private")


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    for name in fields:
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise AssertionError(f"audit field {name!r} looks like a secret; audit records never hold one")
    return fields


class AuditLog:
    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.clock = clock or (lambda: datetime.now(UTC))
        self.run_id = str(uuid.uuid4())
        try:
            self._handle: IO[str] | None = path.open("a", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise ConfigError(f"Cannot write the audit log {path}: {exc.strerror or exc}") from exc

    def write(self, event: str, **fields: Any) -> None:
        if self._handle is None:
            raise ValueError("the audit log is closed")
        record = {
            "time": self.clock().astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "run": self.run_id,
            "event": event,
            **_checked(fields),
        }
        self._handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def start(self, command: str, **fields: Any) -> None:
        self.write("start", format=FORMAT, version=__version__, command=command, **fields)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if isinstance(value, KeyboardInterrupt):
            self.write("stopped", reason="interrupted (Ctrl-C)", next="Run the same command again")
        self.close()


def read_records(path: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    """The records of one run (or all), for tests and for people reading the log back."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if run_id is None or record.get("run") == run_id:
                records.append(record)
    return records
