"""The trust and policy options, defined once: every front end (the click CLI, the mitmproxy addon, the ``--set``
list ``oauth-inspector proxy`` hands to mitmproxy, the configuration file) is generated from :data:`OPTIONS`.

Each field of :class:`TrustArguments` is one option: its declaration carries the option's flag, kind, help,
effective default and configuration-file key (see :func:`_option`). Adding an option is one field here (and its use
in :func:`build_settings`); the CLI, the addon and the proxy pick it up. Click-free and rich-free, so the addon can
load it without pulling in the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from inspector.audience import parse_audience_principal
from inspector.config import ConfigKind, FileConfig, config_for
from inspector.model import ConfigError
from inspector.policy import DEFAULT_SKEW, SFB_ONLINE, Policy
from inspector.rules import SEVERITIES
from inspector.selection import Suppression, parse_config_ignores
from inspector.trust import Trust, build_trust, normalise_thumbprint

FAIL_ON_CHOICES: tuple[str, ...] = (*SEVERITIES, "never")
"""``--fail-on``: a severity (worst first), or never."""
FORMATS = ("table", "json", "jsonl", "sarif", "html")
"""The report formats of ``analyze`` (the configuration file's ``format`` key)."""
MAX_SKEW = 86400

OptionKind = Literal["path", "text", "int", "choice", "flag"]


@dataclass(frozen=True, slots=True)
class Option:
    """One trust or policy option, as every front end spells it."""

    flag: str
    """The command-line flag, e.g. ``--cert``; the addon's option is ``oauth_`` + the flag's name."""
    kind: OptionKind
    meaning: str
    """The help text without its last word on repetition (:attr:`help` adds it)."""
    repeatable: bool = False
    default: object = None
    """The effective default when neither the command line nor the configuration file gives a value."""
    config_key: str | None = None
    """The key in ``oauth-inspector.toml`` / ``[tool.oauth-inspector]``, if the file may set it."""
    choices: tuple[str, ...] = ()
    bounds: tuple[int, int] | None = None
    unit: str = ""
    """What a bounded number counts, for messages (``seconds``)."""
    file_only: bool = False
    """A path that must not name a folder."""
    param: str = ""
    """The :class:`TrustArguments` field (filled in from the field's name)."""
    once_in: tuple[str, ...] = ()
    """Programs that take this repeatable option once (verify-oauth's ``--cert``: its checks are about the one
    current auth certificate). Their help says so; their click option still collects repeats, so the program
    refuses them by name rather than keeping the last."""

    @property
    def name(self) -> str:
        return self.flag.removeprefix("--")

    @property
    def addon_name(self) -> str:
        return "oauth_" + self.name.replace("-", "_")

    @property
    def help(self) -> str:
        return self.help_in(None)

    def help_in(self, program: str | None) -> str:
        """The one help text, as ``program`` (``verify-oauth``; None: the others) takes the option."""
        if not self.repeatable:
            return self.meaning
        return f"{self.meaning} {'Given once.' if program in self.once_in else 'Repeatable.'}"

    def problem(self, value: object) -> str | None:
        """Why a single value given for this option is refused (with the addon's option name), or None."""
        if self.choices and value is not None and value not in self.choices:
            return f"{self.addon_name} must be one of {', '.join(self.choices)}, not {value!r}"
        if self.bounds is not None and isinstance(value, int):
            low, high = self.bounds
            if not low <= value <= high:
                unit = f" {self.unit}" if self.unit else ""
                return f"{self.addon_name} must be between {low} and {high}{unit}, not {value}"
        return None


def _option(flag: str, kind: OptionKind, meaning: str, *, repeatable: bool = False, **spec: Any) -> Any:
    """A :class:`TrustArguments` field that is also a row of the option table."""
    given_default: object = () if repeatable else (False if kind == "flag" else None)
    row = Option(flag, kind, meaning, repeatable=repeatable, **spec)
    return field(default=given_default, metadata={"option": row})


@dataclass(frozen=True, slots=True)
class TrustArguments:
    """The trust options as given (on the command line, or as the mitmproxy addon's options), before the
    configuration file is merged in. Each field is one row of the option table (:data:`OPTIONS`)."""

    certs: tuple[Path, ...] = _option(
        "--cert",
        "path",
        "Trusted certificate (.cer DER or PEM, PEM bundle), e.g. the exported OAuthCert.cer. Trusted for any issuer.",
        repeatable=True,
        config_key="cert",
        once_in=("verify-oauth",),
    )
    metadata: tuple[Path, ...] = _option(
        "--metadata",
        "path",
        "Auth metadata document (Exchange /autodiscover/metadata/json/1, ACS or SfB "
        "/metadata/json/1). Its keys are trusted only for the issuer it names.",
        repeatable=True,
        config_key="metadata",
    )
    thumbprints: tuple[str, ...] = _option(
        "--thumbprint",
        "text",
        "Expected auth certificate thumbprint (hex, as Get-AuthConfig prints it).",
        repeatable=True,
        config_key="thumbprint",
    )
    realms: tuple[str, ...] = _option(
        "--realm",
        "text",
        "Expected realm: the tenant ID (SfB Online) or SIP domain (SfB Server).",
        repeatable=True,
        config_key="realm",
    )
    issuers: tuple[str, ...] = _option(
        "--issuer",
        "text",
        f"Expected calling principal (GUID or whole iss). Default {SFB_ONLINE} (Skype for Business Online).",
        repeatable=True,
        config_key="issuer",
        default=(SFB_ONLINE,),
    )
    skew: int | None = _option(
        "--skew",
        "int",
        f"Allowed clock skew in seconds for nbf/exp (default {DEFAULT_SKEW}).",
        config_key="skew",
        default=DEFAULT_SKEW,
        bounds=(0, MAX_SKEW),
        unit="seconds",
    )
    audience_principals: tuple[str, ...] = _option(
        "--audience-principal",
        "text",
        "The service a host's tokens must be made for where the request path does not say: HOST=PRINCIPAL (a "
        "GUID, or exchange, sharepoint, skype, lync).",
        repeatable=True,
        config_key="audience-principal",
    )
    config_path: Path | None = _option(  # noqa: RUF009  (a field() with the row in its metadata, not a shared default)
        "--config",
        "path",
        "Configuration file (default: the nearest oauth-inspector.toml or pyproject.toml "
        "[tool.oauth-inspector] from the current folder up).",
        file_only=True,
    )
    fail_on: str | None = _option(
        "--fail-on",
        "choice",
        "Exit 1 when a finding at or above this severity is reported (default: error).",
        config_key="fail-on",
        default="error",
        choices=FAIL_ON_CHOICES,
    )
    show_secrets: bool = _option(
        "--show-secrets", "flag", "Show Basic passwords, raw credentials and token signatures (off by default)."
    )


OPTIONS: tuple[Option, ...] = tuple(replace(f.metadata["option"], param=f.name) for f in fields(TrustArguments))
"""The option table, in the order the CLI lists the options."""
BY_PARAM: dict[str, Option] = {row.param: row for row in OPTIONS}


def _config_kind(row: Option) -> ConfigKind:
    if row.repeatable:
        return "paths" if row.kind == "path" else "strings"
    return "int" if row.kind == "int" else "str"


CONFIG_KEYS: dict[str, ConfigKind] = {
    **{row.config_key: _config_kind(row) for row in OPTIONS if row.config_key is not None},
    "format": "str",
    "keylog": "paths",
    "ignore": "tables",
}
"""What the configuration file may set: the options with a key, and ``analyze``'s report format and TLS key logs
(``--keylog``: a capture-reading option, not a trust option, so not a row the addon and the proxy would get)."""


def file_config(path: Path | None) -> FileConfig:
    """The configuration file named with ``--config``, else the nearest one from the current folder up (or none)."""
    return config_for(path, CONFIG_KEYS)


def given_or_configured(given: TrustArguments, config: FileConfig, param: str) -> Any:
    """A single-valued option: the command line's value, else the file's, else the table's default."""
    row = BY_PARAM[param]
    value = getattr(given, param)
    if value is not None:
        return value
    assert row.config_key is not None
    return config.scalar(row.config_key, row.default)


@dataclass(frozen=True, slots=True)
class Settings:
    trust: Trust
    policy: Policy
    fail_on: str
    output_format: str
    keylogs: tuple[Path, ...] = ()
    """TLS key logs the configuration file names (``keylog``), for ``analyze``."""
    ignores: tuple[Suppression, ...] = ()
    """The configuration file's ``[[ignore]]`` entries (rule, optional host, a reason), checked."""


def build_settings(given: TrustArguments, *, output_format: str | None, now: datetime) -> Settings:
    """The trust options merged with the configuration file's, checked (a :class:`ConfigError` if not usable)."""
    config = file_config(given.config_path)
    all_thumbprints = [*config.strings("thumbprint"), *given.thumbprints]
    for value in all_thumbprints:
        normalise_thumbprint(value)
    trust = build_trust(
        certs=[*config.paths("cert"), *given.certs],
        metadata=[*config.paths("metadata"), *given.metadata],
        thumbprints=all_thumbprints,
    )
    issuer_list = [i.strip().lower() for i in (*config.strings("issuer"), *given.issuers) if i.strip()]
    realm_list = (r.strip().lower() for r in (*config.strings("realm"), *given.realms) if r.strip())
    try:
        audience_principals = tuple(
            parse_audience_principal(v) for v in (*config.strings("audience-principal"), *given.audience_principals)
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    policy = Policy(
        audience_principals=audience_principals,
        expected_issuers=frozenset(issuer_list or cast(tuple[str, ...], BY_PARAM["issuers"].default)),
        realms=frozenset(realm_list),
        skew=given_or_configured(given, config, "skew"),
        now=now,
    )
    chosen_fail_on = given_or_configured(given, config, "fail_on")
    if chosen_fail_on not in FAIL_ON_CHOICES:
        *some, last = FAIL_ON_CHOICES
        raise ConfigError(f"fail-on must be {', '.join(some)} or {last}, not {chosen_fail_on!r}")
    chosen_format = output_format or config.scalar("format", "table")
    if chosen_format not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, not {chosen_format!r}")
    ignores = parse_config_ignores(config.values.get("ignore", []), f"Configuration {config.path}")
    return Settings(trust, policy, chosen_fail_on, chosen_format, tuple(config.paths("keylog")), tuple(ignores))


def addon_arguments(trust: TrustArguments) -> list[tuple[str, str]]:
    """``(addon option, value)`` pairs that give the addon these options: repeatable ones once per value, paths
    made absolute (so the folder mitmproxy runs in is moot), unset ones left out."""
    out: list[tuple[str, str]] = []
    for row in OPTIONS:
        value = getattr(trust, row.param)
        for item in value if row.repeatable else (value,):
            if item is None or item is False:
                continue
            if row.kind == "path":
                text = str(Path(item).expanduser().resolve())
            elif row.kind == "flag":
                text = "true"
            else:
                text = str(item)
            out.append((row.addon_name, text))
    return out
