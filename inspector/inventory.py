"""The trust inventory: who signed what for whom, and what each server said it trusts, as counts.

Built from analysed exchanges as they stream by (``observe``), never keeping an exchange: per signer (issuer, the
signing certificate's ``x5t``/``kid``, realm, audience principal and host) the clients and servers involved, first
and last capture time and counts per signature verdict and HTTP status; per Bearer challenge its ``trusted_issuers``,
``client_id`` and ``authorization_uri``. Sizes are bounded (a hostile capture minting a new issuer per request fills
the table and is then only counted). Sans-IO like the analyzer. Inventories of ``--jobs`` workers ``merge``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar, cast

from inspector.analyze import ExchangeResult
from inspector.hosts import bare_host
from inspector.http_auth import BearerChallengeInfo, Challenge, bearer_challenge_info
from inspector.model import HttpExchange
from inspector.report.serialize import utc_iso
from inspector.token_checks import TokenReport
from inspector.tokens import Principal

_T = TypeVar("_T")
_O = TypeVar("_O")

MAX_SIGNERS = 512
MAX_CHALLENGES = 512
MAX_NAMES = 16
"""Distinct clients, hosts, servers listed per entry; sightings of others are counted, not listed."""
MAX_TRUSTED = 64
"""``trusted_issuers`` entries kept per challenge (real ones list a handful)."""
TRUNCATED = "… not listed: "
RECENT = 256
"""Objects whose derived values are remembered (``Inventory._remembered``)."""
MAX_TEXT = 256
"""Wire values kept per field are cut to this length (a real issuer or thumbprint is far shorter)."""

SignerKey = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
"""(issuer, x5t, kid, realm, audience principal, audience host)."""
ChallengeKey = tuple[str, str | None, tuple[str, ...], str | None]
"""(host, client_id, trusted_issuers, authorization_uri)."""


def _cut(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:MAX_TEXT]


def host_of(exchange: HttpExchange) -> str:
    """The server as the client named it: the Host, lower-cased, without a port."""
    return bare_host((exchange.host or "?")[:MAX_TEXT])


@dataclass(slots=True)
class Names:
    """A bounded, ordered set of names. Past ``MAX_NAMES`` a name is not remembered, so ``more`` counts the
    sightings of names that did not fit (not how many distinct ones they were)."""

    items: list[str] = field(default_factory=list)
    more: int = 0

    def add(self, value: str | None) -> None:
        if value is None or value in self.items:
            return
        if len(self.items) < MAX_NAMES:
            self.items.append(value)
        else:
            self.more += 1

    def merge(self, other: Names) -> None:
        for value in other.items:
            self.add(value)
        self.more += other.more

    def data(self) -> dict[str, Any] | list[str]:
        return {"names": list(self.items), "more": self.more} if self.more else list(self.items)


def _count(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def _span(
    first: datetime | None, last: datetime | None, at: datetime | None
) -> tuple[datetime | None, datetime | None]:
    if at is None:  # an exchange whose time is unknown counts, but does not move the span
        return first, last
    return (at if first is None or at < first else first), (at if last is None or at > last else last)


@dataclass(slots=True)
class SignerStats:
    key: SignerKey
    first_exchange: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    exchanges: int = 0
    clients: Names = field(default_factory=Names)
    hosts: Names = field(default_factory=Names)
    fe_servers: Names = field(default_factory=Names)
    be_servers: Names = field(default_factory=Names)
    verdicts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    backends: dict[str, list[int]] = field(default_factory=dict)
    """Answering server -> [accepted, rejected] counts for tokens that were otherwise valid."""

    def merge(self, other: SignerStats) -> None:
        for moment in (other.first_seen, other.last_seen):
            if moment is not None:
                self.first_seen, self.last_seen = _span(self.first_seen, self.last_seen, moment)
        self.exchanges += other.exchanges
        self.clients.merge(other.clients)
        self.hosts.merge(other.hosts)
        self.fe_servers.merge(other.fe_servers)
        self.be_servers.merge(other.be_servers)
        for key, n in other.verdicts.items():
            _count(self.verdicts, key, n)
        for key, n in other.statuses.items():
            _count(self.statuses, key, n)
        for name, (accepted, rejected) in other.backends.items():
            mine = self._backend(name)
            if mine is not None:
                mine[0] += accepted
                mine[1] += rejected

    def _backend(self, name: str) -> list[int] | None:
        counts = self.backends.get(name)
        if counts is None and len(self.backends) < MAX_NAMES:
            counts = self.backends[name] = [0, 0]
        return counts

    def data(self) -> dict[str, Any]:
        issuer, x5t, kid, realm, aud_principal, aud_host = self.key
        return {
            "issuer": issuer,
            "x5t": x5t,
            "kid": kid,
            "realm": realm,
            "audience_principal": aud_principal,
            "audience_host": aud_host,
            "clients": self.clients.data(),
            "hosts": self.hosts.data(),
            "fe_servers": self.fe_servers.data(),
            "be_servers": self.be_servers.data(),
            "first_seen": utc_iso(self.first_seen),
            "last_seen": utc_iso(self.last_seen),
            "exchanges": self.exchanges,
            "signatures": dict(sorted(self.verdicts.items())),
            "statuses": dict(sorted(self.statuses.items())),
            "first_exchange": self.first_exchange,
        }


@dataclass(slots=True)
class ChallengeStats:
    key: ChallengeKey
    first_exchange: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    count: int = 0
    servers: Names = field(default_factory=Names)

    def merge(self, other: ChallengeStats) -> None:
        for moment in (other.first_seen, other.last_seen):
            if moment is not None:
                self.first_seen, self.last_seen = _span(self.first_seen, self.last_seen, moment)
        self.count += other.count
        self.servers.merge(other.servers)

    def data(self) -> dict[str, Any]:
        host, client_id, trusted, authorization_uri = self.key
        return {
            "host": host,
            "client_id": client_id,
            "trusted_issuers": list(trusted),
            "authorization_uri": authorization_uri,
            "servers": self.servers.data(),
            "first_seen": utc_iso(self.first_seen),
            "last_seen": utc_iso(self.last_seen),
            "count": self.count,
            "first_exchange": self.first_exchange,
        }


def _trusted(issuers: tuple[str, ...]) -> tuple[str, ...]:
    """A challenge's ``trusted_issuers``, at most ``MAX_TRUSTED`` of them; a longer list ends with a
    ``TRUNCATED`` entry, and rules judge no issuer against a list they did not see whole."""
    kept = tuple(item[:MAX_TEXT] for item in issuers[:MAX_TRUSTED])
    return (*kept, f"{TRUNCATED}{len(issuers) - MAX_TRUSTED} more") if len(issuers) > MAX_TRUSTED else kept


def _signer_key(token: TokenReport) -> SignerKey:
    signed = token.decoded.signed
    header = signed.header if signed is not None else {}
    audience = Principal.parse(token.audience)
    return (
        _cut(token.issuer),
        _cut(header.get("x5t")),
        _cut(header.get("kid")),
        _cut(token.realm),
        audience.principal if audience else None,
        _cut(audience.host.lower()) if audience and audience.host else None,
    )


def _bearer_infos(challenges: tuple[Challenge, ...]) -> list[BearerChallengeInfo]:
    return [bearer_challenge_info(c) for c in challenges if c.scheme == "bearer"]


def _otherwise_valid(result: ExchangeResult) -> bool:
    """A verified token the analyzer found nothing wrong with, apart from the server refusing it."""
    token = result.auth.token
    if token is None or token.signature != "valid":
        return False
    return not any(f.severity == "error" and f.rule != "bearer-rejected" for f in result.findings)


@dataclass
class Inventory:
    signers: dict[SignerKey, SignerStats] = field(default_factory=dict)
    challenges: dict[ChallengeKey, ChallengeStats] = field(default_factory=dict)
    signers_dropped: int = 0
    """Exchanges whose signer did not fit in the table (counted, not described)."""
    challenges_dropped: int = 0
    rotation: list[dict[str, Any]] = field(default_factory=list)
    """The rotation timeline (``rotation.py``), set once the run is over: it joins the merged whole with the
    configuration, so it is never merged."""
    _recent: dict[int, tuple[object, object]] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # By the fields, not ``__dict__``: compiled (mypyc), the class has none.
        state = {each.name: getattr(self, each.name) for each in fields(self)}
        state["_recent"] = {}  # a cache of this process's objects: never sent to another
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def _remembered(self, thing: _O, make: Callable[[_O], _T]) -> _T:
        """``make(thing)`` for an object the analyzer hands out again and again (a token's report, a parsed
        challenge tuple: both come from its caches), computed once while the object is recent."""
        found = self._recent.get(id(thing))
        if found is not None and found[0] is thing:
            return cast(_T, found[1])
        value = make(thing)
        if len(self._recent) >= RECENT:
            self._recent.clear()
        self._recent[id(thing)] = (thing, value)
        return value

    def observe(self, result: ExchangeResult) -> None:
        token = result.auth.token
        signed = token is not None and token.decoded.outer is not None
        if not signed and not result.challenges:
            return  # neither a signer nor a challenge: nothing to list (most Basic/NTLM exchanges, answers of 200)
        exchange = result.exchange
        response = exchange.response
        fe = be = None
        if response is not None:
            for name, value in response.headers:
                if len(name) == 10:  # both names are ten letters: most headers are skipped without lower-casing
                    lowered = name.lower()
                    if lowered == "x-feserver" and fe is None:
                        fe = _cut(value.strip())
                    elif lowered == "x-beserver" and be is None:
                        be = _cut(value.strip())
        backend = be or fe or (exchange.server.host[:MAX_TEXT] if exchange.server else None)
        host = host_of(exchange)
        if signed:
            assert token is not None
            key = self._remembered(token, _signer_key)
            self._observe_signer(result, key, host, fe, be, backend)
        if result.challenges:
            for info in self._remembered(result.challenges, _bearer_infos):
                self._observe_challenge(exchange, info, host, backend)

    def _observe_signer(
        self, result: ExchangeResult, key: SignerKey, host: str, fe: str | None, be: str | None, backend: str | None
    ) -> None:
        exchange = result.exchange
        token = result.auth.token
        assert token is not None
        stats = self.signers.get(key)
        if stats is None:
            if len(self.signers) >= MAX_SIGNERS:
                self.signers_dropped += 1
                return
            stats = self.signers[key] = SignerStats(key, exchange.id[:MAX_TEXT])
        stats.first_seen, stats.last_seen = _span(stats.first_seen, stats.last_seen, exchange.time)
        stats.exchanges += 1
        client = exchange.client
        stats.clients.add(client.host[:MAX_TEXT] if client else None)
        stats.hosts.add(host)
        if fe is not None:
            stats.fe_servers.add(fe)
        if be is not None:
            stats.be_servers.add(be)
        response = exchange.response
        _count(stats.verdicts, token.signature or "none")
        _count(stats.statuses, str(response.status) if response is not None else "none")
        if response is not None and backend is not None and _otherwise_valid(result):
            counts = stats._backend(backend)
            if counts is not None:
                counts[1 if response.status == 401 else 0] += 1

    def _observe_challenge(
        self, exchange: HttpExchange, info: BearerChallengeInfo, host: str, backend: str | None
    ) -> None:
        key: ChallengeKey = (
            host,
            _cut(info.client_id),
            _trusted(info.trusted_issuers),
            _cut(info.authorization_uri),
        )
        stats = self.challenges.get(key)
        if stats is None:
            if len(self.challenges) >= MAX_CHALLENGES:
                self.challenges_dropped += 1
                return
            stats = self.challenges[key] = ChallengeStats(key, exchange.id[:MAX_TEXT])
        stats.first_seen, stats.last_seen = _span(stats.first_seen, stats.last_seen, exchange.time)
        stats.count += 1
        stats.servers.add(backend)

    def merge(self, other: Inventory) -> None:
        for key, theirs in other.signers.items():
            mine = self.signers.get(key)
            if mine is not None:
                mine.merge(theirs)
            elif len(self.signers) < MAX_SIGNERS:
                self.signers[key] = theirs
            else:
                self.signers_dropped += theirs.exchanges
        for ckey, challenge in other.challenges.items():
            existing = self.challenges.get(ckey)
            if existing is not None:
                existing.merge(challenge)
            elif len(self.challenges) < MAX_CHALLENGES:
                self.challenges[ckey] = challenge
            else:
                self.challenges_dropped += challenge.count
        self.signers_dropped += other.signers_dropped
        self.challenges_dropped += other.challenges_dropped

    def data(self) -> dict[str, Any]:
        """JSON-ready; wire text as it came (each output format escapes it for its reader)."""
        out: dict[str, Any] = {
            "signers": [s.data() for s in self.signers.values()],
            "challenges": [c.data() for c in self.challenges.values()],
            "rotation": self.rotation,
        }
        if self.signers_dropped or self.challenges_dropped:
            out["not_listed"] = {"signer_exchanges": self.signers_dropped, "challenges": self.challenges_dropped}
        return out
