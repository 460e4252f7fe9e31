"""Mint the S2S token shapes of the protocol reference (§1), healthy and broken, for tests, samples and the lab.

Tokens are built by hand (header dict, claims dict, RSASSA-PKCS1-v1_5/SHA-256 with ``cryptography``) so that every
byte is under control: the outer token is ``b64(header).b64(claims).`` with an empty third segment, the actor is
RS256 with ``x5t`` (and ``kid`` when ACS issued it).

Each scenario says which catalogue rules it must raise (``Minted.expects``), assuming the analyzer is given:
the auth certificate as a ``--cert`` (trusted for any issuer), the ACS metadata document for ``realm``, the
expected issuer 00000004 (the default), ``--realm realm``, the default skew of 300 s, and a request whose Host is
``host`` captured at ``now``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from inspector.lab.certs import ACS_PRINCIPAL, EXCHANGE_PRINCIPAL, LabCert, exchange_auth_cert
from inspector.rules import RuleId
from inspector.tokens import b64url_encode as b64url

SFB_PRINCIPAL = "00000004-0000-0ff1-ce00-000000000000"
SHAREPOINT_PRINCIPAL = "00000003-0000-0ff1-ce00-000000000000"
TEAMS_SCHEDULER_PRINCIPAL = "7557eb47-c689-4224-abcf-aef9bd7573df"
LAB_REALM = "5de110f8-2e0f-4d45-891d-bcf2218e253d"
OTHER_REALM = "00c118a9-2de9-41d3-b39a-81648a7a5e4d"
LAB_HOST = "mail.contoso.com"

OUTER_LIFETIME = timedelta(hours=8)
ACTOR_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class LabUser:
    """The user an outer token speaks for (Exchange resolves them by smtp/sip/upn)."""

    upn: str = "alice@contoso.com"
    nameid: str = "10032001E2CBE43B"
    """The cloud NetID, as Exchange-built outer tokens carry it."""
    nii: str = "urn:federation:MicrosoftOnline"


@dataclass(frozen=True, slots=True)
class Minted:
    """A minted bearer token, the claims it was built from, and the rules it is meant to raise."""

    name: str
    value: str
    """The token string as it follows ``Authorization: Bearer``."""
    description: str
    expects: tuple[RuleId, ...]
    """Catalogue rule IDs the analyzer must report for it (as a set; a rule may fire for both tokens)."""
    outer_header: dict[str, Any] | None = None
    outer_claims: dict[str, Any] | None = None
    """The outer token's claims; for an app-only token, the token's own claims."""
    actor_header: dict[str, Any] | None = None
    actor_claims: dict[str, Any] | None = None
    """The actor token's claims; ``None`` for an app-only token or a token without actor."""


def segment(part: Mapping[str, Any]) -> str:
    return b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))


def sign_rs256(cert: LabCert, signing_input: bytes) -> bytes:
    return cert.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def rs256_token(header: Mapping[str, Any], claims: Mapping[str, Any], signer: LabCert) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(sign_rs256(signer, signing_input.encode('ascii')))}"


def unsigned_token(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """The S2S outer token form: ``b64(header).b64(claims).`` with an empty signature segment."""
    return f"{segment(header)}.{segment(claims)}."


def x5t_header(cert: LabCert, *, kid: bool = False) -> dict[str, Any]:
    header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "x5t": cert.x5t}
    if kid:  # ACS puts kid first, with the same value as x5t
        header = {"alg": "RS256", "kid": cert.x5t, "typ": "JWT", "x5t": cert.x5t}
    return header


UNSIGNED_HEADER: dict[str, Any] = {"typ": "JWT", "alg": "none"}


