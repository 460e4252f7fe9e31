"""Time the capture reader against tshark and scapy on the same file, and count the Authorization headers each
finds.

    uv run python bench/pcap/make_capture.py /tmp/bench.pcap --packets 300000
    uv run python bench/pcap/bench_reader.py /tmp/bench.pcap [--rounds 5] [--formats json,jsonl,table]

The main tools run in interleaved rounds (every tool once per round, in turn), and the table shows the median with
[min-max] of the rounds, wall and CPU time, and the ratio to ``tshark-ooo`` taken within each round: the machine
this was written on is shared, and a burst of outside load slows one round's tools alike.

Each tool runs in a process of its own, so that its peak RSS is its own (``ru_maxrss`` of that child):

* ``reader``: ``inspector.sources.pcap.read_capture``, counting ``Authorization`` headers of the exchanges.
* ``tshark-ooo``: ``tshark -o tcp.reassemble_out_of_order:TRUE -Y http.authorization -T fields -e
  http.authorization`` (one line per header), and ``tshark`` the same with its default settings.
* ``scapy``: the obvious approach: ``PcapReader`` with full dissection of every packet, TCP payloads kept per
  flow and reassembled by sequence number at the end, headers found with a regex. It is slow, so it runs on the
  first ``--scapy-packets`` packets, written to a smaller file (the reader also runs on that file, to compare
  counts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared pycache helper
from pycache import use_bytecode_cache

REPO = Path(__file__).resolve().parents[2]


def run_reader(path: Path) -> dict[str, float | int]:
    sys.path.insert(0, str(REPO))
    from inspector.model import HttpExchange
    from inspector.sources.pcap import CaptureProgress, read_capture

    last: list[CaptureProgress] = []
    start = time.perf_counter()
    cpu = time.process_time()
    exchanges = headers = 0
    for item in read_capture(path, progress=last.append):
        if isinstance(item, HttpExchange):
            exchanges += 1
            headers += len(item.request.header_all("authorization"))
    return {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "packets": last[-1].packets if last else 0,
        "authorization": headers,
        "exchanges": exchanges,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_scapy(path: Path) -> dict[str, float | int]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import PcapReader

    start = time.perf_counter()
    flows: dict[tuple[object, ...], dict[int, bytes]] = {}
    packets = 0
    with PcapReader(str(path)) as reader:
        for packet in reader:
            packets += 1
            if TCP not in packet:
                continue
            net = packet.getlayer(IP) or packet.getlayer(IPv6)
            if net is None:
                continue
            segment = packet[TCP]
            payload = bytes(segment.payload)
            if payload:
                key = (net.src, net.dst, segment.sport, segment.dport)
                flows.setdefault(key, {}).setdefault(segment.seq, payload)
    pattern = re.compile(rb"\r\nauthorization:", re.IGNORECASE)
    headers = 0
    for segments in flows.values():
        stream = b""
        expected = None
        for seq in sorted(segments):  # no wrap-around handling: the obvious approach
            data = segments[seq]
            if expected is not None and seq < expected:
                data = data[expected - seq :]
            stream += data
            expected = seq + len(segments[seq]) if expected is None else max(expected, seq + len(segments[seq]))
        headers += len(pattern.findall(stream))
    return {
        "seconds": time.perf_counter() - start,
        "packets": packets,
        "authorization": headers,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_tshark(path: Path, out_of_order: bool) -> dict[str, float | int]:
    command = ["tshark", "-n", "-r", str(path), "-Y", "http.authorization", "-T", "fields", "-e", "http.authorization"]
    if out_of_order:
        command[1:1] = ["-o", "tcp.reassemble_out_of_order:TRUE"]
    start = time.perf_counter()
    output = subprocess.run(command, capture_output=True, check=True).stdout
    seconds = time.perf_counter() - start
    headers = sum(len(line.split(b",")) for line in output.splitlines() if line.strip())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "authorization": headers,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def run_analyze(
    paths: list[Path], jobs: int, fmt: str = "json", *extra: str, tree: Path | None = None
) -> dict[str, float | int]:
    """The whole ``oauth-inspector analyze`` (tokens decoded and verified against the certificate written beside
    the capture, rules run, the report written in ``fmt``), as a user runs it. ``tree``: run from that copy of the
    tree (``bench/compiled.py`` makes one with the capture reader compiled, as a wheel installs it)."""
    executable = (
        [str(Path(sys.executable).with_name("oauth-inspector"))]
        if tree is None
        else [sys.executable, "-m", "inspector"]
    )
    certs = sorted(str(c) for c in paths[0].parent.glob("*.cer"))  # make_capture.py writes it beside the capture
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / f"report.{fmt}"
        command = [*executable, "analyze", *map(str, paths), "--format", fmt, "-o", str(report)]
        command += ["--fail-on", "never", "--quiet", "--jobs", str(jobs), *extra]
        for cert in certs[:1]:
            command += ["--cert", cert]
        start = time.perf_counter()
        subprocess.run(command, check=True, cwd=tree)
        seconds = time.perf_counter() - start
        text = report.read_text()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, float | int] = {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "authorization": -1,
    }
    if fmt == "json":
        document = json.loads(text)
        result["authorization"] = sum(1 for e in document["exchanges"] if e["auth"]["scheme"] is not None)
        result["verified"] = int(document["summary"]["signatures"].get("valid", 0))
        result["sha256"] = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
    elif fmt == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        result["authorization"] = sum(1 for r in lines if r.get("type") == "exchange" and r["auth"]["scheme"])
    return result


def measure(tool: str, path: Path, *extra: str) -> dict[str, float | int]:
    """Run one tool in a fresh process and return what it reported.

    The parent never reads the capture itself: Linux carries a process's peak RSS across ``exec``, so a big
    parent would inflate every child's figure.
    """
    output = subprocess.run(
        [sys.executable, __file__, "--one", tool, str(path), *extra], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float | int] = json.loads(output)
    return result


def cut_capture(path: Path, packets: int, target: Path) -> dict[str, float | int]:
    """Write the first ``packets`` frames of ``path`` to ``target``."""
    import mmap

    sys.path.insert(0, str(REPO))
    from inspector.sources.pcap.files import iter_records

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end = count = 0
        for _, _, _, record_end in iter_records(data):
            end = record_end
            count += 1
            if count == packets:
                break
        target.write_bytes(data[:end])
    return {"packets": count}


def count_packets(path: Path) -> dict[str, float | int]:
    import mmap

    sys.path.insert(0, str(REPO))
    from inspector.sources.pcap.files import iter_records

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return {"packets": sum(1 for _ in iter_records(data))}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} [{min(values):6.2f}-{max(values):6.2f}]"


def main(argv: list[str] | None = None) -> int:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--tools", default="analyze,reader,tshark-ooo,tshark,jobs1,scapy,jobs")
    parser.add_argument("--formats", default="json", help="formats of the interleaved analyze runs (json first)")
    parser.add_argument("--scapy-packets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians and [min-max] shown")
    parser.add_argument("--json-out", type=Path, help="also write every round's figures to this file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="json", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--compiled",
        type=Path,
        help="a copy of the tree with the capture reader compiled (bench/compiled.py DIR): the tools compiled and"
        " compiled-jobs1 run analyze from it",
    )
    args = parser.parse_args(argv)

    if args.one:
        runners = {
            "reader": lambda: run_reader(args.capture),
            "analyze": lambda: run_analyze([args.capture], 1, args.format),
            "analyze-jobs-2": lambda: run_analyze([args.capture], 2, args.format),
            "analyze-jobs-3": lambda: run_analyze([args.capture], 3, args.format),
            "compiled": lambda: run_analyze([args.capture], 1, args.format, tree=args.compiled),
            "compiled-jobs-2": lambda: run_analyze([args.capture], 2, args.format, tree=args.compiled),
            "analyze-2-files-jobs-1": lambda: run_analyze([args.capture, args.sample], 1, "json", "--separately"),
            "analyze-2-files-jobs-2": lambda: run_analyze([args.capture, args.sample], 2, "json", "--separately"),
            "scapy": lambda: run_scapy(args.capture),
            "tshark-ooo": lambda: run_tshark(args.capture, True),
            "tshark": lambda: run_tshark(args.capture, False),
            "count": lambda: count_packets(args.capture),
            "cut": lambda: cut_capture(args.capture, args.scapy_packets, args.sample),
        }
        print(json.dumps(runners[args.one]()))
        return 0

    tools = args.tools.split(",")
    packets = int(measure("count", args.capture)["packets"])
    size_mb = args.capture.stat().st_size / 1e6
    print(
        f"{args.capture}: {packets} packets, {size_mb:.0f} MB; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs;"
        f" load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    # One round runs every tool once, in turn, so that a burst of outside load slows the tools of a round alike;
    # the ratios to tshark are taken per round.
    jobs: dict[str, tuple[str, list[str]]] = {}
    if "analyze" in tools:
        for fmt in args.formats.split(","):
            jobs[f"analyze --format {fmt}"] = ("analyze", ["--format", fmt])
    if "jobs1" in tools:
        jobs["analyze --jobs 2 (one file)"] = ("analyze-jobs-2", [])
    if "jobs3" in tools:  # two readers (shards) beside the analysing process: three processes
        jobs["analyze --jobs 3 (one file)"] = ("analyze-jobs-3", [])
    if args.compiled is not None and "compiled" in tools:
        jobs["compiled: analyze --format json"] = ("compiled", ["--compiled", str(args.compiled)])
    if args.compiled is not None and "compiled-jobs1" in tools:
        jobs["compiled: --jobs 2 (one file)"] = ("compiled-jobs-2", ["--compiled", str(args.compiled)])
    if "reader" in tools:
        jobs["reader alone"] = ("reader", [])
    for tool in ("tshark-ooo", "tshark"):
        if tool in tools:
            if shutil.which("tshark") is None:
                print(f"{tool}: tshark is not installed, skipped")
                continue
            jobs[tool] = (tool, [])
    runs: dict[str, list[dict[str, float | int]]] = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, (tool, extra) in jobs.items():
            runs[name].append(measure(tool, args.capture, *extra))

    print(f"{args.rounds} interleaved rounds: median [min-max]; load average now {os.getloadavg()[0]:.2f}")
    print(
        f"{'tool':30} {'wall seconds':>22} {'cpu seconds':>22} {'packets/s':>10} {'x tshark-ooo':>20}"
        f" {'Authorization':>13} {'peak RSS MB':>11}"
    )
    reference = runs.get("tshark-ooo")
    for name, results in runs.items():
        walls = [float(r["seconds"]) for r in results]
        cpus = [float(r["cpu_seconds"]) for r in results if "cpu_seconds" in r]
        ratio = ""
        if reference:
            ratios = [float(t["seconds"]) / float(r["seconds"]) for r, t in zip(results, reference, strict=True)]
            ratio = f"{statistics.median(ratios):5.2f} [{min(ratios):4.2f}-{max(ratios):4.2f}]"
        counts = {int(r["authorization"]) for r in results}
        print(
            f"{name:30} {_spread(walls):>22} {_spread(cpus) if cpus else '':>22} "
            f"{packets / statistics.median(walls):10.0f} {ratio:>20} {'/'.join(map(str, sorted(counts))):>13} "
            f"{max(float(r['peak_rss_mb']) for r in results):11.0f}"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps({"packets": packets, "runs": runs}))
    hashes = {name: {r.get("sha256") for r in rs} for name, rs in runs.items() if "sha256" in rs[0]}
    if len({h for hs in hashes.values() for h in hs}) > 1:
        print(f"reports differ between runs: {hashes}")

    rows: list[tuple[str, int, dict[str, float | int]]] = []
    if "scapy" in tools:
        with tempfile.TemporaryDirectory() as folder:
            sample = Path(folder) / "sample.pcap"
            cut = measure("cut", args.capture, "--scapy-packets", str(args.scapy_packets), "--sample", str(sample))
            sampled = int(cut["packets"])
            rows.append((f"reader (first {sampled})", sampled, measure("reader", sample)))
            rows.append((f"scapy (first {sampled})", sampled, measure("scapy", sample)))
    if "jobs" in tools and shutil.which("editcap") is not None:
        with tempfile.TemporaryDirectory() as folder:
            # Two files of their own, the capture's halves, read --separately (files in parallel): a link or a copy
            # of one file is the same input to `analyze`, read once.
            halves = [Path(folder) / "first.pcap", Path(folder) / "second.pcap"]
            middle = packets // 2
            for half, frames in zip(halves, (f"1-{middle}", f"{middle + 1}-{packets}"), strict=True):
                subprocess.run(["editcap", "-r", str(args.capture), str(half), frames], check=True)
            for cert in args.capture.parent.glob("*.cer"):
                (Path(folder) / cert.name).symlink_to(cert.resolve())
            for count in (1, 2):
                result = measure(f"analyze-2-files-jobs-{count}", halves[0], "--sample", str(halves[1]))
                rows.append((f"2 halves --separately --jobs {count}", packets, result))
    if rows:
        print("once each:")
        print(f"{'tool':30} {'packets':>9} {'seconds':>8} {'packets/s':>10} {'Authorization':>13} {'peak RSS MB':>11}")
    for name, count, result in rows:
        seconds = float(result["seconds"])
        print(
            f"{name:30} {count:9d} {seconds:8.2f} {count / seconds:10.0f} {int(result['authorization']):13d} "
            f"{float(result['peak_rss_mb']):11.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
