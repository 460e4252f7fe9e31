"""The shared corpus's TLS captures (corpus README §6): the 12 AES-CBC-SHA connections of tls12-cbc-suites
decrypt with its key log to one GET / and one 200 each, the 21 others are named as suites this reader does not
decrypt, and the key-less files give the audit facts listed there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from inspector.model import HttpExchange, Notice
from inspector.sources.pcap import read_capture
from inspector.sources.pcap.tls.facts import TlsFacts
from inspector.sources.pcap.tls.keylog import load_keylogs
from tests.sources.pcap.tls.live import tshark_http

TLS = "tls/wireshark-notes"
AES_CBC_HOSTS = {
    "aes128-sha",
    "aes256-sha",
    "dhe-dss-aes128-sha",
    "dhe-dss-aes256-sha",
    "dhe-rsa-aes128-sha",
    "dhe-rsa-aes256-sha",
    "ecdh-ecdsa-aes128-sha",
    "ecdh-ecdsa-aes256-sha",
    "ecdhe-ecdsa-aes128-sha",
    "ecdhe-ecdsa-aes256-sha",
    "ecdhe-rsa-aes128-sha",
    "ecdhe-rsa-aes256-sha",
}


def read(path: Path, keys: Path | None = None) -> tuple[list[HttpExchange], list[Notice], list[TlsFacts]]:
    keylog = load_keylogs([keys]) if keys else None
    facts: list[TlsFacts] = []
    exchanges: list[HttpExchange] = []
    notices: list[Notice] = []
    for item in read_capture(path, keylog=keylog, on_tls=facts.append):
        if isinstance(item, HttpExchange):
            exchanges.append(item)
        else:
            notices.append(item)
    return exchanges, notices, facts


def test_the_aes_cbc_connections_decrypt_and_the_others_are_named(corpus: Path) -> None:
    folder = corpus / TLS
    exchanges, notices, facts = read(folder / "tls12-cbc-suites.pcapng", folder / "tls12-cbc-suites.keys")
    assert len(facts) == 33
    hosts = {(e.host or "").split(".", 1)[0] for e in exchanges}
    assert hosts == AES_CBC_HOSTS
    assert len(exchanges) == 12
    assert all(e.request.method == "GET" and e.request.target == "/" for e in exchanges)
    assert all(e.response is not None and e.response.status == 200 for e in exchanges)
    assert all(e.tls is not None and e.tls.version == "TLS 1.2" and "AES" in e.tls.cipher for e in exchanges)
    decrypted = [f for f in facts if f.status == "decrypted"]
    unsupported = [f for f in facts if f.status == "unsupported-suite"]
    assert (len(decrypted), len(unsupported)) == (12, 21)
    families = {"RC2", "IDEA", "DES", "3DES", "CAMELLIA", "SEED"}
    assert all(any(family in (f.cipher or "") for family in families) for f in unsupported)
    (encrypted,) = [n for n in notices if n.rule == "capture-encrypted"]
    assert encrypted.evidence["tls_connections"] == 21
    assert sum(encrypted.evidence["unsupported_suites"].values()) == 21  # type: ignore[attr-defined]
    assert "TLS_RSA_WITH_IDEA_CBC_SHA" in encrypted.message
    assert {n.rule for n in notices} == {"capture-encrypted"}


def test_without_keys_every_connection_is_audited(corpus: Path) -> None:
    _, notices, facts = read(corpus / TLS / "tls12-cbc-suites.pcapng")
    assert len(facts) == 33
    assert all(f.status in ("no-keys", "unsupported-suite") for f in facts)
    (encrypted,) = [n for n in notices if n.rule == "capture-encrypted"]
    assert encrypted.evidence["missing_keys"] == 12
    assert len(encrypted.evidence["missing_client_randoms"]) == 10  # type: ignore[arg-type]


def test_the_keyless_lekensteyn_captures(corpus: Path) -> None:
    for name in ("http-chunked-ssl.pcapng", "http-no-content-length-ssl.pcapng"):
        exchanges, notices, facts = read(corpus / TLS / name)
        assert exchanges == []
        (only,) = facts
        assert only.sni == "lekensteyn.nl"
        assert only.version == "TLS 1.2"
        assert only.cipher == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        leaf = only.certificates[0]
        assert "CN=www.lekensteyn.nl" in leaf.subject
        assert leaf.sans == ("www.lekensteyn.nl", "lekensteyn.nl")
        assert leaf.not_before.date() == datetime(2014, 11, 14, tzinfo=UTC).date()
        assert leaf.not_after.date() == datetime(2015, 11, 15, tzinfo=UTC).date()
        assert "StartCom Class 1 Primary Intermediate Server CA" in leaf.issuer
        assert only.time.year == 2015 and only.time.month == 3
        # Valid at capture time, and the SNI is among the SANs: nothing to report but the missing keys.
        assert {n.rule for n in notices} == {"capture-encrypted"}


def test_the_keyless_http2_draft_capture(corpus: Path) -> None:
    _, notices, facts = read(corpus / TLS / "http2-16-ssl.pcapng")
    (only,) = facts
    assert (only.sni, only.version, only.alpn) == ("localhost", "TLS 1.2", "h2-16")
    assert only.cipher == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    leaf = only.certificates[0]
    assert leaf.subject == "CN=localhost"
    assert (leaf.not_before.date().isoformat(), leaf.not_after.date().isoformat()) == ("2015-02-07", "2015-03-09")
    assert {n.rule for n in notices} == {"capture-encrypted"}


def test_the_aes_cbc_requests_match_tshark_byte_for_byte(corpus: Path) -> None:
    folder = corpus / TLS
    keys = folder / "tls12-cbc-suites.keys"
    exchanges, _, _ = read(folder / "tls12-cbc-suites.pcapng", keys)
    theirs = [
        tuple(part.removesuffix("\\r\\n") for part in message)
        for message in tshark_http(folder / "tls12-cbc-suites.pcapng", keys)
        if message[0] == "request"
    ]
    assert len(theirs) == 33  # tshark decrypts every suite; the AES-CBC ones must be the same messages
    ours = [
        ("request", e.request.method, e.request.target, *(f"{n}: {v}" for n, v in e.request.headers)) for e in exchanges
    ]
    assert ours == [
        m for m in theirs if any(part.startswith("Host: ") and part[6:].split(".")[0] in AES_CBC_HOSTS for part in m)
    ]
