"""A lead's history as people read it, and the check that the events are the truth.

The journal's events (`store.journal`) record every change at the level of columns and rows.
`lead_history` turns them into the lines `pipecli history ID` shows: created, stage from → to, a field's
old and new value, an activity, a qualification answer, deleted; the columns a change keeps in step
(time in stage, last event, furthest position) are recorded but not shown. `verify` replays the events
and compares the result with the cached columns and rows, so a test can prove they agree. What a field
was at a moment has one rule here, written in SQL (`field_at_sql`) and in Python
(`state_at`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock
from pipecli.errors import NotFound, PipecliError
from pipecli.store import journal
from pipecli.store.columns import AS_OF_CONDITION, AS_OF_FIELDS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# one shown line of a change: (field, old, new)
Shown = tuple[str, str | None, str | None]

# Columns kept in step by a move or an activity: recorded, replayed, not shown as changes of their own.
DERIVED = (
    "stage_id",
    "status",
    "stage_entered_at",
    "last_event_at",
    "last_activity_at",
    "furthest_position",
    "closed_at",
)
SHOWN_AS = {
    "value_minor": "value",
    "pipeline_id": "pipeline",
    "archived_at": "archived",
    "forecast_category": "forecast category",
}


@dataclass(frozen=True)
class Change:
    """One line of a lead's history: when it took effect, who made it with which command, what changed."""

    at: int
    actor: str
    command: str
    journal_id: int
    field: str
    old: str | None
    new: str | None


def history_since(conn: Connection) -> int:
    """Return the moment the database's history begins (0 when it was created with history)."""
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'history_since'")).first()
    return int(row[0]) if row else 0


def _names(conn: Connection, table: str) -> dict[int, str]:
    return {r[0]: r[1] for r in conn.execute(text(f"SELECT id, name FROM {table}"))}


def _describe(
    field: str, old: str | None, new: str | None, stages: dict[int, str], pipelines: dict[int, str]
) -> Shown | None:
    """Return (field, old, new) as shown for one event, or None for an event not shown."""
    if field.startswith("row:"):
        table = field[4:]
        before, after = journal.load_row(table, old), journal.load_row(table, new)
        if table == "lead":
            return ("created", None, None) if before is None else ("deleted", None, None) if after is None else None
        if table == "stage_change":
            if before is None and after is not None:
                source = after.get("from_stage_id")
                reason = f" ({after['reason']})" if after.get("reason") else ""
                return ("stage", stages.get(source) if source else None, f"{stages.get(after['to_stage_id'])}{reason}")
            if after is None and before is not None:  # a move taken back by undo
                source = before.get("from_stage_id")
                return ("stage undone", stages.get(before["to_stage_id"]), stages.get(source) if source else None)
            return None
        if before is not None and after is not None and before.get("lead_id") != after.get("lead_id"):
            return None  # a row a merge moved to another lead: the merge's own line says so
        if table == "lead_merge":
            row = after or before or {}
            what = f"lead {row.get('merged_id')} ({row.get('merged_name')}){merge_summary(row.get('fields'))}"
            return ("merged", None, what) if after is not None else ("merge undone", what, None)
        if table == "activity":
            row = after or before or {}
            label = row.get("kind", "") + (f": {row['note']}" if row.get("note") else "")
            return ("activity", None, label) if after is not None else ("activity removed", label, None)
        if table == "qualification":
            return (f"answer {(after or before or {}).get('criterion')}", (before or {}).get("answer"),
                    (after or {}).get("answer"))  # fmt: skip
        if table == "lead_extra":
            key = (after or before or {}).get("key")
            return (f"extra {key}", (before or {}).get("value"), (after or {}).get("value"))
        return None
    if field in DERIVED:
        return None
    if field == "pipeline_id":
        return ("pipeline", pipelines.get(int(old)) if old else None, pipelines.get(int(new)) if new else None)
    if field == "archived_at":
        return ("archived", "yes" if old else "no", "yes" if new else "no")
    return (SHOWN_AS.get(field, field), old, new)


