"""The analyzer: exchanges in, findings out. Sans-IO: no files, no sockets, no wall clock.

It is fed one source item at a time (so a live proxy and a 10 GB capture use it alike) and keeps only small,
bounded per-client state for the rules that span exchanges (a Bearer challenge followed by Basic/NTLM is a fallback).
The rules themselves live with their families (``inspector/checks/``, ``token_checks``, ``token_requests``,
``body_errors``); this module owns the state they need and calls them in a fixed order, the order of a report.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from inspector.body_errors import body_error_findings
from inspector.checks.credentials import (
    LEGACY_SCHEMES,
    by_design,
    credential_findings,
    repeated_authorization,
    user_of,
)
from inspector.checks.fallback import FailedOAuth, fallback_findings, remember_oauth
from inspector.checks.handshakes import OpenHandshakes, incomplete_handshake, track_handshake
from inspector.checks.responses import ReportedOnce, bearer_rejected, response_findings
from inspector.checks.trust_store import trust_store_findings
from inspector.frozen import pickled_by_constructor
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
from inspector.policy import Policy
from inspector.rules import CATALOGUE, Finding
from inspector.token_checks import TokenAssessment, TokenReport, assess_token, judge_use
from inspector.token_requests import TokenRequestReport, judge_token_request, token_request_fields
from inspector.tokens import decode_bearer
from inspector.trust import Trust
from inspector.verify import Verifier

MAX_CLIENT_STATE = 65536
TOKEN_CACHE = 2048
"""Distinct bearer values remembered with their assessment (S2S tokens are reused for hours)."""
HEADER_CACHE = 1024
CACHEABLE_HEADER = 16 * 1024
"""Header values up to this size are parsed once and remembered (clients and servers repeat them verbatim)."""


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class AuthSummary:
    scheme: Final[str | None]
    """Lower-case scheme of the request's Authorization header; ``None`` when it had none."""
    user: Final[str | None]
    credentials: Final[Credentials | None]
    token: Final[TokenReport | None]

    def __init__(
        self,
        scheme: str | None,
        user: str | None = None,
        credentials: Credentials | None = None,
        token: TokenReport | None = None,
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.credentials = credentials
        self.token = token


@dataclass(init=False, unsafe_hash=True)  # a value class: see inspector/frozen.py
class ExchangeResult:
    exchange: Final[HttpExchange]
    auth: Final[AuthSummary]
    findings: Final[tuple[Finding, ...]]
    challenges: Final[tuple[Challenge, ...]]
    diagnostics: Final[Diagnostics | None]
    token_request: Final[TokenRequestReport | None]
    """Set when the exchange is a token request to Entra/ACS (the outbound leg)."""

    def __init__(
        self,
        exchange: HttpExchange,
        auth: AuthSummary,
        findings: tuple[Finding, ...] = (),
        challenges: tuple[Challenge, ...] = (),
        diagnostics: Diagnostics | None = None,
        token_request: TokenRequestReport | None = None,
    ) -> None:
        self.exchange = exchange
        self.auth = auth
        self.findings = findings
        self.challenges = challenges
        self.diagnostics = diagnostics
        self.token_request = token_request


class Analyzer:
    def __init__(
        self, trust: Trust, policy: Policy, verifier: Verifier | None = None, *, max_state: int = MAX_CLIENT_STATE
    ) -> None:
        self.max_state = max_state
        self.trust = trust
        self.policy = policy
        self.verifier = verifier or Verifier(trust)
        self._oauth_failed: FailedOAuth = OrderedDict()
        self._handshakes: OpenHandshakes = OrderedDict()
        self._reported_once: ReportedOnce = set()
        self._assessments: LruCache[str, TokenAssessment] = LruCache(TOKEN_CACHE)
        self._parsed_credentials: LruCache[str, Credentials] = LruCache(HEADER_CACHE)
        self._parsed_challenges: LruCache[tuple[str, ...], tuple[Challenge, ...]] = LruCache(HEADER_CACHE)
        self._parsed_diagnostics: LruCache[str, Diagnostics] = LruCache(HEADER_CACHE)
        self._rejections: dict[tuple[int, int], tuple[tuple[Challenge, ...], Diagnostics | None, Finding]] = {}
        """The ``bearer-rejected`` finding by the identity of its challenges and diagnostics (the parsed headers'
        caches hand the same objects out while a server keeps answering alike)."""

    # --- trust store -------------------------------------------------------------------------------------------

    def trust_findings(self) -> list[Finding]:
        """Certificate hygiene of the trust store, judged at ``policy.now`` (skipped when the caller gave none)."""
        return trust_store_findings(self.trust, self.policy)

    def new_input(self) -> None:
        """Forget per-client state between input files: a fallback or a repeated offer never spans two captures
        (the same rule a worker process follows when files are analysed in parallel)."""
        self._oauth_failed.clear()
        self._handshakes.clear()
        self._reported_once.clear()

    def continue_from(self, previous: Analyzer) -> None:
        """Go on judging the conversation ``previous`` was judging (the live proxy reconfigured): its per-client
        state (refused OAuth attempts, open NTLM handshakes, what was reported once) carries over; its token
        verdicts do not, since the trust or the policy may have changed."""
        self._oauth_failed = previous._oauth_failed
        self._handshakes = previous._handshakes
        self._reported_once = previous._reported_once

    def end_input(self) -> list[Finding]:
        """What only the end of an input shows: NTLM handshakes that never reached their Type 3 (each is still
        an attempt at legacy authentication, reported once). The caller counts and writes them like any finding."""
        out = [incomplete_handshake(handshake) for handshake in self._handshakes.values()]
        self._handshakes.clear()
        return out

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
        # No fallback for an unknown rule: ``Notice.rule`` is a RuleId mypy checks, so an unknown one is a bug in the
        # source that made it, not in its input, and surfaces as one (exit 4) instead of passing as inspector-error.
        rule = CATALOGUE[notice.rule]
        evidence = dict(notice.evidence)
        evidence.setdefault("source", notice.source)
        return Finding(rule.id, rule.severity, notice.message, notice.exchange_id, evidence)

    def _credentials(self, value: str) -> Credentials:
        if len(value) > CACHEABLE_HEADER:
            return parse_authorization(value)
        return self._parsed_credentials.get_or_make(value, parse_authorization)

    def _diagnostics(self, value: str) -> Diagnostics:
        if len(value) > CACHEABLE_HEADER:
            return parse_ms_diagnostics(value)
        return self._parsed_diagnostics.get_or_make(value, parse_ms_diagnostics)

    def _challenges(self, values: list[str]) -> tuple[Challenge, ...]:
        if not values:
            return ()
        key = tuple(values)
        if sum(len(v) for v in values) > CACHEABLE_HEADER:
            return tuple(parse_www_authenticate(values))
        return self._parsed_challenges.get_or_make(key, lambda k: tuple(parse_www_authenticate(k)))

    def _rejected(
        self, exchange: HttpExchange, challenges: tuple[Challenge, ...], diagnostics: Diagnostics | None
    ) -> Finding:
        """:func:`bearer_rejected`, made once per challenges and diagnostics and copied for each refusal: a server
        refusing a token answers alike, and the finding's evidence (the explained code) is the costly part."""
        key = (id(challenges), id(diagnostics))
        seen = self._rejections.get(key)
        if seen is not None and seen[0] is challenges and seen[1] is diagnostics:
            return seen[2].about(exchange.id)
        made = bearer_rejected(exchange, challenges, diagnostics)
        if len(self._rejections) >= HEADER_CACHE:
            self._rejections.clear()
        self._rejections[key] = (challenges, diagnostics, made)
        return made

    def analyse(self, exchange: HttpExchange) -> ExchangeResult:
        found: list[Finding] = []
        request = exchange.request
        host = exchange.host
        authorizations = request.header_all("authorization")
        credentials = self._credentials(authorizations[0]) if authorizations else None
        token_report: TokenReport | None = None
        found += repeated_authorization(exchange, len(authorizations))
        if credentials is not None:
            designed = by_design(exchange, self.policy)
            found += credential_findings(exchange, host, credentials, designed=designed)
            found += fallback_findings(self._oauth_failed, exchange, host, credentials, designed=designed)
            if credentials.scheme in LEGACY_SCHEMES:
                track_handshake(self._handshakes, exchange, host, credentials, self.max_state)
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
            diagnostics = self._diagnostics(raw_diag) if raw_diag is not None else None
            found += response_findings(
                exchange,
                host,
                credentials,
                challenges,
                diagnostics,
                reported=self._reported_once,
                max_state=self.max_state,
                rejected=self._rejected,
            )
        remember_oauth(self._oauth_failed, exchange, host, credentials, self.max_state)
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


# They cross processes (--jobs, --separately, Dask): see the function.
for _cls in (AuthSummary, ExchangeResult):
    pickled_by_constructor(_cls)
