"""The journal: who changed what, in which command invocation, and the events each change leaves.

A `Store` carries one `Journal` for the invocation (its actor and command line). The first change a
write transaction records creates the invocation's `journal` row; every later event of the invocation
shares its id, so `undo` can revert a whole command. A transaction that rolls back takes its journal row
with it, and the next write creates a new one.

Events are written by the helpers here, which know tables, not leads: `record` for one field of a lead
(old and new value as text), `insert_row` / `update_rows` / `delete_rows` for whole rows of any table
(kept as JSON, so a deleted row can be put back exactly). `decode` turns a stored text back into the
column's Python value. `nested_rows` reads the rows a creation event carries (`WITH_ROWS`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock
from pipecli.errors import PipecliError
from pipecli.store.columns import NESTED_COLUMNS, SNAPSHOT_COLUMNS

KEY = "pipecli_journal"  # where a write connection carries its journal (Connection.info)
# The member of a lead's creation event that holds the rows inserted with the lead (history, notes,
# extras: table -> rows) when they are recorded with it instead of one event each (the import's bulk
# writer); a replay reads them as inserted with the lead.
WITH_ROWS = "_rows"
NESTED_TABLES = tuple(NESTED_COLUMNS)


def resolve_actor(explicit: str | None = None) -> tuple[str, bool]:
    """Return who is acting and whether they were named explicitly: `--as NAME` > `PIPECLI_USER` >
    config `user` > the operating system's login name."""
    name, source = actor_source(explicit)
    return name, source == "option"


def actor_source(explicit: str | None = None) -> tuple[str, str]:
    """Return who is acting and where the name came from: "option" (`--as`), "env" (`PIPECLI_USER`),
    "config" (`user`) or "login" (the operating system's login name, which on PostgreSQL gives way to
    the connection's role: the name the server knows the author by)."""
    if explicit and explicit.strip():
        return explicit.strip(), "option"
    env = os.environ.get("PIPECLI_USER", "").strip()
    if env:
        return env, "env"
    from pipecli import config  # the config file is read only when a command writes

    configured = str(config.value("user", "") or "").strip()
    if configured:
        return configured, "config"
    import getpass

    try:
        return getpass.getuser(), "login"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown", "login"


@dataclass(frozen=True)
class Invocation:
    """Who runs the command and its command line, as the journal records them."""

    actor: str
    command: str
    explicit_actor: bool = False
    from_login: bool = False  # the actor is only the login name: on PostgreSQL the role names the author

    @classmethod
    def current(cls, command: str = "pipecli", actor: str | None = None) -> Invocation:
        """Return the invocation of `command`, with the actor resolved as `actor_source` says."""
        name, source = actor_source(actor)
        return cls(name, command, source == "option", source == "login")


class Journal:
    """The invocation's journal entry, created in the database on the first change recorded."""

    def __init__(self, invocation: Invocation | None = None):
        self.invocation = invocation or Invocation.current()
        self.entry: int | None = None
        self._created_in: object | None = None  # the transaction that inserted the entry
        self.undoes: int | None = None
        self.actor = self.invocation.actor  # who the entry names: on PostgreSQL, the role when no name was given

    def entry_id(self, conn: Connection) -> int:
        """Return the id of this invocation's journal row, inserting it on first use."""
        if self.entry is not None:
            return self.entry
        role = None
        if conn.dialect.name == "postgresql":
            role = conn.execute(text("SELECT current_user")).scalar_one()
            if self.invocation.explicit_actor:
                known = conn.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": self.invocation.actor}
                ).first()
                if known is None:
                    raise PipecliError(
                        f"--as {self.invocation.actor}: no such user on this PostgreSQL server; nothing was changed"
                    )
        self.actor = self.invocation.actor if role is None or not self.invocation.from_login else role
        self.entry = conn.execute(
            text("INSERT INTO journal (at, actor, db_role, command, undoes) VALUES (:a, :u, :r, :c, :d) RETURNING id"),
            {
                "a": clock.now_ts(),
                "u": self.actor,
                "r": role,
                # a description of the command, not data: a NUL shown, so the refusal names the value itself
                "c": self.invocation.command.replace("\0", "\\x00"),
                "d": self.undoes,
            },
        ).scalar_one()
        self._created_in = conn.get_transaction()
        return self.entry

    def rolled_back(self) -> None:
        """Forget an entry its transaction did not keep."""
        if self._created_in is not None:
            self.entry = None
            self._created_in = None

    def committed(self) -> None:
        """Keep the entry for the rest of the invocation."""
        self._created_in = None


