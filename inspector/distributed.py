"""``analyze --dask``: the inputs read on a Dask cluster, judged in this process.

The unit of work is :func:`inspector.timeline.read_part`, the one ``--jobs`` runs: shard ``i`` of ``n`` of the
timeline — every capture's frames walked (cheap), only the TCP connections whose 4-tuple hashes to the shard
reassembled, decrypted and parsed (the expensive part), so a connection that runs from one ring file into the next
is read whole by one task. A task sends back its *part*: the exchanges and notices with their order keys and what
the end of each capture says, compact (heads, the bodies a rule needs), never packets. The client gathers the parts
and runs :func:`inspector.timeline.join`, one analyzer and one writer, so the report is the one a single process
writes, byte for byte. Dask does the scheduling and the wire (``client.map``); nothing here is a scheduler or a
protocol.

The pcap reader maps its file into memory, so a task needs local files: local paths and ``file://`` URLs are read
where they are (on a remote cluster: a path every worker sees, such as a shared mount); any other URL (``s3://``,
``abfs://``, ``memory://``…) is copied by fsspec into a temporary folder of the task, removed when it ends (every
shard reads every file, so each task copies each remote file once).

Dask is an optional extra (``pip install 'oauth-inspector[dask]'``); without it, ``--dask`` says how to get it.
"""

from __future__ import annotations

import glob
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.model import ConfigError, InputError, UnreadInput
from inspector.run import Publisher, RunOutcome
from inspector.sources.detect import InputKind
from inspector.sources.dispatch import first_frame_time, kind_of
from inspector.sources.naming import input_labels
from inspector.sources.pcap.tls.keylog import KeyLog
from inspector.timeline import PartDamage, PartSummary, Shard, TimelineInput, join, join_damages, read_part

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

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


@dataclass(frozen=True, slots=True)
class ShardResult:
    """What one task sends back: its part of the timeline, and what it found the inputs to be (the same in every
    task: the inputs read in timeline order with their kinds, the files of folder URLs that are no inputs, and the
    URLs that could not be fetched)."""

    part: PartSummary
    read: list[tuple[str, InputKind | None, str]]
    """(URL or path, kind, label) of each input given to the timeline, in its order."""
    skipped: list[UnreadInput]
    unfetched: list[PartDamage]


def expand(names: list[str]) -> tuple[list[RemoteInput], list[UnreadInput]]:
    """The files the names stand for: local paths as ``analyze`` collects them (folders searched, captures in
    capture-time order); URLs through fsspec (a folder URL or a glob gives every file under it, by name)."""
    from inspector.sources.dispatch import collect_inputs
    from inspector.sources.opening import is_stream

    local = [name for name in names if not is_url(name) or name.startswith("file://")]
    paths: list[Path] = []
    for name in local:
        path = name.removeprefix("file://")
        if path != name and any(ch in path for ch in "*?[") and not Path(path).exists():
            # a file:// glob stands for its files, as any other URL's does; none matched: the name is reported
            paths += [Path(found) for found in sorted(glob.glob(path))] or [Path(path)]
        else:
            paths.append(Path(path))
    collected = collect_inputs(paths)  # a folder's files that are no inputs are in its skipped list already
    streams = [str(path) for path, _ in collected.inputs if is_stream(path)]
    if streams:
        raise ConfigError(f"--dask reads files where the workers are: not standard input or a pipe ({streams[0]})")
    labels = input_labels([p for p, _ in collected.inputs])
    out = [RemoteInput(str(path), label) for (path, _), label in zip(collected.inputs, labels, strict=True)]
    remote = [name for name in names if name not in local]
    urls: list[tuple[str, bool, int]] = []
    for group, name in enumerate(remote, 1):
        urls += [(url, found, group) for url, found in _expand_url(name)]
    named = _url_labels([url for url, _, _ in urls])
    out += [RemoteInput(url, label, found, group) for (url, found, group), label in zip(urls, named, strict=True)]
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
        return [(url, False)]  # the task says why, as this input's error
    return [(fs.unstrip_protocol(path), False)]


def _url_labels(urls: list[str]) -> list[str]:
    """Labels for URLs as for paths: relative to their common parent folder (the file name for one), component by
    component and never normalised (``a/./b`` and ``a/b`` are two objects in a bucket), so distinct URLs keep
    distinct labels."""
    parts = [url.split("://", 1)[-1].lstrip("/").split("/") for url in urls]
    folders = [p[:-1] for p in parts]
    common = 0
    while folders and all(len(f) > common for f in folders) and len({f[common] for f in folders}) == 1:
        common += 1
    return ["/".join(p[common:]) or url for p, url in zip(parts, urls, strict=True)]


def _fetch(source: RemoteInput, folder: Path) -> Path:
    """A local file with the content of ``source``: the file itself for a local path, else a copy in ``folder``."""
    if not is_url(source.url) or source.url.startswith("file://"):
        return Path(source.url.removeprefix("file://"))
    import fsspec

    target = folder / str(len(list(folder.iterdir()))) / (posixpath.basename(source.url.rstrip("/")) or "input")
    target.parent.mkdir()
    try:
        with fsspec.open(source.url, "rb") as remote, target.open("wb") as out:
            shutil.copyfileobj(remote, out, 1 << 20)
    except FileNotFoundError:
        raise InputError(f"Cannot read {source.url}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {source.url}: {exc}") from exc
    return target


