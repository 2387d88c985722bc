"""What the seller should do next: planned follow-ups, leads ready to advance, and the morning view.

A follow-up is the lead's `next_step` text with its `next_step_due` date. A lead is ready to advance when
it showed one of its stage's trigger activities (`pipeline stage P S --triggers demo_request,...`) since it
entered that stage; the suggested move is the next open stage (won after the last one).
`today` gathers the day's work: follow-ups due today or overdue, hot leads with no next step, leads
ready to advance.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, RowMapping

from pipecli import clock
from pipecli.errors import PipecliError


def set_follow_up(conn: Connection, lead_id: int, due: _dt.date, step: str) -> dict[str, Any]:
    """Set a lead's next step and its due date; return them."""
    from pipecli.leads import get_lead, set_fields  # leads imports this module (stage triggers)

    lead = get_lead(conn, lead_id)
    due = clock.as_date(due)
    step = (step or "").strip()
    if not step:
        raise PipecliError("a follow-up needs a text: what is to be done")
    set_fields(conn, lead, {"next_step": step, "next_step_due": due})
    return {"lead_id": lead_id, "next_step": step, "next_step_due": due}


def parse_next(spec: str) -> tuple[_dt.date, str]:
    """Split `--next "2026-12-02 send proposal"` (or "tomorrow call back", "in 3 days send quote") into
    its date and its text."""
    words = spec.split()
    for n in (3, 2, 1):
        if len(words) > n:
            try:
                return clock.parse_date(" ".join(words[:n]), "--next"), " ".join(words[n:])
            except PipecliError:
                continue
    raise PipecliError(f'--next: {spec!r} must start with a date and say what to do: "2026-12-02 send proposal"')


def log_with_next(
    conn: Connection, lead_id: int, kind: str, note: str | None, at: int | None, next_spec: str | None
) -> int:
    """Log an activity and, when `next_spec` is given, plan the follow-up it names; return the activity id."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli.leads import log_activity

    activity_id = log_activity(conn, lead_id, kind, note, at)
    if next_spec is not None:
        due, step = parse_next(next_spec)
        set_follow_up(conn, lead_id, due, step)
    return activity_id


def ready_to_advance(conn: Connection, pipeline: str | None = None) -> list[dict[str, Any]]:
    """Return the open leads that showed a trigger activity of their stage since entering it, each with the
    latest trigger, when it happened and the suggested move."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli import pipelines
    from pipecli.store.sql import execute_in

    pipeline_rows = (
        [pipelines.get_pipeline(conn, pipeline)]
        if pipeline
        else [dict(r) for r in conn.execute(text("SELECT * FROM pipeline ORDER BY id")).mappings()]
    )
    out = []
    for p in pipeline_rows:
        open_stages = pipelines.stages(conn, p["id"], outcomes=False)
        for i, stage in enumerate(open_stages):
            kinds = [k for k in (stage["triggers"] or "").split(",") if k]
            if not kinds:
                continue
            suggested = open_stages[i + 1]["name"] if i + 1 < len(open_stages) else "won"
            rows = execute_in(
                conn,
                (
                    "SELECT l.id, l.name, l.company, a.kind AS trigger, a.at AS trigger_at, l.stage_entered_at "
                    "FROM lead l JOIN activity a ON a.lead_id = l.id "
                    "WHERE l.stage_id = :s AND l.status = 'open' AND l.archived_at IS NULL "
                    " AND a.kind IN :kinds AND a.at >= l.stage_entered_at "
                    " AND a.id = (SELECT b.id FROM activity b WHERE b.lead_id = l.id AND b.kind IN :kinds"
                    "  AND b.at >= l.stage_entered_at ORDER BY b.at DESC, b.id DESC LIMIT 1) "
                    "ORDER BY a.at, l.id"
                ),
                kinds=kinds,
                s=stage["id"],
            ).mappings()
            out += [{**dict(r), "pipeline": p["name"], "stage": stage["name"], "suggested": suggested} for r in rows]
    return out


def todays_work(conn: Connection, pipeline: str | None = None) -> dict[str, Any]:
    """Return the morning view: {"follow_ups": [...], "hot_without_next_step": [...], "ready": [...]}."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli.listing import LeadFilter
    from pipecli.scoring import score as scoring

    score, score_params = scoring.total_sql("l")
    day = clock.today()

    def leads_where(condition: str, order: str, **filters: Any) -> list[RowMapping]:
        where, params = LeadFilter(pipeline=pipeline, status="open", **filters).where(conn)
        return list(
            conn.execute(
                text(
                    f"SELECT l.id, l.name, l.company, s.name AS stage, l.next_step, l.next_step_due, {score} AS score,"
                    f" l.last_event_at FROM lead l JOIN stage s ON s.id = l.stage_id WHERE {where} AND {condition} "
                    f"ORDER BY {order}"
                ),
                {**params, **score_params, "day": day},
            )
            .mappings()
            .all()
        )

    follow_ups = leads_where("l.next_step_due IS NOT NULL AND l.next_step_due <= :day", "l.next_step_due, l.id")
    hot = leads_where(
        "l.next_step IS NULL AND (l.snoozed_until IS NULL OR l.snoozed_until <= :day)", "score DESC, l.id", hot=True
    )
    return {
        "follow_ups": [{**dict(r), "days_overdue": (day - clock.as_date(r["next_step_due"])).days} for r in follow_ups],
        "hot_without_next_step": [dict(r) for r in hot],
        "ready": ready_to_advance(conn, pipeline),
    }
