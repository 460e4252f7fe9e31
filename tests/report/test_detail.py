"""``oauth-inspector show FILE ID``: one exchange whole, redacted, with the findings that need the whole capture."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.test_cli import SAMPLES, TRUST, invoke


def test_show_prints_both_heads_both_tokens_and_the_findings() -> None:
    code, out, _ = invoke("show", str(SAMPLES / "lab.har"), "lab.har:14", *TRUST)
    assert code == 1  # issuer-nameid-mismatch is an error, as in analyze
    assert "request: POST /EWS/Exchange.asmx" in out
    assert "Authorization: Bearer [redacted]" in out
    assert "response: 401 Unauthorized" in out
    assert "x-ms-diagnostics: 2000001" in out
    assert "outer token (unsigned)" in out and "actor token (the signed one)" in out
    assert "signature dropped (--show-secrets shows it)" in " ".join(out.split())
    assert "issuer-nameid-mismatch" in out and "bearer-rejected" in out


def test_show_keeps_findings_only_the_whole_capture_reveals() -> None:
    # entry 19 is the Basic retry after the 401: basic-fallback needs the exchanges before it.
    code, out, _ = invoke("show", str(SAMPLES / "lab.har"), "lab.har:20", *TRUST)
    assert code == 1
    assert "basic-fallback" in out and "basic-credentials" in out
    assert "  Authorization: Basic [redacted]" in out.splitlines()
    har = json.loads((SAMPLES / "lab.har").read_text(encoding="utf-8"))
    headers = har["log"]["entries"][19]["request"]["headers"]
    credentials = next(h["value"] for h in headers if h["name"].lower() == "authorization").split()[1]
    password = base64.b64decode(credentials).decode().partition(":")[2]
    assert credentials not in out and password not in out


def test_show_a_clean_exchange_exits_0() -> None:
    code, out, _ = invoke("show", str(SAMPLES / "lab.har"), "lab.har:2", *TRUST)
    assert code == 0
    assert "No findings." in out and "signature valid" in out


def test_show_an_unknown_id_says_which_ids_there_are() -> None:
    code, _, err = invoke("show", str(SAMPLES / "lab.har"), "lab.har:999", *TRUST)
    assert code == 2
    assert 'no exchange "lab.har:999" in the input (its ids: lab.har:1, lab.har:2, lab.har:3, …)' in err


def test_show_adds_what_the_trust_inventory_reveals_about_the_exchange() -> None:
    code, out, _ = invoke("show", str(SAMPLES / "lab.har"), "lab.har:7", *TRUST)
    assert code == 1
    assert "issuer-not-trusted-by-server" in out and "00000003-0000-0ff1-ce00-000000000000@" in out
    _, out, _ = invoke("show", str(SAMPLES / "lab.har"), "lab.har:9", *TRUST)
    assert "issuer-not-trusted-by-server" not in out


def test_show_takes_the_number_alone_for_one_file() -> None:
    by_number = invoke("show", str(SAMPLES / "lab.har"), "14", *TRUST)
    by_id = invoke("show", str(SAMPLES / "lab.har"), "lab.har:14", *TRUST)
    assert by_number[0] == by_id[0] == 1
    assert by_number[1] == by_id[1] and "lab.har:14" in by_id[1]


def test_show_redacts_tokens_and_codes_in_any_header(corpus: Path) -> None:
    # Found by review: only Authorization/Cookie were redacted by name; a JWT in Sec-WebSocket-Protocol and an
    # OAuth code and encrypted SSO token in a redirect's Location were printed whole.
    code, out, _ = invoke("show", str(corpus / "pcap/auth/zeek/wstunnel-http.pcap"), "1")
    assert code in (0, 1)
    assert "FsquetBp_jsIDzBslWyyTPlS2hcMprVuWmbT2r57N0A" not in out
    assert "authorization.bearer.eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9." in "".join(out.split())
    _, out, _ = invoke("show", str(corpus / "pcap/auth/gematik/deregisterPairing.pcap"), "5")
    flat = "".join(out.split())
    assert "token?code=[redacted]&ssotoken=[redacted]&state=" in flat
