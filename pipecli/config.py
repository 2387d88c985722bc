"""The user's settings: a TOML file in the platform's config folder (or `PIPECLI_CONFIG`).

Every key is optional. Each module that reads a section declares it once as a frozen dataclass whose
fields are the keys, with their documented defaults and limits (`setting(...)`), and reads it with
`section(name, Spec)`: the one reader, which refuses an unknown key or a bad value (type, bounds,
choices) with one line naming the file, the section and the key. Example:

    db = "~/sales/pipeline.db"
    currency = "EUR"
    stale_days = 14

    [scoring]
    hot_threshold = 50

The settings that belong to the data (`SHARED_TOP` and the `SHARED_SECTIONS`: currency, stale defaults,
scoring, forecast, clean, qualification) can also live in the database, shared by everyone who opens it
(`pipecli settings`, `pipecli/settings.py`). Opening a database installs its settings here
(`use_database`) and every reader sees them layered: **the database's value wins** over the file's, which
wins over the default; a file that still sets a key the database sets otherwise is `shadowed`, and the
command line warns. What is personal (database location, user, locale, date order, mail) stays in the file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipecli.errors import PipecliError

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_database: dict[str, Any] = {}  # the open database's shared settings, by dotted key (`use_database`)

SHARED_TOP = ("currency", "stale_days", "fiscal_year_start")  # top-level keys a team shares
SHARED_SECTIONS = ("scoring", "forecast", "clean", "qualification")  # sections a team shares, every key

Spec = TypeVar("Spec")


class ConfigError(PipecliError):
    """A config file that cannot be read, or a key in it that is unknown or has a bad value (exit 1)."""


def path() -> Path:
    """Return the config file's path: `PIPECLI_CONFIG`, else `<user config dir>/pipecli/config.toml`."""
    env = os.environ.get("PIPECLI_CONFIG")
    if env:
        return Path(env).expanduser()
    # platformdirs only when PIPECLI_CONFIG names no file
    import platformdirs

    return Path(platformdirs.user_config_dir("pipecli")) / "config.toml"


def load() -> dict[str, Any]:
    """Return the config file's contents as a dict (empty when there is no file), unchecked: for
    `config show`; every reader of a setting goes through `section`."""
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
        raise ConfigError(f"config file {file} cannot be read: {exc}") from None
    _cache[key] = (stamp, data)
    return data


def use_database(values: typing.Mapping[str, Any] | None) -> None:
    """Install the shared settings of the database just opened (`{"currency": "JPY",
    "scoring.hot_threshold": 20}`; None or empty for none), read by every later `section`, until the next."""
    _database.clear()
    _database.update(values or {})


def database_settings() -> dict[str, Any]:
    """Return the shared settings installed from the open database, by dotted key."""
    return dict(_database)


def is_shared(key: str) -> bool:
    """Return True when dotted `key` (`currency`, `scoring.hot_threshold`) names a setting a team shares."""
    head, dot, _ = key.partition(".")
    return head in SHARED_SECTIONS if dot else key in SHARED_TOP


def shared_in_file() -> dict[str, Any]:
    """Return the shared settings the config file sets, by dotted key, unchecked (empty without a file);
    a shared section that is not a table is left to its reader's error."""
    data = load()
    found = {key: data[key] for key in SHARED_TOP if key in data}
    for name in SHARED_SECTIONS:
        table = data.get(name)
        if isinstance(table, dict):
            found.update({f"{name}.{key}": value for key, value in table.items()})
    return found


def file_value(key: str) -> Any:
    """Return the config file's value of dotted `key`, or None when the file does not set it."""
    data: Any = load()
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def shadowed() -> list[tuple[str, Any, Any]]:
    """Return (key, file's value, database's value) for each shared key the config file sets otherwise than
    the open database: the file's value is not used, and the user should know."""
    found = []
    for key, held in sorted(_database.items()):
        mine = file_value(key)
        if mine is not None and mine != held:
            found.append((key, mine, held))
    return found


