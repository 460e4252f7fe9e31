"""The lab's certificate folder (``--cert-dir``): what the other side needs (the auth certificate ``OAuthCert.cer``
and ACS metadata to trust) and the private keys the lab client mints tokens with (lab-only, unencrypted, and named
so). An existing folder is reused, so restarts keep the same certificates.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inspector.lab.certs import (
    LabCert,
    acs_metadata,
    acs_signing_cert,
    exchange_auth_cert,
    exchange_metadata,
    load_lab_cert,
    tls_server_cert,
    write_cer,
    write_key_pem,
    write_metadata,
    write_pem,
)
from inspector.lab.tokens import LAB_HOST, LAB_REALM, TokenKit
from inspector.model import ConfigError

AUTH_CERT_FILE = "OAuthCert.cer"
ACS_CERT_FILE = "acs-cert.pem"
ACS_METADATA_FILE = "acs-metadata.json"
EXCHANGE_METADATA_FILE = "exchange-metadata.json"
AUTH_KEY_FILE = "LAB-ONLY-auth-cert.key.pem"
ACS_KEY_FILE = "LAB-ONLY-acs-cert.key.pem"
TLS_CERT_FILE = "tls-cert.pem"
TLS_KEY_FILE = "LAB-ONLY-tls.key.pem"
LAB_FILE = "lab.json"
_README = """LAB ONLY. The private keys in this folder exist to mint test tokens for the oauth-inspector lab.
They are unencrypted on purpose. Never trust these certificates outside the lab.

OAuthCert.cer        the lab Exchange auth certificate (what Export-Certificate gives on Exchange): --cert
acs-metadata.json    the ACS metadata document of the lab realm: --metadata
exchange-metadata.json  what the lab server serves at /autodiscover/metadata/json/1
tls-cert.pem         the lab server's HTTPS certificate (with --tls)
lab.json             realm and host of the lab
"""


@dataclass(frozen=True, slots=True)
class LabDir:
    """What a certificate folder holds: the lab's realm and host, and its certificates with their keys."""

    path: Path
    realm: str
    host: str
    auth_cert: LabCert
    acs_cert: LabCert
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def kit(self, now: datetime) -> TokenKit:
        """A token kit minting with this folder's keys, for this realm and host, at ``now``."""
        return TokenKit(
            realm=self.realm,
            host=self.host,
            auth_cert=self.auth_cert,
            acs_cert=self.acs_cert,
            now=now,
            rogue_cert=_rogue_cert(),
        )

    def trust_arguments(self) -> list[str]:
        return [
            "--cert",
            str(self.path / AUTH_CERT_FILE),
            "--metadata",
            str(self.path / ACS_METADATA_FILE),
            "--realm",
            self.realm,
        ]


@functools.cache
def _rogue_cert() -> LabCert:
    """The certificate nobody trusts (the unknown-key scenario): one per process, key generation is slow."""
    return exchange_auth_cert(now=datetime.now(UTC))


def prepare_lab_dir(folder: Path, *, realm: str | None, host: str | None, tls: bool, now: datetime) -> LabDir:
    """Create (or reuse) the certificate folder; realm and host default to the folder's, else the lab's."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the lab folder {folder}: {exc.strerror or exc}") from exc
    previous = _read_lab_json(folder) if (folder / LAB_FILE).is_file() else {}
    realm = realm or previous.get("realm") or LAB_REALM
    host = host or previous.get("host") or LAB_HOST
    try:
        auth = load_lab_cert(folder, AUTH_CERT_FILE, AUTH_KEY_FILE)
        if auth is None:
            auth = exchange_auth_cert(now=now)
            write_cer(folder / AUTH_CERT_FILE, auth)
            write_key_pem(folder / AUTH_KEY_FILE, auth)
        acs = load_lab_cert(folder, ACS_CERT_FILE, ACS_KEY_FILE)
        if acs is None:
            acs = acs_signing_cert(now=now)
            write_pem(folder / ACS_CERT_FILE, acs)
            write_key_pem(folder / ACS_KEY_FILE, acs)
        write_metadata(folder / ACS_METADATA_FILE, acs_metadata([acs], realm=realm))
        write_metadata(folder / EXCHANGE_METADATA_FILE, exchange_metadata([auth], host=host))
        tls_cert = tls_key = None
        if tls:
            tls_cert, tls_key = folder / TLS_CERT_FILE, folder / TLS_KEY_FILE
            if load_lab_cert(folder, TLS_CERT_FILE, TLS_KEY_FILE) is None or previous.get("host") != host:
                server_cert = tls_server_cert(host, now=now)
                write_pem(tls_cert, server_cert)
                write_key_pem(tls_key, server_cert)
        (folder / LAB_FILE).write_text(json.dumps({"realm": realm, "host": host}, indent=1) + "\n", encoding="utf-8")
        (folder / "README.txt").write_text(_README, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot write the lab folder {folder}: {exc.strerror or exc}") from exc
    return LabDir(folder, realm, host, auth, acs, tls_cert, tls_key)


def _read_lab_json(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {folder / LAB_FILE}: {exc}; delete it to start afresh") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("realm", "host")):
        raise ConfigError(f"{folder / LAB_FILE} does not name a realm and host; delete it to start afresh")
    return {"realm": data["realm"], "host": data["host"]}


def read_lab_dir(folder: Path) -> LabDir:
    """The folder ``lab serve`` prepared (the client mints its tokens with these keys)."""
    if not (folder / LAB_FILE).is_file():
        raise ConfigError(f"{folder} is not a lab folder (no {LAB_FILE}); start `oauth-inspector lab serve` first")
    names = _read_lab_json(folder)
    auth = load_lab_cert(folder, AUTH_CERT_FILE, AUTH_KEY_FILE)
    acs = load_lab_cert(folder, ACS_CERT_FILE, ACS_KEY_FILE)
    if auth is None or acs is None:
        raise ConfigError(f"{folder} lacks the lab certificates or their keys; restart `oauth-inspector lab serve`")
    tls_cert = folder / TLS_CERT_FILE
    tls_key = folder / TLS_KEY_FILE
    present = tls_cert.is_file() and tls_key.is_file()
    return LabDir(
        folder, names["realm"], names["host"], auth, acs, tls_cert if present else None, tls_key if present else None
    )
