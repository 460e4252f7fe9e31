"""The command line as a user meets it: the bundled samples, every output format, exit codes, errors, config."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.scenarios import BASIC_PASSWORD
from tests.corpus import REPO
from tests.outbound import readable

SAMPLES = REPO / "captures" / "lab"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
TRUST = [
    "--cert",
    str(SAMPLES / "OAuthCert.cer"),
    "--metadata",
    str(SAMPLES / "acs-metadata.json"),
    "--realm",
    EXPECTED["realm"],
]


def lab_sample(name: str, folder: Path) -> Path:
    """A bundled sample; ``lab.saz`` is the bundled HAR's exchanges written into ``folder`` as a Fiddler archive (the
    lab bundles .saz files of the outbound leg only)."""
    if name != "lab.saz":
        return SAMPLES / name
    from inspector.lab.saz_writer import write_saz
    from inspector.model import HttpExchange
    from inspector.sources.har import read_har

    exchanges = [item for item in read_har(SAMPLES / "lab.har") if isinstance(item, HttpExchange)]
    return write_saz(exchanges, folder / "lab.saz")


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng", "lab-tls.pcapng"])
def test_bundled_samples_raise_exactly_the_expected_findings(name: str) -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / name), *TRUST, "--format", "json")
    assert code == 1  # the samples contain errors on purpose
    document = json.loads(out)
    by_exchange: dict[str, set[str]] = {}
    for item in document["findings"]:
        if item["exchange"] is not None:
            by_exchange.setdefault(item["exchange"], set()).add(item["rule"])
    exchanges = document["exchanges"]
    assert len(exchanges) == len(EXPECTED["exchanges"])
    for exchange, expected in zip(exchanges, EXPECTED["exchanges"], strict=True):
        assert by_exchange.get(exchange["id"], set()) == set(expected["expected_rules"]), exchange["id"]


def test_capture_raises_what_the_har_raises_in_the_same_order() -> None:
    """The pcapng carries the HAR's exchanges as awkwardly delivered TCP segments: reassembled, nothing differs."""

    def findings(name: str) -> tuple[list[str], list[tuple[str | None, str, str]]]:
        _, out, _ = invoke("analyze", str(SAMPLES / name), *TRUST, "--format", "json")
        document = json.loads(out)
        ids = [exchange["id"] for exchange in document["exchanges"]]
        return ids, [(f["exchange"], f["rule"], f["severity"]) for f in document["findings"]]

    har_ids, har_findings = findings("lab.har")
    pcap_ids, pcap_findings = findings("lab.pcapng")
    numbers = [f"{n}" for n in range(1, len(EXPECTED["exchanges"]) + 1)]
    assert har_ids == [f"lab.har:{n}" for n in numbers] and pcap_ids == [f"lab.pcapng:{n}" for n in numbers]
    as_har = [(e.replace("lab.pcapng:", "lab.har:") if e else e, r, s) for e, r, s in pcap_findings]
    assert as_har == har_findings


def test_the_tls_sample_decrypts_to_what_the_plaintext_capture_raises() -> None:
    """lab-tls.pcapng carries the same conversation over TLS 1.3 and 1.2, its key log in a secrets block."""
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.pcapng"), *TRUST, "--format", "json")
    plain = json.loads(out)
    _, out, _ = invoke("analyze", str(SAMPLES / "lab-tls.pcapng"), *TRUST, "--format", "json")
    tls = json.loads(out)
    assert [e["target"] for e in tls["exchanges"]] == [e["target"] for e in plain["exchanges"]]
    assert {e["tls"]["decrypted_with"] for e in tls["exchanges"]} == {"dsb"}
    assert {e["tls"]["version"] for e in tls["exchanges"]} == {"TLS 1.2", "TLS 1.3"}
    assert all(e["scheme"] == "https" for e in tls["exchanges"])

    def shape(document: dict[str, Any]) -> list[tuple[str | None, str, str]]:
        return [((f["exchange"] or "").split(":")[-1] or None, f["rule"], f["severity"]) for f in document["findings"]]

    assert shape(tls) == shape(plain)


def test_json_document_contract() -> None:
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "json")
    document = json.loads(out)
    assert set(document) == {"tool", "sources", "exchanges", "findings", "inventory", "errors", "skipped", "summary"}
    assert document["errors"] == document["skipped"] == []
    first = document["exchanges"][1]
    for key in ("id", "source", "time", "client", "server", "method", "host", "target", "status", "auth"):
        assert key in first
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", first["time"])
    token = first["auth"]["token"]
    assert first["auth"]["scheme"] == "bearer"
    assert token["kind"] == "s2s-user" and token["signature"] == "valid"
    assert token["issuer"] == f"00000004-0000-0ff1-ce00-000000000000@{EXPECTED['realm']}"
    assert set(token["outer"]) >= {"header", "claims"} and set(token["actor"]) >= {"header", "claims"}
    for finding in document["findings"]:
        assert set(finding) >= {"rule", "severity", "message", "exchange", "evidence"}
        assert finding["severity"] in {"error", "warning", "info"}
    summary = document["summary"]
    assert summary["auth_schemes"]["bearer"] == 19  # 18 from the S2S client, the Basic client's OAuth probe
    assert summary["signatures"]["valid"] == 11
    assert summary["findings"]["error"] == sum(1 for f in document["findings"] if f["severity"] == "error")


