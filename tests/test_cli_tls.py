"""``oauth-inspector tls``: the TLS connections of captures and the TLS findings, in a table or JSON, with exit
codes by ``--fail-on``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import main
from inspector.cli_tls import TLS_RULES
from tests.corpus import REPO

SAMPLE = REPO / "captures" / "lab" / "lab-tls.pcapng"


def test_the_sample_lists_its_connections_decrypted_from_its_secrets() -> None:
    result = CliRunner().invoke(main, ["tls", str(SAMPLE), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {c["status"] for c in document["connections"]} == {"decrypted"}
    assert {c["decrypted_with"] for c in document["connections"]} == {"dsb"}
    assert {c["sni"] for c in document["connections"]} == {"mail.contoso.com"}
    assert document["findings"] == []


def test_the_keyless_corpus_capture_shows_its_certificate(corpus: Path) -> None:
    path = corpus / "tls/wireshark-notes/http-chunked-ssl.pcapng"
    result = CliRunner().invoke(main, ["tls", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0  # capture-encrypted is info
    assert "lekensteyn.nl" in result.stdout and "valid 2014-11-14 to 2015-11-15" in result.stdout
    assert "capture-encrypted" in result.stdout and "capture-encrypted" in TLS_RULES


def test_nothing_to_read_is_exit_3(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a capture")
    result = CliRunner().invoke(main, ["tls", str(other)])
    assert result.exit_code == 3
    assert "not a pcap or pcapng capture" in result.stderr
