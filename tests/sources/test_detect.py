from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from mitmproxy.io import tnetstring

from inspector.lab.scenarios import lab_exchanges
from inspector.lab.writers import write_flows, write_har
from inspector.model import InputError
from inspector.sources.detect import detect_kind
from tests.lab.kit import session_kit


def _file(tmp_path: Path, data: bytes, name: str = "input.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_every_corpus_capture_is_pcap(corpus: Path) -> None:
    captures = sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert len(captures) >= 40
    assert {p.name: detect_kind(p) for p in captures} == {p.name: "pcap" for p in captures}


def test_pcapng_named_pcap_is_found_by_its_magic(corpus: Path) -> None:
    webdav = corpus / "pcap" / "auth" / "ndpi" / "webdav.pcap"
    assert webdav.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert detect_kind(webdav) == "pcap"


def test_the_corpus_readme_is_not_a_capture(corpus: Path) -> None:
    assert detect_kind(corpus / "README.md") is None
    assert detect_kind(corpus / "EXPECTED_pcap.json") is None  # JSON, but no top-level "log"


@pytest.mark.parametrize(
    "magic",
    [b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"],
)
def test_pcap_magics(tmp_path: Path, magic: bytes) -> None:
    assert detect_kind(_file(tmp_path, magic + bytes(20))) == "pcap"


def test_pcapng_needs_its_byte_order_magic(tmp_path: Path) -> None:
    header = b"\x0a\x0d\x0d\x0a" + b"\x1c\x00\x00\x00"
    assert detect_kind(_file(tmp_path, header + b"\x4d\x3c\x2b\x1a" + bytes(16))) == "pcap"
    assert detect_kind(_file(tmp_path, header + b"\x1a\x2b\x3c\x4d" + bytes(16))) == "pcap"
    assert detect_kind(_file(tmp_path, b"\n\r\r\nhello, this is text")) is None
    assert detect_kind(_file(tmp_path, b"\n\r\r\n")) == "pcap"  # cut short: the pcap reader says so


def test_lab_captures_whatever_their_names(tmp_path: Path) -> None:
    exchanges = [e for e, _ in lab_exchanges(session_kit())][:3]
    assert detect_kind(write_har(exchanges, tmp_path / "capture.pcap")) == "har"
    assert detect_kind(write_flows(exchanges, tmp_path / "capture.har")) == "mitm"


def test_truncated_flow_file_is_still_mitm(tmp_path: Path) -> None:
    flows = write_flows([e for e, _ in lab_exchanges(session_kit())][:1], tmp_path / "x.mitm").read_bytes()
    assert detect_kind(_file(tmp_path, flows[:200])) == "mitm"


@pytest.mark.parametrize(
    "text",
    [
        '{"log": {"entries": []}}',
        '\ufeff{"log": {}}',
        ' \r\n\t{ "log" : {}}',
        '{"_comment": "x", "pages": [{"log": 1}], "log": {"entries": []}}',
        '{"a": "\\"log\\": ", "log": {}}',
    ],
)
def test_har_by_its_top_level_log(tmp_path: Path, text: str) -> None:
    assert detect_kind(_file(tmp_path, text.encode("utf-8"))) == "har"


@pytest.mark.parametrize(
    "text",
    [
        '{"data": {"log": {}}}',
        '{"a": "log", "b": 1}',
        '[{"log": {}}]',
        '"log"',
        "{}",
        "{",
    ],
)
def test_json_that_is_not_har(tmp_path: Path, text: str) -> None:
    assert detect_kind(_file(tmp_path, text.encode("utf-8"))) is None


def test_utf16_har(tmp_path: Path) -> None:
    assert detect_kind(_file(tmp_path, json.dumps({"log": {}}).encode("utf-16"))) == "har"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"12:hello world,",
        tnetstring.dumps([1, 2, 3]),
        b"5:abc",
        b"0:}",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00" * 64,
    ],
)
def test_neither(tmp_path: Path, data: bytes) -> None:
    assert detect_kind(_file(tmp_path, data)) is None


def test_random_bytes_are_nothing(tmp_path: Path) -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        assert detect_kind(_file(tmp_path, data)) is None


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot read .*absent"):
        detect_kind(tmp_path / "absent")
    with pytest.raises(InputError):
        detect_kind(tmp_path)
