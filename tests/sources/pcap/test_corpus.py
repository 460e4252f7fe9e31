"""Every capture of the shared corpus is read, and its counts match the tshark oracle in EXPECTED_pcap.json.

Counts come from a trivial split of header values (the real Authorization parser lives elsewhere). Where this
reader differs from tshark on purpose, ``DIFFERENCES`` says what it reports instead and why.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inspector.model import HttpExchange, InputError, Notice
from inspector.sources.pcap import read_capture
from tests.corpus import corpus_dir

_CORPUS = corpus_dir()
CASES = sorted(json.loads((_CORPUS / "EXPECTED_pcap.json").read_text())) if _CORPUS else ["corpus-absent"]

# Responses this reader reports where tshark's count differs, and why.
DIFFERENCES: dict[str, tuple[int, str]] = {
    "pcap/auth/mercury/http_auth.pcap": (
        2,
        "the 200 response claims Content-Length 43 but carries 40 bytes: tshark waits for the rest and never "
        "shows it; the head is complete, so it is reported",
    ),
    "pcap/auth/ndpi/fuzz-2006-09-29-28586.pcap": (
        1,
        "fuzzed addresses and ports put most responses on connections without a request: tshark counts every "
        "response line, this reader only responses paired with a request (the rest are counted in a notice)",
    ),
    "pcap/auth/zeek/erspan.pcap": (
        17,
        "three responses lost body segments in the capture: tshark only shows responses whose bodies are "
        "complete; their heads are intact and are reported, with capture-gap notices",
    ),
    "pcap/tricky/arkime/wireshark-retrans.pcap": (
        4,
        "tshark also counts the retransmitted copies of two responses (frames 42 and 86); each is counted once",
    ),
    "pcap/tricky/lwerdna/simple_http_tzsp.pcapng": (
        2,
        "tshark needed `-d udp.port==31337,tzsp`; TZSP is recognised here by content. The 200 response's body "
        "segment is not in the capture: tshark drops the response, its complete head is reported here",
    ),
    "pcap/tricky/ndpi/http_asymmetric.pcapng": (
        0,
        "requests and responses were captured on two interfaces with NATed addresses, so no 5-tuple pairs them: "
        "the 3 requests are reported without responses and the 3 responses are counted in a capture-gap notice",
    ),
    "pcap/tricky/suricata-verify/http-response-line_vlan_ipv6.pcap": (
        1,
        "the response head is complete but its 7-byte body is missing: tshark waits for it, the head is reported",
    ),
    "pcap/tricky/zeek/http-body-match_chunked.pcap": (
        10,
        "tshark's 13 include three interim `100 Continue` responses; they are skipped when pairing, and each of "
        "the 10 requests gets its final response",
    ),
}
# get-to-ssh-server_nsec.pcap: tshark needed `-d tcp.port==22,http`; content-based detection finds the request.

# Files that end in an error after everything readable was read.
DAMAGED = {"pcap/tricky/pcapng-test-generator/le_test901.pcapng": "unsupported pcapng version 2.0"}


def _read(path: Path) -> tuple[list[HttpExchange], list[Notice], InputError | None]:
    exchanges: list[HttpExchange] = []
    notices: list[Notice] = []
    try:
        for item in read_capture(path):
            if isinstance(item, HttpExchange):
                exchanges.append(item)
            else:
                notices.append(item)
    except InputError as exc:
        return exchanges, notices, exc
    return exchanges, notices, None


def _scheme(value: str) -> str:
    value = value.strip()
    return value.split(" ", 1)[0] if " " in value else "(no scheme)"


@pytest.mark.parametrize("rel", CASES)
def test_counts_match_the_oracle(corpus: Path, rel: str) -> None:
    expected = json.loads((corpus / "EXPECTED_pcap.json").read_text())[rel]["tshark"]
    exchanges, notices, error = _read(corpus / rel)

    if rel in DAMAGED:
        assert error is not None
        assert DAMAGED[rel] in str(error)
    else:
        assert error is None

    authorization = Counter(_scheme(v) for x in exchanges for v in x.request.header_all("authorization"))
    challenges = Counter(_scheme(v) for x in exchanges if x.response for v in x.response.header_all("www-authenticate"))
    basic = Counter(
        base64.b64decode(v.split(None, 1)[1]).decode("latin-1")
        for x in exchanges
        for v in x.request.header_all("authorization")
        if _scheme(v).lower() == "basic"
    )
    responses = sum(1 for x in exchanges if x.response is not None)

    assert len(exchanges) == expected["http_requests"]
    assert responses == DIFFERENCES.get(rel, (expected["http_responses"], ""))[0]
    assert dict(authorization) == expected["authorization"]
    assert sum(1 for x in exchanges if x.response and x.response.status == 401) == expected["status_401"]
    assert dict(challenges) == expected["www_authenticate"]
    assert dict(basic) == expected["basic_credentials"]
    assert all(n.rule in {"capture-gap", "capture-encrypted", "http-malformed"} for n in notices)


def test_every_capture_in_the_corpus_is_read(corpus: Path) -> None:
    files = sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert len(files) >= 40
    for path in files:
        _, _, error = _read(path)
        assert error is None or str(path.relative_to(corpus)) in DAMAGED, (path, error)


def test_provenance_points_at_the_frames_and_times_tshark_shows(corpus: Path) -> None:
    # Frames 4 and 6 carry the GET and its 401 (tshark frame.time_epoch 1764664876.629155 and .629537).
    exchanges, _, _ = _read(corpus / "pcap/auth/mercury/http_auth.pcap")
    first = exchanges[0]
    assert first.id == "http_auth.pcap:1"
    assert first.provenance.kind == "pcap"
    assert first.provenance.request_frames == (4,)
    assert first.provenance.response_frames == (6,)
    assert first.provenance.connection == "192.168.1.100:54321 -> 192.168.1.1:80"
    assert first.client is not None
    assert str(first.client) == "192.168.1.100:54321"
    assert first.response is not None
    assert first.response.status == 401
    assert first.time == datetime(2025, 12, 2, 8, 41, 16, 629155, tzinfo=UTC)
    assert first.response_time == datetime(2025, 12, 2, 8, 41, 16, 629537, tzinfo=UTC)
    assert exchanges[1].provenance.request_frames == (8,)


def test_nanosecond_timestamps_are_kept_to_the_microsecond(corpus: Path) -> None:
    exchanges, _, _ = _read(corpus / "pcap/tricky/zeek/get-to-ssh-server_nsec.pcap")
    (only,) = exchanges
    assert only.provenance.connection is not None
    assert only.provenance.connection.endswith(":22")
    assert only.request.method == "GET"
    # tshark: frame 4 at 1770126425.884708000
    assert only.provenance.request_frames == (4,)
    assert only.time == datetime.fromtimestamp(1770126425, UTC).replace(microsecond=884708)


def test_tls_connections_are_reported_once_per_file(corpus: Path) -> None:
    _, notices, _ = _read(corpus / "pcap/tricky/ndpi/steam.pcapng")
    encrypted = [n for n in notices if n.rule == "capture-encrypted"]
    assert len(encrypted) == 1
    count = encrypted[0].evidence["tls_connections"]
    assert isinstance(count, int)
    assert count >= 1
    assert "oauth-inspector proxy" in encrypted[0].message


def test_lost_challenges_are_reported_as_gaps(corpus: Path) -> None:
    # The Type-2 challenges of this NTLM capture were never captured ("previous segment not captured").
    exchanges, notices, _ = _read(corpus / "pcap/auth/credslayer/http-ntlm.pcap")
    gaps = [n for n in notices if n.rule == "capture-gap"]
    assert gaps
    lost = [n for n in gaps if n.evidence.get("effect") == "response-lost"]
    lossy = [n for n in gaps if n not in lost]
    assert all({"connection", "direction", "from_seq", "bytes_missing"} <= n.evidence.keys() for n in lossy)
    # A request whose response the server's later acknowledgement shows was lost says so, by frame.
    assert all({"connection", "direction", "frame"} <= n.evidence.keys() and n.exchange_id for n in lost)
    assert any(n.exchange_id for n in gaps)
    assert {n.exchange_id for n in gaps if n.exchange_id} <= {x.id for x in exchanges}


def test_responses_are_paired_by_acknowledgement_after_a_gap(corpus: Path) -> None:
    # http-ntlm.pcap starts mid-connection: frame 36 (a GIF) acknowledges the end of frame 22 (GET menudark.gif),
    # not of frame 18 (GET core.js), whose answer began in bytes the capture lacks (frame 19 is its tail).
    exchanges, notices, _ = _read(corpus / "pcap/auth/credslayer/http-ntlm.pcap")
    by_frame = {x.provenance.request_frames[0]: x for x in exchanges}
    assert by_frame[22].provenance.response_frames == (36,)
    assert by_frame[18].response is None
    assert any(n.exchange_id == by_frame[18].id and n.rule == "capture-gap" for n in notices)
    # erspan.pcap lost most of a server stream: frame 260 acknowledges the end of frame 248, not of frame 165.
    exchanges, _, _ = _read(corpus / "pcap/auth/zeek/erspan.pcap")
    by_frame = {x.provenance.request_frames[0]: x for x in exchanges}
    assert by_frame[248].provenance.response_frames == (260,)
    assert by_frame[165].response is None


def test_a_request_with_a_body_is_named_by_its_last_frame_as_wireshark_does(corpus: Path) -> None:
    # tshark -Y http.request shows these requests at frames 4 11 20 29 40 49 60 67 (bodies in 40, 49 and 60).
    exchanges, _, _ = _read(corpus / "pcap/auth/gematik/deregisterPairing.pcap")
    assert [x.provenance.request_frames[-1] for x in exchanges] == [4, 11, 20, 29, 40, 49, 60, 67]
    assert exchanges[4].provenance.request_frames == (38, 40)
