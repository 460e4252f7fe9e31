"""The outbound leg and body errors through every file source and every output format: the same findings from
HAR, .mitm, pcap and .saz (as Fiddler Classic and Fiddler Everywhere write it), no secret in any output unless
--show-secrets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.lab.certs import write_cer
from inspector.lab.outbound import EWS_ERROR_TEMPLATE, OutboundCase, token_exchange
from inspector.lab.pcap_writer import write_lab_pcapng
from inspector.lab.saz_writer import write_saz
from inspector.lab.token_endpoint import TokenCall, entra_error
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import write_flows, write_har
from inspector.model import HttpExchange
from inspector.token_requests import token_request_fields
from tests import outbound
from tests.corpus import REPO

Writer = Callable[[Sequence[HttpExchange], Path], Path]
WRITERS: dict[str, tuple[str, Writer]] = {
    "har": ("outbound.har", write_har),
    "mitm": ("outbound.mitm", write_flows),
    "pcap": ("outbound.pcapng", write_lab_pcapng),
    "saz-classic": ("outbound.saz", lambda exchanges, path: write_saz(exchanges, path, style="classic")),
    "saz-everywhere": ("outbound-fe.saz", lambda exchanges, path: write_saz(exchanges, path, style="everywhere")),
}


def _write(kind: str, cases: list[OutboundCase], folder: Path) -> Path:
    name, writer = WRITERS[kind]
    return writer([c.exchange for c in cases], folder / name)


def _analyze(path: Path, cert: Path, *extra: str) -> tuple[int, str]:
    args = ["analyze", str(path), "--cert", str(cert), *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def cases(lab_kit: TokenKit) -> list[OutboundCase]:
    return outbound.cases(lab_kit)


@pytest.fixture(scope="module")
def cert(lab_kit: TokenKit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cer(tmp_path_factory.mktemp("trust") / "OAuthCert.cer", lab_kit.auth_cert)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_every_case_through_every_source(kind: str, cases: list[OutboundCase], cert: Path, tmp_path: Path) -> None:
    path = _write(kind, cases, tmp_path)
    code, out = _analyze(path, cert, "--format", "json")
    assert code == 1
    document = json.loads(out)
    exchanges = document["exchanges"]
    assert len(exchanges) == len(cases)
    by_exchange: dict[str, set[str]] = {e["id"]: set() for e in exchanges}
    for item in document["findings"]:
        if item["exchange"] is not None:  # run-level findings (the trust inventory's) name no exchange
            by_exchange[item["exchange"]].add(item["rule"])
    # pcap orders exchanges by capture time, as the cases are
    for case, exchange in zip(cases, exchanges, strict=True):
        assert by_exchange[exchange["id"]] == set(case.expects), (kind, case.name)
        is_token_request = token_request_fields(case.exchange) is not None
        assert ("token_request" in exchange) == is_token_request, (kind, case.name)
    codes = {
        code
        for item in document["findings"]
        if item["rule"] == "token-request-failed"
        for code in item["evidence"]["codes"]
    }
    assert codes >= {"AADSTS700027", "AADSTS50012", "AADSTS7000215", "AADSTS700016", "AADSTS500011"}
    assert codes >= {"AADSTS90002", "AADSTS700024", "AADSTS50013", "ACS50012", "ACS90019"}
    success = next(e for e, c in zip(exchanges, cases, strict=True) if c.name == "entra-success")
    assert success["token_request"]["client_assertion"]["kind"] == "client-assertion"
    assert success["token_request"]["client_assertion"]["signature"] == "valid"
    assert success["token_request"]["access_token"]["outer"]["claims"]["roles"] == ["full_access_as_app"]


SIGNED_JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{20,}")


def _secrets(cases: list[OutboundCase]) -> set[str]:
    """Every signature of a client assertion or access token in the cases, and the form's secret values."""
    found: set[str] = set()
    for case in cases:
        for body in (case.exchange.request.body, case.exchange.response.body if case.exchange.response else None):
            if body:
                found.update(m.group(0).rsplit(".", 1)[1][:40] for m in SIGNED_JWT.finditer(body.decode()))
    return found


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "sarif", "html"])
@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_no_secret_in_any_output_format(
    kind: str, fmt: str, cases: list[OutboundCase], cert: Path, tmp_path: Path
) -> None:
    path = _write(kind, cases, tmp_path)
    report = tmp_path / "report"
    _analyze(path, cert, "--format", fmt, "--output", str(report))
    text = outbound.readable(report.read_text())
    assert text.strip()
    signatures = _secrets(cases)
    assert len(signatures) > 10, "the cases must carry signed assertions and tokens for this test to mean anything"
    for signature in signatures:
        assert signature not in text
    assert not SIGNED_JWT.search(text)


