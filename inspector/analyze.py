"""The analyzer: exchanges in, findings out. Sans-IO: no files, no sockets, no wall clock.

It is fed one source item at a time (so a live proxy and a 10 GB capture use it alike) and keeps only small,
bounded per-client state for the rules that span exchanges (a Bearer challenge followed by Basic/NTLM is a fallback).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from inspector.body_errors import body_error_findings
from inspector.hosts import origin_host
from inspector.http_auth import (
    Challenge,
    Credentials,
    Diagnostics,
    parse_authorization,
    parse_ms_diagnostics,
    parse_www_authenticate,
)
from inspector.lru import LruCache
from inspector.model import HttpExchange, Notice, SourceItem
from inspector.policy import FALLBACK_WINDOW, Policy
from inspector.rules import CATALOGUE, Finding, finding
from inspector.text import quoted, sent_to
from inspector.token_checks import TokenAssessment, TokenReport, assess_token, judge_use
from inspector.token_requests import TokenRequestReport, judge_token_request, token_request_fields
from inspector.tokens import decode_bearer
from inspector.trust import Trust
from inspector.verify import Verifier

MAX_CLIENT_STATE = 65536
LEGACY_SCHEMES = ("ntlm", "negotiate")
TOKEN_CACHE = 2048
"""Distinct bearer values remembered with their assessment (S2S tokens are reused for hours)."""
HEADER_CACHE = 1024
CACHEABLE_HEADER = 16 * 1024
"""Header values up to this size are parsed once and remembered (clients and servers repeat them verbatim)."""


@dataclass(frozen=True, slots=True)
class AuthSummary:
    scheme: str | None
    """Lower-case scheme of the request's Authorization header; ``None`` when it had none."""
    user: str | None = None
    credentials: Credentials | None = None
    token: TokenReport | None = None


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    exchange: HttpExchange
    auth: AuthSummary
    findings: tuple[Finding, ...] = ()
    challenges: tuple[Challenge, ...] = ()
    diagnostics: Diagnostics | None = None
    token_request: TokenRequestReport | None = None
    """Set when the exchange is a token request to Entra/ACS (the outbound leg)."""


@dataclass(slots=True)
class _OAuthFailed:
    """A client's attempt at OAuth on a host that was refused (401) or never answered."""

    at: datetime
    exchange: str
    outcome: str
    """``refused`` or ``unanswered``."""


@dataclass(slots=True)
class _Handshake:
    """An NTLM handshake begun (Type 1) and not yet completed (Type 3) by one client on one host."""

    at: datetime
    exchange: str
    scheme: str
    host: str
    answer: int | None = None
    """The status the server answered the Type 1 with (401 carries the Type 2 challenge); ``None``: no answer."""


def user_of(credentials: Credentials) -> str | None:
    if credentials.basic_user is not None:
        return credentials.basic_user
    ntlm = credentials.ntlm
    if ntlm is not None and ntlm.message_type == 3 and ntlm.user:
        return f"{ntlm.domain}\\{ntlm.user}" if ntlm.domain else ntlm.user
    return credentials.digest_user


