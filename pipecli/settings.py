"""The settings a team shares, kept in the database: `pipecli settings get|set|unset|list|import`.

What belongs to the data — its currency, the silence limit of `clean`, scoring, forecast, clean and
qualification rules — is the same for everyone who opens the database, so it lives there (table
`setting`, one row per dotted key, the value as JSON). The config file keeps what is personal (where the
database is, who you are, locale, date order, mail). Layering (`config.in_force`): **the database's value
wins**, then the config file's, then the default; a config file that still sets a key the database holds
otherwise gets a warning naming the database's value. The keys and their limits are the sections' own
specs (`specs()`), checked by the one checker (`config.check`); a mistyped key gets the closest known one.

Every change is one transaction and one journal entry (`store.journal`: author and time), so `changes`
lists it and `undo` reverts it. A currency change on a database that holds amounts is refused: the amounts
are integers in the old currency's minor units and would be misread.

**Adoption** (`adopt`): a database that holds no shared setting and never adopted any takes the shared
keys of the config file of whoever first writes to it (the command line hooks it into that write's
transaction, `Store.first_write`), as a journal entry of its own ahead of the command's, and says so once;
from then on the file's keys are the database's, and a file that sets one otherwise is warned about. The
meta key `ADOPTED` records that it happened, so a database whose settings were all unset later does not
adopt again; `settings import` records it too. A write by someone who may not change settings (a seller
or manager on PostgreSQL) adopts nothing: the team admin's first write does.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, config, money
from pipecli.config import ConfigError
from pipecli.errors import PipecliError
from pipecli.store import access, files, journal

PERSONAL_SECTIONS = ("mail",)  # read from the config file only
ADOPTED = "settings_adopted"  # meta: when (epoch seconds) and from which file the database adopted settings
_specs: dict[str | None, type[Any]] = {}


def specs() -> dict[str | None, type[Any]]:
    """Return the spec of each shared section (None: the top-level keys, of which only config.SHARED_TOP
    are shared)."""
    if not _specs:
        # start-up: the forecast's spec module loads numpy, and every write command imports this module
        # to see whether its database adopts settings (`adopt`)
        from pipecli.qualify import QualificationSection
        from pipecli.reports.clean import CleanSection
        from pipecli.reports.forecast import Settings as ForecastSection
        from pipecli.scoring.rules import ScoringSection

        _specs.update(
            {
                None: config.TopLevel,
                "scoring": ScoringSection,
                "forecast": ForecastSection,
                "clean": CleanSection,
                "qualification": QualificationSection,
            }
        )
    return _specs


@dataclass(frozen=True)
class Setting:
    """One shared setting as `settings list` shows it: its value in force, where that comes from
    (`database`, `config file` or `default`), and for a database value who set it when."""

    key: str
    value: Any
    source: str
    set_by: str | None = None
    set_at: int | None = None


def known_keys() -> list[str]:
    """Return every dotted key a team shares, in the order `settings list` shows them."""
    keys = list(config.SHARED_TOP)
    for name in config.SHARED_SECTIONS:
        keys += [f"{name}.{key}" for key in config.spec_fields(specs()[name])]
    return keys


def _split(key: str) -> tuple[str | None, str]:
    """Return (section, key in it) of a known dotted key; raise naming the closest key for an unknown one
    and saying where a personal one belongs."""
    key = key.strip()
    head, dot, rest = key.partition(".")
    personal = list(config.spec_fields(config.TopLevel).keys() - set(config.SHARED_TOP))
    if (not dot and key in personal) or (dot and head in PERSONAL_SECTIONS):
        raise ConfigError(
            f"{key} is a personal setting: set it in your config file ({config.path()}), not the database"
        )
    if key not in known_keys():
        close = config.closest(key, known_keys())
        hint = f"; did you mean {close}?" if close else " (see `pipecli settings list`)"
        raise ConfigError(f"{key} is not a shared setting{hint}")
    return (head, rest) if dot else (None, key)


def _default(section: str | None, key: str) -> Any:
    field = config.spec_fields(specs()[section])[key]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def parse_value(key: str, raw: str) -> Any:
    """Return the value typed for `key` (`20`, `true`, `["need", "budget"]`, `{email = 5}`, `JPY`) as
    the setting takes it: TOML syntax, except that a text setting takes the words as typed; raise
    ConfigError when it does not fit the key's type and limits."""
    section, name = _split(key)
    spec = specs()[section]
    hint = typing.get_type_hints(spec)[config.spec_fields(spec)[name].name]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    is_text = hint is str or (optional and str in typing.get_args(hint))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # the key's check says what it must be
    if is_text and not isinstance(value, str):
        value = raw
    return _checked(key, value, "setting")


