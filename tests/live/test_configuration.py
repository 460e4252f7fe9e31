"""The addon's configuration (live/configuration.py): what it reports (``oauth_rule``, ``oauth_ignore``, ...,
and the configuration file's ``[[ignore]]``), applied as ``analyze`` applies it, through a real mitmdump replaying
the bundled flow file; and a reconfigure that is refused leaves the previous configuration in force."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mitmproxy import exceptions

from inspector.cli import main
from inspector.live.addon import OAuthInspector
from inspector.proxy import mitmproxy_command
from inspector.selection import COMMAND_LINE_REASON
from tests.corpus import REPO
from tests.live.conftest import TrustFiles, addon_context, configure

SAMPLES = REPO / "captures" / "lab"
REALM = "5de110f8-2e0f-4d45-891d-bcf2218e253d"
TRUST_SETS = [
    f"oauth_cert={SAMPLES / 'OAuthCert.cer'}",
    f"oauth_metadata={SAMPLES / 'acs-metadata.json'}",
    f"oauth_realm={REALM}",
]


def replay(flows: Path, tmp_path: Path, *sets: str) -> tuple[list[dict[str, Any]], str]:
    """``mitmdump -nr flows -s addons/oauth_inspector.py``: the report's lines and what mitmdump printed."""
    report = tmp_path / "replay.jsonl"
    command = [*mitmproxy_command("mitmdump"), "-nr", str(flows), "-s", str(REPO / "addons" / "oauth_inspector.py")]
    for item in [*TRUST_SETS, f"oauth_report={report}", *sets]:
        command += ["--set", item]
    finished = subprocess.run(command, capture_output=True, timeout=120, cwd=tmp_path, check=False)
    output = (finished.stdout + finished.stderr).decode(errors="replace")
    assert finished.returncode == 0, output[-3000:]
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()], output


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The replay without a selection: the close case of every test here."""
    lines, _ = replay(SAMPLES / "lab.mitm", tmp_path_factory.mktemp("everything"))
    return lines


def findings(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [f for line in lines if line["type"] == "exchange" for f in line["findings"]]
    return out + [line for line in lines if line["type"] == "finding"]


def test_the_live_proxy_reports_what_the_selection_keeps(everything: list[dict[str, Any]], tmp_path: Path) -> None:
    rules = {f["rule"] for f in findings(everything)}
    assert {"token-expired", "basic-fallback", "signing-key-unknown"} <= rules  # the close case: all of them

    selected, output = replay(SAMPLES / "lab.mitm", tmp_path, "oauth_rule=token-expired")
    expired = [f for f in findings(everything) if f["rule"] == "token-expired"]
    assert [f["rule"] for f in findings(selected)] == ["token-expired"] * len(expired)
    assert selected[-1]["type"] == "summary" and selected[-1]["rules"] == {"token-expired": len(expired)}
    assert "[basic-fallback]" not in output  # not logged either

    by_severity, _ = replay(SAMPLES / "lab.mitm", tmp_path, "oauth_severity=error")
    assert {f["severity"] for f in findings(by_severity)} == {"error"}

    elsewhere, _ = replay(SAMPLES / "lab.mitm", tmp_path, "oauth_host=nowhere.example")
    assert [line for line in elsewhere if line["type"] == "exchange"] == []

    # mitmproxy appends a repeated --set to a sequence option: `proxy --rule A --rule B` gives both
    two, _ = replay(SAMPLES / "lab.mitm", tmp_path, "oauth_rule=token-expired", "oauth_rule=basic-fallback")
    assert {f["rule"] for f in findings(two)} == {"token-expired", "basic-fallback"}


def test_proxy_hands_the_selection_to_the_addon_and_refuses_a_bad_one_before_mitmproxy_starts() -> None:
    chosen = ["--rule", "token-expired", "--ignore", "basic-offered:legacy.contoso.com", "--severity", "warning"]
    chosen += ["--host", "mail.contoso.com", "--client", "10.0.0.1"]
    result = CliRunner().invoke(main, ["proxy", "--dry-run", *chosen])
    assert result.exit_code == 0, result.output
    command = result.output.split("Command:", 1)[1]
    for expected in (
        "--set oauth_rule=token-expired",
        "--set oauth_ignore=basic-offered:legacy.contoso.com",
        "--set oauth_severity=warning",
        "--set oauth_host=mail.contoso.com",
        "--set oauth_client=10.0.0.1",
    ):
        assert expected in command
    refused = CliRunner().invoke(main, ["proxy", "--dry-run", "--ignore", "basic-fallbak"])
    assert refused.exit_code == 2 and "did you mean basic-fallback" in refused.stderr


def test_suppressions_from_the_option_and_the_configuration_file(
    everything: list[dict[str, Any]], tmp_path: Path
) -> None:
    ignored, output = replay(SAMPLES / "lab.mitm", tmp_path, "oauth_ignore=basic-fallback")
    assert len(findings(ignored)) == len(findings(everything))  # nothing dropped
    marked = [f for f in findings(ignored) if f.get("suppressed")]
    assert [f["rule"] for f in marked] == ["basic-fallback"]
    assert marked[0]["suppressed"]["reason"] == COMMAND_LINE_REASON
    assert ignored[-1]["suppressed"] == 1
    assert ignored[-1]["findings"]["error"] == everything[-1]["findings"]["error"] - 1
    assert "basic-fallback] error (suppressed)" in output

    config = tmp_path / "oauth-inspector.toml"
    config.write_text('[[ignore]]\nrule = "basic-fallback"\nreason = "legacy app, retired in 2027"\n')
    configured, _ = replay(SAMPLES / "lab.mitm", tmp_path, f"oauth_config={config}")
    [marked_too] = [f for f in findings(configured) if f.get("suppressed")]
    assert marked_too["rule"] == "basic-fallback"
    assert marked_too["suppressed"]["reason"] == "legacy app, retired in 2027"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("oauth_rule", ["no-such-rule"], "no rule no-such-rule"),
        ("oauth_ignore", ["basic-fallbak"], "did you mean basic-fallback"),
        ("oauth_severity", "loud", "oauth_severity must be one of"),
    ],
)
def test_a_refused_reconfigure_keeps_the_previous_configuration(
    trust_files: TrustFiles, option: str, value: object, message: str
) -> None:
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options(), oauth_rule=["token-expired"])
        before = addon.config
        assert before is not None and before.selection.rules == {"token-expired"}
        with pytest.raises(exceptions.OptionsError, match=message):
            configure(context, addon, **{option: value})
        # mitmproxy rolls the options back and configures again with them: the same selection and trust
        after = addon.config
        assert after is not None and after.selection == before.selection
        assert after.settings.trust == before.settings.trust


def test_narrowing_by_host_turns_the_repeat_shortcut_off(trust_files: TrustFiles) -> None:
    """A repeat is published from another flow's verdict, maybe another client's: with --host/--client filters
    every flow takes the full path, where the filters are applied."""
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        assert addon.repeats is not None
        configure(context, addon, oauth_client=["10.0.0.1"])
        assert addon.repeats is None


def _lab_flows() -> list[Any]:
    from mitmproxy import io

    with (REPO / "captures" / "lab" / "lab.mitm").open("rb") as handle:
        return list(io.FlowReader(handle).stream())


@pytest.mark.parametrize("reconfigured", [False, True])
def test_a_reconfigure_keeps_judging_the_same_conversation(trust_files: TrustFiles, reconfigured: bool) -> None:
    """The lab's refused Bearer attempts (flows 0-18), then its Basic retry (19) and an NTLM handshake that never
    finishes (20-21): a reconfigure between them (found by review: a fresh analyzer forgot both) changes nothing."""
    flows = _lab_flows()
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **trust_files.options())
        for flow in flows[:19]:
            addon.response(flow)
        if reconfigured:
            configure(context, addon, oauth_skew=60)
        for flow in flows[19:22]:
            addon.response(flow)
        addon.done()
    assert addon.totals.rules.get("basic-fallback") == 1
    assert addon.totals.rules.get("legacy-auth") == 1  # the NTLM handshake that never finished, reported at the end


def test_the_trust_stores_findings_are_published_once_over_reconfigures(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    now = datetime.now(UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(1).not_valid_before(now - timedelta(days=400))
    certificate = builder.not_valid_after(now - timedelta(days=10)).sign(key, hashes.SHA256())
    cert = tmp_path / "expired.cer"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, oauth_cert=[str(cert)])
        configure(context, addon, oauth_skew=100)
        configure(context, addon, oauth_skew=200)
        addon.done()
    assert addon.totals.rules.get("cert-expired") == 1  # was 3: published again at every reconfigure
