"""SQL text helpers shared by every module that writes SQL by hand: reading rows fast, binding lists,
and building CASE expressions from Python mappings, each in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import CursorResult, bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pipecli.errors import PipecliError


def fetch_rows(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Return all rows of `sql` (named `:params`) as plain tuples. On SQLite it goes straight to the
    driver's cursor, skipping SQLAlchemy's per-row result processing: for reports of hundreds of
    thousands of rows that processing costs more than the query."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        assert driver is not None  # an open connection has its driver's
        rows: list[tuple[Any, ...]] = driver.execute(sql, params).fetchall()
        return rows
    return [tuple(r) for r in conn.execute(text(sql), params)]


def execute_in(conn: Connection, sql: str, **params: Any) -> CursorResult[*tuple[Any, ...]]:
    """Execute `sql` and return its result; parameters given as lists fill `IN :name` (one bound value per
    item)."""
    lists = [k for k, v in params.items() if isinstance(v, list)]
    stmt = text(sql).bindparams(*(bindparam(k, expanding=True) for k in lists))
    return conn.execute(stmt, params)


# PostgreSQL advisory lock numbers: each names one thing only one transaction at a time may do.
SCHEMA_LOCK = 7071  # creating or migrating the schema (a migration, `db migrate-to`)
KEYED_IMPORT_LOCK = 7072  # a keyed import's read-then-insert of its keys, and add-lead's (duplicates, then insert)
HOLDERS = {SCHEMA_LOCK: "a schema migration", KEYED_IMPORT_LOCK: "a keyed import (`import --key`) or an add-lead"}
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait cut short by lock_timeout


def serialise(conn: Connection, lock: int, wait: Callable[[], float] | None = None, session: bool = False) -> None:
    """Wait until no other transaction holds `lock` and hold it until this one ends (PostgreSQL; nothing
    to do on SQLite, whose writers are serialised already by BEGIN IMMEDIATE). For a read-then-write that
    no index guards: two concurrent keyed imports would each find a key missing and each insert it. With
    `session`, hold it until the connection lets it go (`pg_advisory_unlock`), past this transaction: the
    lock of a write run again after PostgreSQL aborted it (`Store.holding`).

    With `wait`, wait at most the seconds `wait()` returns (asked only when another transaction holds the
    lock; the server's lock_timeout, for this one wait), then raise PipecliError in one line: the
    transaction is then aborted, so nothing it wrote is kept."""
    if conn.dialect.name != "postgresql":
        return
    scope, local = ("", "false") if session else ("_xact", "true")
    if wait is None:
        conn.execute(text(f"SELECT pg_advisory{scope}_lock(:n)"), {"n": lock})
        return
    if conn.execute(text(f"SELECT pg_try_advisory{scope}_lock(:n)"), {"n": lock}).scalar_one():
        return  # free (or held by this transaction already): no timeout to set
    seconds = wait()
    before = conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    conn.execute(text(f"SELECT set_config('lock_timeout', :t, {local})"), {"t": f"{max(1, round(seconds * 1000))}ms"})
    try:
        conn.execute(text(f"SELECT pg_advisory{scope}_lock(:n)"), {"n": lock})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise PipecliError(
            f"gave up after waiting {seconds:g}s for {HOLDERS[lock]} running on this database to finish (config"
            " `lock_wait` sets how long to wait); nothing was changed: try again"
        ) from None
    conn.execute(
        text(f"SELECT set_config('lock_timeout', :t, {local})"), {"t": before}
    )  # for the transaction's (or the session's) other waits


def case(column: str, mapping: Mapping[Any, Any], prefix: str, default: str = "NULL") -> tuple[str, dict[str, Any]]:
    """Return `CASE column WHEN :k THEN :v ... ELSE default END` over `mapping`, with its parameters
    named after `prefix` (distinct per CASE in one statement), so no value is ever written into SQL text."""
    if not mapping:
        return default, {}
    parts: list[str] = []
    params: dict[str, Any] = {}
    for i, (key, value) in enumerate(sorted(mapping.items())):
        parts.append(f"WHEN :{prefix}k{i} THEN :{prefix}v{i}")
        params[f"{prefix}k{i}"], params[f"{prefix}v{i}"] = key, value
    return f"CASE {column} {' '.join(parts)} ELSE {default} END", params
