"""``oauth-inspector proxy``: the mitmproxy command it builds, what it tells the user, what it refuses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.live.addon import OAuthInspector
from inspector.model import ConfigError
from inspector.proxy import build_plan, mitmproxy_command, reverse_spec, script_path
from inspector.settings import TrustArguments
from tests.live.conftest import TrustFiles, addon_context


def _value_of(argv: list[str], name: str) -> list[str]:
    return [
        argv[i + 1].split("=", 1)[1]
        for i, a in enumerate(argv[:-1])
        if a == "--set" and argv[i + 1].startswith(name + "=")
    ]


def test_reverse_mode_keeps_the_host_header_and_passes_everything_on(trust_files: TrustFiles, tmp_path: Path) -> None:
    plan = build_plan(
        reverse="https://exchange.contoso.com",
        listen_host="127.0.0.1",
        listen_port=8443,
        web=False,
        trust=TrustArguments(certs=(trust_files.cert, trust_files.cert), realms=(trust_files.realm,), skew=60),
        report=tmp_path / "r.jsonl",
        mitmproxy_args=["-w", "flows.mitm", "--set", "ssl_insecure=true"],
    )
    argv = plan.argv
    assert Path(argv[0]).name.startswith("mitmdump") or argv[:2] == [sys.executable, "-c"]
    assert argv[argv.index("-s") + 1] == str(script_path())
    assert argv[argv.index("--mode") + 1] == "reverse:https://exchange.contoso.com"
    assert _value_of(argv, "keep_host_header") == ["true"]
    assert argv[argv.index("--listen-host") + 1] == "127.0.0.1"
    assert argv[argv.index("--listen-port") + 1] == "8443"
    assert _value_of(argv, "oauth_cert") == [str(trust_files.cert.resolve())] * 2
    assert _value_of(argv, "oauth_realm") == [trust_files.realm]
    assert _value_of(argv, "oauth_skew") == ["60"]
    assert _value_of(argv, "oauth_report") == [str((tmp_path / "r.jsonl").resolve())]
    assert argv[-4:] == ["-w", "flows.mitm", "--set", "ssl_insecure=true"]
    banner = "\n".join(plan.banner)
    assert "mitmproxy-ca-cert.pem" in banner
    assert "Extended Protection" in banner
    assert "NTLM and Kerberos" in banner
    assert "keep_host_header" in banner


def test_regular_mode_and_the_web_ui() -> None:
    plan = build_plan(
        reverse=None, listen_host="127.0.0.1", listen_port=8080, web=True, trust=TrustArguments(), report=None
    )
    assert "--mode" not in plan.argv
    assert not _value_of(plan.argv, "keep_host_header")
    assert "mitmweb" in " ".join(plan.argv[:3])
    assert any("HTTP and HTTPS proxy to http://127.0.0.1:8080" in line for line in plan.banner)


@pytest.mark.parametrize(
    "url", ["ftp://exchange", "https://", "https://exchange.contoso.com/EWS/Exchange.asmx", "https://x:99999"]
)
def test_bad_reverse_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="--reverse"):
        reverse_spec(url)


def test_a_bare_host_means_https() -> None:
    assert reverse_spec("exchange.contoso.com:444") == (
        "reverse:https://exchange.contoso.com:444",
        "https://exchange.contoso.com:444",
    )


def test_mitmproxy_is_taken_from_this_environment() -> None:
    command = mitmproxy_command("mitmdump")
    if len(command) == 1:
        assert os.access(command[0], os.X_OK)
        assert Path(command[0]).parent == Path(sys.executable).parent or Path(command[0]).name == "mitmdump"
    else:
        assert command[:2] == [sys.executable, "-c"]


def test_the_packaged_script_and_the_repository_shim_load_as_mitmproxy_scripts() -> None:
    repo_shim = Path(__file__).resolve().parents[2] / "addons" / "oauth_inspector.py"
    for path in (script_path(), repo_shim):
        with addon_context() as context:
            module = context.script(str(path))
            assert [type(a) for a in module.addons] == [OAuthInspector]
            assert "oauth_cert" in context.options


def test_dry_run_prints_the_banner_and_command(trust_files: TrustFiles) -> None:
    result = CliRunner().invoke(
        main,
        [
            "proxy",
            "--reverse",
            "https://exchange.contoso.com",
            "--cert",
            str(trust_files.cert),
            "--dry-run",
            "--",
            "-w",
            "f.mitm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reverse proxy in front of https://exchange.contoso.com" in result.output
    assert "Command:" in result.output
    assert "keep_host_header=true" in result.output
    assert result.output.rstrip().endswith("-w f.mitm")


def test_a_report_appended_to_with_plus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--report +FILE`` appends, as the addon's oauth_report reads it (found by review: refused, "folder does not
    exist", as a file named "+FILE")."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["proxy", "--report", "+oauth.jsonl", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"oauth_report=+{tmp_path / 'oauth.jsonl'}" in result.output


def test_every_trust_option_reaches_the_addon(trust_files: TrustFiles, tmp_path: Path) -> None:
    config = tmp_path / "oauth-inspector.toml"
    config.write_text("skew = 30\n", encoding="utf-8")
    thumbprint = "ab" * 20
    result = CliRunner().invoke(
        main,
        ["proxy", "--cert", str(trust_files.cert), "--metadata", str(trust_files.metadata), "--thumbprint",
         thumbprint, "--realm", trust_files.realm, "--issuer", "00000004-0000-0ff1-ce00-000000000000", "--skew",
         "60", "--config", str(config), "--fail-on", "warning", "--show-secrets", "--dry-run"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    command = " ".join(result.output.split())
    for expected in (
        f"oauth_cert={trust_files.cert.resolve()}",
        f"oauth_metadata={trust_files.metadata.resolve()}",
        f"oauth_thumbprint={thumbprint}",
        f"oauth_realm={trust_files.realm}",
        "oauth_issuer=00000004-0000-0ff1-ce00-000000000000",
        "oauth_skew=60",
        f"oauth_config={config.resolve()}",
        "oauth_fail_on=warning",
        "oauth_show_secrets=true",
    ):
        assert expected in command, expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cert", "/nonexistent/OAuthCert.cer"], "/nonexistent/OAuthCert.cer"),
        (["--thumbprint", "xyz"], "thumbprint"),
        (["--report", "/nonexistent/folder/r.jsonl"], "folder does not exist"),
        (["--reverse", "ftp://x"], "--reverse"),
    ],
)
def test_bad_options_end_with_exit_code_2_before_mitmproxy_starts(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["proxy", *args, "--dry-run"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Command:" not in result.output


def test_a_busy_port_is_refused_in_the_projects_words_before_mitmproxy_starts() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["proxy", "--listen-port", str(port)])
    assert result.exit_code == 2
    assert f"Cannot listen on 127.0.0.1:{port}: the port is in use" in result.output
    assert "--listen-port" in result.output


def test_a_free_port_passes_the_check_and_the_banner_does_not_claim_to_listen_yet() -> None:
    import socket

    from inspector.proxy import check_port_free

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    check_port_free("127.0.0.1", port)  # nothing listens there now
    plan = build_plan(
        reverse=None, listen_host="127.0.0.1", listen_port=port, web=False, trust=TrustArguments(), report=None
    )
    banner = "\n".join(plan.banner)
    assert "Listening on" not in banner
    assert "mitmproxy says 'proxy listening' once it is open" in banner
