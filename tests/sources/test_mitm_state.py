"""A current-format flow read straight into an exchange's parts, against mitmproxy's own loader: wherever both read a
flow, the same exchange (provenance, times, endpoints, bodies, headers); declined whatever is not read as mitmproxy
reads it, and then read by mitmproxy as before."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from mitmproxy import certs, http
from mitmproxy.io import FlowReader, FlowWriter, tnetstring
from mitmproxy.test import tflow
from mitmproxy.version import FLOW_FORMAT_VERSION

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.writers import write_flows
from inspector.model import HttpExchange
from inspector.sources import mitm_state, mitmflows
from inspector.sources.mitm_state import read_parts
from inspector.sources.tnetstring import read_frame
from tests.corpus import REPO, corpus_dir
from tests.lab.kit import session_kit

LIMITS = {
    "max_values": mitmflows.MAX_FLOW_VALUES,
    "max_depth": mitmflows.MAX_FLOW_DEPTH,
    "max_prefix_digits": 12,
}

NAMING: dict[str, Any] = {"exchange_id": "f:1", "source": "f", "entry": 0, "kind": "mitm"}


def frames_of(data: bytes) -> list[bytes]:
    """A flow file's frames, as ``mitmflows`` cuts them."""
    frames, pos = [], 0
    while pos < len(data):
        colon = data.index(b":", pos)
        end = colon + 1 + int(data[pos:colon])
        frames.append(data[pos : end + 1])
        pos = end + 1
    return frames


def mitmproxys_exchange(frame: bytes, keep_bodies: bool) -> HttpExchange | None:
    """The exchange of the flow mitmproxy's own reader loads from a frame, or ``None`` where it loads none."""
    try:
        (flow,) = FlowReader(io.BytesIO(frame)).stream()
    except Exception:  # hostile frames: any failure is "mitmproxy does not read it"
        return None
    if not isinstance(flow, http.HTTPFlow):
        return None
    return mitmflows.exchange_from_flow(
        flow, exchange_id="f:1", source="f", entry=0, kind="mitm", keep_bodies=keep_bodies
    )


def direct_exchange(frame: bytes, keep_bodies: bool) -> HttpExchange | None:
    parts = read_parts(frame, **LIMITS)
    if parts is None:
        return None
    return mitmflows.exchange_from_parts(
        parts, exchange_id="f:1", source="f", entry=0, kind="mitm", keep_bodies=keep_bodies
    )


def assert_read_alike(frame: bytes) -> None:
    for keep_bodies in (False, True):
        ours = direct_exchange(frame, keep_bodies)
        assert ours is not None
        assert ours == mitmproxys_exchange(frame, keep_bodies)


def tls_flow() -> http.HTTPFlow:
    """mitmproxy's own test flow, with what a TLS capture adds: certificates, cipher lists, ALPN, IPv6 peers."""
    flow = tflow.tflow(resp=True)
    pem = x509.load_der_x509_certificate((REPO / "captures" / "lab" / "OAuthCert.cer").read_bytes())
    cert = certs.Cert(pem)
    flow.server_conn.certificate_list = [cert, cert]
    flow.client_conn.mitmcert = cert
    flow.client_conn.cipher_list = [f"CIPHER-{n}" for n in range(40)]
    flow.client_conn.alpn_offers = [b"h2", b"http/1.1"]
    flow.client_conn.peername = ("2001:db8::5", 61000, 0, 0)  # type: ignore[assignment]  # as IPv6 sockets give
    flow.server_conn.peername = None
    flow.request.http_version = "HTTP/2.0"
    flow.request.authority = "example.com"
    flow.request.content = b"x" * 200
    return flow


def flow_files(tmp_path: Path) -> list[Path]:
    """Every flow file at hand: the bundled captures, the corpus's, one the bench makes (the lab's conversation)."""
    files = sorted((REPO / "captures").rglob("*.mitm"))
    corpus = corpus_dir()
    if corpus is not None:
        files += sorted(corpus.rglob("*.mitm")) + sorted(corpus.rglob("*.flow"))
    files.append(write_flows([e for e, _ in lab_exchanges(session_kit())], tmp_path / "bench.mitm"))
    buffer = io.BytesIO()
    writer = FlowWriter(buffer)  # type: ignore[no-untyped-call]
    for flow in (tflow.tflow(resp=True), tflow.tflow(), tls_flow()):
        writer.add(flow)
    (tmp_path / "mitmproxy.mitm").write_bytes(buffer.getvalue())
    return [*files, tmp_path / "mitmproxy.mitm"]


def test_the_field_tables_are_mitmproxys() -> None:
    state = tflow.tflow(resp=True).get_state()
    assert state["version"] == FLOW_FORMAT_VERSION
    assert {key.encode() for key in state} == mitm_state._FLOW
    assert {key.encode() for key in state["request"]} == set(mitm_state._REQUEST)
    assert {key.encode() for key in state["response"]} == set(mitm_state._RESPONSE)


def test_every_flow_file_is_read_as_mitmproxy_reads_it(tmp_path: Path) -> None:
    read = 0
    for path in flow_files(tmp_path):
        for frame in frames_of(path.read_bytes()):
            assert_read_alike(frame)
            read += 1
    assert read > 60


