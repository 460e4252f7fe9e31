"""cert.*: the exported auth certificate read, dated, sized, and compared with Get-AuthConfig."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.lab.certs import write_cer
from inspector.verifyoauth.context import Request
from tests.verifyoauth.conftest import Material, check_map, render

# --- cert.* ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "check_id", "status", "remedy"),
    [
        ("expired", "cert.validity", "FAIL", "Set-AuthConfig -PublishCertificate"),
        ("expiring", "cert.validity", "WARN", "Next-certificate procedure"),
        ("weak", "cert.key-size", "FAIL", "-KeySize 2048"),
    ],
)
def test_certificate_problems(
    material: Material, tmp_path: Path, which: str, check_id: str, status: str, remedy: str
) -> None:
    path = write_cer(tmp_path / "OAuthCert.cer", getattr(material, which))
    check = check_map(Request(cert=path))[check_id]
    assert (check.status, check.id) == (status, check_id)
    assert check.remedy is not None and remedy in check.remedy
    if which == "expiring":
        assert "Set-AuthConfig -NewCertificateThumbprint" in check.remedy
        assert "in 29 days" in check.reason or "in 30 days" in check.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a certificate at all", "not an X.509 certificate"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "holds a private key"),
    ],
)
def test_unreadable_certificate_fails_readable_and_skips_the_others(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "OAuthCert.cer"
    path.write_bytes(content)
    checks = check_map(Request(cert=path))
    assert checks["cert.readable"].status == "FAIL"
    assert message in checks["cert.readable"].reason
    assert "Export-Certificate" in (checks["cert.readable"].remedy or "")
    assert checks["cert.validity"].status == checks["cert.key-size"].status == "SKIP"
    assert "cert.readable" in checks["cert.validity"].reason


def test_cert_not_current(
    full_request: Callable[..., Request], material: Material, healthy_bundle: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    bundle["AuthConfig"]["CurrentCertificateThumbprint"] = material.next_cert.thumbprint
    bundle["AuthConfig"]["PreviousCertificateThumbprint"] = material.current.thumbprint
    check = check_map(full_request(bundle))["cert.is-current"]
    assert check.status == "FAIL"
    assert "PREVIOUS" in check.reason and material.next_cert.thumbprint in check.reason
    assert "Export-Certificate" in (check.remedy or "")


def test_next_certificate_not_uploaded_warns(
    full_request: Callable[..., Request], material: Material, healthy_bundle: dict[str, Any], healthy_sp: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(healthy_bundle)
    bundle["AuthConfig"]["NextCertificateThumbprint"] = material.next_cert.thumbprint
    bundle["AuthConfig"]["NextCertificateEffectiveDate"] = "2030-01-01T00:00:00.0000000Z"
    check = check_map(full_request(bundle))["cert.is-current"]
    assert check.status == "WARN"
    assert "not uploaded" in check.reason and "2030-01-01" in check.reason
    assert "Update-MgServicePrincipal" in (check.remedy or "") and material.next_cert.thumbprint in (check.remedy or "")
    # Once the next certificate is on the service principal too, it passes.
    sp = copy.deepcopy(healthy_sp)
    uploaded = render("sp-graph-select.json", material.next_cert)["keyCredentials"][0]
    sp["keyCredentials"].append(uploaded)
    assert check_map(full_request(bundle, sp))["cert.is-current"].status == "PASS"
