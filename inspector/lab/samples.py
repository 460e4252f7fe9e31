"""The bundled sample captures: the lab conversation written as HAR, mitmproxy flows, a pcapng capture of
TCP/IP packets and the same capture over TLS with its secrets embedded, with the certificate and metadata an
admin would give, and the findings each exchange is expected to raise (from the scenarios' own declarations, not
from running the analyzer, so the golden tests compare the analyzer with an independent oracle).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from inspector.lab.certs import acs_metadata, acs_signing_cert, exchange_auth_cert, write_cer, write_metadata
from inspector.lab.pcap_writer import write_lab_pcapng
from inspector.lab.scenarios import lab_exchanges
from inspector.lab.tls_capture import write_tls_lab_pcapng
from inspector.lab.tokens import TokenKit
from inspector.lab.writers import write_flows, write_har

SAMPLE_CLOCK = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SAMPLE_NAMES = (
    "OAuthCert.cer",
    "acs-metadata.json",
    "lab.har",
    "lab.mitm",
    "lab.pcapng",
    "lab-tls.pcapng",
    "expected.json",
)
PCAP_SEED = 3
"""Chooses the capture's segmentation, reordering and retransmissions (any seed gives the same findings)."""


def write_samples(folder: Path, *, now: datetime = SAMPLE_CLOCK) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    kit = TokenKit(auth_cert=exchange_auth_cert(now=now), acs_cert=acs_signing_cert(now=now), now=now)
    written = [
        write_cer(folder / "OAuthCert.cer", kit.auth_cert),
        write_metadata(folder / "acs-metadata.json", acs_metadata([kit.acs_cert], realm=kit.realm)),
    ]
    pairs = lab_exchanges(kit, source="lab")
    exchanges = [exchange for exchange, _ in pairs]
    written.append(write_har(exchanges, folder / "lab.har"))
    written.append(write_flows(exchanges, folder / "lab.mitm"))
    written.append(write_lab_pcapng(exchanges, folder / "lab.pcapng", seed=PCAP_SEED))
    # The same conversation over TLS, its key log embedded: `analyze` decrypts it with no option.
    written.append(write_tls_lab_pcapng(exchanges, folder / "lab-tls.pcapng", now=now, seed=PCAP_SEED))
    expected = {
        "realm": kit.realm,
        "host": kit.host,
        "captured": now.isoformat(),
        "exchanges": [{"entry": index, "expected_rules": sorted(set(rules))} for index, (_, rules) in enumerate(pairs)],
    }
    path = folder / "expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    written.append(path)
    return written


OUTBOUND_NAMES = ("OAuthCert.cer", "outbound.har", "outbound.mitm", "outbound.pcapng", "outbound.saz", "expected.json")


def write_outbound_samples(folder: Path, *, now: datetime = SAMPLE_CLOCK) -> list[Path]:
    """The outbound leg and errors inside bodies (``inspector.lab.outbound``) as HAR, flows, pcapng and a Fiddler
    archive, with the auth certificate to give as ``--cert`` and each exchange's expected rules."""
    from inspector.lab.outbound import outbound_cases
    from inspector.lab.saz_writer import write_saz

    folder.mkdir(parents=True, exist_ok=True)
    auth, issuer, rogue = exchange_auth_cert(now=now), acs_signing_cert(now=now), exchange_auth_cert(now=now)
    cases = outbound_cases(auth, issuer, now=now, rogue_cert=rogue)
    exchanges = [case.exchange for case in cases]
    written = [
        write_cer(folder / "OAuthCert.cer", auth),
        write_har(exchanges, folder / "outbound.har"),
        write_flows(exchanges, folder / "outbound.mitm"),
        write_lab_pcapng(exchanges, folder / "outbound.pcapng", seed=PCAP_SEED),
        write_saz(exchanges, folder / "outbound.saz"),
    ]
    expected = {
        "captured": now.isoformat(),
        "auth_certificate_thumbprint": auth.thumbprint,
        "exchanges": [
            {"entry": n, "name": c.name, "expected_rules": sorted(set(c.expects))} for n, c in enumerate(cases)
        ],
    }
    path = folder / "expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    written.append(path)
    return written
