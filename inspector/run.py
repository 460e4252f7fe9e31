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
from typing import IO, BinaryIO, Protocol

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.model import InputError, SourceItem, UnreadInput
from inspector.policy import Policy
from inspector.report.writers import Record, Records, ReportWriter
from inspector.rules import Finding
from inspector.selection import Selection, selected
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
    read_timeline,
    release_spool,
    spooled_items,
    spooled_timeline,
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


class Sink(Protocol):
    """Where published results go: a report writer, or a worker's batch of the writer's records."""

    def exchange(self, result: ExchangeResult) -> None: ...
    def finding(self, item: Finding) -> None: ...


class Publisher:
    """One analyzer's results as a run reports them: kept or marked by the selection (filters and suppressions),
    counted in the totals, observed by the inventory, written. Every way of running (one process, ``--jobs``,
    ``--follow``, Dask) publishes through one, so they cannot differ in what they report."""

    def __init__(
        self,
        analyzer: Analyzer,
        sink: Sink,
        totals: Totals,
        inventory: Inventory,
        selection: Selection | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.analyzer, self.sink, self.totals, self.inventory = analyzer, sink, totals, inventory
        self.selection = selection
        self.on_progress = on_progress
        """Called every ``PROGRESS_EVERY`` published results (the progress bar)."""
        self._published = 0

    def items(self, items: Iterable[SourceItem]) -> None:
        """Each item judged and published."""
        selection, feed = self.selection, self.analyzer.feed
        for item in items:
            result = feed(item)
            chosen = selection.apply(result) if selection else result
            if chosen is not None:
                self._publish(chosen)

    def end(self) -> None:
        """The end of the input: the findings only it can give (handshakes never finished, …)."""
        for late in selected(self.selection, self.analyzer.end_input()):
            self._publish(late)

    def _publish(self, item: ExchangeResult | Finding) -> None:
        self.totals.add(item)
        if isinstance(item, Finding):
            self.sink.finding(item)
        else:
            self.inventory.observe(item)
            self.sink.exchange(item)
        self._published += 1
        if self.on_progress is not None and self._published % PROGRESS_EVERY == 0:
            self.on_progress()


PROGRESS_EVERY = 512


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one run's results go, and who hears how it goes: the writer, the totals of what it writes, what the
    filters keep (``selection``) and the progress display. The same for every way of running a timeline, so the
    ways differ only in how they read and judge."""

    writer: ReportWriter
    totals: Totals
    selection: Selection | None = None
    progress: Progress | None = None

    def publisher(self, analyzer: Analyzer, outcome: RunOutcome, state: RunState) -> Publisher:
        """A publisher of ``analyzer``'s results into this destination, refreshing the progress display."""
        return Publisher(analyzer, self.writer, self.totals, outcome.inventory, self.selection, self._reporter(state))

    def _reporter(self, state: RunState) -> Callable[[], None] | None:
        """The progress display's refresh while results are published."""
        progress, totals = self.progress, self.totals
        if progress is None:
            return None

        def report() -> None:
            state.exchanges = totals.exchanges
            progress(state)

        return report

    def finish(self, state: RunState) -> None:
        """The progress display's last refresh: every input done, the totals as written."""
        state.files_done = state.files_total
        state.exchanges = self.totals.exchanges
        state.findings = sum(self.totals.severities.values())
        if self.progress is not None:
            self.progress(state)


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
    destination = Destination(writer, totals, selection, progress)
    if not separately:
        return _run_timeline(inputs, analyzer, destination, keylog)
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs))
    publisher = destination.publisher(analyzer, outcome, state)
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
            publisher.items(items)
        except InputError as exc:
            outcome.failed(label, exc, totals.exchanges - before)
        publisher.end()
        state.files_done += 1
        state.exchanges = totals.exchanges
        state.findings = sum(totals.severities.values())
        if progress is not None:
            progress(state)
    return outcome


def _run_timeline(
    inputs: list[Input], analyzer: Analyzer, destination: Destination, keylog: KeyLog | None
) -> RunOutcome:
    totals, progress = destination.totals, destination.progress
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
    publisher = destination.publisher(analyzer, outcome, state)
    analyzer.new_input()
    publisher.items(timeline.read_all(timeline_inputs(inputs)))
    publisher.end()
    destination.finish(state)
    return outcome


