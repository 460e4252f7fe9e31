"""What every configuration check does first: is there an Exchange configuration, was the section collected."""

from __future__ import annotations

from inspector.remote.errors import SourceError
from inspector.verifyoauth.bundle import ExchangeConfig
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import Check, failed, skipped

NO_EXCHANGE = (
    "no Exchange configuration: give --exchange-config bundle.json (from `verify-oauth export-script`) "
    "or --psrp https://<server>/PowerShell"
)
EXPORT_AGAIN = (
    "Run `verify-oauth export-script > Export-OAuthBundle.ps1`, run that in the Exchange Management Shell "
    "(read-only), and pass the bundle it writes with --exchange-config"
)
PERMISSION = "Run the export as an account with at least the View-Only Organization Management role, then export again"


def source_remedy(error: SourceError | None) -> str:
    return (error.remedy if error is not None else None) or EXPORT_AGAIN


def exchange_config(ctx: Context, check_id: str) -> ExchangeConfig | Check:
    if ctx.exchange is None:
        return skipped(check_id, NO_EXCHANGE)
    if ctx.exchange.value is None:
        error = ctx.exchange.error
        return failed(check_id, f"Exchange configuration unusable: {error}", source_remedy(error))
    return ctx.exchange.value


def section_absent(config: ExchangeConfig, check_id: str, section: str, cmdlet: str) -> Check:
    """The check's section is missing: FAIL if the collector tried and failed, else SKIP (not carried)."""
    if section in config.errors:
        return failed(check_id, f"the collector could not run {cmdlet}: {config.errors[section]}", PERMISSION)
    return skipped(
        check_id,
        f"{config.source} carries no {section} (made by another export version or Exchange version); "
        "re-export with `verify-oauth export-script`",
    )
