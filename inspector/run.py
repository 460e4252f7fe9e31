"""Running the analyzer over the inputs a user named: in this process, or over several processes (``--jobs``).

By default the inputs are ONE timeline (:mod:`inspector.timeline`): in one process they stream through one
analyzer into the report; with ``--jobs N``, N processes each read a shard of the connections of every capture
and the parent joins them in the order one process reads them and judges them with one analyzer (same report).

With ``--separately`` each input is its own timeline: in one process the analyzer forgets per-client state between
them; with several, each input file is analysed by a worker with its own analyzer, which spools its results to a
temporary file in batches; the parent replays the spools in input order, so the report is the same as with one
process and memory stays bounded by a batch, not by a file.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.model import InputError, SourceItem, UnreadInput
from inspector.policy import Policy
from inspector.report.writers import Record, Records, ReportWriter
from inspector.rules import Finding
from inspector.selection import Selection
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import read_input
from inspector.sources.naming import input_labels
from inspector.sources.pcap.reader import CaptureProgress, FileTail
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.timeorder import in_judged_order
from inspector.tally import RunState, Totals
from inspector.timeline import (
    PartDamage,
    PartSummary,
    Shard,
    Timeline,
    TimelineInput,
    join_damages,
    join_streams,
    read_part,
    spooled_items,
    timeline_inputs,
)
from inspector.trust import Trust

BATCH = 2000

Input = tuple[Path, InputKind | None]


@dataclass(slots=True)
class RunOutcome:
    totals: Totals
    errors: list[str] = field(default_factory=list)
    inventory: Inventory = field(default_factory=Inventory)
    unread: list[UnreadInput] = field(default_factory=list)
    """The inputs that failed, with what was read of them first (the report lists them beside ``errors``)."""

    def failed(self, label: str, exc: InputError, exchanges_read: int) -> None:
        self.errors.append(str(exc))
        self.unread.append(UnreadInput(label, str(exc), exchanges_read))


Progress = Callable[[RunState], None]


def _chosen(selection: Selection | None, items: Iterable[Finding]) -> Iterator[Finding]:
    """Findings as the filters and suppressions report them."""
    for item in items:
        chosen = selection.apply(item) if selection else item
        if isinstance(chosen, Finding):
            yield chosen


def _judged(
    analyzer: Analyzer, items: Iterable[SourceItem], selection: Selection | None
) -> Iterator[ExchangeResult | Finding]:
    """Each item judged, as the filters and suppressions report it (left out when a filter drops it)."""
    for item in items:
        result = analyzer.feed(item)
        chosen = selection.apply(result) if selection else result
        if chosen is not None:
            yield chosen


def _emit(writer: ReportWriter, item: ExchangeResult | Finding, inventory: Inventory) -> None:
    if isinstance(item, Finding):
        writer.finding(item)
    else:
        inventory.observe(item)
        writer.exchange(item)


def run_sequential(
    inputs: list[Input],
    analyzer: Analyzer,
    writer: ReportWriter,
    totals: Totals,
    progress: Progress | None = None,
    keylog: KeyLog | None = None,
    selection: Selection | None = None,
    *,
    separately: bool = False,
) -> RunOutcome:
    """Every input through one analyzer into the report, as ONE timeline (:mod:`inspector.timeline`), or with
    ``separately`` each input on its own (per-client state forgotten between them); ``totals`` counts what is
    written (``selection``: what the filters keep, suppressions marked)."""
    if not separately:
        return _run_timeline(inputs, analyzer, writer, totals, progress, keylog, selection)
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs))
    labels = input_labels([path for path, _ in inputs])
    for (path, kind), label in zip(inputs, labels, strict=True):
        before = totals.exchanges
        state.current = path.name
        state.bytes_read, state.bytes_total, state.packets = 0, 0, 0
        analyzer.new_input()

        def on_capture(p: CaptureProgress) -> None:
            state.bytes_read, state.bytes_total, state.packets = p.bytes_read, p.total_bytes, p.packets
            state.findings = sum(totals.severities.values())
            if progress is not None:
                progress(state)

        try:
            items = in_judged_order(
                read_input(path, kind, progress=on_capture if progress else None, keylog=keylog, label=label), kind
            )
            for count, result in enumerate(_judged(analyzer, items, selection), 1):
                totals.add(result)
                _emit(writer, result, outcome.inventory)
                if progress is not None and count % 512 == 0:
                    state.exchanges = totals.exchanges
                    progress(state)
        except InputError as exc:
            outcome.failed(label, exc, totals.exchanges - before)
        for late in _chosen(selection, analyzer.end_input()):
            totals.add(late)
            writer.finding(late)
        state.files_done += 1
        state.exchanges = totals.exchanges
        state.findings = sum(totals.severities.values())
        if progress is not None:
            progress(state)
    return outcome


def _run_timeline(
    inputs: list[Input],
    analyzer: Analyzer,
    writer: ReportWriter,
    totals: Totals,
    progress: Progress | None,
    keylog: KeyLog | None,
    selection: Selection | None,
) -> RunOutcome:
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs), current=f"{len(inputs)} inputs" if len(inputs) > 1 else "")
    if len(inputs) == 1:
        state.current = inputs[0][0].name

    def damaged(item: TimelineInput, exc: InputError, exchanges: int) -> None:
        outcome.failed(item.label, exc, exchanges)

    def on_capture(p: CaptureProgress) -> None:
        state.bytes_read, state.bytes_total, state.packets = p.bytes_read, p.total_bytes, p.packets
        state.findings = sum(totals.severities.values())
        if progress is not None:
            progress(state)

    timeline = Timeline(on_damage=damaged, keylog=keylog, progress=on_capture if progress else None)
    analyzer.new_input()
    for count, result in enumerate(_judged(analyzer, timeline.read_all(timeline_inputs(inputs)), selection), 1):
        totals.add(result)
        _emit(writer, result, outcome.inventory)
        if progress is not None and count % 512 == 0:
            state.exchanges = totals.exchanges
            progress(state)
    for late in _chosen(selection, analyzer.end_input()):
        totals.add(late)
        writer.finding(late)
    state.files_done = len(inputs)
    state.exchanges = totals.exchanges
    state.findings = sum(totals.severities.values())
    if progress is not None:
        progress(state)
    return outcome


def run_timeline_parallel(
    inputs: list[Input],
    trust: Trust,
    policy: Policy,
    writer: ReportWriter,
    totals: Totals,
    *,
    jobs: int,
    progress: Progress | None = None,
    keylog: KeyLog | None = None,
    selection: Selection | None = None,
) -> RunOutcome:
    """The inputs as ONE timeline, read by ``jobs`` processes, each a shard of the connections
    (:func:`inspector.timeline.read_part`), joined in the order one process reads them and judged by ONE analyzer
    here: the report is the one :func:`run_sequential` writes, byte for byte."""
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs), current=f"{len(inputs)} inputs, {jobs} shards")
    labelled = timeline_inputs(inputs)
    others_damaged: list[PartDamage] = []

    def damaged(item: TimelineInput, exc: InputError, exchanges: int) -> None:
        others_damaged.append(PartDamage(item.label, str(exc), exchanges))

    with (
        tempfile.TemporaryDirectory(prefix="oauth-inspector-") as spool_dir,
        ProcessPoolExecutor(max_workers=jobs) as pool,
    ):
        spools = [os.path.join(spool_dir, f"shard{index}.part") for index in range(jobs)]
        futures = [
            pool.submit(read_part, labelled, Shard(index, jobs), keylog, spools[index], others=False)
            for index in range(jobs)
        ]
        # The shards' items are merged as the workers spool them; HAR/.mitm/.saz inputs are read here meanwhile.
        others = Timeline(on_damage=damaged, keylog=keylog).others(labelled)
        keyed = [spooled_items(spool, future.done) for spool, future in zip(spools, futures, strict=True)]

        def tails() -> list[list[FileTail]]:
            return [future.result().tails for future in futures]  # a worker's failure is raised here

        analyzer = Analyzer(trust, policy)
        for count, result in enumerate(_judged(analyzer, join_streams(keyed, tails, others), selection), 1):
            totals.add(result)
            _emit(writer, result, outcome.inventory)
            if progress is not None and count % 512 == 0:
                state.exchanges = totals.exchanges
                progress(state)
        parts = [future.result() for future in futures]
    for late in _chosen(selection, analyzer.end_input()):
        totals.add(late)
        writer.finding(late)
    for damage in join_damages([*parts, PartSummary(None, [], [], [], others_damaged)]):
        outcome.failed(damage.label, InputError(damage.message), damage.exchanges)
    state.files_done = len(inputs)
    state.exchanges = totals.exchanges
    state.findings = sum(totals.severities.values())
    if progress is not None:
        progress(state)
    return outcome


@dataclass(frozen=True, slots=True)
class _WorkerResult:
    spool: str
    totals: Totals
    error: str | None
    inventory: Inventory
    label: str


def _analyse_file(
    path: Path,
    kind: InputKind | None,
    trust: Trust,
    policy: Policy,
    make_records: Callable[[], Records],
    spool_dir: str,
    keylog: KeyLog | None = None,
    label: str | None = None,
    selection: Selection | None = None,
) -> _WorkerResult:
    """One input file in a worker: analysed and already rendered into the writer's records, spooled in batches."""
    analyzer = Analyzer(trust, policy)
    totals = Totals()
    inventory = Inventory()
    records = make_records()
    handle = tempfile.NamedTemporaryFile(dir=spool_dir, suffix=".spool", delete=False)  # noqa: SIM115
    error: str | None = None
    with handle:
        batch: list[Record] = []
        try:
            items = in_judged_order(read_input(path, kind, keylog=keylog, label=label), kind)
            for result in _judged(analyzer, items, selection):
                totals.add(result)
                if isinstance(result, Finding):
                    batch.append(records.finding(result))
                else:
                    inventory.observe(result)
                    batch.append(records.exchange(result))
                if len(batch) >= BATCH:
                    pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    batch = []
        except InputError as exc:
            error = str(exc)
        for late in _chosen(selection, analyzer.end_input()):
            totals.add(late)
            batch.append(records.finding(late))
        if batch:
            pickle.dump(batch, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return _WorkerResult(handle.name, totals, error, inventory, label or path.name)


def _replay(handle: BinaryIO) -> Iterator[Record]:
    while True:
        try:
            batch = pickle.load(handle)  # noqa: S301 - our own spool, written by our own worker moments ago
        except EOFError:
            return
        yield from batch


def run_parallel(
    inputs: list[Input],
    trust: Trust,
    policy: Policy,
    writer: ReportWriter,
    totals: Totals,
    *,
    jobs: int,
    progress: Progress | None = None,
    keylog: KeyLog | None = None,
    selection: Selection | None = None,
) -> RunOutcome:
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs))
    with (
        tempfile.TemporaryDirectory(prefix="oauth-inspector-") as spool_dir,
        ProcessPoolExecutor(max_workers=jobs) as pool,
    ):
        futures: list[Future[_WorkerResult]] = [
            pool.submit(
                _analyse_file, path, kind, trust, policy, writer.record_factory(), spool_dir, keylog, label, selection
            )
            for (path, kind), label in zip(inputs, input_labels([path for path, _ in inputs]), strict=True)
        ]
        for (path, _), future in zip(inputs, futures, strict=True):
            state.current = path.name
            result = future.result()
            with open(result.spool, "rb") as handle:
                for record in _replay(handle):
                    writer.absorb(record)
            os.unlink(result.spool)
            totals.merge(result.totals)
            outcome.inventory.merge(result.inventory)
            if result.error:
                outcome.failed(result.label, InputError(result.error), result.totals.exchanges)
            state.files_done += 1
            state.exchanges = totals.exchanges
            state.findings = sum(totals.severities.values())
            if progress is not None:
                progress(state)
    return outcome
