"""What one request's Authorization header shows on its own: unusable values, Basic passwords, legacy NTLM/Negotiate
authentication."""

from __future__ import annotations

from inspector.http_auth import Credentials
from inspector.model import HttpExchange
from inspector.policy import Policy
from inspector.rules import Finding, RuleId, finding
from inspector.text import quoted, sent_to

RULES: tuple[RuleId, ...] = ("auth-header-malformed", "basic-credentials", "legacy-auth")
LEGACY_SCHEMES = ("ntlm", "negotiate")


def user_of(credentials: Credentials) -> str | None:
    if credentials.basic_user is not None:
        return credentials.basic_user
    ntlm = credentials.ntlm
    if ntlm is not None and ntlm.message_type == 3 and ntlm.user:
        return f"{ntlm.domain}\\{ntlm.user}" if ntlm.domain else ntlm.user
    return credentials.digest_user


def by_design(exchange: HttpExchange, policy: Policy) -> bool:
    """Paths where Basic is the documented design (MRS proxy), so neither Basic nor a fallback to it is reported."""
    path = exchange.request.target.split("?", 1)[0].lower()
    return path.endswith(policy.basic_by_design_paths)


def repeated_authorization(exchange: HttpExchange, count: int) -> list[Finding]:
    """More than one Authorization header: only the first is judged, which the reader must know."""
    if count <= 1:
        return []
    return [
        finding(
            "auth-header-malformed",
            f"The request carries {count} Authorization headers; only the first is judged",
            exchange.id,
            count=count,
        )
    ]


def credential_findings(
    exchange: HttpExchange, host: str | None, credentials: Credentials, *, designed: bool
) -> list[Finding]:
    """``designed``: the path is one where Basic is by design (``by_design``)."""
    out: list[Finding] = []
    scheme = credentials.scheme
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
    if scheme == "basic" and not designed:
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
    return out
