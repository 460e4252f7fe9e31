"""The ring-buffer folder: which file belongs to which ring, which files are closed, and the polling loop reading
each file once, in capture-time order, the open ones only at the stop."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from inspector import follow
from inspector.follow import Candidate, Follower, closed_files, cut_at, ring_number, ring_of
from tests.corpus import REPO

LAB = REPO / "captures" / "lab"


@pytest.mark.parametrize(
    ("names", "same"),
    [
        (["trace.pcap", "trace.pcap1", "trace.pcap12"], True),  # tcpdump -C -w trace.pcap
        (["ring_00001_20261207060000.pcapng", "ring_00002_20261207060105.pcapng"], True),  # dumpcap -b
        (["cap-20261207-0600.pcap", "cap-20261207-0601.pcap"], True),  # tcpdump -G -w cap-%Y%m%d-%H%M.pcap
        (["exch1.pcap", "other.pcap"], False),
        (["exch01.pcap", "exch02.pcap"], False),  # two servers' captures in one folder (found by review)
        (["ex01_00001_20261207060000.pcapng", "ex02_00001_20261207060000.pcapng"], False),  # two servers' dumpcap rings
        (["exch01.pcap", "exch01.pcap1", "exch01.pcap2"], True),  # one server's tcpdump -C ring
        (["w.pcapng00", "w.pcapng01", "w.pcapng10"], True),  # tcpdump -C -W 100: zero-padded, from 0
        (["ring", "ring1", "ring2"], True),  # tcpdump -C -w ring
        (["exch01", "exch02"], False),
        (["ring_00001_20261207060000.pcapng", "ring_00001_20261207060000.pcap"], False),
        # a name ending in a newline: its counter is after it (found by the fuzz harness: "$" matched before it)
        (["1\n", "1\n1", "1\n2"], True),
        (["cap\n_00001_20261207060000.pcapng", "cap\n_00002_20261207060105.pcapng"], True),
    ],
)
def test_files_of_one_ring_share_its_name(names: list[str], same: bool) -> None:
    assert (len({ring_of(name) for name in names}) == 1) is same


def test_a_counter_is_the_end_of_the_name_not_the_end_of_a_line() -> None:
    assert ring_number("trace\n7") == 7
    assert ring_number("trace7\n") == 0
    assert ring_number("ring\n_00003_20261207060000.pcapng") == 3


def test_the_counter_orders_files_that_start_at_the_same_time() -> None:
    assert [ring_number(n) for n in ["trace.pcap", "trace.pcap1", "trace.pcap12"]] == [0, 1, 12]
    assert ring_number("ring_00042_20261207060000.pcapng") == 42


def _candidate(name: str, first: int | None, kind: str = "pcap", modified: int = 0) -> Candidate:
    return Candidate(Path(name), kind, first, modified)  # type: ignore[arg-type]


def test_a_file_is_closed_when_a_newer_file_of_its_ring_exists() -> None:
    files = [
        _candidate("a.pcap2", 30),
        _candidate("a.pcap", 10),
        _candidate("a.pcap1", 20),
        _candidate("b_00001_20261207060000.pcapng", 15),
        _candidate("b_00002_20261207060100.pcapng", None, modified=40),  # just created: no frame yet, newest
        _candidate("session.har", None, "har"),  # written whole by its tool
    ]
    closed = [c.path.name for c in closed_files(files)]
    assert closed == ["a.pcap", "b_00001_20261207060000.pcapng", "a.pcap1", "session.har"]


def test_an_empty_file_left_long_ago_does_not_pass_for_the_newest() -> None:
    # tcpdump -G 1 opens its first file at start; the first packet, seconds later, goes to the next file.
    files = [
        _candidate("exch-1796627265.pcap", None, modified=1796627265_000000),
        _candidate("exch-1796627271.pcap", 1796627271_100000, modified=1796627271_900000),
        _candidate("exch-1796627272.pcap", 1796627272_000000, modified=1796627272_500000),  # being written
    ]
    assert [c.path.name for c in closed_files(files)] == ["exch-1796627265.pcap", "exch-1796627271.pcap"]


def _split(tmp_path: Path) -> list[Path]:
    if shutil.which("editcap") is None:
        pytest.skip("editcap (wireshark-common) is not installed")
    folder = tmp_path / "split"
    folder.mkdir()
    subprocess.run(["editcap", "-c", "200", str(LAB / "lab.pcapng"), str(folder / "ring.pcapng")], check=True)
    return sorted(folder.iterdir())


def test_the_loop_reads_closed_files_as_they_close_and_the_rest_at_the_stop(tmp_path: Path) -> None:
    parts = _split(tmp_path)
    assert len(parts) == 3
    ring = tmp_path / "ring"
    ring.mkdir()
    read: list[str] = []
    follower = Follower(ring, lambda files: read.extend(f"{path.name}:{kind}" for path, kind in files))
    shutil.copy(parts[0], ring)
    (ring / "notes.txt").write_text("not a capture")
    assert follower.poll() == 0  # the only file of its ring is still being written
    shutil.copy(parts[1], ring)
    assert follower.poll() == 1
    assert read == [f"{parts[0].name}:pcap"]
    assert follower.poll() == 0  # read once
    shutil.copy(parts[2], ring)
    follower.poll()
    assert follower.poll(final=True) == 1
    assert read == [f"{p.name}:pcap" for p in parts]
    assert [Path(u.file).name for u in follower.not_inputs] == ["notes.txt"]


def test_files_already_there_are_read_first_in_capture_time_order(tmp_path: Path) -> None:
    parts = _split(tmp_path)
    ring = tmp_path / "ring"
    ring.mkdir()
    # tcpdump -C names: name, name1, name2; given out of name order to show that capture time decides.
    for index, part in enumerate(parts):
        shutil.copy(part, ring / ("trace.pcapng" + (str(index) if index else "")))
    stop = threading.Event()
    stop.set()  # stopped before it starts: one final look reads everything, oldest first
    batches: list[list[str]] = []
    Follower(ring, lambda files: batches.append([path.name for path, _ in files]), stop=stop).run()
    # The closed files together, as `analyze DIR` reads them; then the one still open.
    assert batches == [["trace.pcapng", "trace.pcapng1"], ["trace.pcapng2"]]


@pytest.mark.parametrize("size", [0, 12, 30])
def test_an_open_file_without_a_whole_header_is_not_read_at_the_stop(tmp_path: Path, size: int) -> None:
    """The writer has just opened its next file (found by review: read as an empty copy, exit 3, a temp name)."""
    parts = _split(tmp_path)
    ring = tmp_path / "ring"
    ring.mkdir()
    shutil.copy(parts[0], ring / "live.pcapng")
    (ring / "live.pcapng1").write_bytes(parts[1].read_bytes()[:size])
    given: list[str] = []
    Follower(ring, lambda files: given.extend(path.name for path, _ in files)).poll(final=True)
    assert given == ["live.pcapng"]


def test_an_open_file_cut_in_a_record_is_read_to_its_last_whole_record(tmp_path: Path) -> None:
    parts = _split(tmp_path)
    ring = tmp_path / "ring"
    ring.mkdir()
    shutil.copy(parts[0], ring / "live.pcapng")
    whole = parts[1].read_bytes()
    (ring / "live.pcapng1").write_bytes(whole[:-30])  # the writer is in the middle of the last record
    assert cut_at(ring / "live.pcapng1") is not None
    assert cut_at(ring / "live.pcapng") is None
    given: list[tuple[Path, bytes, int | None]] = []
    follower = Follower(ring, lambda files: given.extend((p, p.read_bytes(), cut_at(p)) for p, _ in files))
    follower.poll(final=True)
    assert [follower.original(path).name for path, _, _ in given] == ["live.pcapng", "live.pcapng1"]
    copied, content, cut = given[1]
    assert copied != ring / "live.pcapng1" and copied.exists()  # a copy, kept while the timeline may read it
    follower.close()
    assert not copied.exists()
    assert cut is None  # whole records only
    assert whole.startswith(content) and 0 < len(content) < len(whole) - 30


def test_a_wrapped_ring_file_with_new_content_is_read_again(tmp_path: Path) -> None:
    parts = _split(tmp_path)
    ring = tmp_path / "ring"
    ring.mkdir()
    read: list[str] = []
    follower = Follower(ring, lambda files: read.extend(path.name for path, _ in files))
    shutil.copy(parts[0], ring / "w.pcapng0")
    shutil.copy(parts[1], ring / "w.pcapng1")
    follower.poll()
    shutil.copy(parts[2], ring / "w.pcapng0")  # tcpdump -W 2: the oldest name is written again
    follower.poll(final=True)
    assert read == ["w.pcapng0", "w.pcapng1", "w.pcapng0"]


def test_a_folder_of_too_many_files_is_read_up_to_the_cap_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follow, "MAX_FOLDER_FILES", 2)
    for name in ("a.har", "b.har", "c.har"):
        shutil.copy(LAB / "lab.har", tmp_path / name)
    found, others = follow.scan(tmp_path)
    assert [c.path.name for c in found] == ["a.har", "b.har"]
    assert [u.reason for u in others] == ["more than 2 files; the rest were not read"]


def test_a_folder_that_goes_away_ends_the_run_saying_why(tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    shutil.copy(LAB / "lab.har", ring)
    read: list[str] = []
    follower = Follower(ring, lambda files: read.extend(path.name for path, _ in files), interval=0.01)
    follower.poll()
    shutil.rmtree(ring)
    follower.run()  # returns at once: nothing to follow
    assert read == ["lab.har"]
    assert follower.failed is not None and "Cannot read folder" in follower.failed


def test_a_file_that_cannot_be_read_is_listed_with_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.pcap"
    shutil.copy(LAB / "lab.pcapng", locked)

    def denied(path: Path) -> None:  # as open() fails on a file of mode 000 for anyone but root
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(follow, "kind_of", denied)
    found, others = follow.scan(tmp_path)
    assert not found
    assert [u.file for u in others] == [str(locked)] and "Permission denied" in others[0].reason


def test_the_report_written_into_the_folder_is_not_listed_as_a_skipped_file(tmp_path: Path) -> None:
    shutil.copy(LAB / "lab.har", tmp_path)
    (tmp_path / "report.json").write_text("{}", encoding="utf-8")
    follower = Follower(tmp_path, lambda _: None, leave_out=frozenset({"report.json"}))
    follower.poll(final=True)
    assert follower.not_inputs == []  # found by review: it was "not a pcap/pcapng capture, HAR or ..."
    _, others = follow.scan(tmp_path)
    assert [Path(u.file).name for u in others] == ["report.json"]