def journal_of(conn: Connection) -> Journal:
    """Return the journal of a write connection (`Store.write` attaches one; a bare one gets its own)."""
    journal = conn.info.get(KEY)
    if journal is None:
        journal = conn.info[KEY] = Journal()
    return journal


def encode(value: Any) -> str | None:
    """Return a column value as the text an event stores (None stays None; dates in ISO form)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _column(table: str, column: str) -> Any:
    # the models only for a write: a command that only reads opens the database without building them
    from pipecli.store.schema import METADATA

    return METADATA.tables[table].c[column]


def decode(table: str, column: str, value: Any) -> Any:
    """Return `value` (an event's text, or a JSON value) as the Python value of `table.column`."""
    if value is None:
        return None
    kind = _column(table, column).type.python_type
    if kind is bool:
        return value in (True, 1, "1", "true", "True")
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    if kind is _dt.date:
        return value if isinstance(value, _dt.date) else _dt.date.fromisoformat(str(value)[:10])
    return str(value)


def row_json(row: dict[str, Any]) -> str:
    """Return a row as the JSON an event stores (dates as ISO text, booleans as 0/1 on both backends)."""
    return json.dumps(
        {
            k: (int(v) if isinstance(v, bool) else v.isoformat() if isinstance(v, _dt.date) else v)
            for k, v in row.items()
        },
        default=str,
    )


def record(conn: Connection, lead_id: int | None, field: str, old: Any, new: Any, at: int | None = None) -> None:
    """Record that `field` of lead `lead_id` went from `old` to `new` at `at` (default now)."""
    _insert_event(conn, lead_id, field, encode(old), encode(new), at)


def record_row(
    conn: Connection,
    table: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    lead_id: int | None,
    at: int | None,
) -> None:
    """Record a row of `table` inserted (old None), updated, or deleted (new None)."""
    _insert_event(
        conn,
        lead_id,
        f"row:{table}",
        None if old is None else row_json(old),
        None if new is None else row_json(new),
        at,
    )


def _insert_event(
    conn: Connection, lead_id: int | None, field: str, old: str | None, new: str | None, at: int | None
) -> None:
    """Write one event of this invocation's journal entry (created on the first one)."""
    insert_events(conn, [event_values(lead_id, field, old, new, at)])


def event_values(lead_id: int | None, field: str, old: str | None, new: str | None, at: int | None) -> dict[str, Any]:
    """Return one event as `insert_events` takes it (`at` default now; old and new as stored, `encode`d)."""
    return {"l": lead_id, "a": clock.now_ts() if at is None else at, "f": field, "o": old, "n": new}


def row_event(table: str, new: dict[str, Any], lead_id: int | None, at: int | None) -> dict[str, Any]:
    """Return the event of a row of `table` inserted (as `record_row` records it), for `insert_events`."""
    return event_values(lead_id, f"row:{table}", None, row_json(new), at)


def insert_events(conn: Connection, events: list[dict[str, Any]]) -> None:
    """Write events (`event_values`) of this invocation's journal entry in order, in one executemany: what a
    writer of many rows uses instead of one `record` or `record_row` statement each."""
    if not events:
        return
    entry = journal_of(conn).entry_id(conn)
    conn.execute(
        text("INSERT INTO event (journal_id, lead_id, at, field, old, new) VALUES (:j, :l, :a, :f, :o, :n)"),
        [{"j": entry, **e} for e in events] if len(events) > 1 else {"j": entry, **events[0]},
    )


def primary_key(table: str) -> list[str]:
    """Return the names of `table`'s primary-key columns."""
    # the models only for a write: a command that only reads opens the database without building them
    from pipecli.store.schema import METADATA

    return [c.name for c in METADATA.tables[table].primary_key.columns]


def insert_many(conn: Connection, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert rows (each with the same columns) into `table` in one executemany and return them as stored
    (with their ids), in order; record nothing: the caller records them (`row_event`, `insert_events`)."""
    from pipecli.store.schema import METADATA  # as `_column`: the models only for a write

    columns = METADATA.tables[table]
    found = conn.execute(columns.insert().returning(*columns.c, sort_by_parameter_order=True), rows)
    return [dict(row) for row in found.mappings()]


def insert_row(
    conn: Connection, table: str, values: dict[str, Any], lead_id: int | None = None, at: int | None = None
) -> dict[str, Any]:
    """Insert one row into `table`, record it, and return the row as stored (with its id)."""
    names = list(values)
    row = (
        conn.execute(
            text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) RETURNING *"),
            values,
        )
        .mappings()
        .one()
    )
    inserted = dict(row)
    record_row(conn, table, None, inserted, lead_id, at)
    return inserted


def _where(keys: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return " AND ".join(f"{k} = :w_{k}" for k in keys), {f"w_{k}": v for k, v in keys.items()}


def update_rows(
    conn: Connection,
    table: str,
    keys: dict[str, Any],
    sets: dict[str, Any],
    lead_id: int | None = None,
    at: int | None = None,
) -> int:
    """Set `sets` on the rows of `table` matching `keys` (column = value), record each change, and return
    how many rows changed."""
    where, params = _where(keys)
    before = [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} WHERE {where}"), params).mappings()]
    pk = primary_key(table)
    changed = 0
    for old in before:
        new = {**old, **sets}
        if new == old:
            continue
        row_where, row_params = _where({k: old[k] for k in pk})
        conn.execute(
            text(f"UPDATE {table} SET {', '.join(f'{k} = :s_{k}' for k in sets)} WHERE {row_where}"),
            {**row_params, **{f"s_{k}": v for k, v in sets.items()}},
        )
        record_row(conn, table, old, new, lead_id, at)
        changed += 1
    return changed


def delete_rows(
    conn: Connection, table: str, keys: dict[str, Any], lead_id: int | None = None, at: int | None = None
) -> int:
    """Delete the rows of `table` matching `keys`, each recorded whole; return how many were deleted."""
    where, params = _where(keys)
    rows = [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} WHERE {where}"), params).mappings()]
    for row in rows:
        record_row(conn, table, row, None, row.get("lead_id", lead_id) if table != "lead" else row["id"], at)
    if rows:
        conn.execute(text(f"DELETE FROM {table} WHERE {where}"), params)
    return len(rows)


def restore_row(conn: Connection, table: str, row: dict[str, Any]) -> None:
    """Insert a row recorded as JSON back into `table`, with its own id, and record the insertion."""
    values = {k: decode(table, k, v) for k, v in row.items()}
    names = list(values)
    conn.execute(text(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"), values)
    lead_id = row.get("lead_id") if table != "lead" else row.get("id")
    record_row(conn, table, None, values, lead_id, None)
    if conn.dialect.name == "postgresql" and "id" in values and primary_key(table) == ["id"]:
        # a row put back with its own id must not be handed out again by the sequence
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {table}), nextval(pg_get_serial_sequence('{table}', 'id')) - 1))"
            )
        )


def load_row(table: str, value: str | None) -> dict[str, Any] | None:
    """Return a row event's JSON (`old` or `new`) as a dict. A lead's creation event written by the bulk
    import is a JSON array instead (its `SNAPSHOT_COLUMNS` values, then the rows inserted with it, see
    `WITH_ROWS`), a third the size of the object: this is the one place that reads both."""
    if value is None:
        return None
    row = json.loads(value)
    if isinstance(row, list):
        values = dict(zip(SNAPSHOT_COLUMNS, row))
        if table == "lead" and len(row) > len(SNAPSHOT_COLUMNS):
            values[WITH_ROWS] = row[len(SNAPSHOT_COLUMNS)]
        return values
    return dict(row)


def nested_columns(table: str) -> list[str]:
    """Return the columns of a row nested in a creation event (`WITH_ROWS`): the table's, but `lead_id`."""
    return list(NESTED_COLUMNS[table])


def nested_rows(new: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """Return the (table, row) pairs a lead's creation event (`load_row`) carries under `WITH_ROWS`: rows
    inserted with the lead and recorded with its creation (each a JSON array of `nested_columns`)
    rather than as events of their own."""
    if not new:
        return []
    return [
        (table, {"lead_id": new["id"], **dict(zip(nested_columns(table), row))})
        for table, rows in (new.get(WITH_ROWS) or {}).items()
        for row in rows or ()
    ]
