"""Joining the inventory with the configuration: signer-not-current, signer-not-on-sp, next-cert-not-published
and the rotation timeline; through the command line with verify-oauth's own bundle and service principal files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inspector.inventory import Inventory, SignerStats
from inspector.lab.certs import exchange_auth_cert
from inspector.policy import EXCHANGE
from inspector.remote.spkeys import KeyCredential, ServicePrincipalKeys
from inspector.rotation import Configuration, join_findings, rotation_timeline, x5t_thumbprint
from inspector.trust import Trust, load_certificate_file, thumbprint_to_x5t
from inspector.verifyoauth.bundle import AuthConfig, ExchangeConfig
from tests.test_cli import SAMPLES, TRUST, invoke, lab_sample

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CURRENT = "A" * 40
NEXT = "B" * 40
PREVIOUS = "C" * 40
SFB = "00000004-0000-0ff1-ce00-000000000000"


def _inventory(*signers: tuple[str, str]) -> Inventory:
    """Signers as (issuer principal, thumbprint)."""
    inventory = Inventory()
    for n, (principal, thumbprint) in enumerate(signers):
        key = (f"{principal}@realm", thumbprint_to_x5t(thumbprint), None, "realm", SFB, "sfb.example")
        inventory.signers[key] = SignerStats(key, f"t:{n}", NOW, NOW + timedelta(minutes=n), exchanges=3)
    return inventory


def _config(
    *, current: str | None = CURRENT, next_: str | None = None, effective: datetime | None = None, sp: list[str] | None
) -> Configuration:
    auth = AuthConfig(current, next_, PREVIOUS, effective, EXCHANGE, None)
    keys = None
    if sp is not None:
        credentials = tuple(
            KeyCredential(
                None, "cert", "AsymmetricX509Cert", "Verify", NOW, NOW + timedelta(days=365), frozenset([t]), True
            )
            for t in sp
        )
        keys = ServicePrincipalKeys(EXCHANGE, "sp.json", credentials)
    return Configuration(ExchangeConfig("bundle.json", auth_config=auth), keys)


def _rules(inventory: Inventory, config: Configuration) -> list[str]:
    return [f.rule for f in join_findings(inventory, config, now=NOW)]


def test_x5t_thumbprint() -> None:
    assert x5t_thumbprint(thumbprint_to_x5t(CURRENT)) == CURRENT
    assert x5t_thumbprint("not base64!") is None and x5t_thumbprint("AAAA") is None and x5t_thumbprint(None) is None


def test_signer_not_current_fires_for_exchange_signing_with_the_previous_certificate() -> None:
    found = join_findings(_inventory((EXCHANGE, PREVIOUS)), _config(sp=None), now=NOW)
    assert [f.rule for f in found] == ["signer-not-current"]
    assert found[0].severity == "warning"
    assert "PREVIOUS" in found[0].message and found[0].evidence["role"] == "previous"


def test_signer_not_current_close_cases() -> None:
    assert _rules(_inventory((EXCHANGE, CURRENT)), _config(sp=None)) == []
    # A partner signing with its own certificate says nothing about Exchange's rotation.
    assert _rules(_inventory((SFB, "D" * 40)), _config(sp=None)) == []
    # No current certificate in the configuration: nothing to compare with.
    assert _rules(_inventory((EXCHANGE, PREVIOUS)), _config(current=None, sp=None)) == []


def test_a_partner_issuer_signing_with_a_configured_certificate_is_judged() -> None:
    """Whatever the issuer, a certificate the auth config names is Exchange's."""
    assert _rules(_inventory((SFB, NEXT)), _config(next_=NEXT, sp=None)) == ["signer-not-current"]


def test_signer_not_on_sp_fires_and_its_close_case() -> None:
    found = join_findings(_inventory((EXCHANGE, CURRENT)), _config(sp=[NEXT]), now=NOW)
    assert [f.rule for f in found] == ["signer-not-on-sp"]
    assert found[0].severity == "error" and found[0].evidence["thumbprint"] == CURRENT
    assert _rules(_inventory((EXCHANGE, CURRENT)), _config(sp=[CURRENT, NEXT])) == []
    assert _rules(_inventory((SFB, "D" * 40)), _config(sp=[CURRENT])) == []  # not Exchange's signer


@pytest.mark.parametrize(("days", "fires"), [(10, True), (-3, True), (30, True), (31, False)])
def test_next_cert_not_published_within_30_days(days: int, fires: bool) -> None:
    config = _config(next_=NEXT, effective=NOW + timedelta(days=days), sp=[CURRENT])
    assert _rules(Inventory(), config) == (["next-cert-not-published"] if fires else [])


def test_next_cert_not_published_close_cases() -> None:
    soon = NOW + timedelta(days=5)
    assert _rules(Inventory(), _config(next_=NEXT, effective=soon, sp=[CURRENT, NEXT])) == []  # uploaded
    assert _rules(Inventory(), _config(next_=NEXT, effective=None, sp=[CURRENT])) == []  # no date: unknown
    assert _rules(Inventory(), _config(next_=NEXT, effective=soon, sp=None)) == []  # no SP data: unknown


