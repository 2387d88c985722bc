"""Qualification (BANT): budget, authority, need and timeline, one answer each, with when it was given.

An answer is kept as typed and judged into a verdict: `yes`; `no` for a firm no ("no", "none", "0",
"nobody", "never"...); `unknown` for "unknown", "?", "maybe" or nothing; and any other value (an amount,
a name, a text, a date) counts as yes. The lead is `qualified` when every required criterion is yes,
`disqualified` when a required one is a firm no, `incomplete` otherwise. Required criteria come from the
config (`[qualification] required = ["budget", "need"]`; default all four).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, config
from pipecli.config import setting
from pipecli.errors import PipecliError
from pipecli.store import journal

CRITERIA = ("budget", "authority", "need", "timeline")
NO_WORDS = {"no", "n", "none", "nobody", "never", "nothing", "false", "no budget", "not interested", "nope"}
UNKNOWN_WORDS = {"", "unknown", "?", "maybe", "not sure", "unsure", "tbd", "n/a", "dunno", "don't know"}


def verdict(answer: str | None) -> str:
    """Return yes, no or unknown for one answer as typed."""
    word = (answer or "").strip().lower()
    if word in UNKNOWN_WORDS:
        return "unknown"
    if word in NO_WORDS or re.fullmatch(r"[^\d]*0+([.,]0+)?[^\d]*", word):
        return "no"
    return "yes"


@dataclass(frozen=True)
class QualificationSection:
    """The `[qualification]` config section: the criteria a qualified lead must meet."""

    required: list[str] = setting(list(CRITERIA), choices=CRITERIA)  # noqa: RUF009 (setting returns a field)


def required() -> tuple[str, ...]:
    """Return the criteria a qualified lead must meet (config `[qualification] required`)."""
    return tuple(config.section("qualification", QualificationSection).required)


def status_of(verdicts: dict[str, str], needed: tuple[str, ...]) -> str:
    """Return qualified, disqualified or incomplete for {criterion: verdict}."""
    if any(verdicts.get(c) == "no" for c in needed):
        return "disqualified"
    if all(verdicts.get(c) == "yes" for c in needed):
        return "qualified"
    return "incomplete"


def _verdicts(conn: Connection, lead_id: int) -> dict[str, str]:
    rows = conn.execute(text("SELECT criterion, verdict FROM qualification WHERE lead_id = :l"), {"l": lead_id})
    return dict(rows.all())


def current_status(conn: Connection, lead_id: int) -> str:
    """Return the lead's qualification (qualified, disqualified, incomplete) from its stored answers: what
    a write that changes the answers other than by `qualify` (a merge) sets the lead's column to."""
    return status_of(_verdicts(conn, lead_id), required())


def qualify(
    conn: Connection,
    lead_id: int,
    answers: dict[str, str | None],
    at: int | None = None,
    move: bool = False,
    close: bool = False,
) -> dict[str, Any]:
    """Record the given answers (criteria not given keep their answer) at `at`; set the lead's
    qualification; with `move`, move a qualified lead to its pipeline's qualification stage; with `close`,
    close a disqualified lead as lost. Return the answers, the status and what was done."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli import leads, pipelines

    lead = leads.get_lead(conn, lead_id)
    given = {c: a for c, a in answers.items() if a is not None}
    if not given and not (move or close):
        raise PipecliError("give at least one answer: --budget, --authority, --need or --timeline")
    at = clock.now_ts() if at is None else at

    for criterion, answer in given.items():
        values = {"answer": answer.strip(), "verdict": verdict(answer), "at": at}
        keys = {"lead_id": lead_id, "criterion": criterion}
        if not journal.update_rows(conn, "qualification", keys, values, lead_id, at):
            exists = conn.execute(
                text("SELECT 1 FROM qualification WHERE lead_id = :l AND criterion = :c"),
                {"l": lead_id, "c": criterion},
            ).first()
            if exists is None:
                journal.insert_row(conn, "qualification", {**keys, **values}, lead_id, at)
    needed = required()
    verdicts = _verdicts(conn, lead_id)
    status = status_of(verdicts, needed)
    lead = leads.set_fields(conn, lead, {"qualification": status}, at)
    done = None
    if (move and status == "qualified") or (close and status == "disqualified"):
        if lead["status"] != "open":
            raise PipecliError(f"lead {lead_id} is closed ({lead['status']}); reopen it with `pipecli move` first")
    if move and status == "qualified":
        pipeline = pipelines.get_pipeline_by_id(conn, lead["pipeline_id"])
        if pipeline["qualification_stage_id"] is None:
            raise PipecliError(
                f"pipeline {pipeline['name']} has no qualification stage; set one with "
                f"`pipecli pipeline stage '{pipeline['name']}' STAGE --qualification`"
            )
        target = conn.execute(
            text("SELECT name, position FROM stage WHERE id = :s"), {"s": pipeline["qualification_stage_id"]}
        ).one()
        current = conn.execute(text("SELECT position FROM stage WHERE id = :s"), {"s": lead["stage_id"]}).scalar()
        if current is not None and target.position is not None and current >= target.position:
            done = f"left in its stage: already at or past {target.name}"
        else:
            moved = leads.move_lead(conn, lead_id, target.name, at)
            done = f"moved {moved.from_stage} -> {moved.to_stage}"
    if close and status == "disqualified":
        reason = "disqualified: " + ", ".join(f"no {c}" for c in needed if verdicts.get(c) == "no")
        leads.move_lead(conn, lead_id, "lost", at, reason)
        done = f"closed as lost ({reason})"
    if done is None and (move or close):
        done = f"not moved: the lead is {status}"
    return {"lead_id": lead_id, "status": status, "required": needed, "verdicts": verdicts, "done": done}


def pending(conn: Connection, pipeline: str | None = None) -> list[dict[str, Any]]:
    """Return the open leads whose qualification is incomplete, oldest first, with what is still missing."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli.listing import LeadFilter

    where, params = LeadFilter(pipeline=pipeline, status="open").where(conn)
    rows = (
        conn.execute(
            text(
                "SELECT l.id, l.name, l.company, s.name AS stage, l.created_at FROM lead l "
                f"JOIN stage s ON s.id = l.stage_id WHERE {where} AND l.qualification = 'incomplete' "
                "ORDER BY l.created_at, l.id"
            ),
            params,
        )
        .mappings()
        .all()
    )
    answers: dict[int, dict[str, Any]] = {}
    for lead_id, criterion, v in conn.execute(text("SELECT lead_id, criterion, verdict FROM qualification")):
        answers.setdefault(lead_id, {})[criterion] = v
    needed = required()
    return [
        {
            **dict(r),
            "answered": len(answers.get(r["id"], {})),
            "missing": ", ".join(c for c in needed if answers.get(r["id"], {}).get(c) != "yes"),
        }
        for r in rows
    ]
