"""Who the token says is calling, for whom, in which realm: the consistency of ``iss``, ``nameid``, ``aud`` and the
realm between the outer token, its actor and the policy. One function per check, in the order they report."""

from __future__ import annotations

from inspector.policy import ACS, Policy
from inspector.rules import Finding, RuleId, finding
from inspector.text import quoted
from inspector.tokens import DecodedBearer, Principal

RULES: tuple[RuleId, ...] = (
    "issuer-unexpected",
    "realm-mismatch",
    "issuer-nameid-mismatch",
    "delegation-not-trusted",
    "audience-mismatch",
)


def as_list(value: object) -> list[str]:
    """A claim that may be one string or a list of them (``aud``), as the strings in it."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def caller_principal(token: DecodedBearer) -> str | None:
    """The ``iss`` that names the calling application: for an ACS-issued app-only token, its ``nameid``."""
    outer = token.outer
    if outer is None:
        return None
    iss = outer.claim_str("iss")
    if token.kind == "s2s-app":
        parsed = Principal.parse(iss)
        if parsed is not None and parsed.principal == ACS:
            return outer.claim_str("nameid") or iss
    return iss


def principal_findings_of(
    token: DecodedBearer, policy: Policy, exchange: str | None
) -> tuple[list[Finding], str | None]:
    """Issuer, realm, nameid and audience consistency of a decoded token (``outer`` set): the findings, and the
    token's realm."""
    realm_findings, realm = realm_findings_of(token, policy, exchange)
    return [*issuer_findings(token, policy, exchange), *realm_findings, *actor_findings(token, exchange)], realm


def issuer_findings(token: DecodedBearer, policy: Policy, exchange: str | None) -> list[Finding]:
    """``issuer-unexpected``: the calling principal is none the policy expects."""
    caller = caller_principal(token)
    parsed_caller = Principal.parse(caller)
    caller_id = parsed_caller.principal if parsed_caller else (caller or "")
    if caller_id.lower() in policy.expected_issuers or (caller or "").lower() in policy.expected_issuers:
        return []
    expected = ", ".join(sorted(policy.expected_issuers))
    return [
        finding(
            "issuer-unexpected",
            f"The calling principal is {caller or '(no iss)'}; expected {expected}",
            exchange,
            issuer=caller,
            expected=sorted(policy.expected_issuers),
        )
    ]


def realm_findings_of(token: DecodedBearer, policy: Policy, exchange: str | None) -> tuple[list[Finding], str | None]:
    """``realm-mismatch``: the token names more than one realm, or not the configured one; and the token's realm."""
    outer = token.outer
    assert outer is not None
    actor = token.actor
    places: list[tuple[str, object]] = [("outer iss", outer.claims.get("iss"))]
    places += [("outer aud", a) for a in as_list(outer.claims.get("aud"))]
    if actor is not None:
        places += [("actor iss", actor.claims.get("iss")), ("actor nameid", actor.claims.get("nameid"))]
        places += [("actor aud", a) for a in as_list(actor.claims.get("aud"))]
    elif token.kind == "s2s-app":
        places.append(("nameid", outer.claims.get("nameid")))
    realms: dict[str, str] = {}
    for where, value in places:
        parsed = Principal.parse(value)
        if parsed is not None and parsed.realm and parsed.realm != "*":
            realms.setdefault(parsed.realm.lower(), where)
    realm = Principal.parse(outer.claims.get("iss"))
    token_realm = realm.realm if realm else next(iter(realms), None)
    if len(realms) > 1:
        listing = ", ".join(f"{where}: {r}" for r, where in realms.items())
        return [
            finding(
                "realm-mismatch", f"The token names more than one realm ({listing})", exchange, realms=sorted(realms)
            )
        ], token_realm
    if policy.realms and realms and not set(realms) & policy.realms:
        return [
            finding(
                "realm-mismatch",
                f"The token's realm {token_realm} is not the configured realm ({', '.join(sorted(policy.realms))})",
                exchange,
                realm=token_realm,
                expected=sorted(policy.realms),
            )
        ], token_realm
    return [], token_realm


def actor_findings(token: DecodedBearer, exchange: str | None) -> list[Finding]:
    """What the actor must say of the outer token it vouches for: its ``nameid`` is the outer ``iss``
    (``issuer-nameid-mismatch``), it is trusted for delegation (``delegation-not-trusted``), and both name the same
    audience (``audience-mismatch``)."""
    outer, actor = token.outer, token.actor
    if outer is None or actor is None:
        return []
    out: list[Finding] = []
    outer_iss = outer.claim_str("iss")
    nameid = actor.claim_str("nameid")
    if (outer_iss or "").lower() != (nameid or "").lower():
        out.append(
            finding(
                "issuer-nameid-mismatch",
                f"The outer iss {outer_iss} is not the actor's nameid {nameid}",
                exchange,
                outer_iss=outer_iss,
                actor_nameid=nameid,
            )
        )
    delegation = actor.claims.get("trustedfordelegation")
    if str(delegation).lower() != "true":
        out.append(
            finding(
                "delegation-not-trusted",
                f"The outer token speaks for a user but the actor's trustedfordelegation is {quoted(delegation)}",
                exchange,
                trustedfordelegation=delegation,
            )
        )
    outer_aud = sorted(a.lower() for a in as_list(outer.claims.get("aud")))
    actor_aud = sorted(a.lower() for a in as_list(actor.claims.get("aud")))
    if outer_aud != actor_aud:
        out.append(
            finding(
                "audience-mismatch",
                f"The outer aud {outer.claims.get('aud')} differs from the actor aud {actor.claims.get('aud')}",
                exchange,
                outer_aud=outer.claims.get("aud"),
                actor_aud=actor.claims.get("aud"),
            )
        )
    return out
