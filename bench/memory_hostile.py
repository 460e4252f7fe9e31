"""Peak memory of ``oauth-inspector analyze`` on the four hostile inputs of issue 12 (item 13), run by hand:

    uv run python bench/memory_hostile.py [--dir /tmp/hostile] [--mb 200]

It writes each input (once; they are kept in ``--dir`` for the next run) and analyses it in a process of its own,
reporting that process's peak RSS (``ru_maxrss`` from ``wait4``), its time and its exit code:

* ``nested.har``: a HAR whose one entry is 25 million nested ``[`` (50 MB).
* ``realistic.har``: ``--mb`` MB of HAR entries as browsers export them: S2S bearer tokens, 401 challenges, and
  response bodies (JSON text, 4 KiB to 1 MiB, some base64).
* ``body.mitm``: one flow whose response body is ``--mb`` MB.
* ``segment.pcapng``: one TCP segment of ``--mb`` MB (an IPv4 total length of 0, as segmentation offload shows
  it) carrying a request and its body.

The goal (issue 12): peak RSS at most 300 MB on each, and at most twice the largest single message kept.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inspector.lab.pcap_writer import pcapng_block, pcapng_option  # noqa: E402
from inspector.lab.tokens import LAB_HOST  # noqa: E402

MB = 1 << 20


def nested_har(path: Path, depth: int = 25_000_000) -> None:
    with path.open("w", encoding="ascii") as fo:
        fo.write('{"log": {"version": "1.2", "entries": [')
        fo.write("[" * depth)
        fo.write("]" * depth)
        fo.write("]}}")


def _entry(rng: random.Random, n: int, token: str) -> str:
    size = rng.choice([4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20])
    body = ('{"value": "' + "x" * size + '"}') if n % 5 else ""
    content: dict[str, object] = {"size": size, "mimeType": "application/json", "text": body}
    if n % 7 == 0:
        content = {
            "size": size,
            "mimeType": "application/octet-stream",
            "encoding": "base64",
            "text": "QUJD" * (size // 4),
        }
    entry = {
        "startedDateTime": f"2026-11-02T09:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "time": 12.5,
        "request": {
            "method": "POST",
            "url": f"https://{LAB_HOST}/EWS/Exchange.asmx",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Host", "value": LAB_HOST}, {"name": "Authorization", "value": f"Bearer {token}"}],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
            "postData": {"mimeType": "text/xml", "text": "<soap:Envelope>" + "y" * 2000 + "</soap:Envelope>"},
        },
        "response": {
            "status": 401 if n % 3 == 0 else 200,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "WWW-Authenticate", "value": 'Bearer client_id="00000002-0000-0ff1-ce00-000000000000"'}
            ],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": size,
        },
        "cache": {},
        "timings": {"send": 1, "wait": 10, "receive": 1.5},
        "serverIPAddress": "10.0.0.9",
        "_clientIPAddress": "10.0.0.10",
    }
    return json.dumps(entry, indent=1)


def realistic_har(path: Path, size: int) -> None:
    from inspector.lab.scenarios import lab_exchanges
    from tests.lab.kit import session_kit

    tokens = []
    for exchange, _ in lab_exchanges(session_kit()):
        value = exchange.request.header("authorization")
        if value and value.lower().startswith("bearer ") and len(value) > 20:
            tokens.append(value[7:])
    rng = random.Random(12)
    with path.open("w", encoding="utf-8") as fo:
        fo.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "entries": [\n')
        n = 0
        while fo.tell() < size:
            if n:
                fo.write(",\n")
            fo.write(_entry(rng, n, tokens[n % len(tokens)]))
            n += 1
        fo.write("\n]}}\n")


def body_mitm(path: Path, size: int) -> None:
    from mitmproxy import io as mitm_io

    from inspector.lab.writers import flow_from_exchange
    from tests.builders import exchange

    flow = flow_from_exchange(exchange("Basic dXNlcjpwYXNzd29yZA==", status=200))
    assert flow.response is not None
    flow.response.content = b"x" * size
    with path.open("wb") as fo:
        mitm_io.FlowWriter(fo).add(flow)


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data[: len(data) // 2 * 2]))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def segment_pcapng(path: Path, size: int) -> None:
    head = (
        f"POST /EWS/Exchange.asmx HTTP/1.1\r\nHost: {LAB_HOST}\r\nAuthorization: Basic dXNlcjpwYXNzd29yZA==\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    tcp = struct.pack("!HHIIBBHHH", 50000, 80, 1000, 0, 0x50, 0x18, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 1, 0x4000, 64, 6, 0, bytes([10, 0, 0, 10]), bytes([10, 0, 0, 9]))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ether = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    frame_head = ether + ip + tcp + head
    frame_len = len(frame_head) + size
    shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + pcapng_option(0, b""))
    idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
    ticks = 1_793_611_800_000_000
    epb_head = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, frame_len, frame_len)
    padding = -frame_len % 4
    block_len = 12 + len(epb_head) + frame_len + padding
    with path.open("wb") as fo:
        fo.write(shb + idb)
        fo.write(struct.pack("<II", 6, block_len) + epb_head + frame_head)
        chunk = b"z" * MB
        left = size
        while left:
            fo.write(chunk[: min(left, MB)])
            left -= min(left, MB)
        fo.write(b"\x00" * padding + struct.pack("<I", block_len))


def measure(path: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and exit code of ``oauth-inspector analyze`` on ``path``, in a process of its own."""
    command = [str(REPO / ".venv" / "bin" / "oauth-inspector"), "analyze", str(path), "--format", "json"]
    started = time.perf_counter()
    process = subprocess.Popen([*command, "-o", os.devnull, "--quiet"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = Path(tempfile.gettempdir()) / "oauth-inspector-hostile"
    parser.add_argument("--dir", type=Path, default=default_dir, help="where the inputs are written and kept")
    parser.add_argument("--mb", type=int, default=200, help="size of the realistic HAR, the body and the segment")
    parser.add_argument("--only", nargs="*", help="names of the inputs to measure (default: all)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    makers = {
        "nested.har": nested_har,
        "realistic.har": lambda p: realistic_har(p, args.mb * MB),
        "body.mitm": lambda p: body_mitm(p, args.mb * MB),
        "segment.pcapng": lambda p: segment_pcapng(p, args.mb * MB),
    }
    print(f"{'input':<16}{'size MB':>9}{'seconds':>9}{'peak RSS MB':>13}{'exit':>6}")
    baseline = REPO / "captures" / "lab" / "lab.har"  # the interpreter and its imports: what any run costs
    seconds, rss, code = measure(baseline)
    print(f"{'lab.har (base)':<16}{baseline.stat().st_size / MB:>9.2f}{seconds:>9.2f}{rss:>13.0f}{code:>6}")
    for name, make in makers.items():
        if args.only and name not in args.only:
            continue
        path = args.dir / f"{args.mb}-{name}" if name != "nested.har" else args.dir / name
        if not path.exists():
            make(path)
        seconds, rss, code = measure(path)
        print(f"{name:<16}{path.stat().st_size / MB:>9.0f}{seconds:>9.2f}{rss:>13.0f}{code:>6}")


if __name__ == "__main__":
    main()
