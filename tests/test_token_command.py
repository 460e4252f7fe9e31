"""The ``token`` command: ``--at`` is the moment for everything judged, the certificates included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.lab.certs import write_cer
from inspector.lab.tokens import TokenKit
from tests.test_cli import invoke


def test_at_judges_the_certificate_at_that_time_too(lab_kit: TokenKit, tmp_path: Path) -> None:
    cer = write_cer(tmp_path / "OAuthCert.cer", lab_kit.auth_cert)
    not_after = lab_kit.auth_cert.certificate.not_valid_after_utc
    token = lab_kit.healthy_user().value
    after_expiry = (not_after.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    _, out, _ = invoke("token", token, "--cert", str(cer), "--at", after_expiry, "--format", "json")
    rules = [f["rule"] for f in json.loads(out)["findings"]]
    assert rules.count("cert-expired") == 0  # valid through its last second
    assert "cert-expiring" in rules
    later = not_after.replace(year=not_after.year + 1).isoformat().replace("+00:00", "Z")
    _, out, _ = invoke("token", token, "--cert", str(cer), "--at", later, "--format", "json")
    rules = [f["rule"] for f in json.loads(out)["findings"]]
    assert rules.count("cert-expired") == 1
    # At the token's own time the certificate is years from expiry: nothing about it.
    _, out, _ = invoke("token", token, "--cert", str(cer), "--at", "2026-11-02T09:31:00Z", "--format", "json")
    assert not {"cert-expired", "cert-expiring"} & {f["rule"] for f in json.loads(out)["findings"]}


def test_json_has_the_inventory_key_as_analyze_writes_it(lab_kit: TokenKit, tmp_path: Path) -> None:
    cer = write_cer(tmp_path / "OAuthCert.cer", lab_kit.auth_cert)
    token = lab_kit.healthy_user().value
    _, out, _ = invoke("token", token, "--cert", str(cer), "--at", "2026-11-02T09:31:00Z", "--format", "json")
    document = json.loads(out)
    [signer] = document["inventory"]["signers"]
    assert signer["exchanges"] == 1
    assert signer["x5t"] and signer["signatures"] == {"valid": 1}
    assert document["inventory"]["challenges"] == []
    # a token that is not a JWT names no signer: the key is there, empty
    _, out, _ = invoke("token", "Bearer not-a-jwt", "--format", "json")
    assert json.loads(out)["inventory"]["signers"] == []


@pytest.mark.parametrize("name", ["lab.har", "lab.pcapng", "lab.mitm"])
def test_a_capture_on_standard_input_is_refused_pointing_at_analyze(name: str) -> None:
    """Found by review: judged as one opaque bearer value, exit 0."""
    import subprocess
    import sys

    from tests.corpus import REPO

    data = (REPO / "captures" / "lab" / name).read_bytes()
    command = [sys.executable, "-m", "inspector", "token", "-"]
    done = subprocess.run(command, input=data, capture_output=True, check=False)
    assert done.returncode == 2
    assert b"not a token" in done.stderr and b"analyze -" in done.stderr