def test_jsonl_streams_exchanges_with_their_findings() -> None:
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["type"] for line in lines].count("exchange") == len(EXPECTED["exchanges"])
    assert lines[-1]["type"] == "summary"
    fallback = next(line for line in lines if any(f["rule"] == "basic-fallback" for f in line.get("findings", [])))
    assert fallback["auth"]["user"] == "CONTOSO\\svc-sfb"


def test_sarif_has_the_catalogue_and_results() -> None:
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "basic-fallback" in rule_ids and "signature-invalid" in rule_ids
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
    assert any(r["ruleId"] == "signature-invalid" for r in run["results"])


SIGNATURE = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}")


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "sarif", "html"])
@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng"])
def test_no_secret_in_any_output_format(fmt: str, name: str, tmp_path: Path) -> None:
    output = tmp_path / "report"
    invoke("analyze", str(SAMPLES / name), *TRUST, "--format", fmt, "--output", str(output))
    text = output.read_text()
    assert text.strip()
    assert BASIC_PASSWORD not in text
    assert "Lab-Passw0rd" not in text
    assert not SIGNATURE.search(text), "a signed JWT (usable token) leaked"
    har = (SAMPLES / "lab.har").read_text()
    signatures = set(re.findall(r"\.([\w-]{300,})(?=[\"\\])", har))
    assert signatures, "the sample must contain signed tokens for this test to mean anything"
    for signature in signatures:
        assert signature[:40] not in text


OUTBOUND = REPO / "captures" / "outbound"


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "sarif", "html"])
@pytest.mark.parametrize("name", ["outbound.har", "outbound.mitm", "outbound.pcapng", "outbound.saz"])
def test_no_client_assertion_or_issued_token_in_any_output_format(fmt: str, name: str, tmp_path: Path) -> None:
    """The outbound samples: client assertions and issued access tokens are shown decoded, never usable."""
    output = tmp_path / "report"
    invoke("analyze", str(OUTBOUND / name), "--cert", str(OUTBOUND / "OAuthCert.cer"), "--format", fmt, "--output",
           str(output))  # fmt: skip
    text = readable(output.read_text())
    assert "token-request-failed" in text or "Token request failed" in text
    assert not SIGNATURE.search(text), "a signed JWT (usable token) leaked"
    har = (OUTBOUND / "outbound.har").read_text()
    signatures = set(re.findall(r"\.([\w-]{300,})(?=[&\"\\])", har))
    assert len(signatures) > 10, "the sample must contain signed assertions and tokens for this test to mean anything"
    for signature in signatures:
        assert signature[:40] not in text


def test_show_secrets_opts_out() -> None:
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--format", "json", "--show-secrets")
    assert BASIC_PASSWORD in out


def test_table_is_what_a_person_reads() -> None:
    code, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST)
    assert code == 1
    assert "basic-fallback" in out and "signature-invalid" in out
    assert "Findings:" in out and "errors" in out


def test_fail_on_never_and_warning() -> None:
    assert invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "--fail-on", "never", "--format", "json")[0] == 0


def test_unreadable_input_is_exit_3_and_the_rest_is_still_reported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00garbage" * 10)
    code, out, err = invoke("analyze", str(junk), str(SAMPLES / "lab.har"), *TRUST, "--format", "json")
    assert code == 3
    assert "junk.bin" in err and "Traceback" not in err
    assert len(json.loads(out)["exchanges"]) == len(EXPECTED["exchanges"])


def test_missing_input_and_empty_folder(tmp_path: Path) -> None:
    code, _, err = invoke("analyze", str(tmp_path / "nope.pcap"))
    assert code == 3 and "no such file" in err
    code, _, err = invoke("analyze", str(tmp_path))
    assert code == 3 and "no capture" in err


def test_folder_is_searched_for_inputs(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.json").write_bytes((SAMPLES / "lab.har").read_bytes())
    (tmp_path / "notes.txt").write_text("not a capture")
    code, out, _ = invoke("analyze", str(tmp_path), *TRUST, "--format", "json")
    assert code == 1
    assert [s["kind"] for s in json.loads(out)["sources"]] == ["har"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cert", "/nonexistent.cer"], "Cannot read certificate"),
        (["--thumbprint", "xyz"], "40 hex digits"),
        (["--metadata", str(SAMPLES / "OAuthCert.cer")], "not a JSON metadata document"),
        (["--skew", "-5"], "-5"),
        (["--format", "xml"], "xml"),
    ],
)
def test_configuration_errors_are_exit_2(args: list[str], message: str) -> None:
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_config_file_supplies_trust_and_realm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oauth-inspector.toml").write_text(
        f'cert = ["{SAMPLES / "OAuthCert.cer"}"]\nmetadata = "{SAMPLES / "acs-metadata.json"}"\n'
        f'realm = "{EXPECTED["realm"]}"\nfail-on = "never"\nformat = "json"\n'
    )
    nested = tmp_path / "captures" / "today"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    code, out, _ = invoke("analyze", str(SAMPLES / "lab.har"))
    assert code == 0
    document = json.loads(out)
    assert document["summary"]["signatures"]["valid"] == 11