def merge_summary(fields: str | None) -> str:
    """Return what a merge took and kept (`lead_merge.fields`) as words: `: took email, phone; kept company`."""
    data = json.loads(fields) if fields else {}
    parts = [f"{word} {', '.join(data[key])}" for key, word in (("took", "took"), ("kept", "kept")) if data.get(key)]
    return f": {'; '.join(parts)}" if parts else ""


def merged_into(conn: Connection, lead_id: int) -> list[tuple[int, int]]:
    """Return (merged lead id, journal id of its merge) for every lead merged into `lead_id`, also through
    leads merged into those: whose earlier events are the lead's history too (`lead_history`), and whose
    events `forget` erases with the lead's."""
    found: list[tuple[int, int]] = []
    todo = [lead_id]
    while todo:
        rows = conn.execute(
            text("SELECT merged_id, journal_id FROM lead_merge WHERE lead_id = :l ORDER BY id"), {"l": todo.pop()}
        ).all()
        for merged_id, journal_id in rows:
            if all(merged_id != f[0] for f in found):
                found.append((merged_id, journal_id))
                todo.append(merged_id)
    return found


def lead_history(conn: Connection, lead_id: int, limit: int | None = None) -> list[Change]:
    """Return the changes of lead `lead_id` (a deleted one too), oldest first; with `limit`, the latest
    `limit` of them. Raises NotFound when the lead never existed.

    The events of a lead merged into it (`merged_into`) up to its merge are included, each field named
    `#ID field` after the lead they happened to, so a merge keeps both histories."""
    merged = merged_into(conn, lead_id)
    clauses = ["e.lead_id = :l"] + [f"(e.lead_id = :m{i} AND e.journal_id < :j{i})" for i in range(len(merged))]
    params: dict[str, Any] = {"l": lead_id}
    for i, (merged_id, journal_id) in enumerate(merged):
        params.update({f"m{i}": merged_id, f"j{i}": journal_id})
    rows = conn.execute(
        text(
            "SELECT e.at, j.actor, j.command, e.journal_id, e.field, e.old, e.new, e.lead_id FROM event e "
            f"JOIN journal j ON j.id = e.journal_id WHERE {' OR '.join(clauses)} ORDER BY e.at, e.id"
        ),
        params,
    ).all()
    if not rows:
        exists = conn.execute(text("SELECT 1 FROM lead WHERE id = :l"), {"l": lead_id}).first()
        if exists is None:
            raise NotFound(f"no lead with id {lead_id} has any history (see `pipecli list`)")
        return []
    stages, pipelines = _names(conn, "stage"), _names(conn, "pipeline")
    changes = []
    for at, actor, command, journal_id, field, old, new, of in rows:
        shown = _describe(field, old, new, stages, pipelines)
        if shown is not None:
            name = shown[0] if of == lead_id else f"#{of} {shown[0]}"
            changes.append(Change(at, actor, command, journal_id, name, *shown[1:]))
        if field == "row:lead" and old is None:  # rows recorded with the creation, each at its own time
            for table, row in journal.nested_rows(journal.load_row("lead", new)):
                shown = _describe(f"row:{table}", None, json.dumps(row), stages, pipelines)
                if shown is not None:
                    changes.append(Change(int(row.get("at") or at), actor, command, journal_id, *shown))
    changes.sort(key=lambda c: c.at)  # stable: events of one moment stay in their order
    return changes[-limit:] if limit else changes