def readers(jobs: int) -> int:
    """The processes that read one timeline when ``jobs`` run it. This process is one of the ``jobs``: it analyses
    and writes, some 40 % of what one process does, so the other ``jobs - 1`` read (one reader: the whole
    timeline, every input, a pipeline of two stages; more: shards of the captures' connections, each walking every
    frame, and this process reads the HAR/.mitm/.saz inputs and joins)."""
    return max(1, jobs - 1)


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
    """The inputs as ONE timeline in ``jobs`` processes: :func:`readers` of them read it and this one judges it with
    ONE analyzer: the report is the one :func:`run_sequential` writes, byte for byte. One reader reads the whole
    timeline (:func:`_run_pipeline`); several read a shard of the connections each
    (:func:`inspector.timeline.read_part`), and their items are joined here in the order one process reads them."""
    shards = readers(jobs)
    labelled = timeline_inputs(inputs)
    destination = Destination(writer, totals, selection, progress)
    if shards == 1:
        return _run_pipeline(labelled, Analyzer(trust, policy), destination, keylog)
    outcome = RunOutcome(totals)
    state = RunState(files_total=len(inputs), current=f"{len(inputs)} inputs, {shards} readers")
    others_damaged: list[PartDamage] = []

    def damaged(item: TimelineInput, exc: InputError, exchanges: int) -> None:
        others_damaged.append(PartDamage(item.label, str(exc), exchanges))

    publisher = destination.publisher(Analyzer(trust, policy), outcome, state)
    with (
        tempfile.TemporaryDirectory(prefix="oauth-inspector-") as spool_dir,
        ProcessPoolExecutor(max_workers=shards) as pool,
    ):
        spools = [os.path.join(spool_dir, f"shard{index}.part") for index in range(shards)]
        futures = [
            pool.submit(read_part, labelled, Shard(index, shards), keylog, spools[index], others=False, paced=True)
            for index in range(shards)
        ]

        def tails() -> list[list[FileTail]]:
            return [future.result().tails for future in futures]  # a worker's failure is raised here

        try:
            # The shards' items are merged as the workers spool them; HAR/.mitm/.saz inputs are read here meanwhile.
            others = Timeline(on_damage=damaged, keylog=keylog).others(labelled)
            keyed = [spooled_items(spool, future.done) for spool, future in zip(spools, futures, strict=True)]
            publisher.items(join_streams(keyed, tails, others))
        finally:  # done, or failed: the readers, which wait while they are far ahead, stop (the pool waits for them)
            for spool in spools:
                release_spool(spool)
        parts = [future.result() for future in futures]
    publisher.end()
    for damage in join_damages([*parts, PartSummary(None, [], [], [], others_damaged)]):
        outcome.failed(damage.label, InputError(damage.message), damage.exchanges)
    destination.finish(state)
    return outcome


def _run_pipeline(
    inputs: list[TimelineInput], analyzer: Analyzer, destination: Destination, keylog: KeyLog | None
) -> RunOutcome:
    """One reader: the timeline read in a worker exactly as :func:`run_sequential` reads it here
    (:func:`inspector.timeline.read_timeline`), and judged here as its batches arrive, so reading and judging
    overlap and nothing has to be joined."""
    outcome = RunOutcome(destination.totals)
    state = RunState(files_total=len(inputs), current=f"{len(inputs)} inputs, 1 reader")
    publisher = destination.publisher(analyzer, outcome, state)
    with (
        tempfile.TemporaryDirectory(prefix="oauth-inspector-") as spool_dir,
        ProcessPoolExecutor(max_workers=1) as pool,
    ):
        spool = os.path.join(spool_dir, "timeline.part")
        future = pool.submit(read_timeline, inputs, keylog, spool)
        try:
            publisher.items(spooled_timeline(spool, future.done))
        finally:  # done, or failed: the reader, which waits while it is far ahead, stops (the pool waits for it)
            release_spool(spool)
        damages = future.result()  # the reader's failure is raised here
    publisher.end()
    for damage in damages:
        outcome.failed(damage.label, InputError(damage.message), damage.exchanges)
    destination.finish(state)
    return outcome


class _SpooledBatch:
    """A worker's sink: the writer's records of what it publishes, pickled to its spool every ``BATCH``."""

    def __init__(self, records: Records, handle: IO[bytes]) -> None:
        self.records, self.handle = records, handle
        self.batch: list[Record] = []

    def exchange(self, result: ExchangeResult) -> None:
        self._add(self.records.exchange(result))

    def finding(self, item: Finding) -> None:
        self._add(self.records.finding(item))

    def _add(self, record: Record) -> None:
        self.batch.append(record)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            pickle.dump(self.batch, self.handle, protocol=pickle.HIGHEST_PROTOCOL)
            self.batch = []


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
        batch = _SpooledBatch(records, handle)
        publisher = Publisher(analyzer, batch, totals, inventory, selection)
        try:
            publisher.items(in_judged_order(read_input(path, kind, keylog=keylog, label=label), kind))
        except InputError as exc:
            error = str(exc)
        publisher.end()
        batch.flush()
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
