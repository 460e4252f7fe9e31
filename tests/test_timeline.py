"""Many captures, one timeline: a real lab capture split with editcap at awkward points (inside requests, between
a 401 and its retry, inside TLS records) is judged as the unsplit file is.

Compared with ids and sources normalised: where the unsplit file says ``lab.pcapng:7`` the split says
``lab_00002_….pcapng:3``; each exchange is named by its place in the report instead, and ``source`` is left out.
Frames are numbered through the timeline (as mergecap numbers the merged file), so they are compared as they are.
"""

from __future__ import annotations

import io
import itertools
import json
import pickle
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from inspector import timeline
from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import HttpExchange, InputError, SourceItem
from inspector.policy import Policy
from inspector.report.writers import JsonlWriter, JsonWriter, tell_unread
from inspector.run import readers, run_sequential, run_timeline_parallel
from inspector.sources.dispatch import expand_inputs
from inspector.tally import Totals
from inspector.timeline import Shard, Timeline, TimelineInput, join, read_part, timeline_inputs
from inspector.trust import build_trust
from tests.corpus import REPO
from tests.sources.pcap.capture_builder import Conversation, frames_of, write_pcap

SAMPLES = REPO / "captures" / "lab"
REALM = json.loads((SAMPLES / "expected.json").read_text())["realm"]

needs_editcap = pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap (Wireshark) is not installed")


def split(capture: Path, folder: Path, packets: int) -> list[Path]:
    """``capture`` cut every ``packets`` frames, as a ring buffer would be (editcap -c)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["editcap", "-c", str(packets), str(capture), str(folder / capture.name)], check=True)
    return sorted(folder.iterdir())


def report_text(paths: list[Path], *, separately: bool = False, jobs: int = 1, errors: list[str] | None = None) -> str:
    out = io.StringIO()
    totals = Totals()
    writer = JsonWriter(out, [], show_secrets=False)
    trust = build_trust(certs=[SAMPLES / "OAuthCert.cer"], metadata=[SAMPLES / "acs-metadata.json"])
    policy = Policy(realms=frozenset({REALM}))
    if jobs > 1:
        outcome = run_timeline_parallel(expand_inputs(paths), trust, policy, writer, totals, jobs=jobs)
    else:
        outcome = run_sequential(expand_inputs(paths), Analyzer(trust, policy), writer, totals, separately=separately)
    tell_unread(writer, outcome.unread, [])
    writer.close(totals)
    if errors is not None:
        errors += outcome.errors
    return out.getvalue()


def report(paths: list[Path], *, separately: bool = False) -> dict[str, Any]:
    return dict(json.loads(report_text(paths, separately=separately)))


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    """The report with each exchange id (wherever it is quoted) replaced by its place in the report, and without
    the file names."""
    places = {exchange["id"]: f"#{n}" for n, exchange in enumerate(document["exchanges"])}
    ids = re.compile("|".join(re.escape(i) for i in sorted(places, key=len, reverse=True)) + r"(?!\d)")
    exchanges = [{**e, "source": None} for e in document["exchanges"]]
    findings = [
        {**f, "evidence": {k: v for k, v in f["evidence"].items() if k != "source"}} for f in document["findings"]
    ]
    text = json.dumps({"exchanges": exchanges, "findings": findings, "summary": document["summary"]})
    return dict(json.loads(ids.sub(lambda m: places[m.group(0)], text)))


@needs_editcap
@pytest.mark.parametrize(("capture", "packets"), [("lab.pcapng", 7), ("lab.pcapng", 45), ("lab-tls.pcapng", 13)])
def test_a_capture_split_into_files_is_judged_as_the_whole(tmp_path: Path, capture: str, packets: int) -> None:
    whole = report([SAMPLES / capture])
    parts = split(SAMPLES / capture, tmp_path / "ring", packets)
    assert len(parts) > 5
    joined = report([tmp_path / "ring"])
    assert normalised(joined) == normalised(whole)
    assert whole["summary"]["exchanges"] > 20
    # Ids name the file where each request was read, numbered in that file.
    assert {e["source"] for e in joined["exchanges"]} <= {p.name for p in parts}
    first = joined["exchanges"][0]
    assert first["id"] == f"{first['source']}:1"


@needs_editcap
def test_read_separately_the_same_files_lose_what_spans_their_edges(tmp_path: Path) -> None:
    """The comparison above can fail: judged file by file, connections cut at the edges lose exchanges (gaps)."""
    whole = report([SAMPLES / "lab.pcapng"])
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 7)
    apart = report([tmp_path / "ring"], separately=True)
    assert normalised(apart) != normalised(whole)
    assert "capture-gap" in apart["summary"]["rules"]
    assert "capture-gap" not in whole["summary"]["rules"]


def test_captures_of_the_same_connections_at_the_same_time_are_read_apart() -> None:
    """lab.pcapng and lab-tls.pcapng record two runs with the same addresses, ports and times: merged byte by byte
    they would collide, so the later file's copy of each connection is read as if alone."""
    both = [SAMPLES / "lab.pcapng", SAMPLES / "lab-tls.pcapng"]
    together = report(both)
    apart = report(both, separately=True)
    assert [e["provenance"]["connection"] for e in together["exchanges"]] != []
    assert sorted(e["id"] for e in together["exchanges"]) == sorted(e["id"] for e in apart["exchanges"])
    assert "capture-gap" not in together["summary"]["rules"]
    assert "tls-decrypt-failed" not in together["summary"]["rules"]