def _checked(key: str, value: Any, where: str) -> Any:
    """Return `value` of `key` as stored (a currency code in capitals), or raise ConfigError starting with
    `where` when the key's spec refuses it (`config.check`) or a currency is not ISO 4217."""
    section, name = _split(key)
    value = config.check(specs()[section], section, name, value, where)
    if key == "currency":
        value = value.strip().upper()
        if not money.known_currency(value):
            raise ConfigError(f"{where} currency {value!r} is not an ISO 4217 currency code")
    return value


def listing(conn: Connection) -> list[Setting]:
    """Return every shared setting in force, in `known_keys` order, with where its value comes from."""
    stored = {r.key: r for r in conn.execute(text("SELECT key, value, set_by, set_at FROM setting"))}
    shown = []
    for key in known_keys():
        if key in stored:
            row = stored[key]
            shown.append(Setting(key, json.loads(row.value), "database", row.set_by, row.set_at))
            continue
        mine = config.file_value(key)
        if mine is not None:
            shown.append(Setting(key, mine, "config file"))
        else:
            shown.append(Setting(key, _default(*_split(key)), "default"))
    return shown


def get(conn: Connection, key: str) -> Setting:
    """Return the shared setting `key` in force (raise for an unknown or personal key)."""
    _split(key)
    return next(s for s in listing(conn) if s.key == key.strip())


def _refuse_currency_change(conn: Connection, current: str, new: str) -> None:
    """Raise when the database holds amounts (in `current`) and `new` is another currency."""
    if new == current:
        return
    count = conn.execute(text("SELECT COUNT(*) FROM lead WHERE value_minor IS NOT NULL")).scalar_one()
    if count:
        raise PipecliError(
            f"currency stays {current}: {count} lead(s) hold amounts in {current}'s minor units, which {new} "
            "would misread (no conversion is made); nothing was changed"
        )


def _installed(conn: Connection) -> None:
    """Install the database's settings as they now are, for the rest of this invocation."""
    config.use_database({key: json.loads(value) for key, value in conn.execute(text("SELECT key, value FROM setting"))})


def set_value(conn: Connection, key: str, raw: str) -> Setting:
    """Set the shared setting `key` to the value typed (`parse_value`) for everyone using the database,
    journalled with its author and time; return it as now in force."""
    key = key.strip()
    value = parse_value(key, raw)
    if key == "currency":
        _refuse_currency_change(conn, config.currency(), value)
    _write(conn, key, value)
    _installed(conn)
    return get(conn, key)


def _write(conn: Connection, key: str, value: Any) -> None:
    """Insert or update the row of `key` (one journal event either way)."""
    access.require_admin(conn, "change settings")
    entry = journal.journal_of(conn)
    entry.entry_id(conn)  # the author is resolved with the entry (on PostgreSQL, the role)
    row = {"value": json.dumps(value, ensure_ascii=False), "set_at": clock.now_ts(), "set_by": entry.actor}
    if conn.execute(text("SELECT 1 FROM setting WHERE key = :k"), {"k": key}).first() is None:
        journal.insert_row(conn, "setting", {"key": key, **row})
    else:
        journal.update_rows(conn, "setting", {"key": key}, row)


