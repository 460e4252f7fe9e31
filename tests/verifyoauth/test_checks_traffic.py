"""traffic.s2s: the S2S tokens of a capture judged with the trust verify-oauth gathered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspector.verifyoauth.context import Request
from tests.verifyoauth.captures import write_capture
from tests.verifyoauth.conftest import NOW, Material, check_map

# --- traffic.s2s --------------------------------------------------------------------------------------------------


def test_traffic_with_a_forged_token_fails_naming_rule_and_exchange(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "forged.har", kit, [kit.healthy_user(), kit.forged_signature()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "FAIL"
    assert "signature-invalid at forged.har:2 (forged.har, entry 1)" in check.reason
    assert (check.remedy or "").startswith("signature-invalid:")


def test_traffic_signed_by_an_unknown_key(
    full_request: Callable[..., Request], material: Material, tmp_path: Path
) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "acs.har", kit, [kit.acs_actor()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "FAIL" and "1 unknown-key" in check.reason
    assert "--metadata" in (check.remedy or "")


def test_traffic_warning_only(full_request: Callable[..., Request], material: Material, tmp_path: Path) -> None:
    kit = material.lab.kit(NOW)
    capture = write_capture(tmp_path / "jku.har", kit, [kit.healthy_user(), kit.dangerous_header()])
    check = check_map(full_request(captures=(capture,)))["traffic.s2s"]
    assert check.status == "WARN" and "dangerous-header" in check.reason


def test_traffic_without_tokens_and_unreadable_capture(full_request: Callable[..., Request], tmp_path: Path) -> None:
    empty = tmp_path / "nothing.har"
    empty.write_text('{"log": {"version": "1.2", "entries": []}}', encoding="utf-8")
    check = check_map(full_request(captures=(empty,)))["traffic.s2s"]
    assert check.status == "FAIL" and "no S2S token" in check.reason
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 7)
    checks = check_map(full_request(captures=(broken,)))
    assert checks["traffic.s2s"].status == "FAIL"
    assert checks["cert.readable"].status == "PASS"