def _items(timeline: Timeline, batches: list[list[TimelineInput]]) -> list[SourceItem]:
    out: list[SourceItem] = []
    for batch in batches:
        out += timeline.read(batch)
    out += timeline.finish()
    return out


@needs_editcap
def test_files_appended_one_after_another_give_what_they_give_together(tmp_path: Path) -> None:
    """``--follow`` appends ring files as they close: the state carries over, the items are the same."""
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 40)
    inputs = timeline_inputs(expand_inputs([tmp_path / "ring"]))
    errors: list[str] = []

    def damaged(item: TimelineInput, exc: InputError, _read: int) -> None:
        errors.append(str(exc))

    together = _items(Timeline(on_damage=damaged), [inputs])
    one_by_one = _items(Timeline(on_damage=damaged), [[item] for item in inputs])
    assert one_by_one == together
    assert sum(isinstance(item, HttpExchange) for item in together) > 20
    assert errors == []


@needs_editcap
def test_a_damaged_file_reports_what_was_read_and_the_run_goes_on(tmp_path: Path) -> None:
    parts = split(SAMPLES / "lab.pcapng", tmp_path / "ring", 100)
    damaged = parts[2]
    damaged.write_bytes(damaged.read_bytes()[:-30])
    inputs = timeline_inputs(expand_inputs([tmp_path / "ring"]))
    errors: list[tuple[str, str, int]] = []
    items = list(Timeline(on_damage=lambda i, e, n: errors.append((i.label, str(e), n))).read_all(inputs))
    assert [label for label, _, _ in errors] == [damaged.name]
    assert "damaged or was cut short" in errors[0][1]
    sources = {item.provenance.source for item in items if isinstance(item, HttpExchange)}
    assert parts[-1].name in sources  # files after the damaged one were read


@needs_editcap
@pytest.mark.parametrize("shards", [2, 3, 5])
def test_shards_joined_give_what_one_reader_gives(tmp_path: Path, shards: int) -> None:
    """The unit of work of --jobs (and of whoever runs parts elsewhere): shards of the connections of every file,
    read apart and joined, are the sequential timeline item for item, ids included."""
    split(SAMPLES / "lab-tls.pcapng", tmp_path / "ring", 13)
    inputs = timeline_inputs(expand_inputs([tmp_path / "ring", SAMPLES / "lab.har"]))
    sequential = list(Timeline(on_damage=lambda *_: None).read_all(inputs))
    parts = [read_part(inputs, Shard(index, shards)) for index in range(shards)]
    joined = list(join(parts))
    assert joined == sequential
    assert sum(isinstance(item, HttpExchange) for item in joined) == 46
    assert sum(bool(part.captures) for part in parts) >= 2  # the connections were really spread


def test_this_process_is_one_of_the_jobs_and_the_others_read() -> None:
    assert [readers(jobs) for jobs in (1, 2, 3, 8)] == [1, 1, 2, 7]


@needs_editcap
@pytest.mark.parametrize("jobs", [2, 3], ids=["one-reader", "two-shards"])
def test_jobs_write_the_report_one_process_writes_byte_for_byte(tmp_path: Path, jobs: int) -> None:
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 45)
    paths = [tmp_path / "ring", SAMPLES / "lab-tls.pcapng", SAMPLES / "lab.har"]
    assert report_text(paths, jobs=jobs) == report_text(paths)
    # ... and so the single-file run's report, but for the ids and sources that name the ring files
    split_by_jobs = dict(json.loads(report_text([tmp_path / "ring"], jobs=jobs)))
    assert normalised(split_by_jobs) == normalised(report([SAMPLES / "lab.pcapng"]))
    assert report_text([SAMPLES / "lab-tls.pcapng"], jobs=jobs) == report_text([SAMPLES / "lab-tls.pcapng"])


@needs_editcap
@pytest.mark.parametrize("jobs", [2, 3], ids=["one-reader", "two-shards"])
def test_jobs_report_a_damaged_file_as_one_process_does(tmp_path: Path, jobs: int) -> None:
    parts = split(SAMPLES / "lab.pcapng", tmp_path / "ring", 100)
    parts[2].write_bytes(parts[2].read_bytes()[:-30])
    one: list[str] = []
    two: list[str] = []
    assert report_text([tmp_path / "ring"], jobs=jobs, errors=two) == report_text([tmp_path / "ring"], errors=one)
    assert one == two
    assert len(one) == 1
    assert parts[2].name in one[0]


