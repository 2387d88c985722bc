"""The user's settings: a TOML file in the platform's config folder (or `PIPECLI_CONFIG`).

Every key is optional; each module that reads a section keeps its own documented defaults next to the
code that uses them, so `load()` only reads the file. Example:

    db = "~/sales/pipeline.db"
    currency = "EUR"
    stale_days = 14

    [scoring]
    hot_threshold = 50
"""

from __future__ import annotations

import os
from pathlib import Path

from pipecli.errors import PipecliError

_cache: dict[str, tuple[float, dict]] = {}


def path() -> Path:
    """Return the config file's path: `PIPECLI_CONFIG`, else `<user config dir>/pipecli/config.toml`."""
    env = os.environ.get("PIPECLI_CONFIG")
    if env:
        return Path(env).expanduser()
    # platformdirs only when PIPECLI_CONFIG names no file
    import platformdirs

    return Path(platformdirs.user_config_dir("pipecli")) / "config.toml"


def load() -> dict:
    """Return the config file's contents as a dict (empty when there is no file)."""
    file = path()
    try:
        stamp = file.stat().st_mtime
    except OSError:
        return {}
    key = str(file)
    if key in _cache and _cache[key][0] == stamp:
        return _cache[key][1]
    import tomllib

    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PipecliError(f"config file {file} cannot be read: {exc}") from None
    _cache[key] = (stamp, data)
    return data


def section(name: str) -> dict:
    """Return one `[name]` table of the config (empty when absent)."""
    value = load().get(name, {})
    if not isinstance(value, dict):
        raise PipecliError(f"config file {path()}: [{name}] must be a table")
    return value


def value(key: str, default):
    """Return a top-level config value, or `default` when the file does not set it."""
    return load().get(key, default)


def currency() -> str:
    """Return the database's currency code (config `currency`, default EUR)."""
    return str(value("currency", "EUR")).upper()
