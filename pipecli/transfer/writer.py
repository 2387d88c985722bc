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
from collections.abc import Callable
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, text

from pipecli.leads import NEW_LEAD_DERIVED, opening_changes_sql
from pipecli.transfer import helper
from pipecli.transfer.fastpath import Cols
from pipecli.transfer.model import Record

SQLITE_CACHE_KB = 8192  # page cache for the bulk writes: random index inserts need it; keeps RSS < 100 MB
# With the indexes dropped: the page cache, and the memory of each sorter thread building them again (which
# SQLite sizes like the cache); keeps RSS < 100 MB with a sorter per core.
REBUILD_CACHE_KB = 2048
# Indexes an import appends to in order (new lead ids are increasing): cheaper kept than rebuilt.
APPENDED_INDEXES = {"ix_stage_change_lead", "ix_activity_lead"}
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
)
# Which of `prepare`'s lead columns hold only strings (the others: numbers, ISO dates, None).
_LEAD_TEXT = tuple(
    c.lstrip("?#") in ("status", "name", "company", "email", "phone", "source", "owner", "external_id", "lost_reason")
    for c in LEAD_COLUMNS[1:]
)
# (fits, win probabilities) of new leads given as columns with their statuses
Scores = Callable[[Cols, list[str]], tuple[list[Any], list[Any]]]
Prepared = dict[str, Any]


def prepare(cols: Cols, *, sqlite: bool, first_stage: Callable[[Record], Record], scores: Scores) -> Prepared:
    """Return new leads (`fastpath.WRITE_COLUMNS` columns) as what `Writer.store` inserts, without their
    ids: the lead columns after the id (`LEAD_COLUMNS`), the notes and the extras as (row offsets, ...)
    columns, and each pipeline's first open stage (`first_stage`, which must read no database when this
    runs in the helper process). `sqlite`: dates go as ISO text, which SQLite stores."""
    created, closed, notes, stages = cols["created"], cols["closed"], cols["note"], cols["stage"]
    kinds = [s["kind"] for s in stages]
    fits, probabilities = scores(cols, kinds)
    first_position = {}  # pipeline id -> position of its first open stage: where a lead closed later began
    firsts = {}
    for pipeline in {id(p): p for p in cols["pipeline"]}.values():
        first = first_stage(pipeline)
        first_position[pipeline["id"]], firsts[pipeline["id"]] = first["position"], first["id"]
    pipeline_ids = [p["id"] for p in cols["pipeline"]]
    entered = [o if c is None else c for o, c in zip(created, closed)]  # also the last event
    furthest = [
        s["position"] if c is None else (1 if c == o else first_position[p])
        for s, o, c, p in zip(stages, created, closed, pipeline_ids)
    ]
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
        ],
        "notes": [noted, [notes[i] for i in noted], [created[i] for i in noted]],
        "extras": [list(c) for c in zip(*extras)] if extras else [[], [], []],
        "firsts": firsts,
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
    return {"n": prepared["n"], "lead": lead, "notes": notes, "extras": extras, "firsts": prepared["firsts"]}


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
        "firsts": packed["firsts"],
    }


class Writer:
    """Bulk inserts into the caller's transaction: fresh lead ids, then leads, history, notes, extras."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.bulk = False  # indexes dropped, and built again at the end
        self.indexes: list[str] = []
        self.next_id = self.held = 0
        self.cursor: Any = None
        if self.sqlite:
            self.cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            self.cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
            self.cursor.execute("PRAGMA mmap_size = 0")  # pages read through a mapping would count in RSS
            self.held = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar_one()
            self.next_id = self.held + 1

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
            "AND tbl_name IN ('lead', 'stage_change', 'activity', 'lead_extra')"
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
        self._write_history(ids, prepared["firsts"])
        offsets, texts, at = prepared["notes"]
        self.insert(
            "activity",
            ("lead_id", "kind", "note", "at"),
            list(zip([ids[i] for i in offsets], repeat("note"), texts, at)),
        )
        offsets, keys, values = prepared["extras"]
        self.insert("lead_extra", ("lead_id", "key", "value"), list(zip([ids[i] for i in offsets], keys, values)))

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

    def _write_history(self, ids: list[int], firsts: dict[int, int]) -> None:
        """Record the history of the just inserted leads `ids` in one set-based insert
        (`leads.opening_changes_sql`), `firsts` giving each pipeline's first open stage."""
        first = " ".join(f"WHEN {p} THEN {f}" for p, f in firsts.items())
        # typed NULLs: PostgreSQL gives an untyped NULL in a UNION the type text
        first = f"CAST(CASE l.pipeline_id {first} END AS INTEGER)" if first else "CAST(NULL AS INTEGER)"
        params: dict[str, Any]
        if self.sqlite:
            batch, params = "l.id BETWEEN :lo AND :hi", {"lo": ids[0], "hi": ids[-1]}  # consecutive under the lock
        else:
            batch, params = "l.id = ANY(:ids)", {"ids": ids}
        self.conn.execute(text(opening_changes_sql(batch, first)), params)
