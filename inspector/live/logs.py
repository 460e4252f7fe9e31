"""What the addon tells mitmproxy's log: the settings it runs with, each flow's findings, and its own failures.

Never at ERROR: mitmdump exits when errors are logged during startup, and a replay (``-nr``) runs during startup.
Wire text is escaped before it is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mitmproxy import http

from inspector.redact import redact_target
from inspector.rules import Finding, finding
from inspector.settings import Settings
from inspector.text import safe

logger = logging.getLogger(__name__)

MAX_INTERNAL_ERROR_LOGS = 100


def announce(settings: Settings, report_path: str | None) -> None:
    """The trust the addon judges with, once per configuration."""
    keys = len(settings.trust.keys)
    realms = ", ".join(sorted(settings.policy.realms)) or "any"
    logger.info(
        "oauth-inspector: %d trusted key(s), %d expected thumbprint(s), realm %s, issuers %s%s",
        keys,
        len(settings.trust.expected_thumbprints),
        safe(realms, 200),
        safe(", ".join(sorted(settings.policy.expected_issuers)), 200),
        f"; report {report_path}" if report_path is not None else "",
    )
    if not keys:
        logger.info(
            "oauth-inspector: no certificate or metadata given, so signatures cannot be verified "
            "(set oauth_cert to the exported OAuthCert.cer, oauth_metadata to the metadata documents)"
        )


def log_findings(items: Sequence[Finding], f: http.HTTPFlow | None, *, show_secrets: bool = False) -> None:
    """One log record per flow: its findings one per line, each with its rule ID.

    One record rather than one per finding: mitmdump turns every record into an event for all its addons, which
    costs more than the judging, and a flow's findings read better together."""
    where = ""
    if f is not None:
        request = f.request
        path = request.path if show_secrets else redact_target(request.path)
        where = f" (flow {str(f.id)[:8]}, {request.method} {request.pretty_host}{path[:80]})"
    # a suppressed finding is still said (never silently dropped), but as what it is: accepted, not a warning
    level = logging.INFO if all(item.severity == "info" or item.suppressed for item in items) else logging.WARNING
    lines = [
        f"oauth-inspector [{item.rule}] {item.severity}{' (suppressed)' if item.suppressed else ''}: "
        f"{safe(item.message, 300)}"
        for item in items
    ]
    lines[0] += safe(where)
    try:
        logger.log(level, "%s", "\n  ".join(lines))
    except Exception:  # a log handler's failure must not replace the flow's findings by an inspector-error
        logger.debug("oauth-inspector: the findings of a flow could not be logged", exc_info=True)


class InternalErrors:
    """The addon's own failures: counted, logged (the first with its traceback, the next ones in a line each, then
    no more), each an ``inspector-error`` finding."""

    def __init__(self) -> None:
        self.count = 0

    def failed(self, flow_id: object, exc: Exception) -> Finding:
        self.count += 1
        if self.count == 1:
            logger.warning("oauth-inspector failed on flow %s; the flow passes untouched", flow_id, exc_info=exc)
        elif self.count <= MAX_INTERNAL_ERROR_LOGS:
            logger.warning(
                "oauth-inspector failed on flow %s (%s: %s); the flow passes untouched",
                flow_id,
                type(exc).__name__,
                safe(exc, 200),
            )
        elif self.count == MAX_INTERNAL_ERROR_LOGS + 1:
            logger.warning("oauth-inspector: further internal errors are counted but not logged")
        return finding(
            "inspector-error",
            f"oauth-inspector failed on flow {flow_id}: {type(exc).__name__}: {safe(exc, 200)}",
            flow=flow_id,
            error=type(exc).__name__,
        )