@pytest.mark.parametrize("jobs", [2, 3], ids=["one-reader", "two-shards"])
def test_jobs_report_a_cut_har_beside_a_capture_as_one_process_does(tmp_path: Path, jobs: int) -> None:
    """A HAR cut short is read as far as it goes and named once; with one reader it is read in the reader, with
    shards here."""
    cut = tmp_path / "cut.har"
    whole = (SAMPLES / "lab.har").read_bytes()
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    paths = [SAMPLES / "lab.pcapng", cut]
    one: list[str] = []
    many: list[str] = []
    assert report_text(paths, jobs=jobs, errors=many) == report_text(paths, errors=one)
    assert one == many
    assert len(one) == 1 and "cut.har" in one[0]


@needs_editcap
def test_a_fallback_whose_401_and_retry_fall_in_two_files_is_found(tmp_path: Path) -> None:
    """lab.pcapng: the Bearer attempt of 10.0.0.20 is refused (401, frames 437-458) and the Basic retry begins at
    frame 460. Cut between them, the fallback spans the two files: one timeline finds it; judged separately, the
    second file's Basic request has no refused attempt before it, and the first file's never sees the retry."""
    folder = tmp_path / "cut"
    folder.mkdir()
    for name, frames in (("a.pcapng", "1-459"), ("b.pcapng", "460-100000")):
        subprocess.run(["editcap", "-r", str(SAMPLES / "lab.pcapng"), str(folder / name), frames], check=True)
    whole = report([SAMPLES / "lab.pcapng"])
    joined = report([folder])
    apart = report([folder], separately=True)
    assert normalised(joined) == normalised(whole)
    fallbacks = [f for f in joined["findings"] if f["rule"] == "basic-fallback"]
    assert [(f["exchange"], f["evidence"]["oauth_attempt"]) for f in fallbacks] == [("b.pcapng:1", "a.pcapng:19")]
    assert not [f for f in apart["findings"] if f["rule"] == "basic-fallback"]


