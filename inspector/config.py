"""Team defaults from ``oauth-inspector.toml`` or ``[tool.oauth-inspector]`` in ``pyproject.toml``.

The nearest file from the current folder upwards wins. Paths in it are relative to the file's folder, so a team
keeps its certificate paths, realm and expected issuer next to the captures. Options on the command line add to
lists (``cert``, ``metadata``, ``thumbprint``, ``realm``, ``issuer``, ``keylog``) and replace single values.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inspector.model import ConfigError

CONFIG_NAME = "oauth-inspector.toml"
ConfigKind = Literal["paths", "strings", "int", "str", "tables"]
"""What a key holds: a list of paths (relative to the file's folder), a list of strings, or one int or string.
The keys themselves and their kinds come from the option table (``settings.CONFIG_KEYS``)."""
_SCALARS: dict[ConfigKind, type] = {"int": int, "str": str}


@dataclass(frozen=True, slots=True)
class FileConfig:
    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def paths(self, key: str) -> list[Path]:
        return list(self.values.get(key, []))

    def strings(self, key: str) -> list[str]:
        return list(self.values.get(key, []))

    def scalar(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None else value


def find_config(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _pyproject_section(pyproject) is not None:
            return pyproject
    return None


def _pyproject_section(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    section = data.get("tool", {}).get("oauth-inspector")
    return section if isinstance(section, dict) else None


def load_config(path: Path, keys: Mapping[str, ConfigKind]) -> FileConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read configuration {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Configuration {path} is not valid TOML: {exc}") from exc
    section = data.get("tool", {}).get("oauth-inspector", {}) if path.name == "pyproject.toml" else data
    if not isinstance(section, dict):
        raise ConfigError(f"Configuration {path}: [tool.oauth-inspector] must be a table")
    values: dict[str, Any] = {}
    for key, value in section.items():
        kind = keys.get(key)
        if kind in ("paths", "strings"):
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) for v in items):
                raise ConfigError(f"Configuration {path}: '{key}' must be a string or a list of strings")
            values[key] = [(path.parent / v) for v in items] if kind == "paths" else list(items)
        elif kind == "tables":  # e.g. [[ignore]]: checked by whoever reads the key
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"Configuration {path}: '{key}' must be a list of tables ([[{key}]] entries)")
            values[key] = list(value)
        elif kind is not None:
            scalar = _SCALARS[kind]
            if not isinstance(value, scalar) or isinstance(value, bool):
                raise ConfigError(f"Configuration {path}: '{key}' must be a {scalar.__name__}")
            values[key] = value
        else:
            known = ", ".join(sorted(keys))
            raise ConfigError(f"Configuration {path}: unknown key '{key}' (known: {known})")
    return FileConfig(path, values)


def discover(keys: Mapping[str, ConfigKind], start: Path | None = None) -> FileConfig:
    found = find_config(start or Path.cwd())
    return load_config(found, keys) if found else FileConfig()


def config_for(path: Path | None, keys: Mapping[str, ConfigKind]) -> FileConfig:
    """The file named with ``--config``, else the nearest one from the current folder up (or none)."""
    return load_config(path, keys) if path else discover(keys)
