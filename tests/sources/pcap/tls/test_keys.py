"""Key derivation checked against an independent implementation: scapy's TLS PRF (1.0-1.2, with and without
extended master secret) and its TLS 1.3 HKDF-Expand-Label (scapy is a dev-group test oracle here)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.sources.pcap.tls.keys import hkdf_expand_label, prf, tls12_keys, tls13_keys, tls13_next_secret
from inspector.sources.pcap.tls.suites import DECRYPTABLE

scapy_prf = pytest.importorskip("scapy.layers.tls.crypto.prf", reason="scapy (dev group) is the PRF oracle")
scapy_hkdf = pytest.importorskip("scapy.layers.tls.crypto.hkdf", reason="scapy (dev group) is the HKDF oracle")


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.binary(max_size=80), st.sampled_from([0x0301, 0x0302, 0x0303]))
def test_the_prf_matches_scapy(secret: bytes, seed: bytes, version: int) -> None:
    hash_name = "sha256"
    ours = prf(version, hash_name, secret, b"key expansion", seed, 104)
    oracle = scapy_prf.PRF(hash_name, version).prf(secret, b"key expansion", seed, 104)
    assert ours == oracle


@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
def test_master_secrets_with_and_without_ems_match_scapy(hash_name: str) -> None:
    premaster, client_random, server_random, session_hash = (os.urandom(n) for n in (48, 32, 32, 48))
    oracle = scapy_prf.PRF(hash_name, 0x0303)
    assert prf(0x0303, hash_name, premaster, b"master secret", client_random + server_random, 48) == (
        oracle.compute_master_secret(premaster, client_random, server_random)
    )
    assert prf(0x0303, hash_name, premaster, b"extended master secret", session_hash, 48) == (
        oracle.compute_master_secret(premaster, client_random, server_random, extms=True, handshake_hash=session_hash)
    )


@pytest.mark.parametrize("code", [0xC02F, 0xC030, 0xCCA8, 0xC013, 0xC028])
def test_the_key_block_is_cut_in_rfc_order(code: int) -> None:
    suite = DECRYPTABLE[code]
    master, client_random, server_random = os.urandom(48), os.urandom(32), os.urandom(32)
    client, server = tls12_keys(0x0303, suite, master, client_random, server_random)
    mac = {"sha1": 20, "sha256": 32, "sha384": 48}.get(suite.mac or "", 0)
    iv = {"gcm": 4, "chacha": 12, "cbc": 0}[suite.protection]
    block = scapy_prf.PRF(suite.prf, 0x0303).derive_key_block(
        master, server_random, client_random, 2 * (mac + suite.key_len + iv)
    )
    assert block == client.mac_key + server.mac_key + client.key + server.key + client.iv + server.iv


def test_hkdf_expand_label_and_traffic_keys_match_scapy() -> None:
    secret = os.urandom(32)
    oracle = scapy_hkdf.TLS13_HKDF("sha256")
    assert hkdf_expand_label("sha256", secret, b"key", b"", 16) == oracle.expand_label(secret, b"key", b"", 16)
    keys = tls13_keys(DECRYPTABLE[0x1301], secret)
    assert keys.key == oracle.expand_label(secret, b"key", b"", 16)
    assert keys.iv == oracle.expand_label(secret, b"iv", b"", 12)
    assert tls13_next_secret(DECRYPTABLE[0x1301], secret) == oracle.expand_label(secret, b"traffic upd", b"", 32)
