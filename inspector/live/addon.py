"""The mitmproxy addon: every passing flow judged by the engine, annotated, logged and written to a JSONL report.

A thin shell over the engine (DESIGN.md): ``load`` declares the options, ``configure`` turns them into the same
``Trust``/``Policy`` the CLI builds (and refuses bad values with ``OptionsError``), the hooks convert flows with the
same converter as ``oauth-inspector analyze`` and feed one shared ``Analyzer``, whose per-client state makes fallback
detection work live. The addon never raises into mitmproxy and never touches a request or response: a failure of its
own is logged once with the flow id and becomes an ``inspector-error`` finding, and the flow passes untouched.

Token times are judged at the flow's capture time (``request.timestamp_start``), so a replay of a saved file
(``mitmdump -nr flows.mitm -s ...``) gives the same findings as ``oauth-inspector analyze flows.mitm``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from mitmproxy import contentviews, ctx, flow, http
from mitmproxy.addonmanager import Loader

from inspector.analyze import Analyzer, ExchangeResult
from inspector.inventory import Inventory
from inspector.inventory_rules import inventory_findings
from inspector.live import options as addon_options
from inspector.live.annotate import (
    Serializer,
    annotate,
    error_record,
    flow_metadata,
    relevant,
    verdict_line,
    worst,
)
from inspector.live.commands import inspect_text, judge_apart
from inspector.live.configuration import LiveConfig, build_config
from inspector.live.contentview import TokenContentview
from inspector.live.host import client_sni, host_rewritten, with_client_host
from inspector.live.logs import InternalErrors, announce, log_findings
from inspector.live.render import summary_text
from inspector.live.repeats import FlowNames, Key, RepeatedFlows, flow_key
from inspector.live.report_file import ReportFile
from inspector.model import Notice, SourceItem
from inspector.rules import Finding
from inspector.selection import selected
from inspector.settings import Settings
from inspector.sources.mitmflows import flow_items
from inspector.sources.naming import exchange_id as make_exchange_id
from inspector.tally import Totals

logger = logging.getLogger(__name__)
_UNCONFIGURED_SERIALIZER = Serializer(show_secrets=False)

# Conversion failures on a flow that lacks what an exchange needs: the flow's problem, reported as analyze does.
_FLOW_PROBLEMS = (AttributeError, TypeError, ValueError, OverflowError, OSError)


class OAuthInspector:
    """Judges the OAuth traffic that passes through mitmproxy. Load it with ``-s`` (see ``mitm_script.py``)."""

    def __init__(self) -> None:
        self.config: LiveConfig | None = None
        """What the options give (settings, analyzer, report, selection, repeats), replaced whole by ``configure``."""
        self.totals = Totals()
        """What was published, over every configuration (a reconfigure keeps counting)."""
        self.inventory = Inventory()
        """The trust inventory of what was published (as ``analyze`` builds it), over every configuration."""
        self._counter = 0
        self._host_warned = False
        self._unconfigured_warned = False
        self._keep_host_header = False
        self._replay_source = "flows"
        self.repeats_enabled = True
        """Publish flows that repeat a clean exchange without judging them again (see ``repeats.py``)."""
        self._errors = InternalErrors()
        self._done = False
        self._trust_published: set[tuple[str, str]] = set()

    @property
    def internal_errors(self) -> int:
        """The addon's own failures so far (each also an ``inspector-error`` finding)."""
        return self._errors.count

    # The configuration's parts, as the commands, the tests and the benchmarks read them.
    @property
    def settings(self) -> Settings | None:
        return self.config.settings if self.config is not None else None

    @property
    def analyzer(self) -> Analyzer | None:
        return self.config.analyzer if self.config is not None else None

    @property
    def repeats(self) -> RepeatedFlows | None:
        return self.config.repeats if self.config is not None else None

    @property
    def serializer(self) -> Serializer:
        return self.config.serializer if self.config is not None else _UNCONFIGURED_SERIALIZER

    @property
    def show_secrets(self) -> bool:
        return self.serializer.show_secrets

    @property
    def fail_on(self) -> str:
        return self.config.fail_on if self.config is not None else "error"

    @property
    def _report(self) -> ReportFile | None:
        return self.config.report if self.config is not None else None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def load(self, loader: Loader) -> None:
        addon_options.declare(loader)
        loader.add_command("oauth.inspect", self.inspect)
        loader.add_command("oauth.summary", self.summary)
        contentviews.add(TokenContentview)

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        # mitmproxy's own options the hooks need, read here rather than on every flow
        self._keep_host_header = bool(getattr(options, "keep_host_header", False))
        rfile = getattr(options, "rfile", None)
        self._replay_source = Path(rfile).name if rfile else "flows"
        previous = self.config
        if previous is not None and not (updated & addon_options.NAMES):
            return
        config = build_config(options, previous, self.totals, repeats_enabled=self.repeats_enabled)
        # Nothing below can fail: commit.
        if previous is not None and previous.report is not None and previous.report is not config.report:
            previous.report.close(self.totals, self.inventory)
        self.config = config
        announce(config.settings, config.report.path if config.report is not None else None)
        # The trust store's findings are published once each: a reconfigure that keeps the certificates does not
        # count or log them again; a new report file still states them.
        trust = config.analyzer.trust_findings()
        fresh = [f for f in trust if (f.rule, f.message) not in self._trust_published]
        self._trust_published.update((f.rule, f.message) for f in fresh)
        self._publish_findings(config, fresh)
        if previous is not None and config.report is not None and config.report is not previous.report:
            self._publish_findings(config, [f for f in trust if f not in fresh], written_only=True)

    def _publish_findings(self, config: LiveConfig, items: Iterable[Finding], *, written_only: bool = False) -> None:
        """Findings of no one flow (trust, the end of input, the inventory's), as the selection reports them
        (``written_only``: into the report file only, already counted and logged)."""
        for chosen in selected(config.selection, items):
            if not written_only:
                self.totals.add(chosen)
                log_findings((chosen,), None)
            if config.report is not None:
                config.report.write(chosen)

    def _summary_text(self) -> str:
        repeats = self.repeats.published if self.repeats is not None else 0
        return summary_text(self.totals, fail_on=self.fail_on, internal_errors=self.internal_errors, repeats=repeats)

    def done(self) -> None:
        config = self.config
        if config is None or self._done:
            return
        self._done = True
        # What only the end shows (an NTLM handshake that never reached its Type 3, the inventory's rules), said once.
        self._publish_findings(config, config.analyzer.end_input())
        self._publish_findings(config, inventory_findings(self.inventory))
        logger.info(self._summary_text())
        if config.report is not None:
            from inspector.rotation import Configuration, rotation_timeline  # at the end only: verify-oauth's readers

            # every certificate seen or trusted, on one rotation timeline, as analyze writes it (no configuration
            # files are joined here: the proxy takes no --exchange-config)
            timeline = rotation_timeline(self.inventory, Configuration(), config.settings.trust)
            self.inventory.rotation = [entry.data() for entry in timeline]
            config.report.close(self.totals, self.inventory)

    # --- hooks -------------------------------------------------------------------------------------------------

    def response(self, f: http.HTTPFlow) -> None:
        self._judge(f)

    def error(self, f: http.HTTPFlow) -> None:
        if f.response is None:  # with a response the flow was judged in the response hook
            self._judge(f)

    def _judge(self, f: http.HTTPFlow) -> None:
        try:
            config = self.config
            if config is None:
                if not self._unconfigured_warned:
                    self._unconfigured_warned = True
                    logger.warning("oauth-inspector is not configured (see the error above); flows pass unjudged")
                return
            names = self._names(f)
            repeats = config.repeats
            rewritten = host_rewritten(f, keep_host_header=self._keep_host_header)
            # a flow id that is not text (a crafted file can carry one) is left to the full path, which reports it
            candidate = repeats is not None and not rewritten and type(f.id) is str
            key = flow_key(f) if candidate else None
            if key is not None and repeats is not None:
                repeat = repeats.publish(f, key, names)
                if repeat is not None:  # a clean exchange again: published as the full path would
                    self.inventory.observe(repeat.observed)
                    if config.report is not None:
                        config.report.write_line(repeat.line)
                    annotate(f, repeat.metadata, repeat.comment, None)
                    return
            item, notices = self._item(f, names, rewritten=rewritten)
            if notices:
                # what the source noticed (a name with whitespace before its colon, an unknown time): reported on
                # its own, as analyze reports it; such a flow is never remembered as clean (a repeat would not
                # report it again)
                self._publish_findings(config, map(Analyzer.notice_finding, notices))
                key = None
            result = config.analyzer.feed(item)
            chosen = config.selection.apply(result) if config.selection else result
            if chosen is None:
                return  # the filters leave it out of every output, as analyze does
            self.totals.add(chosen)
            self._publish(config, f, chosen, key)
        except Exception as exc:  # the addon's own failure must never reach mitmproxy or the flow
            self._internal_failure(f, exc)

    def _internal_failure(self, f: http.HTTPFlow, exc: Exception) -> None:
        """The addon's own failure on a flow: logged, counted, reported; the flow passes untouched."""
        try:
            item = self._errors.failed(getattr(f, "id", "?"), exc)
            if self.config is not None:
                self.totals.add(item)
            comment = f"oauth-inspector: {item.severity}: {item.rule}"
            annotate(f, error_record(item, comment), comment, item.severity)
            if self._report is not None:
                self._report.write(item)
        except Exception:  # noqa: S110  (reporting the failure failed too, e.g. logging itself; the flow must pass)
            pass

    def _names(self, f: http.HTTPFlow) -> FlowNames:
        self._counter += 1
        number = self._counter
        if f.live:
            return FlowNames("live", "live", f"live:{number}", None)
        # a replay (mitmdump -nr file): name exchanges as analyze names the same file's
        source = self._replay_source
        return FlowNames("mitm", source, make_exchange_id(source, number), number - 1)

    def _item(self, f: http.HTTPFlow, names: FlowNames, *, rewritten: bool) -> tuple[SourceItem, list[Notice]]:
        """The flow as an exchange (or the notice why it is none), and what the conversion noticed about it."""
        source, exchange_id = names.source, names.exchange_id
        try:
            exchange, notices = flow_items(
                f, exchange_id=exchange_id, source=source, entry=names.entry, kind=names.kind
            )
        except _FLOW_PROBLEMS as exc:
            problem = f"the HTTP flow is incomplete ({type(exc).__name__}: {str(exc)[:200]})"
            notice = Notice(
                rule="input-malformed",
                message=f"Skipped flow {f.id}: {problem}",
                source=source,
                exchange_id=exchange_id,
                evidence={"flow": f.id, "reason": problem},
            )
            return notice, []
        if rewritten:
            sni = client_sni(f)
            if not self._host_warned:
                self._host_warned = True
                logger.warning(
                    "oauth-inspector: reverse mode without keep_host_header: mitmproxy replaced the Host header with "
                    "the upstream's, so token audiences are judged against the client's TLS SNI where it sent one, "
                    "and without the host check otherwise. Run mitmproxy with --set keep_host_header=true "
                    "(oauth-inspector proxy does)."
                )
            exchange = with_client_host(exchange, sni)
        return exchange, notices

    def _publish(self, config: LiveConfig, f: http.HTTPFlow, result: ExchangeResult | Finding, key: Key | None) -> None:
        report, show_secrets = config.report, config.serializer.show_secrets
        if isinstance(result, Finding):  # the flow could not become an exchange
            log_findings((result,), f, show_secrets=show_secrets)
            comment = f"oauth-inspector: {result.severity}: {result.rule}"
            annotate(f, error_record(result, comment), comment, result.severity)
            if report is not None:
                report.write(result)
            return
        self.inventory.observe(result)
        if result.findings:
            log_findings(result.findings, f, show_secrets=show_secrets)
        annotated = relevant(result)
        if not annotated and report is None:
            return  # nothing about authentication and no report: nothing to write
        encoded = config.serializer.exchange(result)
        if report is not None:
            report.write_line(encoded.line)
        if annotated:
            comment = verdict_line(result)
            severity = worst(result.findings)
            annotate(f, flow_metadata(encoded.data, verdict=severity or "ok", comment=comment), comment, severity)
            if key is not None and config.repeats is not None and f.response is not None:
                try:
                    config.repeats.remember(key, result, encoded, comment, f.response.data)
                except Exception:  # the flow is published already: a repeat just takes the full path
                    logger.debug("oauth-inspector: exchange %s not remembered", result.exchange.id, exc_info=True)

    # --- commands ----------------------------------------------------------------------------------------------

    def inspect(self, flows: Sequence[flow.Flow]) -> str:
        """Print the decoded tokens and findings of the given flows (e.g. oauth.inspect @focus)."""
        text = inspect_text(flows, lambda f: judge_apart(self.settings, self.serializer, f))
        logger.info(text)
        return text

    def summary(self) -> str:
        """Print the totals so far: exchanges, auth schemes, signature verdicts, findings by rule."""
        text = "oauth-inspector is not configured" if self.analyzer is None else self._summary_text()
        logger.info(text)
        return text