def test_show_secrets_shows_them(cases: list[OutboundCase], cert: Path, tmp_path: Path) -> None:
    path = _write("har", cases, tmp_path)
    _, out = _analyze(path, cert, "--format", "json", "--show-secrets")
    assert all(signature in out for signature in _secrets(cases))


SECRET_FORM = {
    "grant_type": "refresh_token",
    "client_id": "11111111-2222-3333-4444-555555555555",
    "client_secret": "Sekr1t-client-secret",
    "refresh_token": "Sekr1t-refresh-token",
    "code": "Sekr1t-auth-code",
    "password": "Sekr1t-password",
    "assertion": "Sekr1t-assertion",
    "client_assertion": "Sekr1t-client-assertion",
}


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "sarif", "html"])
def test_secret_form_fields_never_shown(fmt: str, lab_kit: TokenKit, cert: Path, tmp_path: Path) -> None:
    call = TokenCall("login.microsoftonline.com", "/common/oauth2/v2.0/token", urlencode(SECRET_FORM).encode())
    status, body = entra_error(7000215, now=lab_kit.now)
    path = write_har([token_exchange(1, call, status, body, lab_kit.now, "t")], tmp_path / "secrets.har")
    report = tmp_path / "report"
    _analyze(path, cert, "--format", fmt, "--output", str(report))
    text = outbound.readable(report.read_text())
    assert "token-request-failed" in text or "Token request failed" in text
    assert "Sekr1t" not in text
    _, shown = _analyze(path, cert, "--format", "json", "--show-secrets")
    assert all(value in shown for value in SECRET_FORM.values())


OUTBOUND_SAMPLES = REPO / "captures" / "outbound"


@pytest.mark.parametrize("name", ["outbound.har", "outbound.mitm", "outbound.pcapng", "outbound.saz"])
def test_bundled_outbound_samples_raise_exactly_the_expected_findings(name: str) -> None:
    expected = json.loads((OUTBOUND_SAMPLES / "expected.json").read_text())
    code, out = _analyze(OUTBOUND_SAMPLES / name, OUTBOUND_SAMPLES / "OAuthCert.cer", "--format", "json")
    assert code == 1
    document = json.loads(out)
    by_exchange: dict[str, set[str]] = {}
    for item in document["findings"]:
        by_exchange.setdefault(item["exchange"], set()).add(item["rule"])
    assert len(document["exchanges"]) == len(expected["exchanges"])
    for exchange, wanted in zip(document["exchanges"], expected["exchanges"], strict=True):
        assert by_exchange.get(exchange["id"], set()) == set(wanted["expected_rules"]), wanted["name"]
    thumbprints = {f["evidence"].get("thumbprint") for f in document["findings"] if f["rule"] == "token-request-failed"}
    assert expected["auth_certificate_thumbprint"] in thumbprints


def test_wire_text_in_body_errors_reaches_no_terminal_raw(lab_kit: TokenKit, cert: Path, tmp_path: Path) -> None:
    case = next(c for c in outbound.cases(lab_kit) if c.name == "ews-free-busy-401-inside-200")
    hostile = EWS_ERROR_TEMPLATE.format(text="\x1b]0;owned\x07 [bold red]x[/] \u202e", code="ErrorServerBusy")
    response = case.exchange.response
    assert response is not None
    exchange = replace(case.exchange, response=replace(response, body=hostile.encode()))
    path = write_har([exchange], tmp_path / "hostile.har")
    result = CliRunner().invoke(main, ["analyze", str(path), "--cert", str(cert)], catch_exceptions=False)
    assert "response-error-in-body" in result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout
    assert "[bold red]x[/]" in result.stdout  # markup printed literally, not interpreted


def test_show_prints_a_token_request_decoded_and_redacted() -> None:
    cert = OUTBOUND_SAMPLES / "OAuthCert.cer"
    expected = json.loads((OUTBOUND_SAMPLES / "expected.json").read_text())
    result = CliRunner().invoke(
        main, ["show", str(OUTBOUND_SAMPLES / "outbound.saz"), "outbound.saz:2", "--cert", str(cert)]
    )
    out = result.stdout
    assert "token request to login.microsoftonline.com/" in out
    assert "client_assertion = [redacted]" in out and "client assertion signature valid" in out
    assert f"{expected['auth_certificate_thumbprint']} is the auth certificate you gave" in out.replace("\n", " ")
    assert not SIGNED_JWT.search(out)
    success = CliRunner().invoke(
        main, ["show", str(OUTBOUND_SAMPLES / "outbound.har"), "outbound.har:1", "--cert", str(cert)]
    )
    assert "access token issued (decoded, not verified)" in success.stdout and "full_access_as_app" in success.stdout
