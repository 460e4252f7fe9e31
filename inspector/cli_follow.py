"""``analyze --follow DIR``: the command's side of following a ring buffer (the polling is :mod:`inspector.follow`).

One analyzer and one report for the whole run, so the timeline's state carries from each file to the next. JSON
Lines are appended as results come and flushed after every file; a whole-document format written to ``-o`` is
rewritten atomically after every file (:mod:`inspector.report.snapshot`), so a reader of the file always finds a
valid report of what was read so far; to standard output it is written once, at the stop. Ctrl-C and SIGTERM stop
the loop after the file being read; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import copy
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

from inspector.analyze import Analyzer
from inspector.cli import _output, exit_code, finish_report
from inspector.cli_common import error
from inspector.follow import Follower
from inspector.model import ConfigError, InputError
from inspector.report.snapshot import SnapshotReport
from inspector.report.writers import ReportWriter
from inspector.rotation import Configuration
from inspector.run import Publisher, RunOutcome
from inspector.selection import Selection, selected
from inspector.settings import Settings
from inspector.sources.detect import InputKind
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.tally import Totals
from inspector.timeline import Timeline, TimelineInput

MakeWriter = Callable[[IO[str], list[dict[str, Any]]], ReportWriter]


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the file being read is finished, the rest read, the report closed); a
    second SIGINT raises KeyboardInterrupt as usual."""

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Reading:
    """Files read one after another as ONE timeline (:class:`inspector.timeline.Timeline`: connections and the
    analyzer's per-client state carry from each file into the next) into one analyzer and one report."""

    def __init__(
        self,
        analyzer: Analyzer,
        writer: ReportWriter,
        totals: Totals,
        *,
        keylog: KeyLog | None,
        selection: Selection,
        sources: list[dict[str, Any]],
    ) -> None:
        self.analyzer = analyzer
        self.writer = writer
        self.totals = totals
        self.selection = selection
        self.outcome = RunOutcome(totals)
        self.sources = sources
        """What the JSON and HTML reports list as their sources: the files read so far."""
        self.original: Callable[[Path], Path] = lambda path: path
        """The file in the folder a path given to :meth:`feed` stands for (a whole-record copy of an open file)."""
        self.last: list[str] = []
        """The names of the files read last."""
        self.timeline = Timeline(on_damage=self._damaged, keylog=keylog)
        self.publisher = Publisher(analyzer, writer, totals, self.outcome.inventory, selection)
        analyzer.new_input()

    def _damaged(self, item: TimelineInput, exc: InputError, exchanges: int) -> None:
        self.outcome.failed(item.label, exc, exchanges)

    def feed(self, files: list[tuple[Path, InputKind]]) -> None:
        shown = [self.original(path) for path, _ in files]
        self.last = [original.name for original in shown]
        # The folder is the common parent: labels are file names, as `analyze DIR` gives them.
        self.sources += [
            {"path": str(original), "kind": kind, "label": original.name}
            for original, (_, kind) in zip(shown, files, strict=True)
        ]
        inputs = [TimelineInput(path, kind, original.name) for original, (path, kind) in zip(shown, files, strict=True)]
        self.publisher.items(self.timeline.read(inputs))

    def finish(self) -> None:
        """The end of the timeline: what is still open, the notices about each capture, unfinished handshakes."""
        self.publisher.items(self.timeline.finish())
        self.publisher.end()


def follow_folder(
    folder: Path,
    *,
    settings: Settings,
    selection: Selection,
    keylog: KeyLog | None,
    configuration: Configuration,
    output: Path | None,
    make_writer: MakeWriter,
    interval: float,
    stop: threading.Event | None = None,
    tell: Callable[[str], None] | None = None,
) -> int:
    """Follow ``folder`` until stopped; the exit code as ``analyze`` gives it. ``tell`` hears a line per look that
    read files (the progress of a run without end)."""
    stop = stop or threading.Event()
    if output is not None and not output.parent.is_dir():  # found now, not after the first file is read
        raise ConfigError(f"Cannot write {output}: its folder {output.parent} does not exist")
    analyzer = Analyzer(settings.trust, settings.policy)
    totals = Totals()
    streaming = settings.output_format == "jsonl"
    with _output(output if streaming else None) as out:
        sources: list[dict[str, Any]] = []
        snapshot = None if streaming else SnapshotReport(lambda target: make_writer(target, sources))
        writer: ReportWriter = make_writer(out, sources) if snapshot is None else snapshot
        reading = _Reading(analyzer, writer, totals, keylog=keylog, selection=selection, sources=sources)
        for item in selected(selection, analyzer.trust_findings()):
            totals.add(item)
            writer.finding(item)
        follower = Follower(folder, reading.feed, interval, stop)
        if output is not None and output.parent.resolve() == folder.resolve():
            follower.leave_out = frozenset({output.name})  # the report written into the ring folder is not a capture
        reading.original = follower.original

        def finish(target: ReportWriter, counted: Totals) -> None:
            finish_report(target, counted, reading.outcome, follower.not_inputs, selection, configuration, settings)

        def after_read() -> None:
            if tell is not None:
                findings = sum(totals.severities.values())
                tell(f"read {', '.join(reading.last)}: {totals.exchanges} exchanges, {findings} findings so far")
            if snapshot is None:
                out.flush()
            elif output is not None:
                snapshot.write_file(output, lambda target: finish(target, copy.deepcopy(totals)))

        follower.after_read = after_read
        with _stop_on_signals(stop):
            try:
                follower.run()
                reading.finish()
            finally:
                follower.close()
        if follower.failed is not None:
            reading.outcome.failed(str(folder), InputError(follower.failed), 0)
        for message in reading.outcome.errors:
            error(message)
        if snapshot is None:
            finish(writer, totals)
        else:
            end = functools.partial(finish, counted=totals)
            if output is not None:
                snapshot.write_file(output, end)
            else:
                snapshot.render(out, end)
            snapshot.close(totals)
    return exit_code(totals, settings.fail_on, bool(reading.outcome.errors))
