"""Decrypting TLS captures: ``oauth-inspector analyze --keylog`` against tshark with the same key log, and the
same traffic in clear for memory, in the same run, interleaved, median of ``--rounds``.

    sudo uv run python bench/pcap/make_tls_capture.py /tmp/tlsbench
    uv run python bench/pcap/bench_tls.py /tmp/tlsbench

Tools (each in a process of its own; its peak RSS is ``ru_maxrss`` of that child):

* ``analyze-tls``: ``oauth-inspector analyze tls.pcap --keylog keys.log --format json`` (exchanges with an
  Authorization header counted from the report).
* ``analyze-plain``: the same command on ``plain.pcap`` (the same requests without TLS).
* ``tshark-tls``: ``tshark -o tls.keylog_file:keys.log -o tcp.reassemble_out_of_order:TRUE -Y http.authorization
  -T fields -e http.authorization`` (one line per header): the yardstick of issue 13.
* ``tshark-tls-heuristic``: the same with ``-o tcp.try_heuristic_first:TRUE``. tshark picks a dissector by the lower
  port of a connection first, so a connection whose client port is registered to another protocol (44818,
  EtherNet/IP, say) is not read as TLS and its requests are missed; with the heuristics first it finds every header.
* ``scapy-tls`` (``--scapy``): scapy's TLS layer with ``conf.tls_nss_filename`` over the first
  ``--scapy-packets`` packets (cut with editcap), Authorization headers counted in the decrypted application data.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared pycache helper
from pycache import use_bytecode_cache


def _child_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_analyze(capture: Path, keylog: Path | None) -> dict[str, float]:
    executable = Path(sys.executable).with_name("oauth-inspector")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [str(executable), "analyze", str(capture), "--format", "json", "-o", str(report)]
        command += ["--fail-on", "never", "--quiet", "--jobs", "1"]
        if keylog is not None:
            command += ["--keylog", str(keylog)]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        seconds = time.perf_counter() - start
        document = json.loads(report.read_text())
    exchanges = document["exchanges"]
    return {
        "seconds": seconds,
        "authorization": sum(1 for e in exchanges if e["auth"]["scheme"] is not None),
        "peak_rss_mb": _child_rss_mb(),
    }


def run_tshark(capture: Path, keylog: Path, *, heuristics_first: bool = False) -> dict[str, float]:
    command = ["tshark", "-n", "-r", str(capture), "-o", f"tls.keylog_file:{keylog}"]
    if heuristics_first:
        command += ["-o", "tcp.try_heuristic_first:TRUE"]
    command += ["-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "http.authorization", "-T", "fields"]
    command += ["-e", "http.authorization"]
    start = time.perf_counter()
    output = subprocess.run(command, capture_output=True, check=True).stdout
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "authorization": sum(len(line.split(b",")) for line in output.splitlines() if line.strip()),
        "peak_rss_mb": _child_rss_mb(),
    }


def run_scapy(capture: Path, keylog: Path) -> dict[str, float]:
    from scapy.all import TCPSession, bind_layers, conf, load_layer, rdpcap, sniff

    load_layer("tls")
    from scapy.layers.inet import TCP
    from scapy.layers.tls.record import TLS, TLSApplicationData

    conf.tls_session_enable = True
    conf.tls_nss_filename = str(keylog)
    first = rdpcap(str(capture), count=1)[0]
    bind_layers(TCP, TLS, dport=first[TCP].dport)
    bind_layers(TCP, TLS, sport=first[TCP].dport)
    start = time.perf_counter()
    packets = sniff(offline=str(capture), session=TCPSession)
    found = 0
    for packet in packets:
        for layer in packet.iterpayloads():
            if isinstance(layer, TLSApplicationData):
                found += bytes(layer.data).count(b"Authorization: ")
    return {
        "seconds": time.perf_counter() - start,
        "authorization": found,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(tool: str, folder: Path, *extra: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, str(folder), "--one", tool, *extra], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(output.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    use_bytecode_cache()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="what make_tls_capture.py wrote")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scapy", action="store_true", help="also time scapy's TLS layer on a cut of the capture")
    parser.add_argument("--scapy-packets", type=int, default=6000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--cut", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tls, plain, keys = args.folder / "tls.pcap", args.folder / "plain.pcap", args.folder / "keys.log"
    if args.one:
        runners = {
            "analyze-tls": lambda: run_analyze(tls, keys),
            "analyze-plain": lambda: run_analyze(plain, None),
            "tshark-tls": lambda: run_tshark(tls, keys),
            "tshark-tls-heuristic": lambda: run_tshark(tls, keys, heuristics_first=True),
            "analyze-tls-cut": lambda: run_analyze(args.cut, keys),
            "scapy-tls-cut": lambda: run_scapy(args.cut, keys),
        }
        print(json.dumps(runners[args.one]()))
        return 0
    tools = ["analyze-tls", "tshark-tls", "tshark-tls-heuristic", "analyze-plain"]
    runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
    for _ in range(args.rounds):  # interleaved: a busy moment of the machine hits every tool alike
        for tool in tools:
            runs[tool].append(measure(tool, args.folder))
    summary = {}
    for tool, results in runs.items():
        summary[tool] = {
            "median_seconds": round(statistics.median(r["seconds"] for r in results), 2),
            "all_seconds": [round(r["seconds"], 2) for r in results],
            "authorization": results[0]["authorization"],
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results), 1),
        }
    if args.scapy:
        with tempfile.TemporaryDirectory() as folder:
            cut = Path(folder) / "cut.pcap"
            subprocess.run(["editcap", "-r", str(tls), str(cut), f"1-{args.scapy_packets}"], check=True)
            for tool in ("analyze-tls-cut", "scapy-tls-cut"):
                result = measure(tool, args.folder, "--cut", str(cut))
                summary[tool] = {k: round(v, 2) for k, v in result.items()}
    for peer in ("tshark-tls", "tshark-tls-heuristic"):  # tshark's time / ours, round by round (same load)
        ratios = sorted(t["seconds"] / a["seconds"] for a, t in zip(runs["analyze-tls"], runs[peer], strict=True))
        summary[f"x {peer}"] = {
            "median": round(statistics.median(ratios), 2),
            "min": round(ratios[0], 2),
            "max": round(ratios[-1], 2),
        }
    print(json.dumps(summary, indent=2))
    ours, theirs = summary["analyze-tls"], summary["tshark-tls"]
    print(
        f"analyze {ours['median_seconds']} s vs tshark {theirs['median_seconds']} s "
        f"({theirs['median_seconds'] / ours['median_seconds']:.1f}x); Authorization {ours['authorization']} vs "
        f"{theirs['authorization']}; peak RSS {ours['peak_rss_mb']} MB vs plaintext "
        f"{summary['analyze-plain']['peak_rss_mb']} MB "
        f"({ours['peak_rss_mb'] / summary['analyze-plain']['peak_rss_mb']:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
