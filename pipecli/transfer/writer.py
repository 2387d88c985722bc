"""The bulk writer: new leads with their history, notes and extras, inserted a batch at a time.

On SQLite the rows go through the raw sqlite3 cursor of the caller's connection (executemany, inside the
caller's one write transaction); elsewhere through SQLAlchemy executemany. A lead is written as
`leads.add_lead` writes one (its derived columns from `leads.NEW_LEAD_DERIVED`, its history by
`leads.opening_changes_sql`), with its scores computed for the batch as `add_lead` scores one.

`prepare` turns checked columns into what `Writer.store` inserts without touching the database, so the
import's helper process can run it; `pack` / `unpack` carry its output across the pipe.

A big import into a smaller table may drop the secondary indexes (`Writer.go_bulk`) and build them again
at the end (`Writer.finish`), in the same transaction: one sort per index instead of a random B-tree insert
per row and index. Whether an import is big is the importer's decision, not the writer's.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from collections.abc import Callable
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, text

from pipecli.leads import NEW_LEAD_DERIVED, STAGE_CHANGE_COLUMNS, opening_changes_sql, opening_events_sql
from pipecli.pipelines import UNKNOWN_PATH
from pipecli.store import journal
from pipecli.store.matchkeys import MATCH_COLUMNS, blocks_of
from pipecli.transfer import helper
from pipecli.transfer.fastpath import Cols

SQLITE_CACHE_KB = 8192  # page cache for the bulk writes: random index inserts need it; keeps RSS < 100 MB
# With the indexes dropped: the page cache, and the memory of each sorter thread building them again (which
# SQLite sizes like the cache); keeps RSS < 100 MB with a sorter per core.
REBUILD_CACHE_KB = 2048
# Indexes an import appends to in order (new lead ids are increasing): cheaper kept than rebuilt.
APPENDED_INDEXES = {"ix_stage_change_lead", "ix_activity_lead", "ix_event_lead", "ix_event_journal", "ix_event_as_of"}
# The columns an import binds for a new lead, and the rest. "?": a text column storing "" as NULL; "#": a
# nullable number or date, which the helper process sends as text ("" for None) on SQLite.
LEAD_COLUMNS = (
    "id",
    "pipeline_id",
    "stage_id",
    "status",
    "name",
    "?company",
    "?email",
    "?phone",
    "#value_minor",
    "?source",
    "?owner",
    "#expected_close",
    "?external_id",
    "created_at",
    "#closed_at",
    "?lost_reason",
    "stage_entered_at",
    "#last_activity_at",
    "furthest_position",
    "fit_score",
    "#win_probability",
    "?forecast_category",
    "?match_email",
    "?match_phone",
    "?match_company",
)
# Which of `prepare`'s lead columns hold only strings (the others: numbers, ISO dates, None).
_LEAD_TEXT = tuple(
    c.lstrip("?#")
    in (
        "status",
        "name",
        "company",
        "email",
        "phone",
        "source",
        "owner",
        "external_id",
        "lost_reason",
        "forecast_category",
        *MATCH_COLUMNS,
    )
    for c in LEAD_COLUMNS[1:]
)
# (fits, win probabilities) of new leads given as columns with their statuses
Scores = Callable[[Cols, list[str]], tuple[list[Any], list[Any]]]
Prepared = dict[str, Any]


def prepare(cols: Cols, *, sqlite: bool, scores: Scores) -> Prepared:
    """Return new leads (`fastpath.WRITE_COLUMNS` columns) as what `Writer.store` inserts, without their
    ids: the lead columns after the id (`LEAD_COLUMNS`), the notes, the extras and the stage paths read
    from stage-date columns as (row offsets, ...) columns. `sqlite`: dates go as ISO text, which SQLite
    stores. A won or lost lead without a path entered its outcome at its close date from a stage nobody
    observed (`pipelines.UNKNOWN_PATH`); one with a path, its last stage at that stage's date."""
    created, closed, notes, stages = cols["created"], cols["closed"], cols["note"], cols["stage"]
    kinds = [s["kind"] for s in stages]
    fits, probabilities = scores(cols, kinds)
    pipeline_ids = [p["id"] for p in cols["pipeline"]]
    entered = [o if c is None else c for o, c in zip(created, closed)]  # also the last event
    furthest = [UNKNOWN_PATH if c is not None else s["position"] for s, c in zip(stages, closed)]
    paths = [(i, path) for i, path in enumerate(cols.get("path") or ()) if path]
    for i, path in paths:
        entered[i] = path[-1][1]
        furthest[i] = max((p for _, _, p in path if p is not None), default=UNKNOWN_PATH)
    expected = cols["expected"]
    if sqlite:  # SQLite stores a date as its ISO text
        iso: dict[_dt.date, str] = {}
        expected = [None if e is None else (iso[e] if e in iso else iso.setdefault(e, e.isoformat())) for e in expected]
    noted = [i for i, n in enumerate(notes) if n]
    extras = [(i, k, v) for i, pairs in enumerate(cols["extras"]) if pairs for k, v in pairs]
    return {
        "n": len(created),
        "lead": [
            pipeline_ids,
            [s["id"] for s in stages],
            kinds,
            cols["name"],
            cols["company"],
            cols["email"],
            cols["phone"],
            cols["value"],
            cols["source"],
            cols["owner"],
            expected,
            cols["external_id"],
            created,
            closed,
            cols["lost_reason"],
            entered,
            [o if n else None for o, n in zip(created, notes)],
            furthest,
            fits,
            probabilities,
            cols["forecast_category"],
            *blocks_of(cols["email"], cols["phone"], cols["company"]),
        ],
        "notes": [noted, [notes[i] for i in noted], [created[i] for i in noted]],
        "extras": [list(c) for c in zip(*extras)] if extras else [[], [], []],
        "paths": paths,
    }


