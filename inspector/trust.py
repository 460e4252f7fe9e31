"""The trust store: which public keys may vouch for which issuers.

Three ways in (DESIGN.md "Tokens"): certificates the admin exported (``.cer`` DER or PEM, PEM bundles), trusted for
any issuer, since "verify the passing tokens against the exported certificate" is the first thing users ask;
metadata documents (Exchange ``/autodiscover/metadata/json/1``, ACS and SfB ``/metadata/json/1``), each key trusted
only for the issuer its document names; and expected thumbprints as ``Get-AuthConfig`` prints them, which name a
certificate without providing its key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.utils import CryptographyDeprecationWarning

from inspector.cert_files import admin_forms, describe
from inspector.frozen import pickled_by_constructor
from inspector.model import ConfigError
from inspector.tokens import Principal, b64url_encode

MAX_TRUST_FILE = 16 * 1024 * 1024
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s+(.*?)-----END CERTIFICATE-----", re.DOTALL)
_HEX_THUMBPRINT = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One verification key and what it may vouch for."""

    public_key: PublicKeyTypes
    source: str
    """Where it came from, for messages: ``OAuthCert.cer``, ``metadata.json key 2``."""
    certificate: x509.Certificate | None = None
    x5t: str | None = None
    """base64url(SHA-1(DER)), no padding: what S2S tokens put in their ``x5t`` header."""
    x5t_s256: str | None = None
    kid: str | None = None
    issuer: str | None = None
    """``None``: any issuer (an exported certificate). Else ``<principal>@<realm>`` where ``*`` means any realm."""
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """What is read from the certificate once (validity, label): cryptography builds a new object at each read, and
    every distinct token that verifies reads them. Filled on first use, so reading fails where it always did."""

    @property
    def thumbprint(self) -> str | None:
        """Hex SHA-1 as Windows and ``Get-AuthConfig`` print it."""
        if self.x5t is None:
            return None
        return base64.urlsafe_b64decode(self.x5t + "=" * (-len(self.x5t) % 4)).hex().upper()

    @property
    def not_before(self) -> datetime | None:
        if "not_before" not in self._memo:
            self._memo["not_before"] = self.certificate.not_valid_before_utc if self.certificate else None
        return cast(datetime | None, self._memo["not_before"])

    @property
    def not_after(self) -> datetime | None:
        if "not_after" not in self._memo:
            self._memo["not_after"] = self.certificate.not_valid_after_utc if self.certificate else None
        return cast(datetime | None, self._memo["not_after"])

    @property
    def rsa_bits(self) -> int | None:
        return self.public_key.key_size if isinstance(self.public_key, rsa.RSAPublicKey) else None

    @property
    def subject(self) -> str | None:
        return self.certificate.subject.rfc4514_string() if self.certificate else None

    def trusted_for(self, issuer: str | None) -> bool:
        if self.issuer is None:
            return True
        want = Principal.parse(self.issuer)
        got = Principal.parse(issuer)
        if want is None or got is None:
            return (issuer or "").lower() == self.issuer.lower()
        return want.principal == got.principal and (want.realm == "*" or want.realm.lower() == got.realm.lower())

    def label(self) -> str:
        label = self._memo.get("label")
        if label is None:
            name = self.subject or "key"
            label = f"{name} (x5t {self.x5t}, from {self.source})" if self.x5t else f"{name} (from {self.source})"
            self._memo["label"] = label
        return cast(str, label)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # cryptography's key and certificate objects cannot be pickled; results cross process boundaries
        # (analyze --jobs), so a key travels as DER and is loaded again on the other side.
        public_der = self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER) if self.certificate else None
        return _rebuild_key, (public_der, cert_der, self.source, self.x5t, self.x5t_s256, self.kid, self.issuer)


def _rebuild_key(
    public_der: bytes,
    cert_der: bytes | None,
    source: str,
    x5t: str | None,
    x5t_s256: str | None,
    kid: str | None,
    issuer: str | None,
) -> TrustedKey:
    certificate = load_der_certificate(cert_der) if cert_der is not None else None
    return TrustedKey(serialization.load_der_public_key(public_der), source, certificate, x5t, x5t_s256, kid, issuer)