class Analyzer:
    def __init__(
        self, trust: Trust, policy: Policy, verifier: Verifier | None = None, *, max_state: int = MAX_CLIENT_STATE
    ) -> None:
        self.max_state = max_state
        self.trust = trust
        self.policy = policy
        self.verifier = verifier or Verifier(trust)
        self._oauth_failed: OrderedDict[tuple[str, str], _OAuthFailed] = OrderedDict()
        self._handshakes: OrderedDict[tuple[str, str], _Handshake] = OrderedDict()
        self._reported_once: set[tuple[str, str, str, str]] = set()
        self._assessments: LruCache[str, TokenAssessment] = LruCache(TOKEN_CACHE)
        self._parsed_credentials: LruCache[str, Credentials] = LruCache(HEADER_CACHE)
        self._parsed_challenges: LruCache[tuple[str, ...], tuple[Challenge, ...]] = LruCache(HEADER_CACHE)

    # --- trust store -------------------------------------------------------------------------------------------

    def trust_findings(self) -> list[Finding]:
        """Certificate hygiene of the trust store, judged at ``policy.now`` (skipped when the caller gave none)."""
        out: list[Finding] = []
        seen: set[str | None] = set()
        for key in self.trust.keys:
            if key.x5t in seen:
                continue
            seen.add(key.x5t)
            bits = key.rsa_bits
            if bits is not None and bits < self.policy.min_rsa_bits:
                out.append(
                    finding(
                        "cert-weak-key",
                        f"{key.label()} has a {bits}-bit RSA key (at least {self.policy.min_rsa_bits} expected)",
                        key=key.label(),
                        bits=bits,
                    )
                )
            now = self.policy.now
            if now is None or key.not_after is None:
                continue
            if key.not_after < now:
                out.append(
                    finding(
                        "cert-expired",
                        f"{key.label()} expired on {key.not_after:%Y-%m-%d}",
                        key=key.label(),
                        not_after=key.not_after.isoformat(),
                    )
                )
            elif (key.not_after - now).days < self.policy.expiring_days:
                days = (key.not_after - now).days
                out.append(
                    finding(
                        "cert-expiring",
                        f"{key.label()} expires on {key.not_after:%Y-%m-%d}, in {days} days",
                        key=key.label(),
                        not_after=key.not_after.isoformat(),
                        days_left=days,
                    )
                )
        return out

    def new_input(self) -> None:
        """Forget per-client state between input files: a fallback or a repeated offer never spans two captures
        (the same rule a worker process follows when files are analysed in parallel)."""
        self._oauth_failed.clear()
        self._handshakes.clear()
        self._reported_once.clear()

    def end_input(self) -> list[Finding]:
        """What only the end of an input shows: NTLM handshakes that never reached their Type 3 (each is still
        an attempt at legacy authentication, reported once). The caller counts and writes them like any finding."""
        out = [self._incomplete_handshake(handshake) for handshake in self._handshakes.values()]
        self._handshakes.clear()
        return out

    @staticmethod
    def _incomplete_handshake(handshake: _Handshake) -> Finding:
        if handshake.answer == 401:
            answered = "got the server's Type 2 challenge"
        elif handshake.answer is None:
            answered = "got no answer"
        else:
            answered = f"was answered {handshake.answer} without a Type 2 challenge"
        return finding(
            "legacy-auth",
            f"{handshake.scheme} (ntlm) handshake to {handshake.host} began (Type 1) and {answered}, but did not "
            "complete within the input (no Type 3): the client still attempted legacy authentication",
            handshake.exchange,
            scheme=handshake.scheme.lower(),
            mechanism="ntlm",
            user=None,
            ntlm_version=None,
            handshake="incomplete",
        )

    def assess(self, value: str) -> TokenAssessment:
        """The bearer value's assessment, from the cache while the value keeps coming."""
        return self._assessments.get_or_make(
            value, lambda v: assess_token(decode_bearer(v), verifier=self.verifier, policy=self.policy)
        )

    # --- exchanges ---------------------------------------------------------------------------------------------

    def run(self, items: Iterable[SourceItem]) -> Iterator[ExchangeResult | Finding]:
        for item in items:
            yield self.feed(item)

    def feed(self, item: SourceItem) -> ExchangeResult | Finding:
        if isinstance(item, Notice):
            return self.notice_finding(item)
        return self.analyse(item)

    @staticmethod
    def notice_finding(notice: Notice) -> Finding:
        rule = CATALOGUE.get(notice.rule) or CATALOGUE["inspector-error"]
        evidence = dict(notice.evidence)
        evidence.setdefault("source", notice.source)
        return Finding(rule.id, rule.severity, notice.message, notice.exchange_id, evidence)

    def _credentials(self, value: str) -> Credentials:
        if len(value) > CACHEABLE_HEADER:
            return parse_authorization(value)
        return self._parsed_credentials.get_or_make(value, parse_authorization)

    def _challenges(self, values: list[str]) -> tuple[Challenge, ...]:
        if not values:
            return ()
        key = tuple(values)
        if sum(len(v) for v in values) > CACHEABLE_HEADER:
            return tuple(parse_www_authenticate(values))
        return self._parsed_challenges.get_or_make(key, lambda k: tuple(parse_www_authenticate(k)))

    def analyse(self, exchange: HttpExchange) -> ExchangeResult:
        found: list[Finding] = []
        request = exchange.request
        host = exchange.host
        authorizations = request.header_all("authorization")
        credentials = self._credentials(authorizations[0]) if authorizations else None
        token_report: TokenReport | None = None
        if len(authorizations) > 1:
            found.append(
                finding(
                    "auth-header-malformed",
                    f"The request carries {len(authorizations)} Authorization headers; only the first is judged",
                    exchange.id,
                    count=len(authorizations),
                )
            )
        if credentials is not None:
            found += self._credential_findings(exchange, host, credentials)
            if credentials.scheme in LEGACY_SCHEMES:
                self._track_handshake(exchange, host, credentials)
            if credentials.scheme in ("bearer", "bare"):
                assessment = self.assess(credentials.credentials)
                token_report = assessment.report
                found += judge_use(
                    assessment,
                    policy=self.policy,
                    at=exchange.time,
                    host=host,
                    exchange=exchange.id,
                    target=request.target,
                )
        challenges: tuple[Challenge, ...] = ()
        diagnostics: Diagnostics | None = None
        response = exchange.response
        fields = token_request_fields(exchange)
        if response is not None and fields is None:  # a token endpoint's 401 is judged by its body, not challenges
            challenges = self._challenges(response.header_all("www-authenticate"))
            raw_diag = response.header("x-ms-diagnostics")
            diagnostics = parse_ms_diagnostics(raw_diag) if raw_diag is not None else None
            found += self._response_findings(exchange, host, credentials, challenges, diagnostics)
        self._remember_oauth(exchange, host, credentials)
        token_request: TokenRequestReport | None = None
        if fields is not None:
            token_request = judge_token_request(
                exchange, fields, trust=self.trust, verifier=self.verifier, policy=self.policy
            )
            found += token_request.findings
        elif response is not None and response.body:
            found += body_error_findings(exchange)
        auth = AuthSummary(
            scheme=credentials.scheme if credentials else None,
            user=user_of(credentials) if credentials else None,
            credentials=credentials,
            token=token_report,
        )
        return ExchangeResult(exchange, auth, tuple(found), challenges, diagnostics, token_request)

    def _by_design(self, exchange: HttpExchange) -> bool:
        path = exchange.request.target.split("?", 1)[0].lower()
        return path.endswith(self.policy.basic_by_design_paths)

    @staticmethod
    def _client_key(exchange: HttpExchange, host: str | None) -> tuple[str, str]:
        """The client address and the host as one origin: case, a trailing dot and the default port aside."""
        client = exchange.client.host if exchange.client else "?"
        return client, origin_host(host, exchange.scheme)

    def _remember_oauth(self, exchange: HttpExchange, host: str | None, credentials: Credentials | None) -> None:
        """Note a refused or unanswered OAuth attempt (an empty ``Bearer`` probe included); an accepted one
        clears the note: the client's OAuth works there."""
        if credentials is None or credentials.scheme not in ("bearer", "bare"):
            return
        key = self._client_key(exchange, host)
        response = exchange.response
        if response is not None and response.status != 401:
            self._oauth_failed.pop(key, None)
            return
        outcome = "unanswered" if response is None else "refused"
        self._oauth_failed[key] = _OAuthFailed(exchange.time, exchange.id, outcome)
        self._oauth_failed.move_to_end(key)
        if len(self._oauth_failed) > self.max_state:
            self._oauth_failed.popitem(last=False)

    def _track_handshake(self, exchange: HttpExchange, host: str | None, credentials: Credentials) -> None:
        """Follow NTLM handshakes per client and host: begun at Type 1, done at Type 3. Not per connection:
        sources other than captures seldom know it, and a client whose handshake completes on one connection
        while another stalls has shown it can finish one (unknown beats a doubtful report)."""
        ntlm = credentials.ntlm
        if ntlm is None:
            return
        key = self._client_key(exchange, host)
        if ntlm.message_type == 3:
            self._handshakes.pop(key, None)
        elif ntlm.message_type == 1:
            handshake = self._handshakes.get(key)
            if handshake is None:
                handshake = _Handshake(exchange.time, exchange.id, credentials.raw_scheme or "NTLM", key[1])
                self._handshakes[key] = handshake
                if len(self._handshakes) > self.max_state:  # bounded: the oldest unfinished one is forgotten
                    self._handshakes.popitem(last=False)
            response = exchange.response
            if response is not None and handshake.answer != 401:
                handshake.answer = response.status

    def _credential_findings(self, exchange: HttpExchange, host: str | None, credentials: Credentials) -> list[Finding]:
        out: list[Finding] = []
        scheme = credentials.scheme
        by_design = self._by_design(exchange)
        if credentials.problem or credentials.basic_problem:
            out.append(
                finding(
                    "auth-header-malformed",
                    f"The {credentials.raw_scheme} Authorization value is unusable: "
                    f"{credentials.problem or credentials.basic_problem}",
                    exchange.id,
                    scheme=scheme,
                )
            )
        if scheme == "basic" and not by_design:
            user = credentials.basic_user
            out.append(
                finding(
                    "basic-credentials",
                    f"Basic credentials for user {quoted(user)} sent {sent_to(host)}"
                    if user is not None
                    else f"Basic credentials sent {sent_to(host)}",
                    exchange.id,
                    user=user,
                    host=host,
                )
            )
        elif scheme in LEGACY_SCHEMES:
            ntlm = credentials.ntlm
            mechanism = credentials.negotiate_mechanism or ("ntlm" if scheme == "ntlm" else "unknown")
            # One finding per authentication: on the NTLM Type-3 (or a Kerberos/unknown Negotiate token),
            # not on the Type-1 that merely opens the handshake.
            if ntlm is None or ntlm.message_type == 3:
                detail = ""
                if ntlm is not None:
                    detail = f" as {user_of(credentials) or '(anonymous)'}"
                    if ntlm.ntlm_version == "v1":
                        detail += " with NTLMv1 (weak)"
                out.append(
                    finding(
                        "legacy-auth",
                        f"{credentials.raw_scheme} ({mechanism}) authentication{detail} {sent_to(host)}",
                        exchange.id,
                        scheme=scheme,
                        mechanism=mechanism,
                        user=user_of(credentials),
                        ntlm_version=ntlm.ntlm_version if ntlm else None,
                    )
                )
        if scheme in ("basic", *LEGACY_SCHEMES) and not by_design:
            key = self._client_key(exchange, host)
            previous = self._oauth_failed.get(key)
            if previous is not None and 0 <= (exchange.time - previous.at).total_seconds() <= FALLBACK_WINDOW:
                del self._oauth_failed[key]
                how = "was refused" if previous.outcome == "refused" else "got no answer"
                out.append(
                    finding(
                        "basic-fallback",
                        f"Client {key[0]} tried OAuth on {key[1]} ({previous.exchange}), {how}, and then used "
                        f"{credentials.raw_scheme} instead of a token",
                        exchange.id,
                        client=key[0],
                        host=key[1],
                        oauth_attempt=previous.exchange,
                        oauth_outcome=previous.outcome,
                        scheme=scheme,
                    )
                )
        return out

    def _once(self, rule: str, exchange: HttpExchange, host: str | None) -> bool:
        """Findings about what a server offers are reported once per client, host and path, not on every 401."""
        path = exchange.request.target.split("?", 1)[0].lower()
        client, lowered = self._client_key(exchange, host)
        key = (rule, client, lowered, path)
        if key in self._reported_once:
            return False
        if len(self._reported_once) < self.max_state:
            self._reported_once.add(key)
        return True

    def _response_findings(
        self,
        exchange: HttpExchange,
        host: str | None,
        credentials: Credentials | None,
        challenges: tuple[Challenge, ...],
        diagnostics: Diagnostics | None,
    ) -> list[Finding]:
        response = exchange.response
        assert response is not None
        out: list[Finding] = []
        if response.status != 401:
            return out
        schemes = {c.scheme for c in challenges}
        if "bearer" in schemes:
            if "basic" in schemes and self._once("basic-offered", exchange, host):
                out.append(
                    finding(
                        "basic-offered",
                        f"{host or 'The server'} offers Basic beside Bearer (reported once per client, host and path)",
                        exchange.id,
                        host=host,
                        schemes=sorted(schemes),
                    )
                )
        elif challenges and all(c.token68 for c in challenges):
            pass  # an NTLM/Negotiate handshake continuing (a Type-2 challenge), not an offer of schemes
        elif self._once("oauth-not-offered", exchange, host):
            offered = ", ".join(c.raw_scheme for c in challenges) or "no challenge at all"
            out.append(
                finding(
                    "oauth-not-offered",
                    f"{host or 'The server'} answered 401 offering {offered}, but no Bearer "
                    "(reported once per client, host and path)",
                    exchange.id,
                    host=host,
                    schemes=sorted(schemes),
                )
            )
        if credentials is not None and credentials.scheme in ("bearer", "bare") and credentials.credentials:
            evidence: dict[str, object] = {"status": 401}
            reason = ""
            if diagnostics is not None:
                evidence["x-ms-diagnostics"] = {
                    "code": diagnostics.code,
                    "reason": diagnostics.reason,
                    "category": diagnostics.category,
                }
                reason = f": {diagnostics.code} {diagnostics.category or ''} {diagnostics.reason or ''}".rstrip()
                if diagnostics.known is not None:
                    evidence["meaning"] = diagnostics.known.meaning
                    evidence["likely_cause"] = diagnostics.known.likely_cause
                    evidence["remedy"] = diagnostics.known.remedy
            bearer = next((c for c in challenges if c.scheme == "bearer"), None)
            if bearer is not None and bearer.param("error"):
                evidence["error"] = bearer.param("error")
            out.append(
                finding("bearer-rejected", f"The server refused the bearer token{reason}", exchange.id, **evidence)
            )
        return out
