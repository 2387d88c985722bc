"""The board: a pipeline at a glance, one block per open stage with its count, value and top leads."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, pipelines
from pipecli.history import check_as_of, column_at_sql

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def board(
    conn: Connection, pipeline: str | None = None, per_stage: int = 5, as_of: _dt.date | None = None
) -> dict[str, Any]:
    """Return the pipeline's open stages, each with its open-lead count, total value (minor units) and
    its `per_stage` most valuable leads, plus the won and lost totals; with `as_of`, as the pipeline
    stood at the end of that day (stages, values, owners and close dates from the history)."""
    p = pipelines.get_pipeline(conn, pipeline)
    if as_of is not None:
        return _board_as_of(conn, p, per_stage, clock.end_of_day_ts(as_of))
    params = {"p": p["id"], "n": per_stage}
    totals = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            text(
                "SELECT stage_id, COUNT(*), SUM(value_minor) FROM lead "
                "WHERE pipeline_id = :p AND archived_at IS NULL GROUP BY stage_id"
            ),
            params,
        )
    }
    top: dict[int, list[dict[str, Any]]] = {}
    rows = conn.execute(
        text(
            "SELECT * FROM (SELECT id, name, company, value_minor, owner, stage_id, expected_close,"
            " ROW_NUMBER() OVER (PARTITION BY stage_id ORDER BY value_minor DESC NULLS LAST, id) AS rn"
            " FROM lead WHERE pipeline_id = :p AND status = 'open' AND archived_at IS NULL) ranked "
            "WHERE rn <= :n ORDER BY stage_id, rn"
        ),
        params,
    ).mappings()
    for r in rows:
        top.setdefault(r["stage_id"], []).append(dict(r))
    return _blocks(conn, p, totals, top)


def _board_as_of(conn: Connection, p: dict[str, Any], per_stage: int, moment: int) -> dict[str, Any]:
    from pipecli.reports.state import state  # the as-of relation: only a board of the past needs it

    check_as_of(conn, moment)
    with state(conn, p["id"], moment) as (rel, params):
        totals = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                text(
                    f"SELECT l.stage_id, COUNT(*), SUM(l.value_minor) FROM {rel} l WHERE l.archived_at IS NULL GROUP BY l.stage_id"
                ),
                params,
            )
        }
        rows = conn.execute(
            text(
                f"SELECT * FROM (SELECT l.id, {column_at_sql('name', 'd', ':asof', conn.dialect.name)},"
                f" {column_at_sql('company', 'd', ':asof', conn.dialect.name)}, l.value_minor, l.owner, l.stage_id,"
                " l.expected_close,"
                " ROW_NUMBER() OVER (PARTITION BY l.stage_id ORDER BY l.value_minor DESC NULLS LAST, l.id) AS rn"
                f" FROM {rel} l JOIN lead d ON d.id = l.id WHERE l.status = 'open' AND l.archived_at IS NULL) ranked "
                "WHERE rn <= :n ORDER BY stage_id, rn"
            ),
            {**params, "n": per_stage, "asof": moment},
        ).mappings()
        top: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            top.setdefault(r["stage_id"], []).append(dict(r))
    return _blocks(conn, p, totals, top)


def _blocks(
    conn: Connection, p: dict[str, Any], totals: dict[int, tuple[int, int]], top: dict[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    stages = []
    for s in pipelines.stages(conn, p["id"]):
        count, value = totals.get(s["id"], (0, None))
        stages.append(
            {
                "stage": s["name"],
                "kind": s["kind"],
                "position": s["position"],
                "count": count,
                "value_minor": value or 0,
                "leads": top.get(s["id"], []) if s["kind"] == "open" else [],
            }
        )
    return {"pipeline": p["name"], "stages": stages}
