"""Everything the checks look at, gathered once before they run: each input loaded or probed, or the reason it
could not be. Gathering never raises for a given-but-broken input: that becomes the error of that input, and only
the checks that need it FAIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from inspector.model import ConfigError
from inspector.policy import ACS, DEFAULT_SKEW, SFB_ONLINE, Policy
from inspector.remote.errors import SourceError
from inspector.remote.http import DEFAULT_TIMEOUT, HttpResult, ProbeError, TlsOptions
from inspector.remote.spkeys import ServicePrincipalKeys
from inspector.text import safe
from inspector.tokens import Principal
from inspector.trust import (
    Trust,
    TrustedKey,
    key_from_certificate,
    load_certificate_file,
    load_der_certificate,
    load_metadata_file,
)
from inspector.verifyoauth.bundle import ExchangeConfig
from inspector.verifyoauth.http_probe import probe_challenge, probe_metadata
from inspector.verifyoauth.sources import ExchangeConfigSource, ServicePrincipalSource

_GUID_LENGTH = 36


@dataclass(frozen=True, slots=True)
class Loaded[T]:
    """An input that was given: its value, or why it could not be used."""

    value: T | None = None
    error: SourceError | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for, validated by the CLI (or built by tests)."""

    cert: Path | None = None
    metadata: tuple[Path, ...] = ()
    thumbprints: tuple[str, ...] = ()
    realms: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    skew: int = DEFAULT_SKEW
    exchange_url: str | None = None
    exchange_source: ExchangeConfigSource | None = None
    sp_source: ServicePrincipalSource | None = None
    captures: tuple[Path, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    tls: TlsOptions = field(default_factory=TlsOptions)


@dataclass(frozen=True, slots=True)
class Context:
    now: datetime
    principals: tuple[str, ...]
    """Expected calling principals (GUIDs, lower-case); the first is the service principal checked in Entra."""
    realms: frozenset[str]
    """Expected realms, lower-case: ``--realm``, else the realm of Exchange's ACS auth server."""
    realms_given: bool
    cert: Loaded[TrustedKey] | None = None
    exchange: Loaded[ExchangeConfig] | None = None
    sp: Loaded[ServicePrincipalKeys] | None = None
    metadata: Loaded[HttpResult] | None = None
    challenge: Loaded[HttpResult] | None = None
    exchange_url: str | None = None
    captures: tuple[Path, ...] = ()
    trust: Trust = field(default_factory=Trust)
    skew: int = DEFAULT_SKEW

    @property
    def principal(self) -> str:
        return self.principals[0]

    def policy(self) -> Policy:
        return Policy(expected_issuers=frozenset(self.principals), realms=self.realms, skew=self.skew, now=self.now)


def principal_guids(issuers: tuple[str, ...]) -> tuple[str, ...]:
    """``--issuer`` values as GUIDs: a GUID as is, a whole ``iss`` reduced to its principal."""
    out: list[str] = []
    for value in issuers:
        parsed = Principal.parse(value)
        guid = parsed.principal if parsed is not None else value.strip().lower()
        if len(guid) == _GUID_LENGTH and guid not in out:
            out.append(guid)
    return tuple(out) or (SFB_ONLINE,)


def _load_cert(path: Path) -> Loaded[TrustedKey]:
    try:
        keys = load_certificate_file(path)
    except ConfigError as exc:
        return Loaded(error=SourceError(str(exc)), source=str(path))
    return Loaded(value=keys[0], source=path.name)


def _cert_from_bundle(config: ExchangeConfig) -> Loaded[TrustedKey] | None:
    """The current auth certificate the bundle carries (RawData), when no --cert was given."""
    current = config.auth_config.current_thumbprint if config.auth_config else None
    if not current:
        return None
    found = config.certificate(current)
    if found is None or found.der is None:
        return None
    try:
        certificate = load_der_certificate(found.der)
    except (ValueError, x509.InvalidVersion) as exc:
        return Loaded(error=SourceError(f"the bundle's certificate {current} cannot be parsed: {exc}"))
    label = f"{config.source} (current auth certificate)"
    try:
        return Loaded(value=key_from_certificate(certificate, label), source=label)
    except ConfigError as exc:
        return Loaded(error=SourceError(f"the bundle's certificate {current} cannot be used: {exc}"), source=label)


def _exchange(source: ExchangeConfigSource) -> Loaded[ExchangeConfig]:
    try:
        return Loaded(value=source.load(), source=source.description)
    except SourceError as exc:
        return Loaded(error=exc, source=source.description)
    except Exception as exc:  # a bug in a reader must not stop the other checks
        return Loaded(error=SourceError(f"internal error reading {source.description}: {type(exc).__name__}: "
                                        f"{safe(exc, 300)}"), source=source.description)  # fmt: skip


def _sp(source: ServicePrincipalSource, app_id: str) -> Loaded[ServicePrincipalKeys]:
    try:
        return Loaded(value=source.load(app_id), source=source.description)
    except SourceError as exc:
        return Loaded(error=exc, source=source.description)
    except Exception as exc:
        return Loaded(error=SourceError(f"internal error reading {source.description}: {type(exc).__name__}: "
                                        f"{safe(exc, 300)}"), source=source.description)  # fmt: skip


def _probe(kind: str, base: str, request: Request) -> Loaded[HttpResult]:
    probe = probe_metadata if kind == "metadata" else probe_challenge
    try:
        return Loaded(value=probe(base, timeout=request.timeout, tls=request.tls), source=base)
    except ProbeError as exc:
        return Loaded(error=SourceError(str(exc), kind=exc.kind), source=base)


def acs_realms(config: ExchangeConfig | None) -> set[str]:
    out: set[str] = set()
    for server in (config.auth_servers or ()) if config else ():
        if server.enabled is not False and (server.issuer_identifier or "").lower() == ACS and server.realm:
            out.add(server.realm.lower())
    return out


def gather(request: Request, now: datetime) -> Context:
    trusted: list[TrustedKey] = []
    for path in request.metadata:
        trusted.extend(load_metadata_file(path))  # ConfigError: a usage error, raised before any network call
    principals = principal_guids(request.issuers)
    exchange = _exchange(request.exchange_source) if request.exchange_source else None
    config = exchange.value if exchange else None
    cert = _load_cert(request.cert) if request.cert else (_cert_from_bundle(config) if config else None)
    sp = _sp(request.sp_source, principals[0]) if request.sp_source else None
    base = request.exchange_url
    metadata = _probe("metadata", base, request) if base else None
    challenge = _probe("challenge", base, request) if base else None
    given = {r.strip().lower() for r in request.realms if r.strip()}
    realms = given or acs_realms(config)
    keys = [cert.value] if cert is not None and cert.value is not None else []
    return Context(
        now=now,
        principals=principals,
        realms=frozenset(realms),
        realms_given=bool(given),
        cert=cert,
        exchange=exchange,
        sp=sp,
        metadata=metadata,
        challenge=challenge,
        exchange_url=base,
        captures=request.captures,
        trust=Trust.of([*keys, *trusted], request.thumbprints),
        skew=request.skew,
    )
