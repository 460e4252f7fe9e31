"""The addon's mitmproxy options: the trust and policy options of ``settings.OPTIONS`` as ``oauth_*`` options, plus
the addon's own report file and what it reports (``analyze``'s ``--rule``, ``--severity``, ``--host``, ``--client``
and ``--ignore``), declared with ``loader.add_option`` and read back as :class:`TrustArguments` and the arguments of
``selection.build_selection``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from mitmproxy import exceptions
from mitmproxy.addonmanager import Loader

from inspector.rules import SEVERITIES
from inspector.settings import OPTIONS, Option, TrustArguments

REPORT = "oauth_report"
_REPORT_HELP = (
    "Write a JSONL report here: one line per judged exchange with its findings, flushed line by line. "
    "A leading + appends instead of replacing the file."
)
SELECTION: tuple[tuple[str, str, str], ...] = (
    ("oauth_rule", "rules", "Report only findings of these rule IDs (as analyze --rule)."),
    ("oauth_host", "hosts", "Report only exchanges with one of these Hosts (as analyze --host)."),
    ("oauth_client", "clients", "Report only exchanges from these client addresses (as analyze --client)."),
    (
        "oauth_ignore",
        "ignores",
        "Suppress rules, as RULE or RULE:HOST (as analyze --ignore): still reported, marked suppressed, not counted "
        "for fail_on. The configuration file's [[ignore]] list applies too.",
    ),
)
"""``(option, build_selection argument, help)`` of the repeatable selection options."""
SEVERITY = "oauth_severity"
_SEVERITY_HELP = "Report only findings at or above this severity (as analyze --severity)."
NAMES: frozenset[str] = frozenset(
    {*(row.addon_name for row in OPTIONS), REPORT, SEVERITY, *(name for name, _, _ in SELECTION)}
)
"""Every option of the addon: a change to any of them rebuilds its settings."""

# mitmproxy's Loader annotates typespec as ``type``; optional values are declared as unions all the same.
_OPTIONAL_INT = cast(type, int | None)
_OPTIONAL_STR = cast(type, str | None)


def options_error(message: str) -> exceptions.OptionsError:
    return exceptions.OptionsError(message)  # type: ignore[no-untyped-call]  # mitmproxy leaves it unannotated


def _typespec(row: Option) -> tuple[type, Any]:
    if row.repeatable:
        return cast(type, Sequence[str]), []
    if row.kind == "flag":
        return bool, False
    return (_OPTIONAL_INT if row.kind == "int" else _OPTIONAL_STR), None


def declare(loader: Loader) -> None:
    """``loader.add_option`` for every row of the option table and for the report."""
    for row in OPTIONS:
        typespec, default = _typespec(row)
        loader.add_option(row.addon_name, typespec, default, row.help)
    loader.add_option(REPORT, _OPTIONAL_STR, None, _REPORT_HELP)
    for name, _, help_text in SELECTION:
        loader.add_option(name, cast(type, Sequence[str]), [], help_text)
    loader.add_option(SEVERITY, _OPTIONAL_STR, None, _SEVERITY_HELP)


def selection_arguments(options: Any) -> dict[str, Any]:
    """The selection options as ``build_selection`` keywords (it checks the rule IDs); a severity that is none of
    ``rules.SEVERITIES`` is refused here with an ``OptionsError`` naming the option."""
    values: dict[str, Any] = {param: tuple(getattr(options, name)) for name, param, _ in SELECTION}
    severity = getattr(options, SEVERITY) or None
    if severity is not None and severity not in SEVERITIES:
        raise options_error(f"{SEVERITY} must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    values["severity"] = severity
    return values


def _value(row: Option, raw: Any) -> Any:
    if row.repeatable:
        return tuple(Path(p).expanduser() for p in raw) if row.kind == "path" else tuple(raw)
    if row.kind == "flag":
        return bool(raw)
    if raw is None or raw == "":
        return None
    return Path(raw).expanduser() if row.kind == "path" else raw


def given(options: Any) -> TrustArguments:
    """The trust options as mitmproxy holds them, checked against the table's choices and bounds (an
    ``OptionsError`` naming the option if not)."""
    values: dict[str, Any] = {}
    for row in OPTIONS:
        raw = getattr(options, row.addon_name)
        problem = None if row.repeatable else row.problem(raw)
        if problem is not None:
            raise options_error(problem)
        values[row.param] = _value(row, raw)
    return TrustArguments(**values)