def unset(conn: Connection, key: str) -> Setting:
    """Remove the database's value of `key` (journalled); return the setting as now in force (the config
    file's value or the default). Raises when the database does not set it."""
    key = key.strip()
    _split(key)
    if conn.execute(text("SELECT 1 FROM setting WHERE key = :k"), {"k": key}).first() is None:
        raise PipecliError(f"the database does not set {key}; nothing was changed")
    access.require_admin(conn, "change settings")
    before = config.currency()
    journal.delete_rows(conn, "setting", {"key": key})
    _installed(conn)
    if key == "currency":
        _refuse_currency_change(conn, before, config.currency())  # now the file's, or the default
    return get(conn, key)


def _shared_of(data: dict[str, Any], source: Path) -> dict[str, Any]:
    """Return the shared settings a TOML file's `data` sets, by dotted key, unchecked."""
    found: dict[str, Any] = {k: data[k] for k in config.SHARED_TOP if k in data}
    for name in config.SHARED_SECTIONS:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        found.update({f"{name}.{k}": v for k, v in table.items()})
    return found


def import_file(conn: Connection, file: Path | None) -> list[Setting]:
    """Copy every shared setting a TOML file sets (default: the user's config file) into the database, in
    one transaction; return those set. A team adopts one person's settings this way."""
    source = file or config.path()
    try:
        data = tomllib.loads(files.read_bytes(source).decode("utf-8"))
    except PipecliError as exc:
        raise ConfigError(str(exc)) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source} cannot be read: {exc}") from None
    found = _shared_of(data, source)
    if not found:
        raise PipecliError(f"{source} sets no shared setting; nothing was changed")
    for key, value in found.items():
        checked = _checked(key, value, f"{source}:")
        if key == "currency":
            _refuse_currency_change(conn, config.currency(), checked)
        _write(conn, key, checked)
    _mark_adopted(conn, source)
    _installed(conn)
    return [s for s in listing(conn) if s.key in found]


def _mark_adopted(conn: Connection, source: Path) -> None:
    """Record in meta that the database adopted settings (from `source`, now): it never adopts again."""
    if conn.execute(text("SELECT 1 FROM meta WHERE key = :k"), {"k": ADOPTED}).first() is None:
        conn.execute(
            text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": ADOPTED, "v": f"{clock.now_ts()} {source}"}
        )


def adopt(conn: Connection) -> list[Setting]:
    """Adopt the writer's config file's shared settings into a database that holds none and never adopted
    any (see the module docstring), as a journal entry of its own; return those adopted (empty when there
    was nothing to adopt). Cheap when there is nothing to do: the config file is read first, and a
    database that adopted answers one query. Raise ConfigError, naming the file and the key, when a value
    the file sets is not valid (nothing is adopted, and the write fails whole)."""
    wanted = config.shared_in_file()
    if not wanted:
        return []
    if not access.may_change_settings(conn):
        return []  # only an admin changes settings: the admin's first write adopts theirs
    if conn.execute(text("SELECT 1 FROM meta WHERE key = :k"), {"k": ADOPTED}).first() is not None:
        return []
    source = config.path()
    if conn.execute(text("SELECT 1 FROM setting")).first() is not None:
        _mark_adopted(conn, source)  # set by `settings set` before any adoption: the database has its own
        return []
    checked = {key: _checked(key, value, f"config file {source}:") for key, value in wanted.items()}
    command = journal.journal_of(conn)
    adoption = journal.Journal(
        dataclasses.replace(
            command.invocation,
            command=f"adopt the shared settings of {source} (on the first write: {command.invocation.command})",
        )
    )
    conn.info[journal.KEY] = adoption
    try:
        for key, value in checked.items():
            _write(conn, key, value)
    finally:
        conn.info[journal.KEY] = command
    _mark_adopted(conn, source)
    _installed(conn)
    return [s for s in listing(conn) if s.key in checked]
