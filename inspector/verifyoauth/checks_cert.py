"""cert.*: the exported auth certificate (seed step 4) on its own, then against Exchange's ``Get-AuthConfig``."""

from __future__ import annotations

from inspector.policy import EXPIRING_DAYS, MIN_RSA_BITS
from inspector.remote.psjson import iso
from inspector.trust import TrustedKey
from inspector.verifyoauth import remedies
from inspector.verifyoauth.bundle import AuthConfig
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import Check, failed, passed, skipped, warned
from inspector.verifyoauth.prelude import exchange_config, section_absent

NO_CERT = "no certificate given: pass the exported auth certificate with --cert OAuthCert.cer (seed step 4)"


def _cert(ctx: Context, check_id: str) -> TrustedKey | Check:
    if ctx.cert is None:
        return skipped(check_id, NO_CERT)
    if ctx.cert.value is None:
        return skipped(check_id, "the certificate could not be read (see cert.readable)")
    return ctx.cert.value


def cert_readable(ctx: Context) -> Check:
    if ctx.cert is None:
        return skipped("cert.readable", NO_CERT)
    if ctx.cert.error is not None or ctx.cert.value is None:
        message = str(ctx.cert.error) if ctx.cert.error else "no certificate"
        return failed(
            "cert.readable",
            message,
            f"{remedies.EXPORT_CERT} and pass that .cer file (DER or PEM, public part only)",
            source=ctx.cert.source,
        )
    key = ctx.cert.value
    return passed(
        "cert.readable",
        f"{key.subject or 'certificate'} from {ctx.cert.source}, thumbprint {key.thumbprint}",
        subject=key.subject,
        thumbprint=key.thumbprint,
        x5t=key.x5t,
        not_before=iso(key.not_before),
        not_after=iso(key.not_after),
        source=ctx.cert.source,
    )


def cert_validity(ctx: Context) -> Check:
    key = _cert(ctx, "cert.validity")
    if isinstance(key, Check):
        return key
    start, end = key.not_before, key.not_after
    if start is None or end is None:
        return skipped("cert.validity", "the key carries no certificate dates")
    evidence = {"not_before": iso(start), "not_after": iso(end), "thumbprint": key.thumbprint}
    if end < ctx.now:
        return failed(
            "cert.validity", f"the certificate expired on {end:%Y-%m-%d}", remedies.REPLACE_EXPIRED_CERT, **evidence
        )
    if start > ctx.now:
        return failed(
            "cert.validity",
            f"the certificate is not valid before {start:%Y-%m-%d %H:%M} UTC (check the clocks, or wait)",
            "Check the time on the Exchange server and on this machine; a certificate made with a future start "
            "date cannot sign until then",
            **evidence,
        )
    days = (end - ctx.now).days
    if days < EXPIRING_DAYS:
        return warned(
            "cert.validity",
            f"the certificate expires on {end:%Y-%m-%d}, in {days} days (less than {EXPIRING_DAYS})",
            remedies.NEXT_CERT_PROCEDURE,
            days_left=days,
            **evidence,
        )
    return passed("cert.validity", f"valid until {end:%Y-%m-%d} ({days} days)", days_left=days, **evidence)


def cert_key_size(ctx: Context) -> Check:
    key = _cert(ctx, "cert.key-size")
    if isinstance(key, Check):
        return key
    bits = key.rsa_bits
    if bits is None:
        return failed(
            "cert.key-size",
            f"the certificate's key is not RSA ({type(key.public_key).__name__}); S2S tokens are RS256",
            f"Make an RSA auth certificate: {remedies.NEW_AUTH_CERT}, then follow the Next-certificate procedure",
        )
    if bits < MIN_RSA_BITS:
        return failed(
            "cert.key-size",
            f"the certificate has a {bits}-bit RSA key (at least {MIN_RSA_BITS} expected)",
            f"Make a 2048-bit auth certificate: {remedies.NEW_AUTH_CERT}, then follow the Next-certificate procedure",
            bits=bits,
        )
    return passed("cert.key-size", f"{bits}-bit RSA", bits=bits)


def _auth_config(ctx: Context, check_id: str) -> AuthConfig | Check:
    config = exchange_config(ctx, check_id)
    if isinstance(config, Check):
        return config
    if config.auth_config is None:
        return section_absent(config, check_id, "AuthConfig", "Get-AuthConfig")
    return config.auth_config


def cert_is_current(ctx: Context) -> Check:
    key = _cert(ctx, "cert.is-current")
    if isinstance(key, Check):
        return key
    auth = _auth_config(ctx, "cert.is-current")
    if isinstance(auth, Check):
        return auth
    thumbprint = key.thumbprint or ""
    evidence: dict[str, object] = {
        "certificate": thumbprint,
        "current": auth.current_thumbprint,
        "next": auth.next_thumbprint,
        "previous": auth.previous_thumbprint,
    }
    if auth.current_thumbprint is None:
        if not auth.has_current_field:
            return skipped(
                "cert.is-current",
                "the bundle's AuthConfig has no CurrentCertificateThumbprint field (another Exchange version?)",
            )
        return failed(
            "cert.is-current", "Get-AuthConfig names no current certificate", remedies.REPLACE_EXPIRED_CERT, **evidence
        )
    if thumbprint != auth.current_thumbprint:
        which = {auth.next_thumbprint: "the NEXT", auth.previous_thumbprint: "the PREVIOUS"}.get(thumbprint, "not the")
        return failed(
            "cert.is-current",
            f"the certificate ({thumbprint}) is {which} auth certificate; Get-AuthConfig's current one is "
            f"{auth.current_thumbprint}",
            remedies.EXPORT_CERT,
            **evidence,
        )
    if auth.next_thumbprint and auth.next_thumbprint != auth.current_thumbprint:
        when = f" (effective {auth.next_effective:%Y-%m-%d})" if auth.next_effective else ""
        sp = ctx.sp.value if ctx.sp is not None else None
        if sp is None:
            return passed(
                "cert.is-current",
                f"current auth certificate; a next certificate {auth.next_thumbprint}{when} is set: give "
                "--sp-credentials or --graph to check it is uploaded too",
                **evidence,
            )
        if not any(auth.next_thumbprint in c.thumbprints for c in sp.credentials):
            return warned(
                "cert.is-current",
                f"current auth certificate, but the next one {auth.next_thumbprint}{when} is not uploaded to the "
                f"service principal {ctx.principal}: when it becomes current, S2S calls fail",
                "Export the next certificate (`Export-Certificate -Cert (Get-Item Cert:\\LocalMachine\\My\\"
                f"{auth.next_thumbprint}) -FilePath NextOAuthCert.cer`) and upload it beside the current one:\n"
                + remedies.upload_to_sp(ctx.principal, "NextOAuthCert.cer"),
                **evidence,
            )
        return passed("cert.is-current", f"current auth certificate; the next one{when} is uploaded too", **evidence)
    return passed("cert.is-current", "the certificate is Get-AuthConfig's current auth certificate", **evidence)
