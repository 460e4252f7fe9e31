"""Joining what the wire showed (the trust inventory) with what is configured: Exchange's ``Get-AuthConfig`` and
auth certificates (a ``verify-oauth`` bundle, ``--exchange-config``) and the service principal's keyCredentials
(``--sp-credentials``). Sans-IO: the readers live in ``verifyoauth``; ``now`` is passed in.

Only the signers that are Exchange's own are judged against its configuration: tokens whose issuer is Exchange's
principal (the auth config's ``ServiceName``) or whose certificate the auth config names. A partner's tokens
(Skype for Business Online signing with its own certificate) say nothing about Exchange's rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from inspector.inventory import Inventory, SignerStats
from inspector.policy import EXCHANGE
from inspector.remote.spkeys import ServicePrincipalKeys
from inspector.report.serialize import utc_iso
from inspector.rules import Finding, finding
from inspector.tokens import Principal, TokenProblem, b64url_decode
from inspector.trust import Trust
from inspector.verifyoauth.bundle import AuthConfig, ExchangeConfig

NEXT_CERT_DAYS = 30


def x5t_thumbprint(x5t: str | None) -> str | None:
    """The upper-case hex SHA-1 an ``x5t`` carries (``None`` when it is not one)."""
    if not x5t:
        return None
    try:
        raw = b64url_decode(x5t)
    except TokenProblem:
        return None
    return raw.hex().upper() if len(raw) == 20 else None


@dataclass(slots=True)
class CertificateTimeline:
    """One certificate on the rotation timeline: what configures it, its validity, and when the wire showed it."""

    thumbprint: str
    roles: list[str] = field(default_factory=list)
    subject: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    effective: datetime | None = None
    """The auth config's NextCertificateEffectiveDate, for the next certificate."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    exchanges: int = 0
    on_service_principal: bool | None = None
    """``None`` when no service principal data was given."""

    def role(self, name: str) -> None:
        if name not in self.roles:
            self.roles.append(name)

    def validity(self, not_before: datetime | None, not_after: datetime | None, subject: str | None) -> None:
        self.not_before = self.not_before or not_before
        self.not_after = self.not_after or not_after
        self.subject = self.subject or subject

    def data(self) -> dict[str, Any]:
        return {
            "thumbprint": self.thumbprint,
            "roles": list(self.roles),
            "subject": self.subject,
            "not_before": utc_iso(self.not_before),
            "not_after": utc_iso(self.not_after),
            "effective": utc_iso(self.effective),
            "first_seen": utc_iso(self.first_seen),
            "last_seen": utc_iso(self.last_seen),
            "exchanges": self.exchanges,
            "on_service_principal": self.on_service_principal,
        }


@dataclass(frozen=True, slots=True)
class Configuration:
    exchange: ExchangeConfig | None = None
    service_principal: ServicePrincipalKeys | None = None

    @property
    def auth_config(self) -> AuthConfig | None:
        return self.exchange.auth_config if self.exchange is not None else None

    def exchange_principal(self) -> str:
        service = self.auth_config.service_name if self.auth_config else None
        return (service or EXCHANGE).strip().lower()

    def configured_thumbprints(self) -> dict[str, str]:
        """Thumbprint -> its role in ``Get-AuthConfig`` (current, next, previous)."""
        auth = self.auth_config
        if auth is None:
            return {}
        roles = (("previous", auth.previous_thumbprint), ("next", auth.next_thumbprint))
        out = {t: role for role, t in roles if t}
        if auth.current_thumbprint:
            out[auth.current_thumbprint] = "current"
        return out

    def sp_thumbprints(self) -> frozenset[str] | None:
        if self.service_principal is None:
            return None
        return frozenset(t for c in self.service_principal.credentials for t in c.thumbprints)


def _exchange_signers(inventory: Inventory, config: Configuration) -> list[tuple[SignerStats, str]]:
    """Exchange's own signers with their certificate's thumbprint."""
    principal = config.exchange_principal()
    named = config.configured_thumbprints()
    out: list[tuple[SignerStats, str]] = []
    for signer in inventory.signers.values():
        thumbprint = x5t_thumbprint(signer.key[1]) or x5t_thumbprint(signer.key[2])
        if thumbprint is None:
            continue
        issuer = Principal.parse(signer.key[0])
        if thumbprint in named or (issuer is not None and issuer.principal == principal):
            out.append((signer, thumbprint))
    return out


