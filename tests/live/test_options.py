"""The addon's options: generated from the option table, and what `proxy` sets is what the addon reads back."""

from __future__ import annotations

from pathlib import Path

from inspector.live import options as addon_options
from inspector.live.addon import OAuthInspector
from inspector.policy import SFB_ONLINE
from inspector.proxy import addon_options as set_list
from inspector.settings import OPTIONS, TrustArguments
from tests.live.conftest import TrustFiles, addon_context, configure


def test_the_addon_declares_every_row_with_the_same_help() -> None:
    addon = OAuthInspector()
    with addon_context(addon) as context:
        for row in OPTIONS:
            option = context.options._options[row.addon_name]
            assert option.help == row.help
        assert addon_options.REPORT in context.options._options
        for name, _, help_text in addon_options.SELECTION:
            assert context.options._options[name].help == help_text
        assert addon_options.SEVERITY in context.options._options
    selection = {name for name, _, _ in addon_options.SELECTION} | {addon_options.SEVERITY}
    assert {row.addon_name for row in OPTIONS} | {addon_options.REPORT} | selection == addon_options.NAMES


def test_the_set_list_round_trips_through_the_addon(trust_files: TrustFiles, tmp_path: Path) -> None:
    """What `proxy` hands to mitmproxy, read back by the addon, is what the command line was given."""
    config = tmp_path / "oauth-inspector.toml"
    config.write_text("skew = 30\n", encoding="utf-8")
    given = TrustArguments(
        certs=(trust_files.cert,),
        metadata=(trust_files.metadata,),
        thumbprints=("ab" * 20,),
        realms=(trust_files.realm,),
        issuers=(SFB_ONLINE, "other"),
        skew=60,
        config_path=config,
        fail_on="warning",
        show_secrets=True,
    )
    pairs = set_list(given, None)
    values: dict[str, object] = {}
    for flag, pair in zip(pairs[::2], pairs[1::2], strict=True):
        assert flag == "--set"
        name, value = pair.split("=", 1)
        row = next(r for r in OPTIONS if r.addon_name == name)
        if row.repeatable:
            values.setdefault(name, []).append(value)  # type: ignore[union-attr]
        else:
            values[name] = {"int": int, "flag": lambda v: v == "true"}.get(row.kind, str)(value)  # type: ignore[operator]
    addon = OAuthInspector()
    with addon_context(addon) as context:
        configure(context, addon, **values)
        assert addon_options.given(context.options) == given
        assert addon.fail_on == "warning"
        assert addon.settings is not None
        assert addon.settings.policy.skew == 60
