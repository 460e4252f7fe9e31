"""The bundled samples (``lab samples``): the capture formats of one conversation (TLS among them), the trust to
judge them with, and what each exchange must raise; the bundled copy in captures/lab is what the code writes."""

from __future__ import annotations

import json
from pathlib import Path

from inspector.lab.samples import SAMPLE_NAMES, write_samples
from inspector.sources.dispatch import expand_inputs
from tests.corpus import REPO


def test_the_samples_are_the_formats_of_one_conversation(tmp_path: Path) -> None:
    written = write_samples(tmp_path)
    assert [p.name for p in written] == list(SAMPLE_NAMES)
    kinds = {p.name: kind for p, kind in expand_inputs([tmp_path])}
    assert kinds == {"lab.har": "har", "lab.mitm": "mitm", "lab.pcapng": "pcap", "lab-tls.pcapng": "pcap"}
    expected = json.loads((tmp_path / "expected.json").read_text())
    bundled = json.loads((REPO / "captures" / "lab" / "expected.json").read_text())
    assert expected["exchanges"] == bundled["exchanges"]  # regenerating gives the same expectations
    assert any(e["expected_rules"] for e in expected["exchanges"])
