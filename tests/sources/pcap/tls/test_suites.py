"""The suite table: what is decrypted, how the others are named, GREASE values left out."""

from __future__ import annotations

from inspector.sources.pcap.tls.suites import DECRYPTABLE, is_grease, suite_name, version_name


def test_names_and_families() -> None:
    assert suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert suite_name(0x000A) == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"  # named, not decrypted
    assert 0x000A not in DECRYPTABLE
    assert suite_name(0xFFEE) == "0xFFEE"
    assert DECRYPTABLE[0x009C].rsa_key_exchange and not DECRYPTABLE[0xC02F].rsa_key_exchange
    assert all(s.mac is None for s in DECRYPTABLE.values() if s.protection != "cbc")
    assert version_name(0x0303) == "TLS 1.2" and version_name(0x7F17) == "0x7F17"


def test_grease() -> None:
    assert is_grease(0x0A0A) and is_grease(0xFAFA)
    assert not is_grease(0x0304) and not is_grease(0x0A1A)