@dataclass(frozen=True, slots=True)
class Trust:
    """Everything the analyzer may verify against. Built once, shared read-only."""

    keys: tuple[TrustedKey, ...] = ()
    expected_thumbprints: frozenset[str] = frozenset()
    """Upper-case hex SHA-1 thumbprints (``Get-AuthConfig`` Current/Next/Previous)."""
    _by_x5t: Mapping[str, tuple[TrustedKey, ...]] = field(default_factory=dict, repr=False)
    _by_kid: Mapping[str, tuple[TrustedKey, ...]] = field(default_factory=dict, repr=False)
    skipped: tuple[str, ...] = ()
    """Why trust files that were given could not be used (each was skipped; the others are trusted)."""

    @classmethod
    def of(cls, keys: Iterable[TrustedKey], thumbprints: Iterable[str] = ()) -> Trust:
        keys = tuple(keys)
        by_x5t: dict[str, list[TrustedKey]] = {}
        by_kid: dict[str, list[TrustedKey]] = {}
        for key in keys:
            for name in {key.x5t, key.x5t_s256} - {None}:
                assert name is not None
                by_x5t.setdefault(name, []).append(key)
            if key.kid:
                by_kid.setdefault(key.kid, []).append(key)
        return cls(
            keys=keys,
            expected_thumbprints=frozenset(normalise_thumbprint(t) for t in thumbprints),
            _by_x5t={k: tuple(v) for k, v in by_x5t.items()},
            _by_kid={k: tuple(v) for k, v in by_kid.items()},
        )

    def candidates(self, header: Mapping[str, Any]) -> tuple[TrustedKey, ...]:
        """The keys a token header names (by ``x5t``, ``x5t#S256`` or ``kid``), or every key when it names none."""
        x5t = header.get("x5t")
        if isinstance(x5t, str) and x5t and "kid" not in header and "x5t#S256" not in header:
            # The S2S header names its key by x5t alone; one key or none is the answer the general path gives too.
            keys = self._by_x5t.get(x5t, ())
            if len(keys) <= 1:
                return keys
        named = [x5t, header.get("x5t#S256"), header.get("kid")]
        if not any(isinstance(v, str) and v for v in named):
            return self.keys
        found: dict[int, TrustedKey] = {}
        for name, index in (("x5t", self._by_x5t), ("x5t#S256", self._by_x5t), ("kid", self._by_kid)):
            value = header.get(name)
            if isinstance(value, str):
                for key in index.get(value, ()):
                    found[id(key)] = key
        # A kid is often the x5t itself (ACS/Entra headers carry both with the same value).
        kid = header.get("kid")
        if isinstance(kid, str):
            for key in self._by_x5t.get(kid, ()):
                found[id(key)] = key
        return tuple(found.values())

    def thumbprint_expected(self, x5t: object) -> str | None:
        """The expected ``Get-AuthConfig`` thumbprint this ``x5t`` names, if any."""
        if not isinstance(x5t, str) or not self.expected_thumbprints:
            return None
        try:
            hexed = base64.urlsafe_b64decode(x5t + "=" * (-len(x5t) % 4)).hex().upper()
        except (binascii.Error, ValueError):
            return None
        return hexed if hexed in self.expected_thumbprints else None


def load_der_certificate(der: bytes) -> x509.Certificate:
    """``x509.load_der_x509_certificate`` without its deprecation warnings: a serial number that is not positive
    (which RFC 5280 forbids but old tools wrote) would otherwise print a library warning in the middle of a report.
    What the certificate is used for is checked when its fields are read (:func:`checked_public_key`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(der)


def normalise_thumbprint(value: str) -> str:
    """Accept ``Get-AuthConfig`` output (hex, any case, optional spaces or colons) and return upper-case hex."""
    cleaned = re.sub(r"[\s:]", "", value).strip()
    if not _HEX_THUMBPRINT.match(cleaned):
        raise ConfigError(
            f"Thumbprint {value!r} is not a SHA-1 thumbprint: expected 40 hex digits as "
            "(Get-AuthConfig).CurrentCertificateThumbprint prints them"
        )
    return cleaned.upper()


def thumbprint_of(der: bytes) -> str:
    """A DER certificate's SHA-1 in upper-case hex, as Windows and ``Get-AuthConfig`` print it."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def x5t_of(der: bytes) -> str:
    """base64url(SHA-1(DER)) without padding: the ``x5t`` a token header names its certificate by."""
    return b64url_encode(hashlib.sha1(der, usedforsecurity=False).digest())


def thumbprint_to_x5t(thumbprint: str) -> str:
    return b64url_encode(bytes.fromhex(normalise_thumbprint(thumbprint)))