def pack(prepared: Prepared) -> dict[str, Any] | None:
    """Return `prepare`'s output as texts to send to the other process (`helper.pack_column`); None when a
    text holds NUL. Numbers go as digits, which SQLite's column affinity stores as numbers again."""

    def column(values: list[Any], is_text: bool) -> str | None:
        return helper.pack_column(values, is_text) if values else None

    lead = [column(values, is_text) for values, is_text in zip(prepared["lead"], _LEAD_TEXT)]
    notes = [
        column(prepared["notes"][0], False),
        column(prepared["notes"][1], True),
        column(prepared["notes"][2], False),
    ]
    extras = [
        column(prepared["extras"][0], False),
        column(prepared["extras"][1], True),
        column(prepared["extras"][2], True),
    ]
    if None in lead or (prepared["notes"][0] and None in notes) or (prepared["extras"][0] and None in extras):
        return None
    if prepared["paths"]:
        return None  # stage paths come from stage-date columns, which the helper process never reads
    return {"n": prepared["n"], "lead": lead, "notes": notes, "extras": extras}


def unpack(packed: dict[str, Any]) -> Prepared:
    """Return `pack`'s output as `Writer.store` takes it."""

    def column(text: str | None) -> list[str]:
        return [] if text is None else helper.unpack_column(text)

    notes, extras = packed["notes"], packed["extras"]
    return {
        "n": packed["n"],
        "lead": [column(text) for text in packed["lead"]],
        "notes": [list(map(int, column(notes[0]))), column(notes[1]), column(notes[2])],
        "extras": [list(map(int, column(extras[0]))), column(extras[1]), column(extras[2])],
        "paths": [],
    }


