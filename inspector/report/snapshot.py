"""A whole-document report (JSON, SARIF, HTML, the table) that can be written at any moment of a run that has not
ended: ``analyze --follow`` rewrites its report file after every capture it reads, so the file is always a valid,
complete document of what was read so far.

The writer's records (what ``--jobs`` workers already send) are spooled to a temporary file as they come; a
snapshot replays them into a fresh writer of the real kind, closes it on a temporary file beside the target and
renames that over the target (atomic on POSIX: a reader sees the old document or the new one, never half).
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from inspector.analyze import ExchangeResult
from inspector.inventory import Inventory
from inspector.model import ConfigError
from inspector.report.writers import Record, Records, ReportWriter
from inspector.rules import Finding
from inspector.tally import Totals

MakeWriter = Callable[[IO[str]], ReportWriter]
"""A fresh writer of the report's kind on an output (it may read state that grows, such as the list of sources);
it must write only to that output (a table writer too: it is made once on a scratch output to learn its records)."""
Finish = Callable[[ReportWriter], None]
"""What ends a report: the run's last findings, the unread inputs, then ``close`` (with totals of its own)."""


def _mode_for(target: Path) -> int:
    """The permissions the report would have if written in place: the target's own, else what the umask leaves of
    rw-rw-rw- (a temporary file is made rw------- for anyone's safety, a report is not)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class SnapshotReport:
    """A :class:`ReportWriter` that keeps its records, so the document can be rendered whole more than once."""

    def __init__(self, make: MakeWriter) -> None:
        self._make = make
        probe = make(io.StringIO())  # a writer only to learn its records; closed on the spot (it may hold a spool)
        self._factory = probe.record_factory()
        probe.close(Totals())
        self._records: Records = self._factory()
        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.count = 0

    def exchange(self, result: ExchangeResult) -> None:
        self.absorb(self._records.exchange(result))

    def finding(self, item: Finding) -> None:
        self.absorb(self._records.finding(item))

    def record_factory(self) -> Callable[[], Records]:
        return self._factory

    def absorb(self, record: Record) -> None:
        pickle.dump(record, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def render(self, out: IO[str], finish: Finish) -> None:
        """The document so far, whole, on ``out``; ``finish`` ends it (this report goes on taking records)."""
        writer = self._make(out)
        self._spool.flush()
        self._spool.seek(0)
        try:
            for _ in range(self.count):
                writer.absorb(pickle.load(self._spool))  # noqa: S301 - our own spool, written above in this process
        finally:
            self._spool.seek(0, os.SEEK_END)
        finish(writer)

    def write_file(self, target: Path, finish: Finish) -> None:
        """:meth:`render` into ``target``, replaced atomically (a :class:`ConfigError` when it cannot be written)."""
        try:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
                "w", encoding="utf-8", newline="\n", dir=target.parent, prefix=f".{target.name}.", delete=False
            )
        except OSError as exc:
            raise ConfigError(f"Cannot write {target}: {exc.strerror or exc}") from exc
        try:
            with handle:
                self.render(handle, finish)
            os.chmod(handle.name, _mode_for(target))
            os.replace(handle.name, target)
        except OSError as exc:
            Path(handle.name).unlink(missing_ok=True)
            raise ConfigError(f"Cannot write {target}: {exc.strerror or exc}") from exc
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise

    def close(self, totals: Totals, inventory: Inventory | None = None) -> None:  # noqa: ARG002
        """Drops the spool (the document is rendered by :meth:`render` / :meth:`write_file`)."""
        self._spool.close()
