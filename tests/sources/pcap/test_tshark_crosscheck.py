"""tshark as a live peer: on the same files it finds exactly the Authorization values this reader finds.

Skips where tshark is not installed (``.ci/run`` installs it). tshark runs with out-of-order reassembly on, as the
issue's benchmark does; files where tshark needs a decode-as this content-based reader does not are left out.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from inspector.model import HttpExchange
from inspector.sources.pcap import read_capture
from tests.corpus import REPO

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")

CORPUS_FILES = [
    "pcap/auth/ndpi/webdav.pcap",
    "pcap/auth/credslayer/http-basic-auth.pcap",
    "pcap/auth/arkime/ntlm_synthetic.pcap",
    "pcap/auth/zeek/erspan.pcap",
    "pcap/auth/suricata-verify/mqtt-events-missing-connect.pcap",
    "pcap/auth/net-creds/http_basic.pcap",
    "pcap/auth/gematik/deregisterPairing.pcap",
]


def tshark_values(path: Path) -> Counter[str]:
    assert TSHARK is not None
    command = [
        TSHARK,
        "-n",
        "-o",
        "tcp.reassemble_out_of_order:TRUE",
        "-r",
        str(path),
        "-Y",
        "http.authorization",
        "-T",
        "fields",
        "-e",
        "http.authorization",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout
    return Counter(value for line in output.splitlines() for value in line.split(",") if value)


def our_values(path: Path) -> Counter[str]:
    values: Counter[str] = Counter()
    for item in read_capture(path):
        if isinstance(item, HttpExchange):
            values.update(item.request.header_all("authorization"))
    return values


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_same_authorization_values_as_tshark_on_the_corpus(corpus: Path, name: str) -> None:
    path = corpus / name
    assert our_values(path) == tshark_values(path)


def test_same_authorization_values_as_tshark_on_a_generated_capture(tmp_path: Path) -> None:
    """Out-of-order segments, retransmissions, keep-alive and NTLM handshakes over 20,000 packets."""
    capture = tmp_path / "generated.pcap"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "pcap" / "make_capture.py"), str(capture), "--packets", "20000"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    ours = our_values(capture)
    assert sum(ours.values()) > 1000
    assert ours == tshark_values(capture)
