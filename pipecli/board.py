"""The board: a pipeline at a glance, one block per open stage with its count, value and top leads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import pipelines

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def board(conn: Connection, pipeline: str | None = None, per_stage: int = 5) -> dict[str, Any]:
    """Return the pipeline's open stages, each with its open-lead count, total value (minor units) and
    its `per_stage` most valuable leads, plus the won and lost totals."""
    p = pipelines.get_pipeline(conn, pipeline)
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
