"""pcap/pcapng bytes: mutated lab and corpus captures through the whole reader; only ``InputError`` may come out,
every exchange renders to strict JSON and a terminal-safe table, and no input hangs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import InputError, SourceItem
from inspector.sources.pcap import read_capture
from tests.fuzz.harness import CAPTURES, Timed, analyse, assert_outputs_hold, corpus_seeds_or_skip, fuzz, mutated, seeds
from tests.sources.pcap.capture_builder import Conversation, capture

_CONVERSATION = Conversation().handshake()
_CONVERSATION.send(True, b"GET /EWS/Exchange.asmx?access_token=SECRETVALUE HTTP/1.1\r\nHost: h\r\n\r\n", mss=7)
_CONVERSATION.send(False, b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n")
LAB = [*seeds(CAPTURES / "lab.pcapng"), capture(_CONVERSATION.close())]


def _read(data: bytes) -> list[SourceItem]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.pcap"
        path.write_bytes(data)
        items: list[SourceItem] = []
        try:
            with Timed():
                items.extend(read_capture(path))
        except InputError as exc:
            assert str(exc).startswith(f"Cannot read capture {path}")
        return items


@fuzz(150)
@given(mutated(LAB))
def test_mutated_lab_captures(data: bytes) -> None:
    assert_outputs_hold(analyse(_read(data)), secrets=["SECRETVALUE"])


@fuzz(60)
@given(st.data())
def test_mutated_corpus_captures(data: st.DataObject) -> None:
    corpus = corpus_seeds_or_skip("pcap/**/*.pcap", "pcap/**/*.pcapng", "tls/**/*.pcapng")
    assert_outputs_hold(analyse(_read(data.draw(mutated(corpus)))))


@fuzz(60)
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _read(data)
