"""The addon's JSONL report file (``oauth_report``): one line per exchange, flushed as it goes, and a summary line
at the end. A write failure stops reporting, once; it never reaches the flow."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from inspector.inventory import Inventory
from inspector.live.options import options_error
from inspector.report.writers import JsonlWriter
from inspector.rules import Finding
from inspector.tally import Totals

logger = logging.getLogger(__name__)


class ReportFile:
    """The JSONL report file: one line per exchange, flushed as it goes. A write failure stops reporting, once."""

    def __init__(self, path: str, *, show_secrets: bool) -> None:
        self.path = path
        append = path.startswith("+")  # as mitmproxy's -w: "+file" appends
        target = Path(path[1:] if append else path).expanduser()
        try:
            self.file: IO[str] | None = target.open("a" if append else "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise options_error(
                f"oauth_report: cannot write {target}: {exc.strerror or exc}; check the folder exists and is writable"
            ) from None
        self.writer = JsonlWriter(self.file, show_secrets=show_secrets, flush_each=True)

    def write(self, item: Finding) -> None:
        self._guarded(lambda: self.writer.finding(item))

    def write_line(self, line: str) -> None:
        """An exchange's line, made by the addon (it serialises each exchange once, for the flow too).

        Written straight to the descriptor: one system call, so the line is in the file before the flow moves on
        (what a flush would give) without the text layer's encoding and buffering on every flow. The writer's own
        records are flushed as they are written, so nothing of theirs is waiting in a buffer to be overtaken."""
        file = self.file
        if file is None:
            return
        try:  # inline rather than through _guarded: this runs for every flow
            data = (line + "\n").encode("utf-8")
            fd = file.fileno()
            while data:
                data = data[os.write(fd, data) :]
        except (OSError, ValueError) as exc:
            self._stop(exc)

    def _guarded(self, action: Callable[[], None]) -> None:
        if self.file is None:
            return
        try:
            action()
        except (OSError, ValueError) as exc:
            self._stop(exc)

    def _stop(self, exc: Exception) -> None:
        logger.warning("oauth-inspector: cannot write the report %s (%s); reporting stops", self.path, exc)
        self._close_quietly()

    def close(self, totals: Totals | None, inventory: Inventory | None = None) -> None:
        """Finish the report: its inventory line and summary line from ``totals`` (none when the addon never
        judged), then close."""
        if self.file is None:
            return
        try:
            if totals is not None:
                self.writer.close(totals, inventory)
        except (OSError, ValueError) as exc:
            logger.warning("oauth-inspector: cannot finish the report %s (%s)", self.path, exc)
        self._close_quietly()

    def _close_quietly(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None
