"""Pipeline metrics and the funnel: how many leads come in, how many are won, how fast, and where they stop.

Every figure is an SQL aggregate over one "lead state" relation (`lead_state`): for the current figures it is
the lead table itself with its cached columns (`status`, `stage_id`, `stage_entered_at`, `furthest_position`,
`closed_at`), read through covering indexes; for `--as-of DATE` it is derived from the history: each lead's
`stage_change` row that was current at the end of that day (`at <= T < left_at`), and the furthest open
stage among its rows up to then. The same aggregates run over either, so the two paths agree by construction.

Definitions (`T` is now, or the end of the `--as-of` day; the window is `--since` .. T, all history without
`--since`):
- new leads: created in the window (and per source);
- win rate: won ÷ (won + lost) among leads closed in the window;
- average won deal: exact mean of the won values in minor units, rounded half-even to the minor unit
  (leads without a value are left out of it);
- sales cycle: days from creation to won, median and mean, over leads won in the window;
- average age of open deals: days from creation to T;
- pipeline velocity: open deals × win rate × average won deal ÷ mean cycle days (money per day, rounded to the
  minor unit);
- per stage, over leads created in the window: *reached* counts a lead in every open stage up to the furthest
  one it entered (a lead that skipped a stage is counted as having passed it), and a won lead in every stage
  (it passed them all on its way to won); conversion = reached(next) ÷ reached(this), the last stage's next
  being won;
- time in stage: completed stays (`left_at - at` of the history rows into that stage, left by T and entered
  since the window start), bucketed by the hour in SQL, median and 90th percentile over the buckets
  (linear interpolation; durations are exact to the hour).
Values are current values: the history records stage moves, not edits of a lead's value.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, pipelines
from pipecli.clock import DAY
from pipecli.history import check_as_of
from pipecli.money import round_minor
from pipecli.reports.state import (
    BUCKET,
    closed_summary,
    known_path,
    open_by_stage,
    percentile,
    reached_counts,
    stage_durations,
    stage_reach,
    state,
    unknown_paths,
    velocity_per_day,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from pipecli.reports.state import State


@dataclass(frozen=True)
class FunnelStage:
    """One row of the funnel: an open stage (by `position`), or the last row, `won` (position, open and
    next stage None; `open_value_minor` then holds the won value)."""

    position: int | None
    stage: str
    reached: int
    open: int | None
    open_value_minor: int
    next_stage: str | None
    conversion: float | None  # reached(next) ÷ reached(this); None when nobody reached this stage


@dataclass(frozen=True)
class Funnel:
    """The funnel of a pipeline as of a moment (epoch seconds); `unknown_path` counts the closed deals left
    out because nobody observed their stage path."""

    pipeline: str
    as_of: int
    from_history: bool
    stages: list[FunnelStage]
    unknown_path: int


@dataclass(frozen=True)
class MetricsStage(FunnelStage):
    """A funnel row with the time spent in the stage: completed stays, their median and p90 in days."""

    time_median_days: float | None
    time_p90_days: float | None
    stays: int


@dataclass(frozen=True)
class SourceCount:
    source: str | None
    new_leads: int


@dataclass(frozen=True)
class Metrics:
    """The pipeline's metrics (see the module docstring); money in minor units, durations in days."""

    pipeline: str
    as_of: int
    since: _dt.date | None
    from_history: bool
    new_leads: int
    won: int
    lost: int
    win_rate: float | None
    won_value_minor: int
    avg_won_minor: int | None
    cycle_median_days: float | None
    cycle_mean_days: float | None
    open_deals: int
    open_value_minor: int
    avg_open_age_days: float | None
    velocity_minor_per_day: int | None
    sources: list[SourceCount]
    stages: list[MetricsStage]


@dataclass(frozen=True)
class _Window:
    pipeline: dict[str, Any]
    t: int
    start: int | None
    history: bool


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / DAY


def _window(conn: Connection, pipeline: str | None, since: _dt.date | None, as_of: _dt.date | None) -> _Window:
    p = pipelines.get_pipeline(conn, pipeline)
    t = clock.end_of_day_ts(as_of) if as_of is not None else clock.now_ts()
    if as_of is not None:
        check_as_of(conn, t)
    start = clock.day_start_ts(since) if since is not None else None
    return _Window(p, t, start, as_of is not None)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def funnel(
    conn: Connection, pipeline: str | None = None, as_of: _dt.date | None = None, since: _dt.date | None = None
) -> Funnel:
    """Return the funnel: per open stage the leads that reached it, the deals open in it now (count and
    value) and the conversion to the next stage; then won. See the module docstring for definitions."""
    w = _window(conn, pipeline, since, as_of)
    with state(conn, w.pipeline["id"], w.t if w.history else None) as st:
        rows, _, unknown = _funnel_rows(conn, w, st)
    return Funnel(w.pipeline["name"], w.t, w.history, rows, unknown)


