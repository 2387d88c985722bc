"""Export: leads (with their extra fields), stage history or activities, as a stream of records.

Each `export_*` function returns the columns (`output.Column`) and an iterator of plain dicts read from
the database in chunks, so exporting a million leads holds one chunk in memory. The CLI hands both to
`output.write_stream`. A leads export has the columns `pipecli import` maps back to the same fields
(`created_at`, `closed_at`, `stage` with won/lost, `value` in major units), then one column per extra
field; an extra whose key would be read back as a field is written as `extra:KEY`, which the importer
reads back as that extra. So exporting leads and importing the file into an empty database gives back
the same leads, values, stages, dates and extras.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, text

from pipecli.formats import Column
from pipecli.listing import LeadFilter
from pipecli.transfer.columns import EXTRA_PREFIX, SYNONYMS, norm_header

CHUNK = 2000

LEAD_COLUMNS = [
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("email"),
    Column("phone"),
    Column("value", kind="money", source="value_minor"),
    Column("pipeline"),
    Column("stage"),
    Column("source"),
    Column("owner"),
    Column("expected_close", kind="date"),
    Column("created_at", kind="ts"),
    Column("closed_at", kind="ts"),
    Column("lost_reason"),
    Column("external_id"),
    Column("forecast_category"),
]
HISTORY_COLUMNS = [
    Column("lead_id", kind="int"),
    Column("lead"),
    Column("external_id"),
    Column("pipeline"),
    Column("from_stage"),
    Column("to_stage"),
    Column("at", kind="ts"),
    Column("left_at", kind="ts"),
    Column("reason"),
]
ACTIVITY_COLUMNS = [
    Column("lead_id", kind="int"),
    Column("lead"),
    Column("external_id"),
    Column("kind"),
    Column("note"),
    Column("at", kind="ts"),
]


def _stream(conn: Connection, sql: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(stream_results=True).execute(text(sql), params).mappings()
    while True:
        chunk = result.fetchmany(CHUNK)
        if not chunk:
            return
        yield [dict(r) for r in chunk]


def extra_header(key: str) -> str:
    """Return the column header for an extra field: its key, or `extra:KEY` when the importer would
    otherwise read the key as one of its fields."""
    names = {n for synonyms in SYNONYMS.values() for n in synonyms} | {norm_header(c.name) for c in LEAD_COLUMNS}
    return EXTRA_PREFIX + key if norm_header(key) in names or key.startswith(EXTRA_PREFIX) else key


def export_leads(conn: Connection, filters: LeadFilter) -> tuple[list[Column], Iterator[dict[str, Any]]]:
    """Return the columns and the rows of the leads matching `filters`, by id, extras included."""
    where, params = filters.where(conn)
    keys = [
        r[0]
        for r in conn.execute(
            text(
                f"SELECT DISTINCT e.key FROM lead_extra e JOIN lead l ON l.id = e.lead_id WHERE {where} ORDER BY e.key"
            ),
            params,
        )
    ]
    headers = {k: extra_header(k) for k in keys}
    columns = LEAD_COLUMNS + [Column(headers[k]) for k in keys]
    sql = (
        "SELECT l.id, l.name, l.company, l.email, l.phone, l.value_minor, p.name AS pipeline, s.name AS stage,"
        " l.source, l.owner, l.expected_close, l.created_at, l.closed_at, l.lost_reason, l.external_id,"
        " l.forecast_category "
        f"FROM lead l JOIN stage s ON s.id = l.stage_id JOIN pipeline p ON p.id = l.pipeline_id WHERE {where} ORDER BY l.id"
    )
    extras_query = text("SELECT lead_id, key, value FROM lead_extra WHERE lead_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )

    def rows() -> Iterator[dict[str, Any]]:
        for chunk in _stream(conn, sql, params):
            if keys:
                by_id = {r["id"]: r for r in chunk}
                for lead_id, key, value in conn.execute(extras_query, {"ids": list(by_id)}):
                    by_id[lead_id][headers[key]] = value
            yield from chunk

    return columns, rows()


def export_history(conn: Connection, filters: LeadFilter) -> tuple[list[Column], Iterator[dict[str, Any]]]:
    """Return the columns and the stage changes of the leads matching `filters`, by lead and time."""
    where, params = filters.where(conn)
    sql = (
        "SELECT c.lead_id, l.name AS lead, l.external_id, p.name AS pipeline, f.name AS from_stage,"
        " t.name AS to_stage, c.at, c.left_at, c.reason "
        "FROM stage_change c JOIN lead l ON l.id = c.lead_id JOIN pipeline p ON p.id = l.pipeline_id "
        "LEFT JOIN stage f ON f.id = c.from_stage_id JOIN stage t ON t.id = c.to_stage_id "
        f"WHERE {where} ORDER BY c.lead_id, c.at, c.id"
    )
    return HISTORY_COLUMNS, (r for chunk in _stream(conn, sql, params) for r in chunk)


def export_activities(conn: Connection, filters: LeadFilter) -> tuple[list[Column], Iterator[dict[str, Any]]]:
    """Return the columns and the activities of the leads matching `filters`, by lead and time."""
    where, params = filters.where(conn)
    sql = (
        "SELECT a.lead_id, l.name AS lead, l.external_id, a.kind, a.note, a.at "
        f"FROM activity a JOIN lead l ON l.id = a.lead_id WHERE {where} ORDER BY a.lead_id, a.at, a.id"
    )
    return ACTIVITY_COLUMNS, (r for chunk in _stream(conn, sql, params) for r in chunk)


def export(conn: Connection, what: str, filters: LeadFilter) -> tuple[list[Column], Iterator[dict[str, Any]]]:
    """Return the columns and rows of `what` (leads, history or activities) for the leads matching `filters`."""
    return {"leads": export_leads, "history": export_history, "activities": export_activities}[what](conn, filters)
