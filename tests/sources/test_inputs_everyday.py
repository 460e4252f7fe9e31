"""Inputs as a day of real use brings them: ids unique across files, the same file once, standard input, pipes,
compressed files, ring-buffer folders in capture-time order, and nothing skipped silently."""

from __future__ import annotations

import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner

from inspector.cli import main
from inspector.sources.dispatch import collect_inputs, first_frame_time
from tests.corpus import REPO
from tests.sources.pcap.capture_builder import frames_of, write_pcap
from tests.sources.pcap.test_reader import CHALLENGE, REQUEST, conversation

SAMPLES = REPO / "captures" / "lab"


def analyze_json(*args: str, stdin: bytes | None = None) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["analyze", *args, "--format", "json", "-q"], input=stdin)
    return result.exit_code, json.loads(result.stdout)


def test_ids_are_unique_across_the_lab_folder_and_name_the_file() -> None:
    _code, report = analyze_json(str(SAMPLES))
    ids = [e["id"] for e in report["exchanges"]]  # type: ignore[index, union-attr]
    assert len(ids) == len(set(ids)) > 60
    for exchange in report["exchanges"]:  # type: ignore[union-attr]
        assert exchange["id"].startswith(exchange["source"] + ":")  # type: ignore[index]
    assert {e["source"] for e in report["exchanges"]} == {  # type: ignore[union-attr, index]
        "lab.har",
        "lab.mitm",
        "lab.pcapng",
        "lab-tls.pcapng",
    }


def test_two_files_of_the_same_name_stay_apart_and_sarif_names_them(tmp_path: Path) -> None:
    for folder in ("site1", "site2"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / "lab.har", tmp_path / folder / "trace.har")
    _, report = analyze_json(str(tmp_path))
    sources = {e["source"] for e in report["exchanges"]}  # type: ignore[union-attr, index]
    assert sources == {"site1/trace.har", "site2/trace.har"}
    result = CliRunner().invoke(main, ["analyze", str(tmp_path), "--format", "sarif", "-q"])
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(result.stdout)["runs"][0]["results"]
        for loc in r.get("locations", [])
        if "physicalLocation" in loc
    }
    assert uris == {"site1/trace.har", "site2/trace.har"}


def test_the_same_file_named_twice_is_read_once(tmp_path: Path) -> None:
    link = tmp_path / "again.har"
    link.symlink_to(SAMPLES / "lab.har")
    _, once = analyze_json(str(SAMPLES / "lab.har"))
    _, twice = analyze_json(str(SAMPLES / "lab.har"), str(SAMPLES / "lab.har"), str(link))
    assert twice["summary"]["exchanges"] == once["summary"]["exchanges"] == 23  # type: ignore[index]


def test_standard_input_is_read() -> None:
    _code, report = analyze_json("-", stdin=(SAMPLES / "lab.har").read_bytes())
    assert report["summary"]["exchanges"] == 23  # type: ignore[index]
    assert report["exchanges"][0]["id"] == "stdin:1"  # type: ignore[index]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, lzma.compress, lambda data: zstandard.ZstdCompressor().compress(data)],
    ids=["gzip", "xz", "zstd"],
)
@pytest.mark.parametrize("name", ["lab.har", "lab.pcapng", "lab.mitm"])
def test_compressed_inputs_are_read_through_whatever_their_name(tmp_path: Path, compress: object, name: str) -> None:
    target = tmp_path / "capture.bin"  # the name says nothing; the magic number decides
    target.write_bytes(compress(SAMPLES.joinpath(name).read_bytes()))  # type: ignore[operator]
    _, plain = analyze_json(str(SAMPLES / name))
    _, packed = analyze_json(str(target))
    assert packed["summary"] == plain["summary"]
    assert packed["exchanges"][0]["id"] == "capture.bin:1"  # type: ignore[index]


