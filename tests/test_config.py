"""The configuration file: found from the current folder up, paths relative to it, keys and kinds checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.config import FileConfig, config_for, find_config, load_config
from inspector.model import ConfigError
from inspector.settings import CONFIG_KEYS


def test_the_nearest_file_wins_and_pyproject_counts_only_with_its_section(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "oauth-inspector.toml").write_text("skew = 1\n")
    (tmp_path / "a" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config(inner) == tmp_path / "oauth-inspector.toml"
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.oauth-inspector]\nskew = 2\n")
    assert find_config(inner) == tmp_path / "a" / "pyproject.toml"
    assert load_config(tmp_path / "a" / "pyproject.toml", CONFIG_KEYS).scalar("skew") == 2


def test_paths_are_relative_to_the_files_folder_and_lists_accept_one_value(tmp_path: Path) -> None:
    path = tmp_path / "oauth-inspector.toml"
    path.write_text('cert = "certs/OAuthCert.cer"\nrealm = ["a", "b"]\nfail-on = "warning"\n')
    config = load_config(path, CONFIG_KEYS)
    assert config.paths("cert") == [tmp_path / "certs" / "OAuthCert.cer"]
    assert config.strings("realm") == ["a", "b"]
    assert config.scalar("fail-on") == "warning"
    assert config.scalar("skew", 300) == 300


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("skew = true\n", "'skew' must be a int"),
        ('skew = "300"\n', "'skew' must be a int"),
        ("realm = [1]\n", "'realm' must be a string or a list of strings"),
        ("colour = 'red'\n", "unknown key 'colour' (known: audience-principal, cert, "),
        ("skew = \n", "is not valid TOML"),
    ],
)
def test_bad_files_are_refused_with_the_key_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "oauth-inspector.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(path, CONFIG_KEYS)


def test_a_named_file_must_exist_and_none_found_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="Cannot read configuration"):
        config_for(tmp_path / "missing.toml", CONFIG_KEYS)
    monkeypatch.chdir(tmp_path)
    assert config_for(None, CONFIG_KEYS) == FileConfig()
