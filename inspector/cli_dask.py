"""``analyze --dask ADDRESS``: the command's side of reading the files on a Dask cluster
(:mod:`inspector.distributed` holds the tasks and the reduce). One analyzer and one writer in this process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from inspector.analyze import Analyzer
from inspector.cli import _output, _selected, exit_code, finish_report
from inspector.cli_common import EXIT_UNREADABLE, error
from inspector.distributed import dask_client, expand, gather_parts, require_dask, run_dask
from inspector.report.writers import ReportWriter
from inspector.rotation import Configuration
from inspector.selection import Selection
from inspector.settings import Settings
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.tally import Totals

MakeWriter = Callable[[IO[str], list[dict[str, Any]]], ReportWriter]


def analyze_on_dask(
    names: list[str],
    address: str,
    workers: int,
    *,
    settings: Settings,
    selection: Selection,
    keylog: KeyLog | None,
    configuration: Configuration,
    output: Path | None,
    make_writer: MakeWriter,
) -> int:
    """Read ``names`` (paths, folders, fsspec URLs) on the cluster, judge them here; the exit code as ``analyze``."""
    require_dask()
    sources, skipped = expand(names)
    if settings.output_format != "table" or output is not None:  # the table's footer lists them itself
        for unread in skipped:
            error(f"not read: {unread.file}: {unread.reason}")
    if not sources:
        error("no capture, HAR or flow file found in " + ", ".join(names))
        return EXIT_UNREADABLE
    with dask_client(address, workers) as client:
        parts = gather_parts(client, sources, keylog)
    analyzer = Analyzer(settings.trust, settings.policy)
    totals = Totals()
    listed = [{"path": part.url, "kind": part.kind, "label": part.label} for part in parts if part.skipped is None]
    with _output(output) as out:
        writer = make_writer(out, listed)
        for item in _selected(selection, analyzer.trust_findings()):
            totals.add(item)
            writer.finding(item)
        outcome, found_skipped = run_dask(parts, analyzer, writer, totals, selection=selection)
        for message in outcome.errors:
            error(message)
        finish_report(writer, totals, outcome, [*skipped, *found_skipped], selection, configuration, settings)
    sys.stdout.flush()
    return exit_code(totals, settings.fail_on, bool(outcome.errors))
