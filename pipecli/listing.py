"""Listing leads: the filters every listing shares (`LeadFilter`), the sort orders of `list`, and the
ranking by score now. Every read of "which leads, in which order" is built here.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, lookup, pipelines, team
from pipecli.errors import PipecliError
from pipecli.scoring import score as scoring
from pipecli.scoring.rules import hot_threshold
from pipecli.vocabulary import SORTS, STATUSES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ORDER_BY = {
    # vocabulary.SORTS name -> ORDER BY
    "value": "l.value_minor DESC NULLS LAST, l.id",
    "age": "l.created_at ASC, l.id",
    "expected-close": "l.expected_close ASC NULLS LAST, l.id",
    "last-activity": "l.last_event_at ASC, l.id",
    "created": "l.created_at DESC, l.id DESC",
    "name": "l.name ASC, l.id",
    "score": "score DESC, l.id",  # the total decayed to now, selected as `score` (scoring.total_sql)
    "id": "l.id",
}


def list_status(status: str | None, stage: str | None) -> str | None:
    """Return the status filter `pipecli list` applies: the one asked for; none for `all`; `open` when
    neither a status nor a stage is asked for. Exists so a seller's first `list` shows the work still to
    do, not nine months of won and lost deals (`--status all` shows them)."""
    if status is not None and status.strip().lower() == "all":
        return None
    if status is None and stage is None:
        return "open"
    return status


@dataclass
class LeadFilter:
    """The filters shared by `list`, `export`, `clean` and the reports."""

    pipeline: str | None = None
    stage: str | None = None
    owner: str | None = None
    source: str | None = None
    status: str | None = None
    include_archived: bool = False
    hot: bool = False  # only leads whose score now is at or above the hot threshold
    search: str | None = None  # a fragment of the name, company or e-mail, or an exact external id
    mine: str | None = None  # only the leads the user owns (`list --mine`): who they are without a team (`team.me`)

    def where(self, conn: Connection) -> tuple[str, dict[str, Any]]:
        """Return a SQL condition over alias `l` and its parameters."""
        clauses, params = ["1 = 1"], {}
        if self.pipeline is not None or self.stage is not None:
            p = pipelines.get_pipeline(conn, self.pipeline)
            clauses.append("l.pipeline_id = :f_pipeline")
            params["f_pipeline"] = p["id"]
            if self.stage is not None:
                clauses.append("l.stage_id = :f_stage")
                params["f_stage"] = pipelines.find_stage(conn, p["id"], self.stage)["id"]
        owner = team.me(conn, self.mine) if self.mine is not None else self.owner
        if owner is not None:
            clauses.append("lower(l.owner) = lower(:f_owner)")
            params["f_owner"] = owner
        if self.source is not None:
            clauses.append("lower(l.source) = lower(:f_source)")
            params["f_source"] = self.source
        if self.status is not None:
            status = self.status.strip().lower()  # choices take any case: --status Open
            if status not in STATUSES:
                raise PipecliError(f"--status must be open, won or lost, not {self.status!r}")
            clauses.append("l.status = :f_status")
            params["f_status"] = status
        if self.search is not None and self.search.strip():
            clauses.append(lookup.search_sql("l"))
            params.update(lookup.search_params(self.search))
        if not self.include_archived:
            clauses.append("l.archived_at IS NULL")
        if self.hot:
            condition, hot_params = scoring.hot_sql("l")
            clauses.append(condition)
            params.update(hot_params)
        return " AND ".join(clauses), params


LIST_COLUMNS = (
    "l.id, l.name, l.company, l.email, l.phone, p.name AS pipeline, s.name AS stage, l.status,"
    " l.value_minor, l.source, l.owner, l.expected_close, l.created_at, l.stage_entered_at,"
    " l.last_activity_at, l.last_event_at, l.closed_at, l.lost_reason, l.next_step, l.next_step_due,"
    " l.external_id, l.score, l.win_probability"
)


def list_leads(
    conn: Connection, filters: LeadFilter, sort: str = "id", limit: int | None = None, as_of: _dt.date | None = None
) -> list[dict[str, Any]]:
    """Return the leads matching `filters`, in `sort` order (a key of SORTS), at most `limit` of them; with
    `as_of`, the leads as they stood at the end of that day (`_as_of_leads`): the filters apply to those values."""
    sort = sort.strip().lower()  # choices take any case: --sort Value
    if sort not in SORTS:
        raise PipecliError(f"--sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if as_of is None:
        source, params = "lead", {}
        score, score_params = scoring.total_sql("l")
        params.update(score_params)
    else:
        if sort == "score" or filters.hot:
            raise PipecliError(
                "--as-of lists no scores (a past day's score was never recorded): drop --sort score/--hot"
            )
        source, params = _as_of_leads(conn, clock.end_of_day_ts(as_of))
        score = "NULL"
    where, filter_params = filters.where(conn)
    params.update(filter_params)
    columns = LIST_COLUMNS.replace("l.score", f"{score} AS score")
    sql = (
        f"SELECT {columns} FROM {source} l JOIN stage s ON s.id = l.stage_id "
        f"JOIN pipeline p ON p.id = l.pipeline_id WHERE {where} ORDER BY {ORDER_BY[sort]}"
    )
    if limit is not None:
        if limit < 0:
            raise PipecliError("--limit must not be negative")
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


# The columns of a lead an edit or an import can change, besides those `reports.state` rebuilds.
_EDITED = ("name", "company", "email", "phone", "external_id", "lost_reason", "next_step", "next_step_due")


def _as_of_leads(conn: Connection, moment: int) -> tuple[str, dict[str, Any]]:
    """Return the relation of every lead as it stood at `moment` (with LIST_COLUMNS but the score) and its
    parameters: stage, status, value, owner, source, expected close and archiving as the reports rebuild
    them, every other edited detail by the same rule (`history.column_at_sql`), the last activity and event
    as of then, and no win probability (never recorded for a past moment)."""
    # imported here: only a listing of the past needs them
    from pipecli.history import check_as_of, column_at_sql
    from pipecli.reports.state import lead_state

    check_as_of(conn, moment)
    rel, params = lead_state(None, moment, conn.dialect.name)
    edited = ", ".join(column_at_sql(f, "d", ":asof", conn.dialect.name) for f in _EDITED)
    activity = "(SELECT MAX(a.at) FROM activity a WHERE a.lead_id = d.id AND a.at <= :asof)"
    return (
        f"(SELECT st.id, st.pipeline_id, st.stage_id, st.status, st.value_minor, st.source, st.owner,"
        f" st.expected_close, st.created_at, st.stage_entered_at, st.closed_at, st.archived_at, {edited},"
        f" {activity} AS last_activity_at,"
        f" CASE WHEN {activity} > st.stage_entered_at THEN {activity} ELSE st.stage_entered_at END AS last_event_at,"
        f" NULL AS win_probability FROM {rel} st JOIN lead d ON d.id = st.id)"
    ), params


def ranked(
    conn: Connection, pipeline: str | None = None, limit: int | None = None, hot_only: bool = False
) -> list[dict[str, Any]]:
    """Return open leads ranked by total score now, with fit, engagement now, total, hot and win probability."""
    where, params = LeadFilter(pipeline=pipeline, status="open", hot=hot_only).where(conn)
    expr, score_params = scoring.total_sql("l")
    if limit is not None and limit < 0:
        raise PipecliError("--limit must not be negative")
    sql = (
        f"SELECT l.id, l.name, l.company, s.name AS stage, l.fit_score AS fit, {expr} AS total,"
        f" l.win_probability, l.next_step FROM lead l JOIN stage s ON s.id = l.stage_id WHERE {where}"
        " ORDER BY total DESC, l.id" + (" LIMIT :limit" if limit is not None else "")
    )
    rows = conn.execute(text(sql), {**params, **score_params, "limit": limit}).mappings()
    threshold = hot_threshold()
    return [{**dict(r), "engagement": r["total"] - r["fit"], "hot": r["total"] >= threshold} for r in rows]
