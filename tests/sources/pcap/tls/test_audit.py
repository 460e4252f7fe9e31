"""The TLS rules on audit facts: each fires on its faulty case, stays quiet on the healthy twin, and a fact seen on
many connections is reported once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inspector.sources.pcap.tls.audit import TlsAudit
from inspector.sources.pcap.tls.facts import CertificateFacts, TlsFacts

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _cert(*, sans: tuple[str, ...] = ("mail.contoso.com",), days: int = 30, start: int = -1) -> CertificateFacts:
    return CertificateFacts(
        "CN=mail.contoso.com",
        "CN=Contoso CA",
        sans,
        ("mail.contoso.com",),
        NOW + timedelta(days=start),
        NOW + timedelta(days=days),
        f"{days}{start}{sans}",
    )


def _facts(version: str = "TLS 1.2", sni: str | None = "mail.contoso.com", **cert: object) -> TlsFacts:
    return TlsFacts(
        "10.0.0.1:5 -> 10.0.0.2:443", "10.0.0.2:443", 4, NOW, sni=sni, version=version, certificates=[_cert(**cert)]
    )  # type: ignore[arg-type]


def rules(*facts: TlsFacts) -> list[str]:
    audit = TlsAudit("x.pcap")
    return [notice.rule for item in facts for notice in audit.judge(item)]


def test_healthy() -> None:
    assert rules(_facts()) == []
    assert rules(_facts(sni=None, sans=("other.example",))) == []  # no SNI: nothing to compare (unknown, not wrong)


def test_expired_and_not_yet_valid() -> None:
    assert rules(_facts(days=-1, start=-60)) == ["tls-cert-expired"]
    assert rules(_facts(start=2, days=90)) == ["tls-cert-expired"]


def test_name_mismatch_and_the_common_name_without_sans() -> None:
    assert rules(_facts(sans=("intercept.example",))) == ["tls-cert-name-mismatch"]
    assert rules(_facts(sans=())) == []  # the CN names the host


def test_legacy_versions() -> None:
    assert rules(_facts(version="TLS 1.0")) == ["tls-version-legacy"]
    assert rules(_facts(version="TLS 1.1")) == ["tls-version-legacy"]
    assert rules(_facts(version="TLS 1.3")) == []


def test_one_notice_per_distinct_fact() -> None:
    expired = _facts(days=-1, start=-60)
    assert rules(expired, expired, expired) == ["tls-cert-expired"]
