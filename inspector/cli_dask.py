"""``analyze --dask ADDRESS``: the command's side of reading the inputs on a Dask cluster
(:mod:`inspector.distributed` holds the tasks and the reduce). One analyzer and one writer in this process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from inspector.analyze import Analyzer
from inspector.cli import _output, exit_code, finish_report
from inspector.cli_common import EXIT_UNREADABLE, error
from inspector.distributed import dask_client, expand, gather_shards, require_dask, run_dask, shards_of
from inspector.report.writers import ReportWriter
from inspector.rotation import Configuration
from inspector.selection import Selection, selected
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
        results = gather_shards(client, sources, keylog, shards_of(client))
    analyzer = Analyzer(settings.trust, settings.policy)
    totals = Totals()
    first = results[0]
    listed = [{"path": url, "kind": kind, "label": label} for url, kind, label in first.read]
    with _output(output) as out:
        writer = make_writer(out, listed)
        for item in selected(selection, analyzer.trust_findings()):
            totals.add(item)
            writer.finding(item)
        outcome = run_dask(results, analyzer, writer, totals, selection=selection)
        for message in outcome.errors:
            error(message)
        finish_report(writer, totals, outcome, [*skipped, *first.skipped], selection, configuration, settings)
    sys.stdout.flush()
    return exit_code(totals, settings.fail_on, bool(outcome.errors))
