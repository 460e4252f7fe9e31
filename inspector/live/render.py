"""Plain-text views for the addon's commands and log: one flow's tokens and findings, and the running totals.

Everything that came from the wire goes through :func:`safe` (control characters escaped, length capped), because
mitmproxy prints these strings to a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from inspector.rules import CATALOGUE, SEVERITIES, at_or_above
from inspector.tally import Totals
from inspector.text import safe


def _jwt_lines(title: str, jwt: Mapping[str, Any]) -> list[str]:
    header = safe(json.dumps(jwt.get("header"), ensure_ascii=True, default=str), 1000)
    lines = [f"  {title}:", f"    header: {header}", "    claims:"]
    claims = jwt.get("claims")
    times = jwt.get("times_utc") or {}
    for name, value in claims.items() if isinstance(claims, dict) else ():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=True, default=str)
        when = f"  ({times[name]})" if isinstance(times, dict) and name in times else ""
        lines.append(f"      {safe(name, 80)}: {safe(shown, 500)}{when}")
    lines.append("    signature: " + ("[shown: --set oauth_show_secrets]" if "signature" in jwt else "[dropped]"))
    return lines


def flow_text(flow_id: str, data: Mapping[str, Any]) -> str:
    """The decoded tokens and findings of one judged flow (``data`` is the flow's oauth-inspector metadata)."""
    head = (
        f"flow {flow_id}: {data.get('method') or '?'} {data.get('host') or '?'} "
        f"{data.get('target') or ''} -> {data.get('status') if data.get('status') is not None else 'no response'}"
    )
    lines = [safe(head, 400)]
    auth = data.get("auth")
    if isinstance(auth, dict) and auth.get("scheme"):
        line = f"  auth: {auth['scheme']}"
        if auth.get("user"):
            line += f" user {auth['user']}"
        token = auth.get("token")
        if isinstance(token, dict):
            line += f", {token.get('kind')} token"
            for label in ("issuer", "realm", "audience", "signature", "key"):
                if token.get(label):
                    line += f", {label} {token[label]}"
        lines.append(safe(line, 1000))
        if isinstance(token, dict):
            for title in ("outer", "actor"):
                jwt = token.get(title)
                if isinstance(jwt, dict):
                    lines += _jwt_lines("outer token" if title == "outer" else "actor token", jwt)
            if token.get("problem"):
                lines.append(safe(f"  problem: {token['problem']}", 400))
    else:
        lines.append("  auth: none")
    findings = data.get("findings")
    if not isinstance(findings, list) or not findings:
        lines.append("  findings: none")
    else:
        lines.append("  findings:")
        for item in findings:
            if isinstance(item, dict):
                severity, rule = safe(item.get("severity", "?"), 20), safe(item.get("rule", "?"), 80)
                lines.append(f"    {severity:<8}{rule}: {safe(item.get('message', ''), 400)}")
    return "\n".join(lines)


def _counts(values: Mapping[str, int]) -> str:
    return ", ".join(f"{safe(k, 40)} {v}" for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))) or "-"


def summary_text(totals: Totals, *, fail_on: str, internal_errors: int = 0, repeats: int = 0) -> str:
    """The totals so far as a small table (what ``oauth.summary`` returns and ``done`` logs); ``repeats`` is how many
    of the exchanges repeated one already judged clean and were published from it."""
    judged = f"oauth-inspector summary: {totals.exchanges} exchanges judged"
    if repeats:
        judged += f" ({repeats} of them repeats of a clean exchange, published from its verdict)"
    lines = [
        judged,
        f"  auth schemes: {_counts(totals.schemes)}",
        f"  signatures:   {_counts(totals.signatures)}",
        "  findings:     " + ", ".join(f"{s} {totals.severities.get(s, 0)}" for s in SEVERITIES),
    ]
    if totals.rules:
        lines.append("  rule                          count  severity  title")
        for rule_id, count in sorted(totals.rules.items(), key=lambda kv: (-kv[1], kv[0])):
            rule = CATALOGUE.get(rule_id)
            severity, title = (rule.severity, rule.title) if rule else ("?", "?")
            lines.append(f"  {rule_id:<30}{count:>5}  {severity:<8}  {title}")
    if internal_errors:
        lines.append(f"  internal errors: {internal_errors} (see the inspector-error findings)")
    if fail_on != "never":
        failing = sum(n for s, n in totals.severities.items() if at_or_above(s, fail_on))
        verdict = f"FAIL: {failing} finding(s)" if failing else "PASS: no finding"
        lines.append(f"  verdict: {verdict} at or above {fail_on}")
    return "\n".join(lines)
