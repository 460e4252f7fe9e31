"""``analyze --dask``: the files read on a Dask cluster, judged in this process.

The unit of work is a file: a worker opens it (any fsspec URL), reads it — the expensive part: record walk, TCP
reassembly, TLS decryption, HTTP parsing — and sends back its *part*: the exchanges and notices it holds, compact
(heads, the bodies a rule needs), never packets. The client gathers the parts in input order and runs one analyzer
and one writer over them, so the report is the one a single process gives. Dask does the scheduling and the wire
(``client.map``); nothing here is a scheduler or a protocol.

The pcap reader maps its file into memory, so a worker needs a local file: local paths and ``file://`` URLs are
read where they are (on a remote cluster: a path every worker sees, such as a shared mount); any other URL
(``s3://``, ``abfs://``, ``memory://``…) is copied by fsspec into a temporary file on the worker, removed when read.

Dask is an optional extra (``pip install 'oauth-inspector[dask]'``); without it, ``--dask`` says how to get it.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.model import ConfigError, InputError, SourceItem, UnreadInput
from inspector.run import RunOutcome, _chosen, _emit, _judged
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import first_frame_time, kind_of, read_input
from inspector.sources.naming import input_labels
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.sources.timeorder import in_judged_order

if TYPE_CHECKING:
    from distributed import Client

    from inspector.analyze import Analyzer
    from inspector.report.writers import ReportWriter
    from inspector.selection import Selection
    from inspector.tally import Totals

INSTALL_HINT = (
    "--dask needs the dask extra: pip install 'oauth-inspector[dask]' "
    "(uv: uv tool install 'oauth-inspector[dask]', or uv sync --extra dask in a clone)"
)
LOCAL = "local"
_NOT_AN_INPUT = "not a pcap/pcapng capture, HAR or mitmproxy flow file (the kind is detected from the content)"


def require_dask() -> None:
    """A :class:`ConfigError` saying how to install the extra when Dask or fsspec is missing."""
    try:
        import distributed  # noqa: F401
        import fsspec  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{INSTALL_HINT} ({exc.name or exc} is not installed)") from None


def is_url(name: str) -> bool:
    """An fsspec URL (``scheme://…``), as opposed to a local path."""
    scheme, sep, _ = name.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


@dataclass(frozen=True, slots=True)
class RemoteInput:
    """One file to read: where (a local path or a URL), what the report calls it, and whether it was found in a
    folder (then a file that is no input is skipped, not an error)."""

    url: str
    label: str
    found: bool = False
    group: int = 0
    """Which name given this file came from: the files of one folder URL are judged in capture-time order."""


@dataclass(slots=True)
class Part:
    """What a worker sends back for one file: its items in judged order, or why it could not be read."""

    url: str
    label: str
    kind: InputKind | None
    items: list[SourceItem] = field(default_factory=list)
    error: str | None = None
    skipped: str | None = None
    first_frame: int | None = None


def expand(names: list[str]) -> tuple[list[RemoteInput], list[UnreadInput]]:
    """The files the names stand for: local paths as ``analyze`` collects them (folders searched, captures in
    capture-time order); URLs through fsspec (a folder URL or a glob gives every file under it, by name)."""
    from inspector.sources.dispatch import collect_inputs

    local = [name for name in names if not is_url(name) or name.startswith("file://")]
    paths = [Path(name.removeprefix("file://")) for name in local]
    collected = collect_inputs(paths)
    found_in_folders = {str(p) for p in paths if p.is_dir()}
    out: list[RemoteInput] = []
    for (path, _), label in zip(collected.inputs, input_labels([p for p, _ in collected.inputs]), strict=True):
        out.append(RemoteInput(str(path), label, found=bool(found_in_folders)))
    remote = [name for name in names if name not in local]
    urls: list[tuple[str, bool, int]] = []
    for group, name in enumerate(remote, 1):
        urls += [(url, found, group) for url, found in _expand_url(name)]
    labels = _url_labels([url for url, _, _ in urls])
    out += [RemoteInput(url, label, found, group) for (url, found, group), label in zip(urls, labels, strict=True)]
    return out, collected.skipped


def _expand_url(url: str) -> list[tuple[str, bool]]:
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(url)
        if fs.isdir(path):
            return [(fs.unstrip_protocol(p), True) for p in sorted(fs.find(path))]
        if any(ch in path for ch in "*?["):
            return [(fs.unstrip_protocol(p), True) for p in sorted(fs.glob(path))]
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its backend is not installed
        raise ConfigError(f"Cannot open {url}: {exc}") from None
    except OSError:
        pass  # the worker says why, as this input's error
    return [(url, False)]


def _url_labels(urls: list[str]) -> list[str]:
    """Labels for URLs as for paths: relative to their common parent (the file name for one)."""
    if not urls:
        return []
    parts = [url.split("://", 1)[1] for url in urls]
    parent = posixpath.dirname(parts[0]) if len(set(parts)) == 1 else posixpath.commonpath(parts)
    return [posixpath.relpath(part, parent) if parent else part for part in parts]


@contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """A local file with the content of ``url``: the file itself for a local path, else a temporary copy."""
    if not is_url(url) or url.startswith("file://"):
        yield Path(url.removeprefix("file://"))
        return
    import fsspec

    with tempfile.TemporaryDirectory(prefix="oauth-inspector-dask-") as folder:
        target = Path(folder) / (posixpath.basename(url.rstrip("/")) or "input")
        try:
            with fsspec.open(url, "rb") as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read {url}: {exc}") from exc
        yield target


def read_part(source: RemoteInput, keylog: KeyLog | None = None) -> Part:
    """One file read on a worker (a Dask task: module-level, its arguments and result picklable)."""
    try:
        with local_copy(source.url) as path:
            if not path.exists():
                return Part(source.url, source.label, None, error=f"Cannot read {source.url}: no such file")
            kind = kind_of(path)
            if kind is None and source.found:
                return Part(source.url, source.label, None, skipped=_NOT_AN_INPUT)
            part = Part(source.url, source.label, kind, first_frame=first_frame_time(path) if kind == "pcap" else None)
            try:
                part.items.extend(in_judged_order(read_input(path, kind, keylog=keylog, label=source.label), kind))
            except InputError as exc:
                part.error = str(exc).replace(str(path), source.url)
            return part
    except InputError as exc:
        return Part(source.url, source.label, None, error=str(exc))


@contextmanager
def dask_client(address: str, workers: int) -> Iterator[Client]:
    """A client of the cluster at ``address``, or of a local cluster of ``workers`` processes bound to 127.0.0.1
    (``local``). A scheduler that cannot be reached is a usage error."""
    require_dask()
    from distributed import Client, LocalCluster

    if address == LOCAL:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address)  # waits as Dask's config says (distributed.comm.timeouts.connect, 30 s)
    except (OSError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    with client:
        yield client


def gather_parts(client: Client, sources: list[RemoteInput], keylog: KeyLog | None) -> list[Part]:
    """Every file read on the cluster, in judged order: as given, the files of a folder URL in capture-time order
    (their first frames are known only once read, as ``analyze`` orders a local folder)."""
    futures: list[Any] = client.map(read_part, sources, keylog=keylog, pure=False)
    try:
        parts: list[Part] = client.gather(futures)
    finally:
        client.cancel(futures)
    order = sorted(range(len(parts)), key=lambda i: (sources[i].group, _capture_order(sources[i], parts[i]), i))
    return [parts[i] for i in order]


def _capture_order(source: RemoteInput, part: Part) -> tuple[int, int, str]:
    if not source.group or not source.found:
        return (0, 0, "")  # local inputs are already in order; a URL named alone keeps its place
    return (0, part.first_frame, part.label) if part.first_frame is not None else (1, 0, part.label)


def run_dask(
    parts: list[Part],
    analyzer: Analyzer,
    writer: ReportWriter,
    totals: Totals,
    *,
    selection: Selection | None = None,
) -> tuple[RunOutcome, list[UnreadInput]]:
    """The parts judged by one analyzer into one report, as :func:`inspector.run.run_sequential` judges files;
    also the files found in folder URLs that are no inputs."""
    outcome = RunOutcome(totals)
    skipped: list[UnreadInput] = []
    for part in parts:
        if part.skipped is not None:
            skipped.append(UnreadInput(part.url, part.skipped))
            continue
        before = totals.exchanges
        analyzer.new_input()
        for result in _judged(analyzer, part.items, selection):
            totals.add(result)
            _emit(writer, result, outcome.inventory)
        if part.error is not None:
            outcome.failed(part.label, InputError(part.error), totals.exchanges - before)
        for late in _chosen(selection, analyzer.end_input()):
            totals.add(late)
            writer.finding(late)
    return outcome, skipped
