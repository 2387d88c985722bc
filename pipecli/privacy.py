"""Erasing a person: `pipecli forget EMAIL|ID`, the right to erasure.

`find_person` names the leads that are that person (an id, or every lead with that email address, in any
letter case); `forget` deletes them with every row about them (history, activities and notes, extra
fields, qualification answers: every table with a `lead_id`) in one transaction, with their events; the
journal entries that touched them lose their command line (it may hold the name) and those left with no
event go. Nothing of the erasure is journaled: an erasure cannot be undone. Deleted rows can linger
in a database's free pages and in SQLite's write-ahead log, so `compact` then rewrites the file: WAL
checkpoint, VACUUM, and a checkpoint that truncates the WAL to zero bytes. On PostgreSQL the tables are
rewritten with VACUUM FULL; the server's own WAL archive and older backups are outside pipecli's reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli.errors import NotFound, PipecliError
from pipecli.history import merged_into
from pipecli.store.schema import lead_tables
from pipecli.store.sql import execute_in

if TYPE_CHECKING:
    from pipecli.store.db import Store


def find_person(conn: Connection, who: str) -> list[dict[str, Any]]:
    """Return the leads (id, name, email) that `who` names: a lead id, or an email address."""
    who = (who or "").strip()
    if who.isdigit():
        rows = conn.execute(text("SELECT id, name, email FROM lead WHERE id = :i"), {"i": int(who)})
    elif "@" in who:
        rows = conn.execute(
            text("SELECT id, name, email FROM lead WHERE lower(email) = lower(:e) ORDER BY id"), {"e": who}
        )
    else:
        raise PipecliError(f"give a lead id or an email address, not {who!r}")
    found = [dict(r) for r in rows.mappings()]
    if not found:
        raise NotFound(f"no lead is {who!r} (nothing was changed)")
    return found


def forget(conn: Connection, who: str) -> dict[str, Any]:
    """Delete every lead `who` names with all rows about them; return {leads, rows} (ids and counts).

    Run `compact` after the transaction commits so the bytes leave the file too."""

    people = find_person(conn, who)
    ids = [p["id"] for p in people]
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")  # freed pages are zeroed, whatever the build's default
    rows = {}
    for table in lead_tables():
        rows[table] = sum(
            conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE lead_id = :l"), {"l": i}).scalar_one() for i in ids
        )
    # the events of leads merged into them are theirs too (their names, addresses): erased with them
    with_merged = ids + [merged for i in ids for merged, _ in merged_into(conn, i)]
    for lead_id in ids:
        for table in lead_tables():
            conn.execute(text(f"DELETE FROM {table} WHERE lead_id = :l"), {"l": lead_id})
        conn.execute(text("DELETE FROM lead WHERE id = :l"), {"l": lead_id})
    entries = execute_in(conn, "SELECT DISTINCT journal_id FROM event WHERE lead_id IN :ids", ids=with_merged)
    entry_ids = [r[0] for r in entries]
    rows["event"] = execute_in(conn, "DELETE FROM event WHERE lead_id IN :ids", ids=with_merged).rowcount
    if entry_ids:
        execute_in(conn, "UPDATE journal SET command = '(erased)' WHERE id IN :ids", ids=entry_ids)
        execute_in(
            conn,
            "DELETE FROM journal WHERE id IN :ids AND NOT EXISTS (SELECT 1 FROM event e WHERE e.journal_id = journal.id)",
            ids=entry_ids,
        )
    rows["lead"] = len(ids)
    return {"leads": people, "rows": rows}


def compact(store: Store) -> dict[str, Any]:
    """Rewrite the database so deleted rows leave no bytes behind; return {wal_bytes} (0 when the WAL
    was truncated; more when another process was reading and the WAL could not be emptied)."""
    raw = store.engine.raw_connection()  # outside a transaction: VACUUM cannot run inside one
    driver: Any = raw.driver_connection  # sqlite3's or psycopg's connection, open while `raw` is
    try:
        if store.is_sqlite:
            assert store.path is not None  # a SQLite store is a file
            db = driver
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            wal = store.path.with_name(store.path.name + "-wal")
            return {"wal_bytes": wal.stat().st_size if wal.exists() else 0, "busy": bool(busy)}
        # local by history only (no cycle, no start-up cost): may move to the top
        from pipecli.store.schema import lead_tables

        driver.autocommit = True  # VACUUM cannot run inside a transaction
        try:
            for table in ["lead", "event", "journal", *lead_tables()]:
                driver.execute(f"VACUUM (FULL) {table}")
        finally:
            driver.autocommit = False
        return {"wal_bytes": None, "busy": False}
    finally:
        raw.close()