def test_a_damaged_compressed_file_reports_what_was_read(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcapng.gz"
    cut.write_bytes(gzip.compress(SAMPLES.joinpath("lab.pcapng").read_bytes())[:4000])
    code, report = analyze_json(str(cut))
    assert code == 3
    [failure] = report["errors"]  # type: ignore[misc]
    assert failure["file"] == "cut.pcapng.gz"
    assert str(tmp_path / "oauth-inspector-input") not in failure["reason"]


@pytest.mark.skipif(sys.platform == "win32", reason="process substitution needs a POSIX shell")
def test_a_named_pipe_and_process_substitution_are_streamed(tmp_path: Path) -> None:
    packed = tmp_path / "lab.pcapng.gz"
    packed.write_bytes(gzip.compress(SAMPLES.joinpath("lab.pcapng").read_bytes()))
    script = f'"{sys.executable}" -m inspector analyze <(zcat "{packed}") --format json -q'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["exchanges"] == 23
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(
        [sys.executable, "-m", "inspector", "analyze", str(fifo), "--format", "json", "-q"], stdout=subprocess.PIPE
    )
    with fifo.open("wb") as pipe:
        pipe.write(SAMPLES.joinpath("lab.har").read_bytes())
    out, _ = reader.communicate(timeout=120)
    assert json.loads(out)["summary"]["exchanges"] == 23


_ENDLESS = (
    "import sys\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "out = sys.stdout.buffer\n"
    "out.write(data[:24])\n"
    "while True:\n"
    "    out.write(data[24:] * 64)\n"
)
"""A pcap stream that never ends: the header of a small capture, then its records again and again."""


@pytest.mark.skipif(sys.platform == "win32", reason="pipes and a POSIX shell")
@pytest.mark.parametrize("through", ["plain", "gzip"])
def test_an_endless_pipe_stops_at_the_spool_limit(through: str, tmp_path: Path) -> None:
    """A hostile endless stream (plain, or through ``gzip -c``: a bomb with no end) fills neither memory nor disk:
    the copy stops at --spool-limit, what came before is analysed, and the input is reported as not read to its
    end (exit 3). The temporary copy is gone afterwards."""
    one = tmp_path / "one.pcap"
    one.write_bytes(_capture_at(1_800_000_000))
    spool = tmp_path / "tmp"
    spool.mkdir()
    squeeze = " | gzip -1 -c" if through == "gzip" else ""
    script = (
        f'"{sys.executable}" -c "$ENDLESS" "{one}" 2>/dev/null{squeeze} | '
        f'"{sys.executable}" -m inspector analyze - --spool-limit 8M --format json -q'
    )
    env = {**os.environ, "ENDLESS": _ENDLESS, "TMPDIR": str(spool)}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, timeout=180, check=False, env=env)
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    [failure] = report["errors"]
    assert failure["file"] == "stdin"
    assert "over the spool limit of 8 MiB" in failure["reason"] and "--spool-limit" in failure["reason"]
    assert failure["exchanges_read"] >= 1 and report["summary"]["exchanges"] >= 1  # what came before: analysed
    assert b"Traceback" not in proc.stderr
    assert list(spool.iterdir()) == []


def test_a_stream_under_the_limit_is_read_whole(tmp_path: Path) -> None:
    """The close case: the same kind of pipe, finite and under the limit, is read to its end (exit 1: its
    findings), with no error."""
    packed = gzip.compress(SAMPLES.joinpath("lab.pcapng").read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", "-", "--spool-limit", "64M", "--format", "json", "-q"],
        input=packed,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["errors"] == [] and report["summary"]["exchanges"] == 23
    bad = subprocess.run(
        [sys.executable, "-m", "inspector", "analyze", "-", "--spool-limit", "lots"],
        input=packed,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and b"--spool-limit 'lots' is not a size" in bad.stderr


def _capture_at(seconds: int) -> bytes:
    packets = conversation(REQUEST, CHALLENGE).packets()
    return write_pcap(frames_of(packets, start_us=seconds * 1_000_000))


def test_a_ring_buffer_folder_is_read_in_capture_time_order(tmp_path: Path) -> None:
    # dumpcap -b names files with a counter and a time; a counter that wrapped puts the newest first by name.
    (tmp_path / "ring_00001.pcap").write_bytes(_capture_at(1_800_000_300))
    (tmp_path / "ring_00002.pcap").write_bytes(_capture_at(1_800_000_100))
    (tmp_path / "ring_00003.pcap").write_bytes(gzip.compress(_capture_at(1_800_000_200)))
    order = [p.name for p, _ in collect_inputs([tmp_path]).inputs]
    assert order == ["ring_00002.pcap", "ring_00003.pcap", "ring_00001.pcap"]
    assert first_frame_time(tmp_path / "ring_00002.pcap") == 1_800_000_100 * 1_000_000


def test_a_folder_lists_every_file_it_did_not_read(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "lab.har", tmp_path / "lab.har")
    (tmp_path / "notes.txt").write_text("not a capture")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    _code, report = analyze_json(str(tmp_path))
    skipped = {Path(s["file"]).name: s["reason"] for s in report["skipped"]}  # type: ignore[union-attr, index]
    assert set(skipped) == {"notes.txt", "broken.gz"}
    assert "not a pcap/pcapng capture" in skipped["notes.txt"]
    assert "gzip-compressed but damaged" in skipped["broken.gz"]
    table = CliRunner().invoke(main, ["analyze", str(tmp_path)]).stdout
    assert "Not read (2):" in table and "notes.txt" in table


def test_a_named_file_that_is_damaged_from_the_start_does_not_stop_the_others(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pcap.gz"
    broken.write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    code, report = analyze_json(str(broken), str(SAMPLES / "lab.har"))
    assert code == 3
    assert report["summary"]["exchanges"] == 23  # type: ignore[index]
    [failure] = report["errors"]  # type: ignore[misc]
    assert "gzip-compressed but damaged" in failure["reason"] and failure["exchanges_read"] == 0