class Writer:
    """Bulk inserts into the caller's transaction: fresh lead ids, then leads, history, notes, extras."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.bulk = False  # indexes dropped, and built again at the end
        self.indexes: list[str] = []
        self.next_id = self.held = 0
        self._cursor: sqlite3.Cursor | None = None
        self._events_sql: dict[tuple[bool, bool, bool], list[str]] = {}  # `record`'s statements by shape
        self._changes_sql: str | None = None  # `_write_history`'s, for batches without stage paths
        if self.sqlite:
            driver = conn.connection.driver_connection  # None only once the connection is closed
            if not isinstance(driver, sqlite3.Connection):
                raise AssertionError(f"a SQLite connection through {type(driver).__name__}, not sqlite3")
            self._cursor = driver.cursor()
            self.cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
            self.cursor.execute("PRAGMA mmap_size = 0")  # pages read through a mapping would count in RSS
            self.held = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar_one()
            self.next_id = self.held + 1

    @property
    def cursor(self) -> sqlite3.Cursor:
        """The raw sqlite3 cursor of the caller's transaction, which the bulk statements run on (SQLite only)."""
        if self._cursor is None:
            raise AssertionError("the raw cursor is SQLite's: this database is not a SQLite file")
        return self._cursor

    @property
    def written(self) -> int:
        """Return how many leads this writer has given ids (on SQLite; 0 elsewhere)."""
        return self.next_id - 1 - self.held if self.sqlite else 0

    def go_bulk(self, keep: set[str]) -> None:
        """Drop the secondary indexes of the tables an import fills (but `keep` and the appended ones) and
        sort with more threads: for a big import into a smaller table, on SQLite."""
        if not self.sqlite or self.bulk:
            return
        self.bulk = True
        self._drop_indexes(keep | APPENDED_INDEXES)
        # the index builds sort on the other cores too (about a third faster on two)
        self.cursor.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1) - 1}")
        self.cursor.execute(f"PRAGMA cache_size = -{REBUILD_CACHE_KB}")

    def _drop_indexes(self, keep: set[str]) -> None:
        rows = self.cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('lead', 'stage_change', 'activity', 'lead_extra', 'event')"
        ).fetchall()
        for name, sql in rows:
            if name not in keep:
                self.cursor.execute(f'DROP INDEX "{name}"')
                self.indexes.append(sql)

    def finish(self) -> None:
        """Build again the indexes dropped for the bulk load."""
        for sql in self.indexes:
            self.cursor.execute(sql)
        self.indexes = []

    def ids(self, n: int) -> list[int]:
        """Return `n` fresh lead ids (this transaction holds the write lock on SQLite; a sequence elsewhere)."""
        if self.sqlite:
            start, self.next_id = self.next_id, self.next_id + n
            return list(range(start, start + n))
        return list(
            self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('lead', 'id')) FROM generate_series(1, :n)"), {"n": n}
            ).scalars()
        )

    def store(self, prepared: Prepared) -> None:
        """Insert `prepare`'s leads under fresh ids, with their history, notes and extras."""
        ids = self.ids(prepared["n"])
        self.insert("lead", LEAD_COLUMNS, list(zip(ids, *prepared["lead"])), NEW_LEAD_DERIVED)
        self._write_history(ids, prepared["paths"])
        offsets, texts, at = prepared["notes"]
        self.insert(
            "activity",
            ("lead_id", "kind", "note", "at"),
            list(zip([ids[i] for i in offsets], repeat("note"), texts, at)),
        )
        offsets, keys, values = prepared["extras"]
        self.insert("lead_extra", ("lead_id", "key", "value"), list(zip([ids[i] for i in offsets], keys, values)))
        self.record(ids, paths=bool(prepared["paths"]), notes=bool(prepared["notes"][0]), extras=bool(offsets))

    def insert(
        self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]], more: dict[str, str] | None = None
    ) -> None:
        """Insert `rows` (tuples in `columns` order, a column named `?name` storing "" as NULL, `#name`
        too on SQLite); `more` maps more columns to SQL: literals, or `{column}` for the value bound to
        another column."""
        if not rows:
            return
        names = [c.lstrip("?#") for c in columns]
        if self.sqlite:
            marks = {c: f"?{i}" for i, c in enumerate(names, 1)}  # numbered: a value bound once serves twice
        else:
            marks = {c: f":{c}" for c in names}
        empty = ("?", "#") if self.sqlite else ("?",)
        values = [f"NULLIF({marks[n]}, '')" if c.startswith(empty) else marks[n] for c, n in zip(columns, names)]
        values += [sql.format(**marks) for sql in (more or {}).values()]
        sql = f"INSERT INTO {table} ({', '.join(names + list(more or {}))}) VALUES ({', '.join(values)})"
        if self.sqlite:
            self.cursor.executemany(sql, rows)
        else:
            self.conn.execute(text(sql), [dict(zip(names, r)) for r in rows])

    def _write_history(self, ids: list[int], paths: list[tuple[int, list[tuple[int, int, int | None]]]]) -> None:
        """Record the history of the just inserted leads `ids`: one set-based insert of the rows that begin
        it (`leads.opening_changes_sql`) for the leads without a path; the rows of each path in `paths`
        ((offset, [(stage id, at, position), ...]), as `move_lead` would write them) for the others."""
        batch, params = self._batch(ids)
        with_path = ", ".join(str(ids[i]) for i, _ in paths)
        condition = batch("l.id") + (f" AND l.id NOT IN ({with_path})" if with_path else "")
        if self.sqlite and not with_path:  # the same statement every batch: on the raw cursor, as `record`
            if self._changes_sql is None:
                self._changes_sql = opening_changes_sql(condition)
            self.cursor.execute(self._changes_sql, params)
        else:
            self.conn.execute(text(opening_changes_sql(condition)), params)
        rows = []
        for i, path in paths:
            for k, (stage, at, _) in enumerate(path):
                left = path[k + 1][1] if k + 1 < len(path) else None
                rows.append((ids[i], path[k - 1][0] if k else None, stage, at, left, None))
        self.insert("stage_change", STAGE_CHANGE_COLUMNS, rows)

    def record(self, ids: list[int], *, paths: bool, notes: bool, extras: bool) -> None:
        """Record the events of the just stored leads `ids` and their rows (`leads.opening_events_sql`:
        whether any has a stage path, a note, an extra field) under the invocation's journal entry."""
        batch, params = self._batch(ids)
        params["j"] = journal.journal_of(self.conn).entry_id(self.conn)
        shape = (paths, notes, extras)
        statements = self._events_sql.get(shape)
        if statements is None:  # built once per shape: a million-row import writes 200 batches of each
            built = opening_events_sql(batch, self.conn.dialect.name, paths=paths, notes=notes, extras=extras)
            statements = self._events_sql[shape] = built
        for sql in statements:
            if self.sqlite:  # the raw cursor, as the inserts: no statement compiled again per batch
                self.cursor.execute(sql, params)
            else:  # compiled once: SQLAlchemy's statement cache knows the text
                self.conn.execute(text(sql), params)

    def _batch(self, ids: list[int]) -> tuple[Callable[[str], str], dict[str, Any]]:
        """Return (the condition on a lead id column selecting `ids`, its parameters)."""
        if self.sqlite:  # consecutive under the lock
            return (lambda column: f"{column} BETWEEN :lo AND :hi"), {"lo": ids[0], "hi": ids[-1]}
        return (lambda column: f"{column} = ANY(:ids)"), {"ids": ids}