def _funnel_rows(
    conn: Connection, w: _Window, st: State
) -> tuple[list[FunnelStage], dict[int, tuple[int, int, int]], int]:
    """Return the funnel's rows, the open deals by stage, and how many deals were left out of reach and
    conversion because nobody observed their stage path."""
    pid = w.pipeline["id"]
    reach = stage_reach(conn, st, w.start, w.t)
    opened = open_by_stage(conn, st, w.t)
    open_stages = pipelines.stages(conn, pid, outcomes=False)
    reached = reached_counts(open_stages, reach)
    won = sum(n for (_, status), (n, _) in reach.items() if status == "won")
    won_known = sum(n for (_, status), (n, _) in known_path(reach).items() if status == "won")
    won_value = sum(v for (_, status), (_, v) in reach.items() if status == "won")
    rows: list[FunnelStage] = []
    for i, s in enumerate(open_stages):
        nxt = reached[i + 1] if i + 1 < len(reached) else won_known
        count, value, _ = opened.get(s["id"], (0, 0, 0))
        rows.append(
            FunnelStage(
                position=s["position"],
                stage=s["name"],
                reached=reached[i],
                open=count,
                open_value_minor=value,
                next_stage=open_stages[i + 1]["name"] if i + 1 < len(open_stages) else "won",
                conversion=_ratio(nxt, reached[i]),
            )
        )
    rows.append(FunnelStage(None, "won", won, None, won_value, None, None))
    return rows, opened, unknown_paths(reach)


def metrics(
    conn: Connection, pipeline: str | None = None, since: _dt.date | None = None, as_of: _dt.date | None = None
) -> Metrics:
    """Return the pipeline's metrics (see the module docstring): summary figures, `sources` (new leads per
    source) and `stages` (reached, open, conversion, time in stage)."""
    w = _window(conn, pipeline, since, as_of)
    with state(conn, w.pipeline["id"], w.t if w.history else None) as st:
        return _metrics(conn, w, st, since)


def _metrics(conn: Connection, w: _Window, st: State, since: _dt.date | None) -> Metrics:
    pid, t, start = w.pipeline["id"], w.t, w.start
    rel, params = st
    params = {**params, "t": t, "start": start}
    lower = " AND l.{col} >= :start" if start is not None else ""

    sources = [
        SourceCount(r[0], r[1])
        for r in conn.execute(
            text(
                f"SELECT l.source, COUNT(*) FROM {rel} l WHERE l.created_at <= :t{lower.format(col='created_at')} "
                "GROUP BY l.source ORDER BY COUNT(*) DESC, l.source"
            ),
            params,
        )
    ]
    closed = closed_summary(conn, rel, params, start is not None)
    cycle_buckets = conn.execute(
        text(
            "SELECT (l.closed_at - l.created_at) / 3600, COUNT(*) "
            f"FROM {rel} l WHERE l.status = 'won' AND l.closed_at <= :t{lower.format(col='closed_at')} "
            "GROUP BY (l.closed_at - l.created_at) / 3600"
        ),
        params,
    ).all()
    won_n, won_sum, won_valued, won_cycle = closed["won"]
    lost_n = closed["lost"][0]
    win_rate = _ratio(won_n, won_n + lost_n)
    avg_won = round_minor(Decimal(won_sum) / Decimal(won_valued)) if won_valued else None
    cycle_mean = Decimal(won_cycle) / Decimal(won_n) / DAY if won_n else None
    cycle_median = _days(percentile([(int(h) * BUCKET, n) for h, n in cycle_buckets], 0.5))

    fun, opened, _ = _funnel_rows(conn, w, st)
    open_n = sum(v[0] for v in opened.values())
    open_value = sum(v[1] for v in opened.values())
    open_age = sum(v[2] for v in opened.values())
    velocity = velocity_per_day(open_n, closed)
    open_stages = pipelines.stages(conn, pid, outcomes=False)
    durations = stage_durations(
        conn, [s["id"] for s in open_stages], start, t if (w.history or start is not None) else None
    )
    stages: list[MetricsStage] = []
    for s, f in zip(open_stages, fun):
        hours = [(h * BUCKET, n) for h, n in durations.get(s["id"], [])]
        stages.append(
            MetricsStage(
                **vars(f),
                time_median_days=_days(percentile(hours, 0.5)),
                time_p90_days=_days(percentile(hours, 0.9)),
                stays=sum(n for _, n in hours),
            )
        )
    return Metrics(
        pipeline=w.pipeline["name"],
        as_of=t,
        since=since,
        from_history=w.history,
        new_leads=sum(s.new_leads for s in sources),
        won=won_n,
        lost=lost_n,
        win_rate=win_rate,
        won_value_minor=won_sum or 0,
        avg_won_minor=avg_won,
        cycle_median_days=cycle_median,
        cycle_mean_days=float(cycle_mean) if cycle_mean is not None else None,
        open_deals=open_n,
        open_value_minor=open_value,
        avg_open_age_days=open_age / open_n / DAY if open_n else None,
        velocity_minor_per_day=velocity,
        sources=sources,
        stages=stages,
    )
