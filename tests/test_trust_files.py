"""Several trust files given: one that cannot be used is reported and skipped; exit 2 only when none can be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.model import ConfigError
from inspector.trust import build_trust
from tests.test_cli import EXPECTED, SAMPLES, invoke


def test_an_unparsable_certificate_among_good_ones_is_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cer"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    trust = build_trust(certs=[bad, SAMPLES / "OAuthCert.cer"])
    assert len(trust.keys) == 1
    (reason,) = trust.skipped
    assert "broken.cer" in reason
    with pytest.raises(ConfigError, match=r"broken\.cer"):
        build_trust(certs=[bad])
    with pytest.raises(ConfigError, match=r"and 1 more file"):
        build_trust(certs=[bad, tmp_path / "missing.cer"])


def test_the_run_goes_on_and_says_what_it_skipped(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cer"
    bad.write_bytes(b"\x30\x03\x02\x01")
    good = ["--cert", str(SAMPLES / "OAuthCert.cer"), "--metadata", str(SAMPLES / "acs-metadata.json")]
    code, out, err = invoke(
        "analyze", str(SAMPLES / "lab.har"), "--cert", str(bad), *good, "--realm", EXPECTED["realm"], "--format", "json"
    )
    assert code == 1  # the samples' findings, not a configuration error
    assert json.loads(out)["summary"]["signatures"]["valid"] == 11
    assert "warning: skipped" in err and "broken.cer" in err
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"), "--cert", str(bad))
    assert code == 2
    assert "broken.cer" in err
