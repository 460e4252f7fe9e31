"""Input validation, before anything is contacted: every refusal is a :class:`ConfigError` (exit 2) that says what
was wrong and what to give instead.

The certificate rules apply wherever the certificate came from (``--cert`` or Exchange itself): an expired or
soon-expiring auth certificate, or one with a weak key, is refused unless ``--force``, because uploading it sets up
an integration that breaks on a known date. A file carrying a private key (PFX, or PEM with a key) is refused
outright: provisioning needs only the public certificate and never handles private keys.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inspector.model import ConfigError
from inspector.policy import EXPIRING_DAYS, MIN_RSA_BITS
from inspector.provision.steps import CertificateFacts
from inspector.remote.graph import CLOUDS
from inspector.trust import MAX_TRUST_FILE, checked_public_key, parse_certificates, thumbprint_of

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----")


def _dns_name(value: str, option: str, example: str) -> str:
    text = value.strip().rstrip(".").lower()
    if not text:
        raise ConfigError(f"{option} is empty: give a name such as {example}")
    if any(c.isspace() for c in value.strip()):
        raise ConfigError(f"{option} {value!r} contains a space: give a DNS name such as {example}")
    if "://" in text or "/" in text:
        raise ConfigError(f"{option} {value!r} is a URL: give the name alone, such as {example}")
    if "@" in text:
        raise ConfigError(f"{option} {value!r} is an address: give the domain part only, such as {example}")
    if len(text) > 253:
        raise ConfigError(f"{option} is {len(text)} characters long; a DNS name has at most 253")
    labels = text.split(".")
    if all(label.isdigit() for label in labels):
        raise ConfigError(f"{option} {value!r} is an IP address: give the DNS name, such as {example}")
    if len(labels) < 2:
        raise ConfigError(f"{option} {value!r} is a single label: give the fully qualified name, such as {example}")
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        raise ConfigError(
            f"{option} {value!r} is not a DNS name: {bad[0]!r} may hold only letters, digits and inner hyphens "
            f"(at most 63); e.g. {example}"
        )
    if not _TLD.match(labels[-1]):
        raise ConfigError(f"{option} {value!r} does not end in a top-level domain such as .com: e.g. {example}")
    return text


def domain(value: str) -> str:
    """The verified (accepted) domain of the application account's address: ``fabrikam.com``."""
    return _dns_name(value, "--domain", "fabrikam.com")


def domain_controller(value: str) -> str:
    """A domain controller's FQDN, as ``-DomainController`` takes it."""
    return _dns_name(value, "--dc", "dc01.fabrikam.com")


def tenant(value: str) -> str:
    """The Entra tenant: its ID (a GUID) or one of its domains."""
    text = value.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-F-]{30,40}", text):
        raise ConfigError(f"--tenant {value!r} looks like a tenant ID but is not a GUID")
    return _dns_name(text, "--tenant", "fabrikam.onmicrosoft.com or a tenant ID")


def cloud(value: str) -> str:
    if value not in CLOUDS:
        raise ConfigError(f"--cloud must be one of {', '.join(CLOUDS)}")
    return value


def certificate_file(path: Path) -> CertificateFacts:
    """The exported auth certificate: public part only, exactly one certificate."""
    try:
        size = path.stat().st_size
        if size > MAX_TRUST_FILE:
            raise ConfigError(f"--cert {path} is {size} bytes; that is not a certificate")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read --cert {path}: {exc.strerror or exc}") from exc
    if _PRIVATE_KEY.search(data):
        raise ConfigError(
            f"--cert {path} holds a private key: give the public certificate only (the .cer of seed step 4); "
            "provisioning never needs the private key"
        )
    certificates = parse_certificates(data, f"--cert {path}")  # refuses PFX/PKCS#12 with a clear message
    if len(certificates) != 1:
        raise ConfigError(f"--cert {path} holds {len(certificates)} certificates: give the auth certificate alone")
    certificate = certificates[0]
    key = checked_public_key(certificate, f"--cert {path}")  # ConfigError for a key or field that cannot be read
    der = certificate.public_bytes(serialization.Encoding.DER)
    return CertificateFacts(
        thumbprint=thumbprint_of(der),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        source=path.name,
        der=der,
        rsa_bits=key.key_size if isinstance(key, rsa.RSAPublicKey) else None,
    )


def certificate_problems(cert: CertificateFacts, now: datetime) -> list[str]:
    problems = []
    if cert.not_after <= now:
        problems.append(f"expired on {cert.not_after:%Y-%m-%d}")
    elif (cert.not_after - now).days < EXPIRING_DAYS:
        problems.append(
            f"expires on {cert.not_after:%Y-%m-%d}, in {(cert.not_after - now).days} days (less than {EXPIRING_DAYS})"
        )
    if cert.not_before > now:
        problems.append(f"is not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC")
    if cert.rsa_bits is None:
        problems.append("has a key that is not RSA (S2S tokens are RS256)")
    elif cert.rsa_bits < MIN_RSA_BITS:
        problems.append(f"has a {cert.rsa_bits}-bit RSA key (at least {MIN_RSA_BITS} expected)")
    return problems


def certificate_usable(cert: CertificateFacts, now: datetime, *, force: bool) -> list[str]:
    """Raises unless the certificate is fit to upload; with ``force`` the problems come back as warnings."""
    problems = certificate_problems(cert, now)
    if problems and not force:
        raise ConfigError(
            f"The auth certificate {cert.thumbprint} from {cert.source} is refused: it {'; '.join(problems)}. "
            "Renew it first (the Next-certificate procedure, or CSS-Exchange's MonitorExchangeAuthCertificate.ps1), "
            "or pass --force to go ahead anyway"
        )
    return problems