@needs_editcap
def test_a_ring_of_hundreds_of_files_keeps_few_open(tmp_path: Path) -> None:
    """564 one-frame files read under a limit of 48 open descriptors: files are opened as the timeline reaches
    them and closed when read, so the run reads them all and reports what the whole capture reports."""
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 1)
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "from inspector.cli import main\n"
        "main()\n"
    )
    command = [sys.executable, "-c", script, "analyze", str(tmp_path / "ring"), "--format", "json", "-q"]
    done = subprocess.run([*command, "--fail-on", "never"], capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["errors"] == []
    whole_command = [sys.executable, "-m", "inspector", "analyze", str(SAMPLES / "lab.pcapng"), "--format", "json"]
    whole_run = subprocess.run([*whole_command, "-q", "--fail-on", "never"], capture_output=True, text=True, check=True)
    whole = json.loads(whole_run.stdout)
    assert document["summary"] == whole["summary"]


def test_a_request_head_in_several_segments_keeps_its_place_across_shards(tmp_path: Path) -> None:
    """A's head is cut into segments and B's whole exchange happens between its first and last: one reader outputs
    B first (A's request is not complete yet); shards that read A and B apart must join into the same order."""

    def shard_of(port: int) -> int:
        segment = (socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"), port, 80, 0, 0, 0, b"")
        return next(index for index in range(2) if Shard(index, 2).keeps(segment))

    other = next(port for port in range(50001, 50100) if shard_of(port) != shard_of(50000))
    a = Conversation(client=("10.0.0.1", 50000)).handshake()
    a.send(
        True, b"GET /a HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + b"x" * 100 + b"\r\n\r\n", mss=40, acked=False
    )
    b = Conversation(client=("10.0.0.1", other)).handshake()
    b.send(True, b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
    b.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    a.send(False, b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
    packets = a.packets(a.segments[:4]) + b.packets() + a.packets(a.segments[4:])
    path = tmp_path / "x.pcap"
    path.write_bytes(write_pcap(frames_of(packets)))
    inputs = [TimelineInput(path, "pcap", "x.pcap")]
    one = list(Timeline(on_damage=lambda *_: None).read_all(inputs))
    joined = list(join([read_part(inputs, Shard(index, 2)) for index in range(2)]))
    assert [item.request.target for item in one if isinstance(item, HttpExchange)] == ["/b", "/a"]
    assert joined == one


def _spool_in_thread(path: Path, count: int) -> tuple[threading.Thread, list[bool]]:
    """A paced writer of ``count`` entries in a thread (a worker process in a run); ``done`` says it returned."""
    done: list[bool] = []

    def write() -> None:
        timeline._spool_all(str(path), iter(range(count)), paced=True)
        done.append(True)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread, done


def test_a_paced_spool_waits_for_its_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer faster than its reader stays at most SPOOL_AHEAD (and the frame that crossed it) ahead, so a HAR read
    faster than it is judged never sits in the temporary folder whole; the reader still gets every entry."""
    monkeypatch.setattr(timeline, "SPOOL_BATCH", 10)
    monkeypatch.setattr(timeline, "SPOOL_AHEAD", 200)
    path = tmp_path / "part"
    thread, done = _spool_in_thread(path, 2000)
    got: list[object] = []
    ahead = 0
    for value in timeline.spooled_timeline(str(path), lambda: bool(done)):
        got.append(value)
        if len(got) % 10 == 0:
            time.sleep(0.001)  # a slow judge
            ahead = max(ahead, path.stat().st_size - timeline._read_mark(str(path)) if path.exists() else 0)
    thread.join(5)
    assert got == list(range(2000))
    frame = len(pickle.dumps(list(range(1990, 2000)), protocol=pickle.HIGHEST_PROTOCOL)) + 8
    assert 0 < ahead <= 200 + 2 * frame


@pytest.mark.parametrize("read", [25, 0], ids=["reading", "never-started"])
def test_a_released_spool_stops_its_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: int) -> None:
    """A run that fails releases its spools: the writer, waiting while it is ahead, ends instead of waiting for ever
    (the pool's shutdown waits for it), also when the failure came before the spool's stream was started."""
    monkeypatch.setattr(timeline, "SPOOL_BATCH", 10)
    monkeypatch.setattr(timeline, "SPOOL_AHEAD", 200)
    path = tmp_path / "part"
    thread, done = _spool_in_thread(path, 100_000)
    stream = timeline.spooled_timeline(str(path), lambda: bool(done))
    assert [next(stream) for _ in range(read)] == list(range(read))
    time.sleep(0.05)  # the writer gets ahead and waits
    timeline.release_spool(str(path))
    thread.join(5)
    assert done and not thread.is_alive()
    assert path.stat().st_size < 100_000  # it stopped: nowhere near every entry was written


def test_a_reader_that_stops_early_stops_a_writer_that_is_not_ahead(tmp_path: Path) -> None:
    """Below the bound too: a failed run does not wait for its readers to read everything for nothing."""
    path = tmp_path / "part"
    endless = itertools.count()
    done: list[bool] = []
    thread = threading.Thread(
        target=lambda: (timeline._spool_all(str(path), endless, paced=True), done.append(True)), daemon=True
    )
    thread.start()
    stream = timeline.spooled_timeline(str(path), lambda: bool(done))
    assert next(stream) == 0
    timeline.release_spool(str(path))
    thread.join(5)
    assert done and not thread.is_alive()
    assert path.stat().st_size < timeline.SPOOL_AHEAD // 8  # it stopped at once, not at the bound


@needs_editcap
def test_a_paced_pipeline_and_paced_shards_report_as_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers that keep waiting for the judge (a tiny SPOOL_AHEAD, inherited by the forked workers) change nothing
    in the report."""
    monkeypatch.setattr(timeline, "SPOOL_BATCH", 4)
    monkeypatch.setattr(timeline, "SPOOL_AHEAD", 1)
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 45)
    paths = [tmp_path / "ring", SAMPLES / "lab.har"]
    one = report_text(paths)
    assert report_text(paths, jobs=2) == one
    assert report_text(paths, jobs=3) == one


class _FailingWriter(JsonlWriter):
    """A writer that fails on the fifth exchange, as a full disk would."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), show_secrets=False)
        self.seen = 0

    def exchange(self, result: ExchangeResult) -> None:
        self.seen += 1
        if self.seen == 5:
            raise OSError("no space left on device")
        super().exchange(result)


@needs_editcap
@pytest.mark.parametrize("jobs", [2, 3], ids=["one-reader", "two-shards"])
def test_a_run_that_fails_while_its_readers_wait_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    """The judging process fails while its readers wait for it (a tiny SPOOL_AHEAD): the failure is raised, not a
    pool that waits for readers that wait for it."""
    monkeypatch.setattr(timeline, "SPOOL_BATCH", 4)
    monkeypatch.setattr(timeline, "SPOOL_AHEAD", 1)
    split(SAMPLES / "lab.pcapng", tmp_path / "ring", 45)
    trust = build_trust(certs=[SAMPLES / "OAuthCert.cer"])
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_timeline_parallel(
                expand_inputs([tmp_path / "ring"]), trust, Policy(), _FailingWriter(), Totals(), jobs=jobs
            )
        except OSError as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the run hung"
    assert [str(exc) for exc in raised] == ["no space left on device"]
