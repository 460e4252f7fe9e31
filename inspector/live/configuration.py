"""What the addon judges with, built from its options at each ``configure``: the settings, the analyzer, the report
file, what is reported (``selection``) and the repeat shortcut. One object, replaced whole, so a reconfigure that is
refused leaves the previous one in force and one that succeeds never leaves a mix of old and new parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inspector.analyze import Analyzer
from inspector.live import options as addon_options
from inspector.live.annotate import Serializer
from inspector.live.options import options_error
from inspector.live.repeats import RepeatedFlows
from inspector.live.report_file import ReportFile
from inspector.model import ConfigError
from inspector.selection import Selection, build_selection
from inspector.settings import Settings, build_settings
from inspector.tally import Totals


@dataclass(frozen=True, slots=True)
class LiveConfig:
    settings: Settings
    analyzer: Analyzer
    selection: Selection
    """The filters and suppressions of ``oauth_rule``/``oauth_ignore``/... and the configuration's ``ignore`` list,
    applied to every result before it is counted, logged, annotated or written (as ``analyze`` applies them)."""
    report: ReportFile | None
    repeats: RepeatedFlows | None
    serializer: Serializer

    @property
    def show_secrets(self) -> bool:
        return self.serializer.show_secrets

    @property
    def fail_on(self) -> str:
        return self.settings.fail_on


def build_config(options: Any, previous: LiveConfig | None, totals: Totals, *, repeats_enabled: bool) -> LiveConfig:
    """The configuration the options give; ``OptionsError`` (naming the option) when they are refused.

    The report file is kept when its path did not change (a new one is opened otherwise: the caller closes the
    previous one once it commits). The repeat shortcut keeps its count; it is off while the selection narrows
    exchanges by host or client, because a repeat is published from what another flow was judged (maybe from
    another client)."""
    try:
        given = addon_options.given(options)
        # certificate hygiene is judged now; tokens at their capture time
        settings = build_settings(given, output_format=None, now=datetime.now(UTC))
        selection = build_selection(**addon_options.selection_arguments(options), configured=list(settings.ignores))
    except ConfigError as exc:
        raise options_error(f"oauth-inspector: {exc}") from None
    show_secrets = given.show_secrets
    path: str | None = options.oauth_report or None
    report = previous.report if previous is not None else None
    if (report.path if report is not None else None) != path:
        report = ReportFile(path, show_secrets=show_secrets) if path else None
    if report is not None:
        report.writer.show_secrets = show_secrets
    analyzer = Analyzer(settings.trust, settings.policy)
    if previous is not None:
        analyzer.continue_from(previous.analyzer)  # a fallback or a handshake spanning the change is still seen
    repeats = RepeatedFlows(analyzer, totals) if repeats_enabled and not selection.narrows_exchanges else None
    if repeats is not None and previous is not None and previous.repeats is not None:
        repeats.published = previous.repeats.published
    return LiveConfig(settings, analyzer, selection, report, repeats, Serializer(show_secrets=show_secrets))