def read_shard(sources: list[RemoteInput], shard: Shard, keylog: KeyLog | None = None) -> ShardResult:
    """Shard ``shard`` of the timeline of ``sources``, read on a worker (a Dask task: module-level, its arguments
    and result picklable)."""
    with tempfile.TemporaryDirectory(prefix="oauth-inspector-dask-") as scratch:
        local: list[tuple[RemoteInput, Path, InputKind | None]] = []
        skipped: list[UnreadInput] = []
        unfetched: list[PartDamage] = []
        for source in sources:
            try:
                path = _fetch(source, Path(scratch))
                kind = kind_of(path) if path.is_file() else None
            except InputError as exc:
                unfetched.append(PartDamage(source.label, str(exc), 0))
                continue
            if kind is None and source.found:
                skipped.append(UnreadInput(source.url, _NOT_AN_INPUT))
                continue
            local.append((source, path, kind))
        local.sort(key=lambda entry: (entry[0].group, _capture_order(entry[0], entry[1], entry[2])))
        inputs = [TimelineInput(path, kind, source.label) for source, path, kind in local]
        part = read_part(inputs, shard, keylog)
    shown = {str(path): source.url for source, path, _ in local}
    damages = [replace(d, message=_shown(d.message, shown)) for d in part.damages]
    return ShardResult(
        replace(part, damages=damages),
        [(source.url, kind, source.label) for source, _, kind in local],
        skipped,
        unfetched,
    )


def _shown(message: str, shown: dict[str, str]) -> str:
    """A message about a temporary copy, naming the URL it was copied from."""
    for path, url in shown.items():
        message = message.replace(path, url)
    return message


def _capture_order(source: RemoteInput, path: Path, kind: InputKind | None) -> tuple[int, int, str]:
    """Local inputs keep the order ``analyze`` collected them in; a folder URL's files go by capture time, as
    ``analyze`` orders a local folder."""
    if not source.group or not source.found:
        return (0, 0, "")
    first = first_frame_time(path) if kind == "pcap" else None
    return (0, first, source.label) if first is not None else (1, 0, source.label)


def local_cluster(workers: int, *, processes: bool = True, protocol: str | None = None) -> LocalCluster:
    """A LocalCluster on 127.0.0.1 only: ``workers`` workers of one thread, no dashboard, and the scheduler's small
    HTTP server (health routes) on an ephemeral loopback port rather than 8787 (two runs at once would clash).
    ``processes=False`` runs the workers as threads (tests); ``protocol="tcp"`` keeps them on loopback sockets."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        host="127.0.0.1",
        protocol=protocol,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=40,
    )


@contextmanager
def dask_client(address: str, workers: int) -> Iterator[Client]:
    """A client of the cluster at ``address``, or of a local cluster of ``workers`` processes bound to 127.0.0.1
    (``local``). A scheduler that cannot be reached is a usage error."""
    require_dask()
    from distributed import Client

    if address == LOCAL:
        with local_cluster(workers) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address)  # waits as Dask's config says (distributed.comm.timeouts.connect, 30 s)
    except (OSError, ValueError, TimeoutError) as exc:
        raise ConfigError(f"--dask {address}: cannot reach the scheduler ({exc})") from None
    with client:
        yield client


def shards_of(client: Client) -> int:
    """One shard per worker thread of the cluster (at least one)."""
    workers = client.scheduler_info()["workers"].values()
    return max(1, sum(int(worker.get("nthreads", 1)) for worker in workers))


def gather_shards(client: Client, sources: list[RemoteInput], keylog: KeyLog | None, shards: int) -> list[ShardResult]:
    """Every shard of the timeline read on the cluster, in shard order."""
    futures: list[Any] = client.map(
        read_shard, [sources] * shards, [Shard(index, shards) for index in range(shards)], keylog=keylog, pure=False
    )
    try:
        results: list[ShardResult] = client.gather(futures)
    finally:
        client.cancel(futures)
    return results


def run_dask(
    results: list[ShardResult],
    analyzer: Analyzer,
    writer: ReportWriter,
    totals: Totals,
    *,
    selection: Selection | None = None,
) -> RunOutcome:
    """The shards joined into one timeline and judged by one analyzer into one report, as
    :func:`inspector.run.run_timeline_parallel` judges its shards."""
    outcome = RunOutcome(totals)
    parts = [result.part for result in results]
    publisher = Publisher(analyzer, writer, totals, outcome.inventory, selection)
    analyzer.new_input()
    publisher.items(join(parts))
    publisher.end()
    for damage in [*results[0].unfetched, *join_damages(parts)]:
        outcome.failed(damage.label, InputError(damage.message), damage.exchanges)
    return outcome