def test_pyproject_section_and_bad_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.oauth-inspector]\nrealm = "x"\nunknown-key = 1\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"))
    assert code == 2 and "unknown key 'unknown-key'" in err


def test_rules_lists_the_catalogue() -> None:
    code, out, _ = invoke("rules", "--format", "json")
    assert code == 0
    ids = [r["id"] for r in json.loads(out)]
    assert len(ids) == len(set(ids)) >= 22
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)


def test_token_command_reads_a_whole_header_from_stdin(lab_kit) -> None:  # type: ignore[no-untyped-def]
    value = f"Authorization: Bearer {lab_kit.healthy_user().value}"
    code, out, _ = invoke("token", "-", "--at", "2026-11-02T09:31:00Z", "--format", "json", input=value)
    document = json.loads(out)
    token = document["exchanges"][0]["auth"]["token"]
    assert token["kind"] == "s2s-user"
    assert token["signature"] == "unknown-key"  # no certificate given
    assert code == 0  # unknown key is a warning


def test_token_command_with_its_certificate(lab_kit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from inspector.lab.certs import write_cer

    cer = write_cer(tmp_path / "OAuthCert.cer", lab_kit.auth_cert)
    code, out, _ = invoke("token", lab_kit.forged_signature().value, "--cert", str(cer), "--at", "2026-11-02T09:31:00Z")
    assert code == 1
    assert "signature-invalid" in out
    assert "outer token" in out and "actor token" in out


def test_token_command_bad_time() -> None:
    code, _, err = invoke("token", "x", "--at", "yesterday")
    assert code == 2 and "ISO 8601" in err


def test_terminal_escapes_from_the_wire_are_neutralised(tmp_path: Path) -> None:
    import base64

    from inspector.lab.writers import write_har
    from tests.builders import exchange

    user = "\x1b]0;pwned\x07[bold red]mallory[/bold red]\u202e"
    basic = "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()
    hostile = exchange(basic, host="mail\x1b\x07.contoso.com", target="/ews/\x1b[31m[link=x]y[/link]")
    path = write_har([hostile], tmp_path / "hostile.har")
    _, out, _ = invoke("analyze", str(path))
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b" in out
    assert "mallory[/bold red]" in out  # shown literally, not interpreted as markup


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "x.pcap"
    junk.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\xff" * 30)
    proc = subprocess.run(
        [sys.executable, "-c", "from inspector.cli import run; run()", "analyze", str(junk)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "x.pcap" in proc.stderr


def test_parallel_jobs_report_exactly_what_one_process_reports(tmp_path: Path) -> None:
    (tmp_path / "again").mkdir()
    shutil.copy(SAMPLES / "lab.har", tmp_path / "again" / "lab.har")
    inputs = [str(SAMPLES / "lab.har"), str(SAMPLES / "lab.mitm"), str(tmp_path / "again" / "lab.har")]
    one = invoke("analyze", *inputs, *TRUST, "--format", "json", "--jobs", "1")
    two = invoke("analyze", *inputs, *TRUST, "--format", "json", "--jobs", "2")
    assert one[0] == two[0] == 1
    assert json.loads(one[1]) == json.loads(two[1])
    assert json.loads(two[1])["summary"]["exchanges"] == 3 * len(EXPECTED["exchanges"])


def test_rules_with_ids_shows_just_those() -> None:
    code, out, _ = invoke("rules", "basic-fallback")
    assert code == 0
    assert out.startswith("basic-fallback (error): Fallback from OAuth to Basic/NTLM/Negotiate\n\n")
    assert "token-expired" not in out
    code, out, _ = invoke("rules", "token-expired", "BASIC-FALLBACK", "--format", "json")
    assert [r["id"] for r in json.loads(out)] == ["token-expired", "basic-fallback"]


def test_rules_with_an_unknown_id_suggests_the_near_one() -> None:
    code, _, err = invoke("rules", "basic-falback")
    assert code == 2
    assert 'no rule "basic-falback"; did you mean basic-fallback?' in err


def test_a_table_written_to_a_pipe_or_file_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    _, out, _ = invoke("analyze", str(SAMPLES / "lab.har"), *TRUST)
    assert "POST /EWS/Exchange.asmx" in out  # one cell, not folded over lines
    assert max(len(line) for line in out.splitlines()) > 80
    report = tmp_path / "report.txt"
    invoke("analyze", str(SAMPLES / "lab.har"), *TRUST, "-o", str(report))
    assert "POST /EWS/Exchange.asmx" in report.read_text(encoding="utf-8")
