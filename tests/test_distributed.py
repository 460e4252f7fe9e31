"""Reading files on a Dask cluster: a LocalCluster on 127.0.0.1 reads split captures from fsspec URLs and the report
equals the sequential run over the same files; a worker's temporary copy is removed; Dask missing is a clear usage
error.

The cluster here runs its two workers as threads of this process (``processes=False``): it starts in a fraction of
a second instead of seconds, and ``objects://`` files (fsspec's in-process file system, the stand-in for s3://) are
visible to its workers. Scheduling, serialisation of the tasks and the gather are Dask's, as with processes; the
command's ``--dask local`` with worker processes is run end to end in tests/test_cli_dask.py.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
fsspec = pytest.importorskip("fsspec", reason="the dask extra is not installed")

from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

from inspector.analyze import Analyzer  # noqa: E402
from inspector.distributed import (  # noqa: E402
    expand,
    gather_shards,
    is_url,
    local_cluster,
    read_shard,
    run_dask,
)
from inspector.policy import Policy  # noqa: E402
from inspector.report.writers import JsonWriter  # noqa: E402
from inspector.run import run_sequential  # noqa: E402
from inspector.sources.dispatch import expand_inputs  # noqa: E402
from inspector.tally import Totals  # noqa: E402
from inspector.timeline import Shard  # noqa: E402
from inspector.trust import build_trust  # noqa: E402
from tests.corpus import REPO  # noqa: E402
from tests.test_timeline import normalised  # noqa: E402

SAMPLES = REPO / "captures" / "lab"


class ObjectStore(MemoryFileSystem):  # type: ignore[misc]
    """``objects://``: fsspec's in-memory file system with the one property of an object store it lacks — each open
    for reading is a reader of its own. MemoryFileSystem hands every reader the one stored buffer (seeking it to 0),
    so two worker threads copying the same file at once interleave their reads and get corrupt copies, which S3 or
    Azure never give."""

    protocol = "objects"
    store: dict[str, object] = {}  # noqa: RUF012 (fsspec's own layout: a class-level store)
    pseudo_dirs: list[str] = [""]  # noqa: RUF012

    def _open(self, path: str, mode: str = "rb", **kwargs: object) -> object:
        stored = self.store.get(self._strip_protocol(path)) if mode == "rb" else None
        if stored is not None:
            return io.BytesIO(stored.getvalue())  # type: ignore[attr-defined]
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("objects", ObjectStore, clobber=True)
REALM = json.loads((SAMPLES / "expected.json").read_text())["realm"]


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    # Worker threads on loopback sockets, as between machines (threads alone would talk in-process).
    with local_cluster(2, processes=False, protocol="tcp") as cluster, distributed.Client(cluster) as made:
        yield made


@pytest.fixture
def split(tmp_path: Path) -> list[Path]:
    """lab.pcapng in five ring files (one cut between a Bearer 401, frame 458, and the Basic retry, 466); the HAR."""
    if shutil.which("editcap") is None:
        pytest.skip("editcap (wireshark-common) is not installed")
    folder = tmp_path / "ring"
    folder.mkdir()
    subprocess.run(["editcap", "-c", "115", str(SAMPLES / "lab.pcapng"), str(folder / "ring.pcapng")], check=True)
    shutil.copy(SAMPLES / "lab.har", folder)
    return sorted(folder.iterdir())


def _trust():  # type: ignore[no-untyped-def]
    return build_trust(certs=[SAMPLES / "OAuthCert.cer"], metadata=[SAMPLES / "acs-metadata.json"])


def _report(run) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out, totals = io.StringIO(), Totals()
    writer = JsonWriter(out, [], show_secrets=False)
    outcome = run(Analyzer(_trust(), Policy(realms=frozenset({REALM}))), writer, totals)
    writer.unread(outcome.unread, [])
    writer.close(totals, outcome.inventory)
    document: dict[str, object] = json.loads(out.getvalue())
    return document


def test_urls_and_paths_are_told_apart() -> None:
    assert is_url("s3://bucket/trace.pcap") and is_url("memory://x/y") and is_url("abfs+az://c/p")
    assert not is_url("/tmp/trace.pcap") and not is_url("C:\\trace.pcap") and not is_url("trace.pcap")


def test_a_file_url_glob_stands_for_its_files(tmp_path: Path) -> None:
    for name in ("b.har", "a.har", "c.txt"):
        shutil.copy(SAMPLES / "lab.har", tmp_path / name)
    sources, _ = expand([f"file://{tmp_path}/*.har"])  # found by review: read as one missing file
    assert [Path(s.url).name for s in sources] == ["a.har", "b.har"]
    missing, _ = expand([f"file://{tmp_path}/*.pcap"])
    assert [s.url for s in missing] == [f"{tmp_path}/*.pcap"]  # nothing matched: reported as not found


def test_a_task_reads_urls_through_temporary_copies_and_names_them_by_url(split: list[Path]) -> None:
    for path in split:
        with fsspec.open(f"objects://copies/{path.name}", "wb") as out:
            out.write(path.read_bytes())
    sources, _ = expand(["objects://copies/*.pcapng", "objects://copies/nothing.pcap"])
    remote = read_shard(sources, Shard(0, 1))
    local_sources, _ = expand([str(p) for p in split if p.suffix == ".pcapng"])
    local = read_shard(local_sources, Shard(0, 1))
    assert [label for _, _, label in remote.read] == [label for _, _, label in local.read][: len(remote.read)]
    assert [key for key, _ in remote.part.captures] == [key for key, _ in local.part.captures]
    assert remote.part.captures
    assert [d.label for d in remote.unfetched] == ["nothing.pcap"]
    assert remote.unfetched[0].message == "Cannot read objects://copies/nothing.pcap: no such file"
    leftovers = list(Path(tempfile.gettempdir()).glob("oauth-inspector-dask-*"))
    assert not leftovers  # the copies are removed when the task ends


def test_the_cluster_gives_the_sequential_report(client: distributed.Client, split: list[Path]) -> None:
    for path in split:
        with fsspec.open(f"objects://ring/{path.name}", "wb") as out:
            out.write(path.read_bytes())
    with fsspec.open("objects://ring/notes.txt", "wb") as out:
        out.write(b"not a capture")
    sources, skipped = expand(["objects://ring"])
    assert not skipped and len(sources) == len(split) + 1
    results = gather_shards(client, sources, None, shards=3)
    captures = [p.name for p in split if p.suffix == ".pcapng"]
    assert [label for _, _, label in results[0].read] == [*captures, "lab.har"]  # capture time, then the rest
    assert [s.file for s in results[0].skipped] == ["objects://ring/notes.txt"]
    assert len({len(r.part.captures) for r in results}) > 1  # the connections were shared out

    def on_dask(analyzer: Analyzer, writer: JsonWriter, totals: Totals):  # type: ignore[no-untyped-def]
        return run_dask(results, analyzer, writer, totals)

    inputs = expand_inputs([split[0].parent])

    def sequential(analyzer: Analyzer, writer: JsonWriter, totals: Totals):  # type: ignore[no-untyped-def]
        return run_sequential(inputs, analyzer, writer, totals)

    def unsplit(analyzer: Analyzer, writer: JsonWriter, totals: Totals):  # type: ignore[no-untyped-def]
        return run_sequential(expand_inputs([SAMPLES / "lab.pcapng", SAMPLES / "lab.har"]), analyzer, writer, totals)

    dask_report, sequential_report = _report(on_dask), _report(sequential)
    assert dask_report == sequential_report
    # ... and the single-file run's report, but for the ids and sources that name the ring files
    assert normalised(dask_report) == normalised(_report(unsplit))
    assert len(dask_report["exchanges"]) > 20  # type: ignore[arg-type]
    fallbacks = [f for f in dask_report["findings"] if f["rule"] == "basic-fallback"]  # type: ignore[union-attr,index]
    assert fallbacks  # the Bearer 401 and the Basic retry are in different files: one timeline joins them


def test_local_paths_keep_analyze_order_and_a_broken_file_is_an_error(
    client: distributed.Client, split: list[Path]
) -> None:
    broken = split[0].parent / "broken.har"
    broken.write_text('{"log": {"version": "1.2", "entries": [{"request": ', encoding="utf-8")
    sources, _ = expand([str(split[0].parent)])
    assert [s.url for s in sources] == [str(path) for path, _ in expand_inputs([split[0].parent])]
    results = gather_shards(client, sources, None, shards=2)
    assert [url for url, _, _ in results[0].read] == [s.url for s in sources]
    out, totals = io.StringIO(), Totals()
    writer = JsonWriter(out, [], show_secrets=False)
    outcome = run_dask(results, Analyzer(_trust(), Policy()), writer, totals)
    writer.close(totals)
    assert [u.file for u in outcome.unread] == ["broken.har"]


def test_a_file_named_that_is_no_input_is_an_error_as_with_analyze(client: distributed.Client, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a capture", encoding="utf-8")
    sources, skipped = expand([str(notes), str(SAMPLES / "lab.har")])
    assert not skipped
    results = gather_shards(client, sources, None, shards=1)
    out, totals = io.StringIO(), Totals()
    writer = JsonWriter(out, [], show_secrets=False)
    outcome = run_dask(results, Analyzer(_trust(), Policy()), writer, totals)
    writer.close(totals)
    [unread] = outcome.unread
    assert unread.file.endswith("/notes.txt") and "its content is not" in unread.reason
    assert not results[0].skipped
