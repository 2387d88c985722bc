"""SQL text helpers shared by every module that writes SQL by hand: reading rows fast, binding lists,
and building CASE expressions from Python mappings, each in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, bindparam, text
from sqlalchemy.engine import Connection


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


def serialise(conn: Connection, lock: int) -> None:
    """Wait until no other transaction holds `lock` and hold it until this one ends (PostgreSQL; nothing
    to do on SQLite, whose writers are serialised already by BEGIN IMMEDIATE). For a read-then-write that
    no index guards: two concurrent keyed imports would each find a key missing and each insert it."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": lock})


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