def test_read_flows_yields_the_same_with_and_without_the_direct_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = flow_files(tmp_path)
    for keep_bodies in (False, True):
        direct = [list(mitmflows.read_flows(path, keep_bodies=keep_bodies)) for path in paths]
        with monkeypatch.context() as patched:
            patched.setattr(mitmflows, "read_parts", lambda _frame, **_limits: None)
            through_mitmproxy = [list(mitmflows.read_flows(path, keep_bodies=keep_bodies)) for path in paths]
        assert direct == through_mitmproxy


def _state() -> dict[str, Any]:
    return tflow.tflow(resp=True).get_state()  # type: ignore[no-any-return]


def _with(path: str, value: object) -> bytes:
    state = _state()
    *parents, last = path.split(".")
    target = state
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return tnetstring.dumps(state)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("version", 20),  # an older format: mitmproxy migrates it
        ("version", "21"),
        ("type", "tcp"),
        ("id", 7),
        ("extra", 1),
        ("comment", KeyError),
        ("error", {"msg": "killed", "timestamp": 1.0}),
        ("websocket", {"messages": []}),
        ("metadata", {"note": "kept by an addon"}),
        ("backup", {"type": "http"}),
        ("response", {}),
        ("request", None),
        ("request.method", "GET"),
        ("request.host", b"example.com"),
        ("request.port", True),
        ("request.content", "text"),
        ("request.timestamp_start", None),
        ("request.timestamp_start", True),
        ("request.trailers", [[b"x", b"y"]]),
        ("request.headers", [[b"a", b"b", b"c"]]),
        ("request.headers", [[b"a", "b"]]),
        ("request.headers", [(b"a",)]),
        ("request.extra", b""),
        ("response.status_code", 200.0),
        ("response.reason", KeyError),
        ("client_conn.peername", None),
        ("client_conn.peername", ["10.0.0.1", 1, 2]),
        ("client_conn.peername", ["10.0.0.1", "1"]),
        ("client_conn.address", ["10.0.0.1", 1]),
        ("server_conn.address", ["h", 1, 0, 0]),
        ("server_conn.address", KeyError),
        ("server_conn.peername", [b"10.0.0.1", 1]),
    ],
)
def test_what_is_not_the_current_format_as_mitmproxy_writes_it_is_declined(path: str, value: object) -> None:
    assert read_parts(_with(path, value), **LIMITS) is None


def test_a_duplicate_key_is_declined() -> None:
    frame = tnetstring.dumps(_state())
    body = frame[frame.index(b":") + 1 : -1]
    doubled = body + b"7:comment;0:;"
    assert read_parts(b"%d:%s}" % (len(doubled), doubled), **LIMITS) is None


def test_a_frame_that_could_hold_more_values_than_the_limit_is_left_to_read_frame() -> None:
    frame = tnetstring.dumps(_state())
    assert read_parts(frame, **LIMITS) is not None
    assert read_parts(frame, **{**LIMITS, "max_values": len(frame) // 3 - 1}) is None


@pytest.mark.parametrize(
    ("old", "new", "read"),
    [
        (b"9:6:abcdef;]", b"9:7:abcdef;]", False),  # an overrun inside a connection's list
        (b"9:6:abcdef;]", b"9:6:abcdef?]", False),  # an unknown type tag inside it
        (b"3:tls;5:false!", b"3:tls;5:false?", False),  # an unknown type tag in a small entry
        (b"9:6:abcdef;]", b"9:004:abcd;]", True),  # leading zeros: mitmproxy reads them
    ],
)
def test_a_connections_structure_is_checked_though_it_is_not_interpreted(old: bytes, new: bytes, read: bool) -> None:
    state = _state()
    state["client_conn"]["cipher_list"] = ["abcdef"]
    frame = tnetstring.dumps(state)
    assert old in frame
    damaged = frame.replace(old, new, 1)  # the same length: every prefix around it still holds
    assert (read_parts(damaged, **LIMITS) is not None) is read
    if read:
        assert read_frame(damaged, **LIMITS).problem is None
        assert_read_alike(damaged)
    else:
        assert mitmproxys_exchange(damaged, keep_bodies=False) is None  # mitmproxy cannot read it either


def test_a_connection_nested_deeper_than_the_limit_is_declined() -> None:
    state = _state()
    deep: list[Any] = []
    for _ in range(40):
        deep = [deep]
    state["client_conn"]["cipher_list"] = deep
    assert read_parts(tnetstring.dumps(state), **LIMITS) is None
    assert read_parts(tnetstring.dumps(state), **{**LIMITS, "max_depth": 64}) is not None


def test_a_connections_other_fields_are_not_interpreted() -> None:
    # By design (see the module): a certificate mitmproxy cannot parse does not cost the flow its exchange.
    state = _state()
    intact = tnetstring.dumps(state)
    state["server_conn"]["certificate_list"] = [b"not a certificate"]
    frame = tnetstring.dumps(state)
    assert mitmproxys_exchange(frame, keep_bodies=False) is None
    assert direct_exchange(frame, keep_bodies=False) == mitmproxys_exchange(intact, keep_bodies=False) is not None