class TokenKit:
    """Mints every scenario for one realm and Exchange host at a fixed ``now``."""

    def __init__(
        self,
        *,
        realm: str = LAB_REALM,
        host: str = LAB_HOST,
        auth_cert: LabCert,
        acs_cert: LabCert,
        now: datetime,
        rogue_cert: LabCert | None = None,
        user: LabUser | None = None,
    ) -> None:
        self.realm = realm
        self.host = host
        self.auth_cert = auth_cert
        self.acs_cert = acs_cert
        self.now = now
        self._rogue_cert = rogue_cert
        self.user = user if user is not None else LabUser()

    @property
    def rogue_cert(self) -> LabCert:
        """A certificate nobody trusts (generated on first use unless one was given)."""
        if self._rogue_cert is None:
            self._rogue_cert = exchange_auth_cert(now=self.now)
        return self._rogue_cert

    # --- building blocks ---------------------------------------------------------------------------------------

    def principal(self, guid: str, realm: str | None = None) -> str:
        return f"{guid}@{realm or self.realm}"

    def audience(self, *, host: str | None = None, realm: str | None = None) -> str:
        return f"{EXCHANGE_PRINCIPAL}/{host or self.host}@{realm or self.realm}"

    def _times(self, start_offset: timedelta, lifetime: timedelta, *, as_strings: bool) -> dict[str, Any]:
        nbf = int((self.now + start_offset).timestamp())
        exp = nbf + int(lifetime.total_seconds())
        if as_strings:
            return {"nbf": str(nbf), "exp": str(exp)}
        return {"nbf": nbf, "exp": exp, "iat": nbf}

    def actor_claims(
        self,
        *,
        iss: str | None = None,
        nameid: str | None = None,
        aud: str | None = None,
        start: timedelta = timedelta(minutes=-10),
        as_strings: bool = True,
        app_only: bool = False,
    ) -> dict[str, Any]:
        """A self-issued actor token's claims (TokenHelper shape): issuer and nameid are the calling app."""
        claims: dict[str, Any] = {
            "aud": aud or self.audience(),
            "iss": iss or self.principal(SFB_PRINCIPAL),
            **self._times(start, ACTOR_LIFETIME, as_strings=as_strings),
            "nameid": nameid or self.principal(SFB_PRINCIPAL),
        }
        if not app_only:  # "Do not include this claim in an add-in-only call"
            claims["trustedfordelegation"] = "true"
        return claims

    def outer_claims(
        self,
        actor: str | None,
        *,
        iss: str | None = None,
        aud: str | None = None,
        start: timedelta = timedelta(minutes=-1),
        as_strings: bool = True,
    ) -> dict[str, Any]:
        """An outer (user) token's claims as Exchange-family callers build them: user addresses plus actortoken."""
        claims: dict[str, Any] = {}
        if actor is not None:
            claims["actortoken"] = actor
        claims |= {
            "aud": aud or self.audience(),
            "iss": iss or self.principal(SFB_PRINCIPAL),
            **self._times(start, OUTER_LIFETIME, as_strings=as_strings),
            "nameid": self.user.nameid,
            "nii": self.user.nii,
            "sip": self.user.upn,
            "smtp": self.user.upn,
            "upn": self.user.upn,
        }
        return claims

    def user_token(
        self,
        name: str,
        description: str,
        expects: tuple[RuleId, ...],
        *,
        actor_header: dict[str, Any] | None = None,
        actor_claims: dict[str, Any] | None = None,
        outer_claims: Callable[[str], dict[str, Any]] | None = None,
        signer: LabCert | None = None,
        tamper: Callable[[str], str] | None = None,
    ) -> Minted:
        """An outer ``alg: none`` token wrapping an RS256 actor; each part can be replaced to break it."""
        a_header = actor_header if actor_header is not None else x5t_header(self.auth_cert)
        a_claims = actor_claims if actor_claims is not None else self.actor_claims()
        actor = rs256_token(a_header, a_claims, signer or self.auth_cert)
        if tamper is not None:
            actor = tamper(actor)
        o_claims = outer_claims(actor) if outer_claims is not None else self.outer_claims(actor)
        return Minted(
            name=name,
            value=unsigned_token(UNSIGNED_HEADER, o_claims),
            description=description,
            expects=expects,
            outer_header=dict(UNSIGNED_HEADER),
            outer_claims=o_claims,
            actor_header=a_header,
            actor_claims=a_claims,
        )

    # --- scenarios ---------------------------------------------------------------------------------------------

    def healthy_user(self) -> Minted:
        return self.user_token(
            "healthy-user",
            "Skype for Business Online calls Exchange for a user: unsigned outer token (times as strings) "
            "wrapping an actor signed with the auth certificate",
            (),
        )

    def app_only(self) -> Minted:
        claims = self.actor_claims(as_strings=False, app_only=True)
        header = x5t_header(self.auth_cert)
        return Minted(
            name="app-only",
            value=rs256_token(header, claims, self.auth_cert),
            description="An app-only call: the signed actor token alone (numeric times)",
            expects=(),
            outer_header=header,
            outer_claims=claims,
        )

    def acs_actor(self) -> Minted:
        acs = self.principal(ACS_PRINCIPAL)
        sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab-service-principal:{self.realm}"))
        claims: dict[str, Any] = {
            "aud": self.audience(),
            **self._times(timedelta(minutes=-10), ACTOR_LIFETIME, as_strings=False),
            "identityprovider": acs,
            "iss": acs,
            "nameid": self.principal(SFB_PRINCIPAL),
            "oid": sp_id,
            "sub": sp_id,
            "trustedfordelegation": "true",
            "xms_spcu": "true",
        }
        return self.user_token(
            "acs-actor",
            "A user call whose actor token ACS issued (iss 00000001, kid and x5t of the ACS key, numeric times)",
            (),
            actor_header=x5t_header(self.acs_cert, kid=True),
            actor_claims=claims,
            outer_claims=lambda actor: self.outer_claims(actor, as_strings=False),
            signer=self.acs_cert,
        )

    def expired(self) -> Minted:
        start = -timedelta(days=2)
        return self.user_token(
            "expired",
            "Both tokens expired a day or more before they were used",
            ("token-expired",),
            actor_claims=self.actor_claims(start=start),
            outer_claims=lambda actor: self.outer_claims(actor, start=start),
        )

    def not_yet_valid(self) -> Minted:
        start = timedelta(hours=1)
        return self.user_token(
            "not-yet-valid",
            "Both tokens become valid an hour after they were used: the caller's clock runs ahead",
            ("token-not-yet-valid",),
            actor_claims=self.actor_claims(start=start),
            outer_claims=lambda actor: self.outer_claims(actor, start=start),
        )

    def wrong_principal(self) -> Minted:
        caller = self.principal(SHAREPOINT_PRINCIPAL)
        return self.user_token(
            "wrong-principal",
            "A consistent, validly signed token from SharePoint (00000003) where Skype for Business is expected",
            ("issuer-unexpected",),
            actor_claims=self.actor_claims(iss=caller, nameid=caller),
            outer_claims=lambda actor: self.outer_claims(actor, iss=caller),
        )

    def wrong_realm(self) -> Minted:
        realm = OTHER_REALM
        caller = self.principal(SFB_PRINCIPAL, realm)
        aud = self.audience(realm=realm)
        return self.user_token(
            "wrong-realm",
            "A consistent token for another tenant's realm",
            ("realm-mismatch",),
            actor_claims=self.actor_claims(iss=caller, nameid=caller, aud=aud),
            outer_claims=lambda actor: self.outer_claims(actor, iss=caller, aud=aud),
        )

    def forged_signature(self) -> Minted:
        return self.user_token(
            "forged-signature",
            "The actor names the trusted auth certificate (x5t) but its signature bytes were altered",
            ("signature-invalid",),
            tamper=_alter_signature,
        )

    def unknown_key(self) -> Minted:
        return self.user_token(
            "unknown-key",
            "The actor is signed by a certificate nobody trusts, so it cannot be verified",
            ("signing-key-unknown",),
            actor_header=x5t_header(self.rogue_cert),
            signer=self.rogue_cert,
        )

    def naked_alg_none(self) -> Minted:
        claims = self.actor_claims(as_strings=False, app_only=True)
        return Minted(
            name="naked-alg-none",
            value=unsigned_token(UNSIGNED_HEADER, claims),
            description="An alg:none app token with no actor token: nothing vouches for it (CVE-2023-29357 style)",
            expects=("token-unsigned",),
            outer_header=dict(UNSIGNED_HEADER),
            outer_claims=claims,
        )

    def unsigned_actor(self) -> Minted:
        a_claims = self.actor_claims()
        actor = unsigned_token(UNSIGNED_HEADER, a_claims)
        o_claims = self.outer_claims(actor)
        return Minted(
            name="unsigned-actor",
            value=unsigned_token(UNSIGNED_HEADER, o_claims),
            description="An outer token whose actor token is itself alg:none",
            expects=("token-unsigned",),
            outer_header=dict(UNSIGNED_HEADER),
            outer_claims=o_claims,
            actor_header=dict(UNSIGNED_HEADER),
            actor_claims=a_claims,
        )

    def hs256(self) -> Minted:
        """The key-confusion attack: HMAC-SHA256 keyed with the auth certificate's public key PEM."""
        header: dict[str, Any] = {"typ": "JWT", "alg": "HS256", "x5t": self.auth_cert.x5t}
        claims = self.actor_claims(as_strings=False, app_only=True)
        signing_input = f"{segment(header)}.{segment(claims)}"
        mac = hmac.new(self.auth_cert.public_key_pem, signing_input.encode("ascii"), hashlib.sha256).digest()
        return Minted(
            name="hs256",
            value=f"{signing_input}.{b64url(mac)}",
            description="An app token 'signed' HS256 with the public key as the HMAC secret (key confusion)",
            expects=("alg-not-allowed",),
            outer_header=header,
            outer_claims=claims,
        )

    def issuer_nameid_mismatch(self) -> Minted:
        return self.user_token(
            "issuer-nameid-mismatch",
            "The outer iss (Skype for Business) is not the application the actor vouches for (Teams Scheduler)",
            ("issuer-nameid-mismatch",),
            actor_claims=self.actor_claims(nameid=self.principal(TEAMS_SCHEDULER_PRINCIPAL)),
        )

    def audience_host_mismatch(self, other_host: str = "exchange.fabrikam.com") -> Minted:
        aud = self.audience(host=other_host)
        return self.user_token(
            "audience-host-mismatch",
            f"Both tokens are for {other_host}, but the request goes to {self.host}",
            ("audience-mismatch",),
            actor_claims=self.actor_claims(aud=aud),
            outer_claims=lambda actor: self.outer_claims(actor, aud=aud),
        )

    def dangerous_header(self) -> Minted:
        header = x5t_header(self.auth_cert) | {"jku": "https://attacker.example/keys.json"}
        return self.user_token(
            "dangerous-header",
            "A validly signed actor whose header asks the verifier to fetch keys from a URL (jku)",
            ("dangerous-header",),
            actor_header=header,
        )

    def garbage(self) -> Minted:
        # Starts like a JWT (the header decodes to a JSON object) but the claims are cut off mid-JSON, as a
        # header size limit would leave them.
        claims_start = b64url(b'{"aud":"00000002-0000-0ff1-ce00-000000000000/')
        return Minted(
            name="garbage",
            value=f"{segment(UNSIGNED_HEADER)}.{claims_start}.",
            description="A token cut off in its claims: not a decodable JWT",
            expects=("token-malformed",),
        )

    def signed_with(self, cert: LabCert, *, expects: tuple[RuleId, ...] = ("signed-with-expired-cert",)) -> Minted:
        """A healthy user token signed with ``cert``, e.g. one outside its validity at ``now`` (give that certificate
        to the analyzer too)."""
        return self.user_token(
            "signed-with-cert",
            "A healthy user token signed with a given certificate",
            expects,
            actor_header=x5t_header(cert),
            signer=cert,
        )

    def scenarios(self) -> list[Minted]:
        """Every scenario that needs only the kit's own certificates, healthy first."""
        return [
            self.healthy_user(),
            self.app_only(),
            self.acs_actor(),
            self.expired(),
            self.not_yet_valid(),
            self.wrong_principal(),
            self.wrong_realm(),
            self.forged_signature(),
            self.unknown_key(),
            self.naked_alg_none(),
            self.unsigned_actor(),
            self.hs256(),
            self.issuer_nameid_mismatch(),
            self.audience_host_mismatch(),
            self.dangerous_header(),
            self.garbage(),
        ]


def _alter_signature(token: str) -> str:
    """Flip bits in the middle of the signature: same length, still valid base64url, wrong bytes."""
    head, _, signature = token.rpartition(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
