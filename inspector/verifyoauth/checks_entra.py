"""entra.sp-key: the seed's step 6, done with Microsoft Graph data. The service principal of the caller must hold
the auth certificate as a ``Verify`` key whose dates are the certificate's; expired keys left beside it are noise
that hides mistakes."""

from __future__ import annotations

from datetime import UTC, datetime

from inspector.remote.psjson import iso
from inspector.remote.spkeys import DATE_TOLERANCE, KeyCredential
from inspector.tokens import Principal
from inspector.verifyoauth import remedies
from inspector.verifyoauth.checks_traffic import token_refusals
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import Check, failed, passed, skipped, warned

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _wanted(ctx: Context) -> tuple[str | None, datetime | None, datetime | None, str]:
    """The thumbprint to look for, with the certificate's dates when known, and where it came from."""
    if ctx.cert is not None and ctx.cert.value is not None and ctx.cert.value.thumbprint:
        key = ctx.cert.value
        return key.thumbprint, key.not_before, key.not_after, f"the certificate from {ctx.cert.source}"
    config = ctx.exchange.value if ctx.exchange is not None else None
    current = config.auth_config.current_thumbprint if config and config.auth_config else None
    if current:
        found = config.certificate(current) if config else None
        start, end = (found.not_before, found.not_after) if found else (None, None)
        return current, start, end, "Get-AuthConfig's current certificate"
    return None, None, None, ""


def _best(matches: list[KeyCredential]) -> KeyCredential:
    def rank(c: KeyCredential) -> tuple[bool, bool, datetime]:
        verify = (c.usage or "").lower() == "verify"
        return verify, (c.type or "").lower() == "asymmetricx509cert", c.end or _EARLIEST

    return max(matches, key=rank)


def sp_key(ctx: Context) -> Check:
    """The Graph data's verdict, overruled by the wire: a captured token request refused for the certificate's
    thumbprint (AADSTS700027/50012, ACS50012) is a FAIL whatever the service principal is said to hold."""
    verdict = _sp_key_from_graph(ctx)
    thumbprint = _wanted(ctx)[0]
    if not ctx.captures or thumbprint is None:
        return verdict
    refusals = token_refusals(ctx, thumbprint)
    if not refusals:
        return verdict
    first = refusals[0]
    codes = ", ".join(str(c) for c in first["codes"])  # type: ignore[attr-defined]
    client = str(first["client_id"])
    parsed = Principal.parse(client)
    app_id = parsed.principal if parsed is not None else client if len(client) == 36 else ctx.principal
    reason = (
        f"the capture shows {len(refusals)} token request(s) refused because the auth certificate ({thumbprint}) "
        f"is not registered on the service principal of client_id {client}: {codes} at {first['exchange']}, "
        f"{first['time']}"
    )
    if verdict.status == "PASS":
        reason += " (the service principal holds it now: if it was uploaded after the capture, capture again)"
    return failed(
        "entra.sp-key",
        reason,
        remedies.upload_to_sp(app_id),
        **{**verdict.evidence, "certificate": thumbprint, "graph_verdict": verdict.status, "refused": refusals},
    )


def _sp_key_from_graph(ctx: Context) -> Check:
    if ctx.sp is None:
        return skipped(
            "entra.sp-key",
            "no service principal data: give --sp-credentials FILE (saved Graph or Get-MgServicePrincipal JSON) "
            "or --graph to read it live",
        )
    if ctx.sp.value is None:
        error = ctx.sp.error
        remedy = (error.remedy if error else None) or "Check the file or the Graph sign-in, then run again"
        return failed("entra.sp-key", f"cannot read the service principal: {error}", remedy, source=ctx.sp.source)
    keys = ctx.sp.value
    thumbprint, start, end, what = _wanted(ctx)
    listed = [{"label": c.label(), "usage": c.usage, "thumbprints": sorted(c.thumbprints)} for c in keys.credentials]
    evidence: dict[str, object] = {"service_principal": keys.app_id or ctx.principal, "keys": listed}
    if thumbprint is None:
        return skipped(
            "entra.sp-key",
            f"{len(keys.credentials)} key(s) on the service principal, but no certificate to look for: give --cert "
            "or an Exchange bundle",
            **evidence,
        )
    evidence["certificate"] = thumbprint
    upload = remedies.upload_to_sp(ctx.principal)
    matches = [c for c in keys.credentials if thumbprint in c.thumbprints]
    if not matches:
        unidentified = sum(1 for c in keys.credentials if not c.thumbprints)
        note = f" ({unidentified} key(s) carry neither the certificate nor its thumbprint)" if unidentified else ""
        return failed(
            "entra.sp-key",
            f"{what} ({thumbprint}) is not among the {len(keys.credentials)} key(s) of service principal "
            f"{ctx.principal}{note}; token requests fail with AADSTS50012 'The key was not found'",
            upload,
            **evidence,
        )
    match = _best(matches)
    evidence |= {"key": match.label(), "key_start": iso(match.start), "key_end": iso(match.end)}
    if (match.usage or "").lower() != "verify" or (match.type or "").lower() not in ("", "asymmetricx509cert"):
        return failed(
            "entra.sp-key",
            f"the certificate is on the service principal as type {match.type}, usage {match.usage}; "
            "AsymmetricX509Cert / Verify expected",
            upload,
            **evidence,
        )
    if match.end is not None and match.end < ctx.now:
        return failed("entra.sp-key", f"the key holding the certificate expired on {match.end:%Y-%m-%d}", upload,
                      **evidence)  # fmt: skip
    differs = []
    if start and match.start and abs(match.start - start) > DATE_TOLERANCE:
        differs.append(f"starts {match.start:%Y-%m-%d} (certificate {start:%Y-%m-%d})")
    if end and match.end and abs(match.end - end) > DATE_TOLERANCE:
        differs.append(f"ends {match.end:%Y-%m-%d} (certificate {end:%Y-%m-%d})")
    if differs:
        return warned(
            "entra.sp-key",
            "the key holds the certificate but its dates are not the certificate's: " + ", ".join(differs),
            "Upload it again with the certificate's own dates (StartDateTime/EndDateTime from the .cer):\n" + upload,
            **evidence,
        )
    expired = [c for c in keys.credentials if c.end is not None and c.end < ctx.now and c is not match]
    if expired:
        return warned(
            "entra.sp-key",
            f"the certificate is there, but {len(expired)} expired key(s) are still listed: "
            + ", ".join(c.label() for c in expired[:5]),
            remedies.remove_expired_keys(ctx.principal),
            **evidence,
        )
    how = "" if match.has_key else " (matched by customKeyIdentifier: Graph returned no key data)"
    dates = f" from {match.start:%Y-%m-%d} to {match.end:%Y-%m-%d}" if match.start and match.end else ""
    return passed("entra.sp-key", f"Verify key{dates} holds {what}{how}", **evidence)
