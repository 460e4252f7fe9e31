"""Judging one bearer token: shape, signature, issuer, realm, audience and times, at the exchange's capture time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from inspector.audience import expected_audience, principal_name, resource_principal
from inspector.checks.principals import as_list, caller_principal, principal_findings_of
from inspector.frozen import pickled_by_constructor
from inspector.hosts import bare_host
from inspector.policy import Policy
from inspector.rules import Finding, finding
from inspector.tokens import DecodedBearer, Jwt, Principal, TokenKind, iso, numeric_time
from inspector.trust import TrustedKey
from inspector.verify import SignatureResult, SignatureVerdict, Verifier

_DANGEROUS_HEADERS = ("jku", "x5u", "jwk")


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class TokenReport:
    """What the tool concluded about one bearer token (shown in every output format)."""

    kind: Final[TokenKind]
    decoded: Final[DecodedBearer]
    issuer: Final[str | None]
    """The calling principal's ``iss`` (outer token, or the app-only token's own)."""
    realm: Final[str | None]
    audience: Final[str | None]
    signature: Final[SignatureVerdict | None]
    """``None`` where there is nothing to verify (empty, opaque or undecodable)."""
    key: Final[TrustedKey | None]

    def __init__(
        self,
        kind: TokenKind,
        decoded: DecodedBearer,
        issuer: str | None = None,
        realm: str | None = None,
        audience: str | None = None,
        signature: SignatureVerdict | None = None,
        key: TrustedKey | None = None,
    ) -> None:
        self.kind = kind
        self.decoded = decoded
        self.issuer = issuer
        self.realm = realm
        self.audience = audience
        self.signature = signature
        self.key = key


def audience_host(aud: object) -> str | None:
    """The host named by ``aud``: ``<principal>/<host>@<realm>`` or a URL (Entra tokens)."""
    parsed = Principal.parse(aud)
    if parsed is not None:
        return bare_host(parsed.host) if parsed.host else None
    if isinstance(aud, str) and "://" in aud:
        try:
            hostname = urlsplit(aud).hostname
        except ValueError:
            return None
        return bare_host(hostname) if hostname else None
    return None


_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def audience_principal(aud: object) -> str | None:
    """The service principal named by ``aud`` (lower-case): the ``<principal>`` of an S2S audience, or the GUID
    an Entra/AAD token's ``aud`` is (an application ID), or the service of a well-known resource URL
    (``https://outlook.office365.com``). ``None`` for anything else."""
    parsed = Principal.parse(aud)
    if parsed is not None:
        return parsed.principal
    if isinstance(aud, str) and _GUID.fullmatch(aud.strip().lower()):
        return aud.strip().lower()
    host = audience_host(aud)
    return resource_principal(host) if host else None


def _header_findings(jwt: Jwt, which: str, exchange: str | None) -> list[Finding]:
    found = [name for name in _DANGEROUS_HEADERS if name in jwt.header]
    kid = jwt.header.get("kid")
    if isinstance(kid, str) and (
        any(mark in kid for mark in ("/", "\\", "..", "://")) or len(kid) > 256 or not kid.isprintable()
    ):
        found.append("kid")
    if not found:
        return []
    return [
        finding(
            "dangerous-header",
            f"The {which} token header carries {', '.join(found)}; S2S tokens never do, and this tool ignores them",
            exchange,
            token=which,
            headers=found,
        )
    ]


def _time_findings(
    which: str, nbf: int | None, exp: int | None, moment: int, skew: int, exchange: str | None
) -> list[Finding]:
    out: list[Finding] = []
    if exp is not None and moment > exp + skew:
        out.append(
            finding(
                "token-expired",
                f"The {which} token expired at {iso(exp)}, {moment - exp} s before it was used "
                f"({iso(moment)}; skew allowed {skew} s)",
                exchange,
                token=which,
                exp=iso(exp),
                used=iso(moment),
                seconds_late=moment - exp,
            )
        )
    if nbf is not None and moment < nbf - skew:
        out.append(
            finding(
                "token-not-yet-valid",
                f"The {which} token is valid only from {iso(nbf)}, {nbf - moment} s after it was used "
                f"({iso(moment)}; skew allowed {skew} s): a clock runs ahead",
                exchange,
                token=which,
                nbf=iso(nbf),
                used=iso(moment),
                seconds_early=nbf - moment,
            )
        )
    return out


def _signature_findings(result: SignatureResult, signed: Jwt, which: str, exchange: str | None) -> list[Finding]:
    if result.verdict == "unsigned":
        what = "actor token inside the outer token" if which == "actor" else "token"
        return [
            finding(
                "token-unsigned",
                f"The {what} is alg none: nothing vouches for it",
                exchange,
                token=which,
            )
        ]
    if result.verdict == "not-allowed":
        return [
            finding(
                "alg-not-allowed",
                f"The {which} token is signed with {signed.alg}; only RS256 is allowed for S2S tokens",
                exchange,
                token=which,
                alg=signed.alg,
            )
        ]
    if result.verdict == "invalid":
        assert result.key is not None
        return [
            finding(
                "signature-invalid",
                f"The {which} token's RS256 signature does not verify with {result.key.label()}",
                exchange,
                token=which,
                key=result.key.label(),
            )
        ]
    if result.verdict == "unknown-key":
        x5t = signed.header.get("x5t")
        kid = signed.header.get("kid")
        named = f"x5t {x5t}" if isinstance(x5t, str) else f"kid {kid}" if isinstance(kid, str) else "no key hint"
        out = []
        if result.wrong_issuer_keys:
            other = result.wrong_issuer_keys[0]
            out.append(
                finding(
                    "signing-key-wrong-issuer",
                    f"The {which} token ({named}) names {other.label()}, which is trusted only for issuer "
                    f"{other.issuer}, not for {signed.claim_str('iss')}",
                    exchange,
                    token=which,
                    key=other.label(),
                    key_issuer=other.issuer,
                )
            )
        else:
            hint = (
                f"; it matches the expected thumbprint {result.expected_thumbprint}: give that certificate "
                "with --cert to verify"
                if result.expected_thumbprint
                else ""
            )
            out.append(
                finding(
                    "signing-key-unknown",
                    f"No trusted key for the {which} token ({named}), so its signature cannot be checked{hint}",
                    exchange,
                    token=which,
                    x5t=x5t if isinstance(x5t, str) else None,
                    kid=kid if isinstance(kid, str) else None,
                    expected_thumbprint=result.expected_thumbprint,
                )
            )
        return out
    return []


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class TimedToken:
    """A token whose ``nbf``/``exp`` (as Unix seconds, read once) are judged at each use, and its name in messages."""

    which: Final[str]
    nbf: Final[int | None]
    exp: Final[int | None]

    def __init__(self, which: str, nbf: int | None, exp: int | None) -> None:
        self.which = which
        self.nbf = nbf
        self.exp = exp


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class TokenAssessment:
    """Everything about a token that does not depend on when or where it was used: decoded, verified, checked
    against the policy. Cached by the token's text, so a token repeated over thousands of requests is judged once."""

    report: Final[TokenReport]
    findings: Final[tuple[Finding, ...]]
    """Findings with ``exchange=None``; each use gets copies pointing at its exchange."""
    timed: Final[tuple[TimedToken, ...]]
    """The tokens whose ``nbf``/``exp`` are judged at each use."""
    audience_hosts: Final[frozenset[str]]
    audience_principals: Final[frozenset[str]]
    """The service principals the ``aud`` names (the service the token was made for)."""
    signed_as: Final[str]
    key_validity: Final[tuple[datetime, datetime] | None]
    """The validity of the certificate a valid signature verified with (read from the certificate once)."""
    valid_from: Final[int | None]
    """The latest ``nbf`` of the timed tokens: with ``valid_until``, the window in which no use has time findings."""
    valid_until: Final[int | None]

    def __init__(
        self,
        report: TokenReport,
        findings: tuple[Finding, ...],
        timed: tuple[TimedToken, ...] = (),
        audience_hosts: frozenset[str] = frozenset(),
        audience_principals: frozenset[str] = frozenset(),
        signed_as: str = "bearer",
        key_validity: tuple[datetime, datetime] | None = None,
        valid_from: int | None = None,
        valid_until: int | None = None,
    ) -> None:
        self.report = report
        self.findings = findings
        self.timed = timed
        self.audience_hosts = audience_hosts
        self.audience_principals = audience_principals
        self.signed_as = signed_as
        self.key_validity = key_validity
        self.valid_from = valid_from
        self.valid_until = valid_until

    def times_quiet(self, moment: int, skew: int) -> bool:
        """Whether a use at ``moment`` (Unix seconds) is inside every timed token's window, skew allowed."""
        start, end = self.valid_from, self.valid_until
        return not ((start is not None and moment < start - skew) or (end is not None and moment > end + skew))

    def quiet_at(self, at: datetime, skew: int) -> bool:
        """Whether a use at ``at`` raises no time finding: tokens in their windows, the signing certificate valid."""
        validity = self.key_validity
        return self.times_quiet(int(at.timestamp()), skew) and (validity is None or validity[0] <= at <= validity[1])


def assess_token(token: DecodedBearer, *, verifier: Verifier, policy: Policy) -> TokenAssessment:
    if token.kind in ("empty", "opaque"):
        found: tuple[Finding, ...] = ()
        if token.kind == "opaque":
            found = (finding("token-opaque", "The bearer value is not a JWT: nothing in it can be checked"),)
        return TokenAssessment(TokenReport(kind=token.kind, decoded=token), found)
    outer = token.outer
    if token.jws is not None:
        return _assess_jws(token, token.jws, verifier)
    if outer is None:
        return TokenAssessment(
            TokenReport(kind=token.kind, decoded=token),
            (finding("token-malformed", f"The bearer token cannot be decoded: {token.problem}"),),
        )
    findings: list[Finding] = []
    outer_name = "outer" if token.actor is not None else "bearer"
    findings += _header_findings(outer, outer_name, None)
    if token.actor_problem and token.actor is None:
        findings.append(
            finding(
                "token-malformed",
                f"The outer token decoded but its actor token cannot be: {token.actor_problem}",
                token="actor",
            )
        )
    elif token.actor_problem:
        findings.append(finding("token-malformed", f"The actor token: {token.actor_problem}"))
    signed = token.signed
    which = "actor" if token.actor is not None else "bearer"
    verdict: SignatureVerdict | None = None
    key: TrustedKey | None = None
    if signed is not None and not (token.kind == "s2s-user" and token.actor is None):
        if token.actor is not None:
            findings += _header_findings(token.actor, "actor", None)
        result = verifier.verify(signed, signed.claim_str("iss"))
        verdict, key = result.verdict, result.key
        findings += _signature_findings(result, signed, which, None)
    claims = _claims_view(token, policy)
    findings += claims.findings
    report = TokenReport(token.kind, token, claims.issuer, claims.realm, claims.audience, verdict, key)
    actor = token.actor
    outer_nbf, outer_exp = numeric_time(outer.claims.get("nbf")), numeric_time(outer.claims.get("exp"))
    if actor is None:
        timed: tuple[TimedToken, ...] = (TimedToken(outer_name, outer_nbf, outer_exp),)
        nbfs = [outer_nbf] if outer_nbf is not None else []
        exps = [outer_exp] if outer_exp is not None else []
    else:
        actor_nbf, actor_exp = numeric_time(actor.claims.get("nbf")), numeric_time(actor.claims.get("exp"))
        timed = (TimedToken(outer_name, outer_nbf, outer_exp), TimedToken("actor", actor_nbf, actor_exp))
        nbfs = [t for t in (outer_nbf, actor_nbf) if t is not None]
        exps = [t for t in (outer_exp, actor_exp) if t is not None]
    validity = None
    if verdict == "valid" and key is not None:
        start, end = key.not_before, key.not_after
        if start is not None and end is not None:
            validity = (start, end)
    return TokenAssessment(
        report,
        tuple(findings),
        timed,
        claims.hosts,
        claims.principals,
        which,
        validity,
        max(nbfs) if nbfs else None,
        min(exps) if exps else None,
    )


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class _ClaimsView:
    """What a token's ``iss``, ``aud``, ``nameid`` and ``trustedfordelegation`` (outer and actor) say under a
    policy: the principal findings (``exchange=None``), and the report's issuer, realm and audience."""

    findings: Final[tuple[Finding, ...]]
    issuer: Final[str | None]
    realm: Final[str | None]
    audience: Final[str | None]
    hosts: Final[frozenset[str]]
    principals: Final[frozenset[str]]

    def __init__(
        self,
        findings: tuple[Finding, ...],
        issuer: str | None,
        realm: str | None,
        audience: str | None,
        hosts: frozenset[str],
        principals: frozenset[str],
    ) -> None:
        self.findings = findings
        self.issuer = issuer
        self.realm = realm
        self.audience = audience
        self.hosts = hosts
        self.principals = principals


MAX_CLAIMS_VIEWS = 1024
"""Claims views remembered. Distinct tokens of one signer (a new one per user, or per hour) repeat these claims, so
each set is judged once; past the limit the memory starts again (a hostile capture only costs the judging)."""
_MAX_VIEW_TEXT = 512
"""Longer claim values are judged every time, never kept."""
_claims_views: dict[tuple[object, ...], _ClaimsView] = {}


def _claims_view(token: DecodedBearer, policy: Policy) -> _ClaimsView:
    outer, actor = token.outer, token.actor
    assert outer is not None
    claims = outer.claims
    # Exactly the claims the principal checks read (``nameid`` of the outer token only for an app-only one: a
    # user's differs per user), and only when each is a string or absent, so that equal keys mean equal answers.
    values: list[object] = [
        claims.get("iss"),
        claims.get("aud"),
        claims.get("nameid") if token.kind == "s2s-app" else None,
    ]
    if actor is not None:
        theirs = actor.claims
        values += (theirs.get("iss"), theirs.get("nameid"), theirs.get("aud"), theirs.get("trustedfordelegation"))
    memo_key: tuple[object, ...] | None = (
        token.kind,
        actor is not None,
        *values,
        policy.expected_issuers,
        policy.realms,
    )
    for value in values:
        if value is not None and (type(value) is not str or len(value) > _MAX_VIEW_TEXT):
            memo_key = None
            break
    if memo_key is not None:
        known = _claims_views.get(memo_key)
        if known is not None:
            return known
    principal_findings, realm = principal_findings_of(token, policy, None)
    aud: Any = claims.get("aud")
    auds = as_list(aud)
    view = _ClaimsView(
        tuple(principal_findings),
        caller_principal(token),
        realm,
        aud if isinstance(aud, str) else ", ".join(auds) or None,
        frozenset(h for h in (audience_host(a) for a in auds) if h),
        frozenset(p for p in (audience_principal(a) for a in auds) if p),
    )
    if memo_key is not None:
        if len(_claims_views) >= MAX_CLAIMS_VIEWS:
            _claims_views.clear()
        _claims_views[memo_key] = view
    return view


def _assess_jws(token: DecodedBearer, jws: Jwt, verifier: Verifier) -> TokenAssessment:
    """A JWS whose payload is not a JSON object: malformed as a token, but its signature still has a verdict
    (a valid signature over text says who signed it; an invalid one that it was altered)."""
    findings = [finding("token-malformed", f"The bearer token is a JWS but not a JWT: {jws.payload_problem}")]
    findings += _header_findings(jws, "bearer", None)
    result = verifier.verify(jws, None)
    if not jws.is_unsigned:  # an unsigned one vouches for nothing it could say: being malformed is the verdict
        findings += _signature_findings(result, jws, "bearer", None)
    report = TokenReport(kind=token.kind, decoded=token, signature=result.verdict, key=result.key)
    return TokenAssessment(report, tuple(findings))


def judge_use(
    assessment: TokenAssessment,
    *,
    policy: Policy,
    at: datetime | None,
    host: str | None,
    exchange: str | None,
    target: str = "",
) -> list[Finding]:
    """The findings of one use of an assessed token: its own, plus times and audience at that use (the host
    the request went to, and the service its ``target`` path names: ``inspector.audience``). ``at`` is ``None``
    when the use's time is unknown: then its times (and the signing certificate's validity then) are not judged."""
    out = [f.about(exchange) for f in assessment.findings] if assessment.findings else []
    if assessment.timed and at is not None:
        moment, skew = int(at.timestamp()), policy.skew
        # Nearly every use falls inside every token's window: one comparison instead of each token's claims.
        if not assessment.times_quiet(moment, skew):
            for timed in assessment.timed:
                out += _time_findings(timed.which, timed.nbf, timed.exp, moment, skew, exchange)
    if assessment.audience_principals:
        out += _principal_use(assessment, policy, host, target, exchange)
    if host and assessment.audience_hosts:
        request_host = bare_host(host)
        if request_host not in assessment.audience_hosts:
            out.append(
                finding(
                    "audience-mismatch",
                    f"The token's audience names host {', '.join(sorted(assessment.audience_hosts))} but the "
                    f"request went to {request_host}",
                    exchange,
                    audience=assessment.report.audience,
                    host=request_host,
                )
            )
    validity = assessment.key_validity
    if validity is not None and at is not None and not (validity[0] <= at <= validity[1]):
        key = assessment.report.key
        assert key is not None  # a validity is only kept for the key that verified the signature
        out.append(
            finding(
                "signed-with-expired-cert",
                f"The {assessment.signed_as} token verifies with {key.label()}, but that certificate is valid only "
                f"{validity[0]:%Y-%m-%d} to {validity[1]:%Y-%m-%d} and the token was used "
                f"{at:%Y-%m-%dT%H:%M:%SZ}",
                exchange,
                token=assessment.signed_as,
                key=key.label(),
                not_after=validity[1].isoformat(),
            )
        )
    return out


def _principal_use(
    assessment: TokenAssessment, policy: Policy, host: str | None, target: str, exchange: str | None
) -> list[Finding]:
    """``audience-mismatch`` when the token names another service than the one the request went to."""
    expected = expected_audience(policy.audience_principals, host, target)
    if expected is None or expected.principal in assessment.audience_principals:
        return []
    made_for = ", ".join(principal_name(p) for p in sorted(assessment.audience_principals))
    return [
        finding(
            "audience-mismatch",
            f"The token was made for {made_for}, but the request went to {principal_name(expected.principal)} "
            f"({expected.why} on {bare_host(host) if host else '?'})",
            exchange,
            audience=assessment.report.audience,
            made_for=sorted(assessment.audience_principals),
            expected_principal=expected.principal,
            expected_from=expected.why,
        )
    ]


def _principal_id(value: str | None) -> str:
    """A client id or ``iss``/``sub`` compared by its principal: ``<guid>@<realm>`` and ``<guid>`` name the same."""
    parsed = Principal.parse(value)
    return parsed.principal if parsed is not None else (value or "").strip().lower()


_ENTRA_HOSTS = frozenset({"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"})
"""Names of the one global Entra token service: an assertion for one is good at the others (unknown beats wrong)."""


def _aud_names_host(aud: object, host: str) -> bool:
    hosts = {h.lower() for h in (audience_host(a) for a in as_list(aud)) if h}
    wanted = bare_host(host)
    return wanted in hosts or (wanted in _ENTRA_HOSTS and bool(hosts & _ENTRA_HOSTS))


def judge_client_assertion(
    jwt: Jwt,
    *,
    verifier: Verifier,
    policy: Policy,
    at: datetime | None,
    client_id: str | None,
    endpoint_host: str | None,
    exchange: str | None,
) -> tuple[TokenReport, list[Finding]]:
    """A token request's ``client_assertion``, judged like an actor token: header, RS256 signature against the
    trust, times at capture time (not judged when that is unknown: ``at`` is ``None``), ``iss``/``sub`` equal to
    the client id, ``aud`` naming the token endpoint."""
    which = "client-assertion"
    found = _header_findings(jwt, which, exchange)
    iss = jwt.claim_str("iss")
    result = verifier.verify(jwt, iss)
    found += _signature_findings(result, jwt, which, exchange)
    if at is not None:
        found += _time_findings(
            which,
            numeric_time(jwt.claims.get("nbf")),
            numeric_time(jwt.claims.get("exp")),
            int(at.timestamp()),
            policy.skew,
            exchange,
        )
    sub = jwt.claim_str("sub")
    # iss must name the client; sub too where the assertion carries one (ACS-style assertions may name the client
    # in iss and nameid only: a missing sub is not judged).
    named = {_principal_id(iss)} | ({_principal_id(sub)} if "sub" in jwt.claims else set())
    if client_id is not None and named != {_principal_id(client_id)}:
        found.append(
            finding(
                "issuer-unexpected",
                f"The client assertion's iss {iss} and sub {sub} must both name the client_id {client_id}",
                exchange,
                token=which,
                issuer=iss,
                subject=sub,
                client_id=client_id,
            )
        )
    aud: Any = jwt.claims.get("aud")
    if endpoint_host and not _aud_names_host(aud, endpoint_host):
        found.append(
            finding(
                "audience-mismatch",
                f"The client assertion's aud {aud} does not name the token endpoint it was sent to "
                f"({bare_host(endpoint_host)})",
                exchange,
                token=which,
                audience=aud,
                host=bare_host(endpoint_host),
            )
        )
    key = result.key if result.verdict == "valid" else None
    start, end = (key.not_before, key.not_after) if key is not None else (None, None)
    if key is not None and start is not None and end is not None and at is not None and not (start <= at <= end):
        found.append(
            finding(
                "signed-with-expired-cert",
                f"The client assertion verifies with {key.label()}, but that certificate is valid only "
                f"{start:%Y-%m-%d} to {end:%Y-%m-%d} and it was sent {at:%Y-%m-%dT%H:%M:%SZ}",
                exchange,
                token=which,
                key=key.label(),
                not_after=end.isoformat(),
            )
        )
    report = TokenReport(
        kind="client-assertion",
        decoded=DecodedBearer(kind="client-assertion", outer=jwt),
        issuer=iss,
        audience=aud if isinstance(aud, str) else ", ".join(as_list(aud)) or None,
        signature=result.verdict,
        key=result.key,
    )
    return report, found


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (TokenReport, TimedToken, TokenAssessment):
    pickled_by_constructor(_cls)
