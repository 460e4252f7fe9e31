"""Certificate facts for the audit, and RFC 6125 name matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inspector.lab.certs import tls_server_cert
from inspector.sources.pcap.tls.certificates import certificate_facts, name_matches


def test_facts_of_a_real_certificate() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    cert = tls_server_cert("mail.contoso.com", now=now)
    facts = certificate_facts(cert.der)
    assert facts.subject == "CN=mail.contoso.com"
    assert "mail.contoso.com" in facts.sans
    assert facts.common_names == ("mail.contoso.com",)
    assert facts.not_before <= now < facts.not_after
    assert facts.not_after - facts.not_before > timedelta(days=1)
    assert len(facts.sha256) == 64


def test_name_matching() -> None:
    assert name_matches("Mail.Contoso.com.", ["mail.contoso.com"])
    assert name_matches("mail.contoso.com", ["*.contoso.com"])
    assert not name_matches("a.mail.contoso.com", ["*.contoso.com"])  # a wildcard covers one label
    assert not name_matches("contoso.com", ["*.contoso.com"])
    assert not name_matches("mail.contoso.com", ["mail.fabrikam.com"])


def test_a_certificate_cryptography_refuses_is_a_value_error() -> None:
    import pytest

    der = tls_server_cert("mail.contoso.com", now=datetime(2026, 11, 2, tzinfo=UTC)).der
    assert b"\xa0\x03\x02\x01\x02" in der
    broken = der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x37", 1)  # X.509 version 56: InvalidVersion
    with pytest.raises(ValueError, match="InvalidVersion"):
        certificate_facts(broken)
    with pytest.raises(ValueError):
        certificate_facts(b"\x30\x03\x02\x01\x00")
