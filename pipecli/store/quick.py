"""Read-only lookups fast enough for a TAB: the candidates shell completion offers (leads, stages,
pipelines, owners, sources).

The shell starts `pipecli` at every TAB, so these read the database with the standard library's sqlite3
(psycopg straight away on PostgreSQL), never SQLAlchemy, and open SQLite files read-only (`mode=ro`): a
completion never creates, migrates or locks a database. Each function returns an empty list when the
database is missing or cannot be read: a TAB offers nothing rather than an error.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from pipecli.store.target import is_url

LIMIT = 50  # candidates per TAB: a shell lists them all, so more is noise


def _rows(target: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the rows of one query (written with `?` placeholders) on `target`, or [] when it fails."""
    if is_url(target):
        try:
            # psycopg is the optional `postgres` extra: only a completion on PostgreSQL needs it
            import psycopg

            with psycopg.connect(target, connect_timeout=2) as pg:
                return list(pg.execute(sql.replace("?", "%s"), params).fetchall())
        except Exception:  # no driver, no server, no schema: no candidates
            return []
    if not Path(target).is_file():
        return []
    try:
        conn = sqlite3.connect(f"{Path(target).absolute().as_uri()}?mode=ro", uri=True, timeout=0.5)
    except sqlite3.Error:
        return []
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error:  # not a pipecli database, or an older schema
        return []
    finally:
        conn.close()


def _starts(target: str, column: str) -> str:
    """Return the condition "`column` starts with the `?` pattern (`_prefix`), any case" on `target`.

    SQLite's LIKE already ignores case, for exactly the letters its lower() folds (ASCII), so on a file the
    column is compared as it is: the same rows as `lower(column) LIKE`, without a function call per row
    (half the time of a TAB's query on 10,000 leads). PostgreSQL's LIKE heeds case: there it is lowered."""
    return f"{'lower(' + column + ')' if is_url(target) else column} LIKE ? ESCAPE '\\'"


def _prefix(typed: str) -> str:
    """Return the LIKE pattern of values starting with `typed` (lower case; % and _ taken literally)."""
    escaped = typed.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


_LEAD = (
    "SELECT l.id, l.name, l.company, l.email, s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE {where} "
    "ORDER BY {order} LIMIT " + str(LIMIT)
)


def leads(target: str, typed: str) -> list[tuple[int, str, str | None, str | None, str]]:
    """Return (id, name, company, email, stage) of the leads a LEAD argument starting with `typed` may
    mean: nothing (or #) typed, the most recently active open leads; digits (or #digits), the ids starting with
    them; text, the leads whose name, company or e-mail starts with it (any case)."""
    digits = typed[1:] if typed.startswith("#") else typed
    if not digits:
        sql = _LEAD.format(where="l.status = 'open' AND l.archived_at IS NULL", order="l.last_event_at DESC, l.id")
        return _rows(target, sql)
    if digits.isdigit():
        sql = _LEAD.format(where="CAST(l.id AS TEXT) LIKE ?", order="l.id")
        return _rows(target, sql, (digits + "%",))
    where = " OR ".join(_starts(target, f"l.{c}") for c in ("name", "company", "email"))
    sql = _LEAD.format(where=where, order="l.archived_at IS NOT NULL, l.status <> 'open', l.name, l.id")
    return _rows(target, sql, (_prefix(typed),) * 3)


def _lead_pipeline(target: str, lead: str) -> int | None:
    """Return the pipeline id of the lead `lead` names by id, #id, exact e-mail or external id (None if none)."""
    digits = lead[1:] if lead.startswith("#") else lead
    if digits.isdigit():
        found = _rows(target, "SELECT pipeline_id FROM lead WHERE id = ?", (int(digits),))
    else:
        found = _rows(
            target,
            "SELECT pipeline_id FROM lead WHERE lower(email) = lower(?) OR external_id = ? LIMIT 1",
            (lead, lead),
        )
    return int(found[0][0]) if found else None


def stages(target: str, lead: str | None = None, pipeline: str | None = None) -> list[str]:
    """Return the stage names (open stages in order, then won and lost) of `pipeline` (any case), else of
    the pipeline of the lead `lead` names, else of the default pipeline."""
    if pipeline:
        found = _rows(target, "SELECT id FROM pipeline WHERE lower(name) = lower(?)", (pipeline.strip(),))
        pipeline_id = int(found[0][0]) if found else None
    else:
        pipeline_id = _lead_pipeline(target, lead.strip()) if lead else None
        if pipeline_id is None:
            found = _rows(target, "SELECT value FROM meta WHERE key = 'default_pipeline'")
            pipeline_id = int(found[0][0]) if found else None
    if pipeline_id is None:
        return []
    sql = (
        "SELECT name FROM stage WHERE pipeline_id = ? AND NOT removed "
        "ORDER BY CASE kind WHEN 'open' THEN 0 WHEN 'won' THEN 1 ELSE 2 END, position, id"
    )
    return [row[0] for row in _rows(target, sql, (pipeline_id,))]


def pipelines(target: str) -> list[str]:
    """Return the pipelines' names, in the order they were made."""
    return [row[0] for row in _rows(target, "SELECT name FROM pipeline ORDER BY id")]


def values(target: str, column: str, typed: str) -> list[str]:
    """Return the distinct values of the lead column `column` ("owner" or "source") starting with `typed`
    (any case), the most used first."""
    if column not in ("owner", "source"):
        raise ValueError(column)
    sql = (
        f"SELECT {column} FROM lead WHERE {column} IS NOT NULL AND {_starts(target, column)} "
        f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT {LIMIT}"
    )
    return [row[0] for row in _rows(target, sql, (_prefix(typed),))]