def join_findings(inventory: Inventory, config: Configuration, *, now: datetime | None) -> list[Finding]:
    out: list[Finding] = []
    signers = _exchange_signers(inventory, config)
    by_thumbprint: dict[str, list[SignerStats]] = {}
    for signer, thumbprint in signers:
        by_thumbprint.setdefault(thumbprint, []).append(signer)
    auth = config.auth_config
    if auth is not None and auth.current_thumbprint:
        role = config.configured_thumbprints()
        for thumbprint, group in by_thumbprint.items():
            if thumbprint == auth.current_thumbprint:
                continue
            which = {"next": "the NEXT", "previous": "the PREVIOUS"}.get(role.get(thumbprint, ""), "not a configured")
            out.append(
                finding(
                    "signer-not-current",
                    f"{sum(s.exchanges for s in group)} exchange(s) carry tokens signed by {thumbprint}, {which} "
                    f"auth certificate; Get-AuthConfig's current one is {auth.current_thumbprint}",
                    None,
                    thumbprint=thumbprint,
                    current=auth.current_thumbprint,
                    role=role.get(thumbprint),
                    issuers=sorted({s.key[0] or "?" for s in group}),
                    first_exchange=group[0].first_exchange,
                )
            )
    published = config.sp_thumbprints()
    if published is not None:
        for thumbprint, group in by_thumbprint.items():
            if thumbprint not in published:
                out.append(
                    finding(
                        "signer-not-on-sp",
                        f"Tokens signed by {thumbprint} ({sum(s.exchanges for s in group)} exchange(s)) cannot be "
                        "checked by Entra/ACS: that certificate is not among the service principal's keys",
                        None,
                        thumbprint=thumbprint,
                        service_principal=config.service_principal.app_id if config.service_principal else None,
                        issuers=sorted({s.key[0] or "?" for s in group}),
                        first_exchange=group[0].first_exchange,
                    )
                )
        if auth is not None and auth.next_thumbprint and auth.next_thumbprint != auth.current_thumbprint:
            effective = auth.next_effective
            # Without an effective date (or a clock) nothing says it is due: unknown beats wrong.
            if (
                effective is not None
                and now is not None
                and effective - now <= timedelta(days=NEXT_CERT_DAYS)
                and auth.next_thumbprint not in published
            ):
                days = (effective - now).days
                when = f"in {days} days" if days >= 0 else f"{-days} days ago"
                out.append(
                    finding(
                        "next-cert-not-published",
                        f"The next auth certificate {auth.next_thumbprint} becomes effective on "
                        f"{effective:%Y-%m-%d} ({when}) and is not among the service principal's keys",
                        None,
                        thumbprint=auth.next_thumbprint,
                        effective=utc_iso(effective),
                        days=days,
                    )
                )
    return out


def rotation_timeline(inventory: Inventory, config: Configuration, trust: Trust) -> list[CertificateTimeline]:
    """Every certificate seen on the wire or configured (auth config, bundle, ``--cert``/``--metadata``, service
    principal), ordered by validity start."""
    entries: dict[str, CertificateTimeline] = {}

    def entry(thumbprint: str) -> CertificateTimeline:
        found = entries.get(thumbprint)
        if found is None:
            found = entries[thumbprint] = CertificateTimeline(thumbprint)
        return found

    auth = config.auth_config
    for thumbprint, role in config.configured_thumbprints().items():
        item = entry(thumbprint)
        item.role(f"auth config {role}")
        if role == "next" and auth is not None:
            item.effective = auth.next_effective
    for cert in (config.exchange.certificates or ()) if config.exchange else ():
        if cert.thumbprint:
            item = entry(cert.thumbprint)
            item.role("Exchange certificate")
            item.validity(cert.not_before, cert.not_after, cert.subject)
    for key in trust.keys:
        if key.thumbprint:
            item = entry(key.thumbprint)
            item.role(f"trusted ({key.source})")
            item.validity(key.not_before, key.not_after, key.subject)
    for thumbprint in sorted(trust.expected_thumbprints):
        entry(thumbprint).role("expected (--thumbprint)")
    if config.service_principal is not None:
        for credential in config.service_principal.credentials:
            for thumbprint in credential.thumbprints:
                item = entry(thumbprint)
                item.role("service principal key")
                item.validity(credential.start, credential.end, credential.display_name)
    for signer in inventory.signers.values():
        signed_by = x5t_thumbprint(signer.key[1]) or x5t_thumbprint(signer.key[2])
        if signed_by is None:
            continue
        item = entry(signed_by)
        item.role("signs traffic")
        item.exchanges += signer.exchanges
        for moment in (signer.first_seen, signer.last_seen):
            if moment is not None:
                item.first_seen = moment if item.first_seen is None or moment < item.first_seen else item.first_seen
                item.last_seen = moment if item.last_seen is None or moment > item.last_seen else item.last_seen
    published = config.sp_thumbprints()
    if published is not None:
        for item in entries.values():
            item.on_service_principal = item.thumbprint in published
    return sorted(entries.values(), key=lambda e: (e.not_before is None, e.not_before or datetime.min, e.thumbprint))