def checked_public_key(cert: x509.Certificate, source: str) -> PublicKeyTypes:
    """The certificate's key, after touching every field the tool reads later: cryptography parses lazily, so an
    unknown key algorithm, an out-of-range version, an unparsable key or a subject that is not valid UTF-8 would
    otherwise fail in the middle of a report."""
    try:
        public_key = cert.public_key()
        cert.version  # noqa: B018 - read for its check
        cert.subject.rfc4514_string()
        cert.not_valid_before_utc  # noqa: B018
        cert.not_valid_after_utc  # noqa: B018
    except UnsupportedAlgorithm as exc:
        raise ConfigError(f"{source}: the certificate's key is of a type this tool cannot use ({exc})") from exc
    except (ValueError, x509.InvalidVersion) as exc:
        raise ConfigError(f"{source}: the certificate cannot be read ({exc})") from exc
    return public_key


def key_from_certificate(cert: x509.Certificate, source: str, issuer: str | None = None) -> TrustedKey:
    """Raises ``ConfigError`` for a certificate whose key or fields cannot be read."""
    public_key = checked_public_key(cert, source)
    der = cert.public_bytes(serialization.Encoding.DER)
    return TrustedKey(
        public_key=public_key,
        source=source,
        certificate=cert,
        x5t=x5t_of(der),
        x5t_s256=b64url_encode(hashlib.sha256(der).digest()),
        issuer=issuer,
    )


def parse_certificates(data: bytes, name: str) -> list[x509.Certificate]:
    """DER, a single PEM, or a PEM bundle; also the forms of :mod:`inspector.cert_files` (unarmoured base64, UTF-16
    PEM, PKCS#7 .p7b). Errors name the file and say what it seems to be instead."""
    given = data
    data, bundle = admin_forms(data)
    if bundle:
        return bundle
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        blocks = _PEM_CERT.findall(data)
        if not blocks:
            if b"PRIVATE KEY" in data[:200]:
                raise ConfigError(f"{name} holds a private key, not a certificate: export the .cer (public part only)")
            raise ConfigError(f"{name} is PEM but holds no CERTIFICATE block")
        certs = []
        for index, block in enumerate(blocks, 1):
            try:
                certs.append(load_der_certificate(base64.b64decode(block)))
            except (ValueError, binascii.Error, x509.InvalidVersion) as exc:
                raise ConfigError(
                    f"Certificate {index} of {len(blocks)} in {name} is damaged (its base64 or DER is broken): "
                    "export it again"
                ) from exc
        return certs
    try:
        return [load_der_certificate(data)]
    except x509.InvalidVersion as exc:
        raise ConfigError(f"{name} is not an X.509 certificate that can be used: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{name} is not an X.509 certificate: it {describe(given)}") from exc


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_TRUST_FILE:
            raise ConfigError(f"{what} {path} is {size} bytes; that is not a certificate or metadata document")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {what} {path}: {exc.strerror or exc}") from exc


def load_certificate_file(path: Path) -> list[TrustedKey]:
    certs = parse_certificates(_read(path, "certificate"), str(path))
    if len(certs) == 1:
        return [key_from_certificate(certs[0], path.name)]
    return [key_from_certificate(c, f"{path.name} #{i}") for i, c in enumerate(certs, 1)]


