"""Time growth of every parser on 1x, 4x and 16x input, run by hand (issue 12): exits 1 when one grows super-linearly.

    uv run python bench/growth.py [--base 1.0] [--only NAME ...]

For each case the input is built at three sizes and the parser timed (best of ``--repeat`` runs, in-process).
The growth exponent is the slope of log time over log size: 1 for linear time, 2 for quadratic. A case fails when its
exponent exceeds ``--limit`` (default 1.35: timer noise and cache effects on a shared VM stay below it, quadratic
code does not). The hostile shapes are those issue 12 found quadratic (unterminated strings of ``\\"``, HTTP
resync markers, nested brackets), beside the ordinary shapes of each input.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inspector.http_auth import parse_authorization, parse_ms_diagnostics, parse_www_authenticate  # noqa: E402
from inspector.ntlm import decode_negotiate, decode_ntlm  # noqa: E402
from inspector.redact import redact_target  # noqa: E402
from inspector.sources.detect import _top_level_keys, detect_kind  # noqa: E402
from inspector.sources.har import read_har  # noqa: E402
from inspector.sources.mitmflows import read_flows  # noqa: E402
from inspector.sources.pcap import read_capture  # noqa: E402
from inspector.sources.pcap.budget import MemoryBudget  # noqa: E402
from inspector.sources.pcap.http1 import Http1Parser  # noqa: E402
from inspector.tokens import decode_bearer  # noqa: E402
from inspector.trust import parse_metadata  # noqa: E402
from inspector.verifyoauth.bundle import parse_bundle  # noqa: E402

FOLDER = Path(tempfile.mkdtemp(prefix="oauth-inspector-growth-"))


def _file(name: str, data: bytes | str) -> Path:
    path = FOLDER / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    return path


def _har_entry(n: int) -> str:
    return json.dumps(
        {
            "startedDateTime": "2026-11-02T09:30:00Z",
            "time": 1,
            "request": {
                "method": "POST",
                "url": f"https://mail.contoso.com/EWS/Exchange.asmx?n={n}",
                "headers": [{"name": "Authorization", "value": "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."}],
            },
            "response": {"status": 401, "headers": [{"name": "WWW-Authenticate", "value": "Bearer"}]},
        }
    )


def _drain(items: object) -> None:
    try:
        for _ in items:  # type: ignore[attr-defined]
            pass
    except Exception as exc:
        if type(exc).__name__ not in ("InputError",):
            raise


# --- cases: name -> (build input of scale n, run parser on it) --------------------------------------------------


def case_detect_escaped_quotes(n: int) -> Callable[[], object]:
    # What the sniffer scans (its window is 1 MiB, so the file itself would stop growing there).
    text = '{"a": "' + '\\"' * (64_000 * n)
    return lambda: _top_level_keys(text)


def case_detect_file(n: int) -> Callable[[], object]:
    path = _file(f"detect-{n}.json", '{"a": "' + '\\"' * (16_000 * n))
    return lambda: detect_kind(path)


def case_har_entries(n: int) -> Callable[[], object]:
    path = _file(f"entries-{n}.har", '{"log": {"entries": [' + ",".join(_har_entry(i) for i in range(300 * n)) + "]}}")
    return lambda: _drain(read_har(path))


def case_har_unterminated_escapes(n: int) -> Callable[[], object]:
    path = _file(f"escapes-{n}.har", '{"log": {"entries": [{"a": "' + '\\"' * (100_000 * n))
    return lambda: _drain(read_har(path))


def case_har_nested_brackets(n: int) -> Callable[[], object]:
    path = _file(f"nested-{n}.har", '{"log": {"entries": [' + "[]," * (100_000 * n) + "[" * (200_000 * n) + "]}}")
    return lambda: _drain(read_har(path))


def case_mitm_flows(n: int) -> Callable[[], object]:
    from mitmproxy import io as mitm_io

    from inspector.lab.writers import flow_from_exchange
    from tests.builders import exchange

    out = io.BytesIO()
    writer = mitm_io.FlowWriter(out)
    for _ in range(100 * n):
        writer.add(flow_from_exchange(exchange("Bearer abc", status=401)))
    path = _file(f"flows-{n}.mitm", out.getvalue())
    return lambda: _drain(read_flows(path))


def case_mitm_big_body(n: int) -> Callable[[], object]:
    from mitmproxy import io as mitm_io

    from inspector.lab.writers import flow_from_exchange
    from tests.builders import exchange

    flow = flow_from_exchange(exchange("Bearer abc"))
    assert flow.response is not None
    flow.response.content = b"x" * (4_000_000 * n)
    out = io.BytesIO()
    mitm_io.FlowWriter(out).add(flow)
    path = _file(f"body-{n}.mitm", out.getvalue())
    return lambda: _drain(read_flows(path))


def case_pcap_packets(n: int) -> Callable[[], object]:
    from tests.sources.pcap.capture_builder import Conversation, capture

    conversations = []
    for i in range(40 * n):
        conv = Conversation(client=("10.0.0.1", 10000 + i)).handshake()
        conv.send(True, b"GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dTpw\r\n\r\n", mss=20)
        conv.send(False, b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n")
        conversations.append(conv.close())
    path = _file(f"packets-{n}.pcap", capture(*conversations))
    return lambda: _drain(read_capture(path))


def case_http1_resync_markers(n: int) -> Callable[[], object]:
    data = b" HTTP/1." * (32_000 * n)  # 256 KB at 1x: well past the 16 KiB a head may grow to before resync

    def run() -> None:
        class Sink:
            def __getattr__(self, name: str) -> Callable[..., None]:
                return lambda *_: None

        parser = Http1Parser(Sink(), 0, midstream=True, keep_bodies=False, budget=MemoryBudget(1 << 24))  # type: ignore[arg-type]
        for at in range(0, len(data), 1460):
            parser.data(data[at : at + 1460], 1, 1, -1)
        parser.finish(2)

    return run


def case_tls_key_log(n: int) -> Callable[[], object]:
    from inspector.sources.pcap.tls.keylog import KeyLog

    lines = b"".join(b"CLIENT_RANDOM %064x %096x\n# a comment\nnot a key line\n" % (i, i) for i in range(2_000 * n))
    return lambda: KeyLog().add_text(lines, "growth.keys", "growth.keys")


def case_authorization_values(n: int) -> Callable[[], object]:
    value = "Digest " + ", ".join(f'p{i}="v{i}"' for i in range(2_000 * n))
    return lambda: parse_authorization(value)


def case_www_authenticate(n: int) -> Callable[[], object]:
    values = ['Bearer realm="a", ' + ", ".join(f'p{i}="v\\"{i}"' for i in range(1_000 * n))]
    return lambda: parse_www_authenticate(values)


def case_ms_diagnostics(n: int) -> Callable[[], object]:
    value = '2000001;reason="' + 'x\\"' * (20_000 * n) + '";error_category="invalid_token"'
    return lambda: parse_ms_diagnostics(value)


def case_bearer_tokens(n: int) -> Callable[[], object]:
    claims = {f"c{i}": "v" * 10 for i in range(400 * n)}
    segment = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"eyJhbGciOiJub25lIn0.{segment}."
    return lambda: decode_bearer(token)


def case_ntlm_blobs(n: int) -> Callable[[], object]:
    blob = b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * (20_000 * n)
    return lambda: (decode_ntlm(blob), decode_negotiate(blob))


def case_redact_targets(n: int) -> Callable[[], object]:
    target = "/x?" + "&".join(f"p{i}=v{i}" for i in range(5_000 * n)) + "&code=secret"
    return lambda: redact_target(target)


def case_metadata_keys(n: int) -> Callable[[], object]:
    from tests.hostile import good_certificate_der

    value = base64.b64encode(good_certificate_der()).decode()
    document = {"issuer": "a@b", "keys": [{"usage": "signing", "keyValue": {"value": value}}] * (20 * n)}
    data = json.dumps(document).encode()
    return lambda: parse_metadata(data, "growth.json")


def case_bundle_items(n: int) -> Callable[[], object]:
    wrapped = {"value": {"value": {"DateTime": "2026-01-01T00:00:00Z"}}}
    bundle = {"AuthCertificates": [{"Thumbprint": "AB", "NotAfter": wrapped} for _ in range(2_000 * n)]}
    return lambda: parse_bundle(bundle, "growth.json")


CASES = {name.removeprefix("case_"): value for name, value in globals().items() if name.startswith("case_")}


def per_call(run: Callable[[], object], repeat: int) -> float:
    """Seconds per call: calls are batched until a batch takes 50 ms (tiny inputs time reliably too), and the best
    of ``repeat`` batches is taken (the VM is shared: the minimum is the least disturbed)."""
    calls = 1
    while True:
        started = time.perf_counter()
        for _ in range(calls):
            run()
        if time.perf_counter() - started >= 0.05:
            break
        calls *= 2
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        times.append((time.perf_counter() - started) / calls)
    return min(times)


def exponent(seconds: list[float]) -> float:
    """The least-squares slope of log time over log size for sizes 1, 4, 16."""
    xs = [math.log(scale) for scale in (1, 4, 16)]
    ys = [math.log(max(value, 1e-9)) for value in seconds]
    mean_x, mean_y = sum(xs) / 3, sum(ys) / 3
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=1, help="scale every input by this")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1.35, help="largest growth exponent accepted")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="cases to run (default: all)")
    args = parser.parse_args()
    failed = []
    print(f"{'case':<28}{'1x s':>9}{'4x s':>9}{'16x s':>9}{'exponent':>10}")
    for name, build in CASES.items():
        if args.only and name not in args.only:
            continue
        seconds = [per_call(build(args.base * scale), args.repeat) for scale in (1, 4, 16)]
        growth = exponent(seconds)
        verdict = "" if growth <= args.limit else "  SUPER-LINEAR"
        if verdict:
            failed.append(name)
        print(f"{name:<28}{seconds[0]:>9.4f}{seconds[1]:>9.4f}{seconds[2]:>9.4f}{growth:>10.2f}{verdict}")
    if failed:
        print(f"super-linear: {', '.join(failed)}")
        return 1
    print("every parser grows linearly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
