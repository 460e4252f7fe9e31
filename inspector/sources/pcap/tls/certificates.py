"""The server certificate chain as the audit shows it: subject, issuer, SANs and validity, read with
``cryptography``'s x509 loader (parsed certificates are cached by their DER bytes: one server answers many
connections with the same chain)."""

from __future__ import annotations

import hashlib
import warnings
from functools import lru_cache

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from inspector.sources.pcap.tls.facts import CertificateFacts


@lru_cache(maxsize=256)
def certificate_facts(der: bytes) -> CertificateFacts:
    """Raises ``ValueError`` when the bytes are not a certificate ``cryptography`` can read."""
    try:
        with warnings.catch_warnings():
            # Odd certificates on the wire are facts to report, not warnings to print on the terminal.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return _facts(der)
    except ValueError:
        raise
    except Exception as exc:  # wire bytes: any parse failure (InvalidVersion, DuplicateExtension...) is bad input
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def _facts(der: bytes) -> CertificateFacts:
    cert = x509.load_der_x509_certificate(der)
    sans: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        pass
    else:
        sans = [str(name) for name in extension.value.get_values_for_type(x509.DNSName)]
        sans += [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)]
    return CertificateFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(sans),
        common_names=tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(der).hexdigest(),
    )


def name_matches(host: str, names: list[str]) -> bool:
    """RFC 6125 matching: case-insensitive, a wildcard only as the whole left-most label, covering one label."""
    host = host.rstrip(".").lower()
    for given in names:
        name = given.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:]:
                return True
    return False