def _ci(mapping: Mapping[str, Any], name: str) -> Any:
    """Case-insensitive key lookup: metadata documents spell ``keyinfo``/``keyInfo``/``KeyInfo``."""
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def parse_metadata(data: bytes, name: str) -> list[TrustedKey]:
    """Keys of an auth metadata document (Exchange, ACS, SfB, SharePoint shapes), each bound to its issuer."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{name} is not a JSON metadata document: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{name} is JSON but not a metadata document (the top level is not an object)")
    keys = _ci(document, "keys")
    if not isinstance(keys, list):
        raise ConfigError(f"{name} is not an auth metadata document: it has no 'keys' list")
    if keys and all(isinstance(k, dict) and "kty" in k for k in keys):
        return parse_jwks(keys, name)
    issuer = _ci(document, "issuer")
    if not isinstance(issuer, str) or not issuer:
        service = _ci(document, "servicename")
        realm = _ci(document, "realm")
        issuer = f"{service}@{realm or '*'}" if isinstance(service, str) and service else None
    if issuer is None:
        raise ConfigError(f"{name} names no issuer (neither 'issuer' nor 'serviceName'): its keys cannot be bound")
    trusted: list[TrustedKey] = []
    for index, entry in enumerate(keys, 1):
        label = f"{name} key {index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{label} is not an object")
        usage = _ci(entry, "usage")
        if isinstance(usage, str) and usage.lower() not in {"signing", "sign"}:
            continue
        value_obj = _ci(entry, "keyvalue")
        info = _ci(entry, "keyinfo")
        if info is None and isinstance(value_obj, dict):
            info = _ci(value_obj, "keyinfo")
        value = _ci(value_obj, "value") if isinstance(value_obj, dict) else None
        if not isinstance(value, str):
            raise ConfigError(f"{label} has no keyValue.value certificate")
        try:
            der = base64.b64decode(value, validate=True)
            cert = load_der_certificate(der)
        except (binascii.Error, ValueError, x509.InvalidVersion) as exc:
            raise ConfigError(f"{label}: the certificate in keyValue.value cannot be decoded ({exc})") from exc
        key = key_from_certificate(cert, label, issuer=issuer)
        stated = _ci(info, "x5t") if isinstance(info, dict) else None
        if isinstance(stated, str) and stated != key.x5t:
            raise ConfigError(
                f"{label}: keyinfo.x5t {stated} does not match its certificate (x5t {key.x5t}); "
                "the document is inconsistent"
            )
        trusted.append(key)
    return trusted


def _b64url_int(value: object, label: str) -> int:
    if not isinstance(value, str):
        raise ConfigError(f"{label}: RSA parameters n and e must be base64url strings")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{label}: RSA parameter is not base64url") from exc
    return int.from_bytes(raw, "big")


def parse_jwks(keys: list[dict[str, Any]], name: str) -> list[TrustedKey]:
    """A JSON Web Key Set (Entra/OIDC ``keys`` endpoints). It names no issuer, so its keys vouch for any issuer,
    like a certificate given with --cert. Keys with an ``x5c`` certificate keep its validity dates."""
    trusted: list[TrustedKey] = []
    for index, entry in enumerate(keys, 1):
        label = f"{name} key {index}"
        kid = entry.get("kid") if isinstance(entry.get("kid"), str) else None
        chain = entry.get("x5c")
        if isinstance(chain, list) and chain and isinstance(chain[0], str):
            try:
                cert = load_der_certificate(base64.b64decode(chain[0], validate=True))
            except (binascii.Error, ValueError, x509.InvalidVersion) as exc:
                raise ConfigError(f"{label}: the x5c certificate cannot be decoded ({exc})") from exc
            key = key_from_certificate(cert, label)
            trusted.append(TrustedKey(key.public_key, label, cert, key.x5t, key.x5t_s256, kid=kid))
        elif entry.get("kty") == "RSA":
            numbers = rsa.RSAPublicNumbers(_b64url_int(entry.get("e"), label), _b64url_int(entry.get("n"), label))
            try:
                public_key = numbers.public_key()
            except ValueError as exc:
                raise ConfigError(f"{label}: not a usable RSA public key ({exc})") from exc
            x5t = entry.get("x5t") if isinstance(entry.get("x5t"), str) else None
            trusted.append(TrustedKey(public_key, label, None, x5t, None, kid=kid))
        # Other key types (EC, oct) cannot verify RS256 tokens: they are skipped, not trusted.
    return trusted


def load_metadata_file(path: Path) -> list[TrustedKey]:
    return parse_metadata(_read(path, "metadata document"), path.name)


def build_trust(certs: Iterable[Path] = (), metadata: Iterable[Path] = (), thumbprints: Iterable[str] = ()) -> Trust:
    """The trust store from certificate files, metadata documents and thumbprints. A file that cannot be used is
    skipped and said so in ``Trust.skipped``; only when no file of a kind given (no ``--cert``, or no
    ``--metadata``) could be used is it a :class:`ConfigError`: a run judged against nothing the user meant to
    trust would mislead."""
    keys: list[TrustedKey] = []
    skipped: list[str] = []
    for paths, load in ((list(certs), load_certificate_file), (list(metadata), load_metadata_file)):
        failed: list[str] = []
        for path in paths:
            try:
                keys.extend(load(path))
            except ConfigError as exc:
                failed.append(str(exc))
        if failed and len(failed) == len(paths):
            more = f" (and {len(failed) - 1} more file(s) of that kind that cannot be used)" if len(failed) > 1 else ""
            raise ConfigError(failed[0] + more)
        skipped += failed
    trust = Trust.of(keys, thumbprints)
    return replace(trust, skipped=tuple(skipped)) if skipped else trust


pickled_by_constructor(Trust)  # crosses processes (--jobs, --separately, Dask); a key has its own __reduce__