def _normal(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Return a row's values in the form events store them, for comparison."""
    normal: dict[str, Any] = json.loads(journal.row_json({k: journal.decode(table, k, v) for k, v in row.items()}))
    return normal


def verify(conn: Connection) -> list[str]:
    """Replay every event and return how the result differs from the stored leads and their rows (an
    empty list when the events reproduce every cached column). Rows a migration found already there have
    no events of their own; only the lead columns of such leads are checked."""
    # the models (SQLModel classes) only to verify: `show` reads the history without building them
    from pipecli.store.columns import SNAPSHOT_COLUMNS
    from pipecli.store.schema import lead_tables

    replayed: dict[int, dict[str, Any]] = {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    migrated: set[int] = set()
    migration = {r[0] for r in conn.execute(text("SELECT id FROM journal WHERE command LIKE 'migration to schema%'"))}
    for lead_id, journal_id, field, old, new in conn.execute(
        text("SELECT lead_id, journal_id, field, old, new FROM event WHERE lead_id IS NOT NULL ORDER BY id")
    ):
        if field == "row:lead":
            if new is None:
                replayed.pop(lead_id, None)
            else:
                values = journal.load_row("lead", new) or {}
                replayed[lead_id] = {k: values.get(k) for k in SNAPSHOT_COLUMNS}
                if journal_id in migration:
                    migrated.add(lead_id)
                for table, nested in journal.nested_rows(values):
                    rows[(table, json.dumps([nested.get(k) for k in journal.primary_key(table)]))] = nested
        elif field.startswith("row:"):
            table = field[4:]
            before, after = journal.load_row(table, old), journal.load_row(table, new)
            key = (table, json.dumps([(after or before or {}).get(k) for k in journal.primary_key(table)]))
            if after is None:
                rows.pop(key, None)
            else:
                rows[key] = after
        elif lead_id in replayed:
            replayed[lead_id][field] = journal.decode("lead", field, new) if field in SNAPSHOT_COLUMNS else new
    problems = []
    stored = {r["id"]: dict(r) for r in conn.execute(text("SELECT * FROM lead")).mappings()}
    for lead_id, lead in stored.items():
        if lead_id not in replayed:
            problems.append(f"lead {lead_id}: no creation event")
            continue
        want = _normal("lead", {k: lead[k] for k in SNAPSHOT_COLUMNS})
        got = _normal("lead", replayed[lead_id])
        for column in SNAPSHOT_COLUMNS:
            if want[column] != got[column]:
                problems.append(f"lead {lead_id}: {column} is {want[column]!r}, its events say {got[column]!r}")
    for lead_id in replayed.keys() - stored.keys():
        problems.append(f"lead {lead_id}: its events say it exists")
    for table in lead_tables():
        pk = journal.primary_key(table)
        current = {}
        for r in conn.execute(text(f"SELECT * FROM {table}")).mappings():
            if r["lead_id"] in migrated:
                continue
            current[(table, json.dumps([_normal(table, dict(r))[k] for k in pk]))] = _normal(table, dict(r))
        events = {k: _normal(table, v) for k, v in rows.items() if k[0] == table and v.get("lead_id") not in migrated}
        for key in current.keys() | events.keys():
            if current.get(key) != events.get(key):
                problems.append(f"{table} {key[1]}: stored {current.get(key)}, its events say {events.get(key)}")
    return problems


# --- a lead's field at a moment: the one rule, in SQL for reports and in Python for one lead's events ------
# An event at the moment itself has happened (only an event with `at > T` is after T); events of one moment
# count in the order they were recorded (EVENT_ORDER). So a field's value at T is the old value of its
# earliest change after T, else the value it has now; a lead's row event (creation, deletion) changes every
# field, its old row saying what they were, and a lead whose earliest row event after T is its creation
# did not exist at T. `field_at_sql` is the rule in SQL (for a report at one moment and a figure per deal);
# `state_at` is it in Python, over one lead's events (`reports.changes`).
EVENT_ORDER = ("at", "id")


def _after_sql(alias: str, moment: str) -> str:
    """Return the SQL condition that an event (table alias `alias`, "" for none) is after `moment`."""
    return f"{alias}at > {moment}"


def _order_sql(alias: str = "") -> str:
    return ", ".join(f"{alias}{c}" for c in EVENT_ORDER)


def is_after(at: int, moment: int) -> bool:
    """Return True when an event at `at` comes after the moment `moment` (the rule `_after_sql` writes)."""
    return at > moment


def state_at(
    events: list[tuple[int, str, str | None, str | None]],
    fields: tuple[str, ...],
    moment: int,
    row: dict[str, Any] | None,
) -> dict[str, str | None] | None:
    """Return a lead's `fields` (as event text) at `moment`, by the rule above, from its events
    ((at, field, old, new), in EVENT_ORDER) and its row now (None once deleted); None when the lead did
    not exist then. A lead without row events after the moment existed when its row was created by then."""
    values: dict[str, str | None] = {}
    exists = None
    for at, name, old, _ in events:
        if not is_after(at, moment):
            continue
        if name == "row:lead":
            if exists is None:
                exists = old is not None
            if old is not None:
                before = journal.load_row("lead", old) or {}
                for key in fields:
                    values.setdefault(key, journal.encode(before.get(key)))
        elif name in fields:
            values.setdefault(name, old)
    if exists is None:
        exists = row is not None and row["created_at"] <= moment
    if not exists:
        return None
    return {k: values[k] if k in values else journal.encode(row[k]) if row else None for k in fields}


def field_at_sql(
    field: str, lead: str, moment: str, cast: str | None = None, otherwise: str | None = None, alias: str = ""
) -> str:
    """Return the SQL expression of lead column `field` as it stood at the moment `moment` (an SQL
    expression: a report's `:asof`, or the time each deal was won), for the lead whose row is `lead` (an
    alias): the old value of the earliest change after that moment when there is one, else the value now
    (or the SQL `otherwise`). `cast` turns the event's text back into the column's type; `alias` names the
    result. It is the one rule in SQL, for a whole report at one moment (`reports.state`) and for figures
    that count each deal at its own moment (the backtest's actual)."""
    # A field of AS_OF_FIELDS is one seek in ix_event_as_of, whose condition SQLite needs spelled out to use it.
    only = f" AND e.{AS_OF_CONDITION}" if field in AS_OF_FIELDS else ""
    later = f"FROM event e WHERE e.lead_id = {lead}.id AND e.field = '{field}'{only} AND {_after_sql('e.', moment)}"
    old = f"(SELECT e.old {later} ORDER BY {_order_sql('e.')} LIMIT 1)"
    then = f"CAST({old} AS {cast})" if cast else old
    now = otherwise if otherwise is not None else f"{lead}.{field}"
    return f"CASE WHEN EXISTS (SELECT 1 {later}) THEN {then} ELSE {now} END" + (f" AS {alias}" if alias else "")


# The lead columns whose events' text must be cast back to read as the column: numbers on both backends,
# dates on PostgreSQL only (SQLite stores a date as its ISO text, which is what the event holds).
_NUMBERS = ("value_minor", "archived_at")
_DATES = ("expected_close", "next_step_due", "snoozed_until")


def column_at_sql(column: str, lead: str, moment: str, dialect: str) -> str:
    """Return `field_at_sql` for lead column `column` read as the column (`AS column`, its type cast back
    from the event's text on `dialect`): what a report of a past moment selects for each detail. A lead
    archived then is one whose events say so, else one archived now by that moment."""
    cast = "BIGINT" if column in _NUMBERS else "DATE" if column in _DATES and dialect == "postgresql" else None
    otherwise = (
        f"CASE WHEN {lead}.archived_at <= {moment} THEN {lead}.archived_at END" if column == "archived_at" else None
    )
    return field_at_sql(column, lead, moment, cast, otherwise, alias=column)


def check_as_of(conn: Connection, moment: int) -> None:
    """Raise when `--as-of` names a moment in the future or before anything the database knows."""

    if moment > clock.end_of_day_ts(clock.today()):
        raise PipecliError(f"--as-of {clock.show(moment)} is in the future")
    first = conn.execute(
        text("SELECT MIN(t) FROM (SELECT MIN(at) AS t FROM event UNION ALL SELECT MIN(created_at) FROM lead) x")
    ).scalar()
    if first is not None and moment < first:
        raise PipecliError(f"--as-of {clock.show(moment)} is before the database's first record ({clock.show(first)})")
