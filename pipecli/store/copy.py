"""Moving a pipeline to another database: `pipecli db migrate-to postgresql://...`.

Every table of the schema is copied row for row, ids included, inside one transaction on the target, so
the target either holds the whole pipeline with its whole history or nothing. The source is read in one
snapshot. The target must be empty (no tables at all): copying into a database that already holds data
would mix two pipelines. After the copy, PostgreSQL's id sequences are moved past the copied ids and the
row count of every table is compared with the source's before the transaction commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from pipecli.errors import PipecliError
from pipecli.store import access, schema
from pipecli.store.db import Store
from pipecli.store.sql import SCHEMA_LOCK, serialise
from pipecli.store.target import POSTGRESQL_SCHEMES, is_url, redact

BATCH = 5000


def table_names(conn: Connection) -> list[str]:
    """Return the names of the tables in the connected database (its default schema)."""
    return sorted(inspect(conn).get_table_names())


def count_rows(conn: Connection) -> dict[str, int]:
    """Return {table: row count} for every table of the schema."""
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in schema.tables()}


def _reset_sequences(conn: Connection) -> None:
    """Move every PostgreSQL id sequence past the largest copied id, so new rows get fresh ids."""
    for table in schema.tables():
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


def copy_database(source: Connection, target: Connection) -> list[dict[str, Any]]:
    """Copy every row of every table from connection `source` into the empty database of connection
    `target` (both inside a transaction); return one record per table: rows in the source, rows copied.

    Raises PipecliError, before anything is written, when the target holds any table or the source
    holds tables this pipecli does not know; and when a count differs after the copy."""
    present = table_names(target)
    if present:
        raise PipecliError(
            f"the target database is not empty (it holds {len(present)} table(s): {', '.join(present[:5])}); "
            "migrate-to copies only into an empty database: create a new one (createdb NAME)"
        )
    known = {t.name for t in schema.tables()}
    unknown = sorted(set(table_names(source)) - known)
    if unknown:
        raise PipecliError(f"the source holds tables pipecli does not know ({', '.join(unknown)}); nothing was copied")
    serialise(target, SCHEMA_LOCK)  # no pipecli creates a schema meanwhile
    schema.tables()[0].metadata.create_all(target)
    access.enable(target)  # the copy's policies, as a new database's
    expected = count_rows(source)
    for table in schema.tables():
        result = source.execution_options(yield_per=BATCH).execute(select(table).order_by(*table.primary_key.columns))
        for rows in result.partitions(BATCH):
            target.execute(table.insert(), [dict(r._mapping) for r in rows])
    if target.dialect.name == "postgresql":
        _reset_sequences(target)
    copied = count_rows(target)
    report: list[dict[str, Any]] = [
        {"table": name, "source_rows": expected[name], "copied_rows": copied[name]} for name in expected
    ]
    wrong = [r["table"] for r in report if r["source_rows"] != r["copied_rows"]]
    if wrong:
        raise PipecliError(f"row counts differ after the copy in {', '.join(wrong)}; nothing was copied")
    return report


def migrate_to(source_store: Store, target_url: str) -> list[dict[str, Any]]:
    """Copy the pipeline of `source_store` into the empty database at `target_url`; return the per-table
    counts (see `copy_database`). The target is written in one transaction: all or nothing."""
    if not is_url(target_url):
        raise PipecliError(
            f"migrate-to needs a database URL (postgresql://user@host/db), not {target_url!r}; "
            "to copy a SQLite file use `pipecli backup FILE`"
        )
    if not target_url.startswith(POSTGRESQL_SCHEMES):
        raise PipecliError(
            f"migrate-to copies into PostgreSQL only (postgresql://user@host/db), not {redact(target_url)}"
        )
    if target_url == source_store.target:
        raise PipecliError("the target is the database in use; give another database")
    target = Store.open(target_url, migrate=False)
    try:
        with source_store.read() as source, target.write() as conn:
            return copy_database(source, conn)
    finally:
        target.dispose()
