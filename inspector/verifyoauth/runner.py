"""Runs every check in catalogue order. A check that breaks becomes a FAIL naming the bug; the others still run."""

from __future__ import annotations

import os
from collections.abc import Callable

from inspector.text import safe
from inspector.verifyoauth import checks_cert, checks_entra, checks_exchange, checks_traffic
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import CHECK_IDS, Check, failed

CheckFunction = Callable[[Context], Check]

CHECK_FUNCTIONS: dict[str, CheckFunction] = {
    "cert.readable": checks_cert.cert_readable,
    "cert.validity": checks_cert.cert_validity,
    "cert.key-size": checks_cert.cert_key_size,
    "cert.is-current": checks_cert.cert_is_current,
    "exchange.partner-app": checks_exchange.partner_app,
    "exchange.app-account": checks_exchange.app_account,
    "exchange.roles": checks_exchange.roles,
    "exchange.auth-server": checks_exchange.auth_server,
    "exchange.oauth-vdirs": checks_exchange.oauth_vdirs,
    "exchange.metadata": checks_exchange.metadata,
    "exchange.challenge": checks_exchange.challenge,
    "entra.sp-key": checks_entra.sp_key,
    "traffic.s2s": checks_traffic.traffic_s2s,
}
assert tuple(CHECK_FUNCTIONS) == CHECK_IDS


def run_checks(ctx: Context) -> list[Check]:
    results: list[Check] = []
    for check_id, function in CHECK_FUNCTIONS.items():
        try:
            result = function(ctx)
        except Exception as exc:  # a bug in one check must not hide the others
            if os.environ.get("OAUTH_INSPECTOR_DEBUG"):
                raise
            result = failed(
                check_id,
                f"internal error in this check: {type(exc).__name__}: {safe(exc, 300)}",
                "This is a bug in verify-oauth; please report it with the output of OAUTH_INSPECTOR_DEBUG=1",
            )
        results.append(result)
    return results
