"""traffic.s2s: what the wire says, judged by the engine (``Analyzer``) with the same trust and policy as the rest
of the tool. At least one S2S token from the expected issuer and realm must verify, and nothing may be an error."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from inspector.analyze import Analyzer, ExchangeResult
from inspector.model import InputError
from inspector.rules import CATALOGUE, Finding
from inspector.sources.dispatch import expand_inputs, read_input
from inspector.sources.naming import input_labels
from inspector.sources.timeorder import in_judged_order
from inspector.text import safe
from inspector.token_errors import KEY_NOT_FOUND_CODES
from inspector.tokens import Principal
from inspector.verifyoauth.context import Context
from inspector.verifyoauth.model import Check, failed, passed, skipped, warned

MAX_LISTED = 50
"""Findings kept as evidence (a capture can raise thousands; the counts keep the rest)."""
MAX_IN_REASON = 5


@dataclass
class _Tally:
    files: int = 0
    exchanges: int = 0
    s2s: int = 0
    good: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    issuers: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error_rules: Counter[str] = field(default_factory=Counter)
    warning_rules: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)

    def finding(self, item: Finding, where: str) -> None:
        line = f"{item.rule} at {where}: {safe(item.message, 200)}"
        if item.severity == "error":
            self.error_rules[item.rule] += 1
            if len(self.errors) < MAX_LISTED:
                self.errors.append(line)
        elif item.severity == "warning":
            self.warning_rules[item.rule] += 1
            if len(self.warnings) < MAX_LISTED:
                self.warnings.append(line)


def _judge(ctx: Context, result: ExchangeResult, tally: _Tally) -> None:
    exchange = result.exchange
    where = f"{exchange.id} ({exchange.provenance.describe()})"
    for item in result.findings:
        tally.finding(item, where)
    token = result.auth.token
    if token is None or token.kind not in ("s2s-user", "s2s-app"):
        return
    tally.s2s += 1
    tally.verdicts[token.signature or "none"] += 1
    issuer = Principal.parse(token.issuer)
    tally.issuers[safe(token.issuer or "?", 120)] += 1
    if (
        issuer is not None
        and issuer.principal in ctx.principals
        and (not ctx.realms or issuer.realm.lower() in ctx.realms)
        and token.signature == "valid"
    ):
        tally.good += 1


def token_refusals(ctx: Context, thumbprint: str) -> list[dict[str, object]]:
    """Token requests in the captures that Entra/ACS refused because the certificate with ``thumbprint`` is not
    registered (AADSTS700027/50012, ACS50012 naming it, or the assertion's x5t): the wire's own evidence for
    ``entra.sp-key``. Unreadable captures are left to ``traffic.s2s`` to report."""
    out: list[dict[str, object]] = []
    analyzer = Analyzer(ctx.trust, ctx.policy())
    for path, kind in expand_inputs(list(ctx.captures)):
        try:
            for item in read_input(path, kind):
                result = analyzer.feed(item)
                if not isinstance(result, ExchangeResult) or result.token_request is None:
                    continue
                request = result.token_request
                if request.thumbprint != thumbprint or not KEY_NOT_FOUND_CODES.intersection(request.codes):
                    continue
                exchange = result.exchange
                out.append(
                    {
                        "exchange": f"{exchange.id} ({exchange.provenance.describe()})",
                        "time": exchange.time.isoformat() if exchange.time is not None else None,
                        "endpoint": safe(request.endpoint, 200),
                        "codes": list(request.codes),
                        "client_id": safe(request.client_id or "?", 120),
                    }
                )
                if len(out) >= MAX_LISTED:
                    return out
        except InputError:
            continue
    return out


def _remedy(rules: Counter[str]) -> str:
    parts = []
    for rule, _ in rules.most_common(3):
        known = CATALOGUE.get(rule)
        parts.append(f"{rule}: {known.help}" if known else rule)
    return "\n".join(parts)


def traffic_s2s(ctx: Context) -> Check:
    if not ctx.captures:
        return skipped("traffic.s2s", "no capture given: pass --capture FILE (pcap/pcapng, HAR, flows, .saz) "
                       "recorded while Skype for Business Online used Exchange")  # fmt: skip
    analyzer = Analyzer(ctx.trust, ctx.policy())
    tally = _Tally()
    inputs = expand_inputs(list(ctx.captures))
    for (path, kind), label in zip(inputs, input_labels([p for p, _ in inputs]), strict=True):
        tally.files += 1
        try:
            for item in in_judged_order(read_input(path, kind, label=label), kind):
                result = analyzer.feed(item)
                if isinstance(result, Finding):
                    tally.finding(result, label)
                else:
                    tally.exchanges += 1
                    _judge(ctx, result, tally)
        except InputError as exc:
            tally.unreadable.append(safe(exc, 300))
    for late in analyzer.end_input():  # what only the end shows (an NTLM handshake that never completed)
        tally.finding(late, "end of the captures")
    expected = ", ".join(f"{p}@{'|'.join(sorted(ctx.realms)) or '<any realm>'}" for p in ctx.principals)
    evidence: dict[str, object] = {
        "files": tally.files,
        "exchanges": tally.exchanges,
        "s2s_tokens": tally.s2s,
        "verified_from_expected_issuer": tally.good,
        "signatures": dict(tally.verdicts),
        "issuers": dict(tally.issuers.most_common(10)),
        "errors": tally.errors,
        "warnings": tally.warnings,
        "unreadable": tally.unreadable,
    }
    if tally.unreadable:
        return failed(
            "traffic.s2s",
            "; ".join(tally.unreadable[:MAX_IN_REASON]),
            "Give readable captures: pcap/pcapng, HAR, mitmproxy flows or Fiddler .saz (read by content)",
            **evidence,
        )
    if tally.errors:
        count = sum(tally.error_rules.values())
        return failed(
            "traffic.s2s",
            f"{count} error finding(s): " + "; ".join(tally.errors[:MAX_IN_REASON]),
            _remedy(tally.error_rules),
            **evidence,
        )
    if tally.good == 0:
        if tally.s2s == 0:
            return failed(
                "traffic.s2s",
                f"no S2S token in {tally.exchanges} exchange(s) of {tally.files} file(s)",
                "Capture on the Exchange side (EWS, decrypted: behind TLS offload, or with mitmproxy) while a feature "
                "is used, e.g. a Cloud Voicemail greeting change or a conversation-history write (seed 'Verify your "
                "success')",
                **evidence,
            )
        verdicts = ", ".join(f"{n} {v}" for v, n in tally.verdicts.most_common())
        seen = ", ".join(tally.issuers)
        remedy = (
            "Give the key that signs them: the ACS metadata of the tenant (--metadata, the document at "
            "Get-AuthServer's AuthMetadataUrl) or the signing certificate (--cert)"
            if tally.verdicts.get("unknown-key")
            else "Check --issuer and --realm against the issuers seen; see `oauth-inspector rules` for the findings"
        )
        return failed(
            "traffic.s2s",
            f"no S2S token from {expected} verified: {tally.s2s} S2S token(s) ({verdicts}), issuers {seen}",
            remedy,
            **evidence,
        )
    if tally.warnings:
        return warned(
            "traffic.s2s",
            f"{tally.good} S2S token(s) from {expected} verified, with {sum(tally.warning_rules.values())} "
            "warning(s): " + "; ".join(tally.warnings[:MAX_IN_REASON]),
            _remedy(tally.warning_rules),
            **evidence,
        )
    return passed(
        "traffic.s2s",
        f"{tally.good} of {tally.s2s} S2S token(s) from {expected} verified, no findings, in {tally.exchanges} "
        f"exchange(s) of {tally.files} file(s)",
        **evidence,
    )