def test_rotation_timeline_joins_every_source() -> None:
    cert = exchange_auth_cert(now=NOW)
    from inspector.trust import key_from_certificate

    trust = Trust.of([key_from_certificate(cert.certificate, "OAuthCert.cer")], thumbprints=[PREVIOUS])
    inventory = _inventory((EXCHANGE, cert.thumbprint), (SFB, "D" * 40))
    config = _config(current=cert.thumbprint, next_=NEXT, effective=NOW + timedelta(days=3), sp=[cert.thumbprint])
    timeline = {e.thumbprint: e for e in rotation_timeline(inventory, config, trust)}
    assert set(timeline) == {cert.thumbprint, NEXT, PREVIOUS, "D" * 40}
    current = timeline[cert.thumbprint]
    assert current.roles == ["auth config current", "trusted (OAuthCert.cer)", "service principal key", "signs traffic"]
    assert current.not_before == cert.certificate.not_valid_before_utc
    assert current.first_seen == NOW and current.exchanges == 3 and current.on_service_principal is True
    assert timeline[NEXT].effective == NOW + timedelta(days=3) and timeline[NEXT].on_service_principal is False
    assert "expected (--thumbprint)" in timeline[PREVIOUS].roles
    assert timeline["D" * 40].roles == ["signs traffic"]


# --- through the command line, with the files verify-oauth reads -------------------------------------------------


def _bundle(tmp_path: Path, *, current: str, previous: str = "", next_: str = "", effective: str | None = None) -> Path:
    document: dict[str, Any] = json.loads((Path(__file__).parent / "verifyoauth/data/bundle-healthy.json").read_text())
    document["AuthConfig"].update(
        CurrentCertificateThumbprint=current,
        PreviousCertificateThumbprint=previous,
        NextCertificateThumbprint=next_,
        NextCertificateEffectiveDate=effective,
    )
    document.pop("AuthCertificates", None)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(document))
    return path


def _sp(tmp_path: Path, *thumbprints: str) -> Path:
    credentials = [
        {"customKeyIdentifier": t, "displayName": "CN=Auth", "keyId": f"k{n}", "type": "AsymmetricX509Cert"}
        for n, t in enumerate(thumbprints)
    ]
    path = tmp_path / "sp.json"
    path.write_text(json.dumps({"appId": EXCHANGE, "keyCredentials": credentials}))
    return path


def _lab_thumbprint() -> str:
    (key,) = load_certificate_file(SAMPLES / "OAuthCert.cer")
    assert key.thumbprint is not None
    return key.thumbprint


def _run_level(path: Path, *extra: str) -> tuple[list[str], dict[str, Any]]:
    code, out, err = invoke("analyze", str(path), *TRUST, "--format", "json", *extra)
    assert code == 1, err
    document = json.loads(out)
    rules = sorted(f["rule"] for f in document["findings"] if f["exchange"] is None)
    return [r for r in rules if r != "issuer-not-trusted-by-server"], document


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng", "lab.saz"])
def test_every_source_joins_with_the_configuration(name: str, tmp_path: Path) -> None:
    lab = _lab_thumbprint()
    soon = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bundle = _bundle(tmp_path, current=NEXT, previous=lab, next_=CURRENT, effective=soon)
    rules, document = _run_level(
        lab_sample(name, tmp_path), "--exchange-config", str(bundle), "--sp-credentials", str(_sp(tmp_path, NEXT))
    )
    assert rules == ["next-cert-not-published", "signer-not-current", "signer-not-on-sp"]
    rotation = {e["thumbprint"]: e for e in document["inventory"]["rotation"]}
    assert rotation[lab]["roles"][:2] == ["auth config previous", "trusted (OAuthCert.cer)"]
    assert rotation[lab]["on_service_principal"] is False and rotation[lab]["exchanges"] > 0
    assert rotation[CURRENT]["effective"] is not None


@pytest.mark.parametrize("name", ["lab.har", "lab.mitm", "lab.pcapng", "lab.saz"])
def test_a_healthy_configuration_adds_nothing(name: str, tmp_path: Path) -> None:
    lab = _lab_thumbprint()
    bundle = _bundle(tmp_path, current=lab)
    rules, _ = _run_level(
        lab_sample(name, tmp_path), "--exchange-config", str(bundle), "--sp-credentials", str(_sp(tmp_path, lab))
    )
    assert rules == []


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--exchange-config", "{", "not valid JSON"),
        ("--exchange-config", "[1]", "not a verify-oauth bundle"),
        ("--sp-credentials", '{"value": []}', "holds no keyCredentials"),
    ],
)
def test_unusable_configuration_is_exit_2(option: str, content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "given.json"
    path.write_text(content)
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"), option, str(path))
    assert code == 2 and message in err
    code, _, err = invoke("analyze", str(SAMPLES / "lab.har"), option, str(tmp_path / "absent.json"))
    assert code == 2 and "absent.json" in err


def test_the_bundles_certificates_give_validity_to_configured_thumbprints() -> None:
    from inspector.verifyoauth.bundle import AuthCertificate

    start, end = NOW - timedelta(days=10), NOW + timedelta(days=700)
    bundle_cert = AuthCertificate(NEXT, "CN=Next", start, end, 2048, None, "Valid")
    config = Configuration(
        ExchangeConfig("b.json", auth_config=AuthConfig(CURRENT, NEXT, None, end, EXCHANGE, None),
                       certificates=(bundle_cert,)),
    )  # fmt: skip
    timeline = {e.thumbprint: e for e in rotation_timeline(Inventory(), config, Trust.of([]))}
    assert timeline[NEXT].roles == ["auth config next", "Exchange certificate"]
    assert (timeline[NEXT].not_before, timeline[NEXT].not_after, timeline[NEXT].subject) == (start, end, "CN=Next")
    assert timeline[NEXT].effective == end and timeline[NEXT].on_service_principal is None
    assert list(timeline) == [NEXT, CURRENT]  # dated certificates first, by validity start