def in_force(name: str | None) -> dict[str, Any]:
    """Return the `[name]` table (the top-level keys when None) as it is in force: the file's, with the open
    database's shared values over it."""
    data = load()
    raw: Any = data if name is None else data.get(name, {})
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path()}: [{name}] must be a table")
    merged = dict(raw)
    for key, held in _database.items():
        head, dot, rest = key.partition(".")
        if name is None and not dot:
            merged[key] = held
        elif dot and head == name:
            merged[rest] = held
    return merged


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: Sequence[str] | None = None,
) -> Any:
    """Return a dataclass field for one key of a section spec: its default, and the limits a value must
    keep (`low`/`high` inclusive, `above` exclusive, `choices` for text or each item of a list)."""
    meta = {"low": low, "high": high, "above": above, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(name: str | None, spec: type[Spec]) -> Spec:
    """Return the `[name]` table in force (`in_force`: the file's, the database's shared values over it;
    the top-level keys when `name` is None) as a `spec` instance: absent keys take the field defaults; an
    unknown key, a value of the wrong type or one out of bounds or choices raises ConfigError naming the
    file (or the database), the section and the key."""
    raw = in_force(name)
    fields = spec_fields(spec)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if name is None and isinstance(value, dict | list) and key not in fields:
            continue  # a section (or an array of tables), read by its own spec
        dotted = key if name is None else f"{name}.{key}"
        where = "database setting" if dotted in _database else f"config file {path()}:"
        values[fields[key].name if key in fields else key] = check(spec, name, key, value, where)
    return spec(**values)


def spec_fields(spec: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """Return a section spec's fields by key: a field named like a Python keyword ends in "_" (`from_`),
    its key is the word itself (`from`)."""
    return {f.name.removesuffix("_"): f for f in dataclasses.fields(spec)}


def check(spec: type[Any], name: str | None, key: str, value: Any, where: str) -> Any:
    """Return `value` of `key` in section `name` of `spec` as the reader takes it (an int for a float key
    becomes a float); raise ConfigError starting with `where` for an unknown key (the closest known one
    suggested) or a value of the wrong type, out of bounds or choices. The one check of a setting's
    value, whether it comes from the file or is typed to `pipecli settings set`."""
    fields = spec_fields(spec)
    section_name = "" if name is None else f"[{name}] "
    if key not in fields:
        known = ", ".join(fields) or "none"
        close = closest(key, list(fields))
        hint = f"; did you mean {close}?" if close else ""
        raise ConfigError(f"{where} {section_name}{key} is not a setting (known: {known}){hint}")
    hint_type = typing.get_type_hints(spec)[fields[key].name]
    problem = _problem(value, hint_type, fields[key].metadata)
    if problem:
        raise ConfigError(f"{where} {section_name}{key} must be {problem}, not {value!r}")
    return float(value) if hint_type is float else value


def closest(word: str, known: list[str]) -> str | None:
    """Return the known name nearest to a mistyped `word` (`stale_dayz` -> `stale_days`), or None when
    none is close: the suggestion of an unknown key's error."""
    import difflib

    found = difflib.get_close_matches(word.lower(), known, n=1, cutoff=0.6)
    return found[0] if found else None


def _problem(value: Any, hint: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """Return what `value` must be when it does not fit the type `hint` and the limits in `meta`, else None."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return _problem(value, options[0], meta) if value is not None else None
    if hint is Any:
        return None
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint in (int, float):
        number_ok = isinstance(value, int) or (hint is float and isinstance(value, float))
        if isinstance(value, bool) or not number_ok:
            return "a whole number" if hint is int else "a number"
        return _bounds(value, meta)
    if hint is str:
        if not isinstance(value, str):
            return "text"
        choices = meta.get("choices")
        if choices and value not in choices:
            return f"one of {', '.join(choices)}"
        return None
    if origin is list:
        if not isinstance(value, list) or not value:
            return "a non-empty list"
        for item in value:
            problem = _problem(item, args[0], meta)
            if problem:
                return f"a list whose items are each {problem}"
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return "a table"
        for item in value.values():
            problem = _problem(item, args[1], {})
            if problem:
                return f"a table whose values are each {problem}"
        return None
    raise TypeError(f"config spec type {hint!r} is not supported")


def _bounds(value: float, meta: typing.Mapping[str, Any]) -> str | None:
    low, high, above = meta.get("low"), meta.get("high"), meta.get("above")
    if low is not None and high is not None and not low <= value <= high:
        return f"between {low:g} and {high:g}"
    if low is not None and value < low:
        return f"a number of at least {low:g}"
    if high is not None and value > high:
        return f"a number of at most {high:g}"
    if above is not None and value <= above:
        return f"a number above {above:g}"
    return None


DATE_ORDERS = ("dmy", "mdy", "ymd")  # how 05/06 reads: day first, month first, year first (then month)
_LOCALE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")


@dataclasses.dataclass(frozen=True)
class TopLevel:
    """The top-level keys: the database, the user's name in history, the currency, the default silence limit of `clean`, the month the
    fiscal year starts (its quarters are the reports' `--period quarter`), the locale
    that writes amounts and dates for people, the order of day and month in typed dates, how long a
    command waits for another one's lock, and for a PostgreSQL server to answer."""

    db: str | None = setting(None)
    user: str | None = setting(None)  # who makes the changes, as history records them (after --as, PIPECLI_USER)
    currency: str = setting("EUR")
    stale_days: int = setting(14, low=1)  # the silence limit of stages that set none
    fiscal_year_start: int = setting(1, low=1, high=12)  # the month (1-12) the fiscal year and its quarters start
    locale: str | None = setting(None)  # it_IT, fr_FR, en_US...; default from LC_ALL, LC_MONETARY, LANG
    date_order: str | None = setting(None, choices=DATE_ORDERS)  # default: the locale's
    # seconds a command waits for another one's lock before giving up with one line, nothing changed:
    # SQLite's write lock (the busy timeout), PostgreSQL's keyed-import lock that add-lead takes
    lock_wait: float = setting(30.0, above=0, high=86400)
    # seconds to wait for a PostgreSQL server to answer a connection (libpq's connect_timeout: 2 at least);
    # a connect_timeout in the URL wins
    connect_timeout: int = setting(10, low=2, high=3600)


def top() -> TopLevel:
    """Return the top-level settings, checked."""
    return section(None, TopLevel)


def value(key: str, default: Any) -> Any:
    """Return a top-level setting (checked, see `TopLevel`), or `default` when the file does not set it."""
    if key not in in_force(None):
        return default
    return getattr(top(), key)


def lock_wait() -> float:
    """Return the seconds a command waits for another command's lock (config `lock_wait`, default 30)."""
    return float(value("lock_wait", 30.0))


def connect_timeout() -> int:
    """Return the seconds a PostgreSQL connection waits for the server (config `connect_timeout`, default 10)."""
    return int(value("connect_timeout", 10))


def currency() -> str:
    """Return the database's currency code (config `currency`, default EUR), checked against ISO 4217."""
    # money (and decimal) only for the currency: a TAB reads the config's `db` and nothing else
    from pipecli import money

    code = top().currency.upper()
    if not money.known_currency(code):
        raise ConfigError(f"config file {path()}: currency {top().currency!r} is not an ISO 4217 currency code")
    return code


def locale() -> str | None:
    """Return the locale that writes amounts and dates for people (`it_IT`): config `locale`, else the
    first of LC_ALL, LC_MONETARY, LANG that names one; None for the C/POSIX locale (then en_US's forms)."""
    configured = top().locale
    if configured is not None:
        name = configured.replace("-", "_").split(".")[0]
        if not _LOCALE.fullmatch(name):
            raise ConfigError(f"config file {path()}: locale must be like it_IT, fr_FR or en_US, not {configured!r}")
        return name
    for var in ("LC_ALL", "LC_MONETARY", "LANG"):
        raw = os.environ.get(var, "")
        name = raw.split(".")[0].split("@")[0]
        if _LOCALE.fullmatch(name):
            return name
        if raw:
            return None  # C, POSIX, C.UTF-8: no language
    return None


# The territories that write the month before the day, and the languages that write the year first.
_MONTH_FIRST = {"US", "PH", "FM", "MH", "PW", "BZ"}
_YEAR_FIRST = {"zh", "ja", "ko", "hu", "lt", "mn"}


def date_order() -> str | None:
    """Return how a typed `05/06` is read: config `date_order`, else the locale's (en_US mdy, it_IT
    dmy, ja_JP ymd), else None: without either, an ambiguous date is refused."""
    configured = top().date_order
    if configured is not None:
        return configured
    name = locale()
    if name is None:
        return None
    language, _, territory = name.partition("_")
    if territory in _MONTH_FIRST:
        return "mdy"
    if language in _YEAR_FIRST:
        return "ymd"
    return "dmy"
