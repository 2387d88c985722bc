"""The lead state every report reads, and the aggregates the reports share.

`lead_state` is one relation of a pipeline's leads: for the current figures it is the lead table itself with
its cached columns (`status`, `stage_id`, `stage_entered_at`, `furthest_position`, `closed_at`), read through
covering indexes; for a past moment it is derived from the history: each lead's `stage_change` row that was
current then (`at <= T < left_at`), and the furthest open stage among its rows up to then. The same
aggregates run over either, so the two paths agree by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

from sqlalchemy import text

from pipecli.clock import DAY
from pipecli.history import column_at_sql
from pipecli.money import round_minor
from pipecli.pipelines import UNKNOWN_PATH

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

BUCKET = 3600  # durations are aggregated by the hour

Params: TypeAlias = dict[str, Any]
State: TypeAlias = tuple[str, Params]  # a relation's SQL (or a table's name) and its parameters
Reach: TypeAlias = dict[tuple[int | None, str], tuple[int, int]]  # (position, status): (count, value)
Closed: TypeAlias = dict[str, tuple[int, int, int, int]]  # status: (count, value, valued, cycle seconds)


def lead_state(pipeline_id: int | None, as_of: int | None, dialect: str = "sqlite") -> State:
    """Return an SQL relation (to use as `FROM <relation> l`) of the pipeline's leads with columns id,
        status, stage_id, created_at, closed_at, stage_entered_at, furthest_position, value_minor, source,
        owner, expected_close, win_probability, archived_at, forecast_category, pipeline_id, and its parameters
        (`pipeline_id` None: every pipeline's leads).

        With `as_of` None it is the lead table (cached columns); otherwise the state at `as_of` derived from
        `stage_change` and the events (value, owner, source, expected close and archiving as they were then;
    leads created later are absent)."""
    if as_of is None:
        return (
            "(SELECT id, status, stage_id, created_at, closed_at, stage_entered_at, furthest_position,"
            " value_minor, source, owner, expected_close, win_probability, archived_at, forecast_category,"
            " pipeline_id FROM lead" + (" WHERE pipeline_id = :pid)" if pipeline_id is not None else ")")
        ), {"pid": pipeline_id}

    def then(column: str) -> str:
        return column_at_sql(column, "x", ":asof", dialect)

    return (
        "(SELECT x.id, s.kind AS status, c.to_stage_id AS stage_id, x.created_at,"
        " CASE WHEN s.kind <> 'open' THEN c.at END AS closed_at, c.at AS stage_entered_at,"
        " CASE WHEN x.stage_entered_at <= :asof THEN x.furthest_position ELSE"  # no move since: cache holds
        " COALESCE((SELECT MAX(s2.position) FROM stage_change c2 JOIN stage s2 ON s2.id = c2.to_stage_id"
        "   WHERE c2.lead_id = x.id AND c2.at <= :asof), 1) END AS furthest_position,"
        f" {then('value_minor')}, {then('source')}, {then('owner')}, {then('expected_close')}, x.win_probability,"
        f" {then('archived_at')}, {then('forecast_category')}, s.pipeline_id"
        # CROSS JOIN: SQLite then reads the stays in lead order (one covering index scan) and each lead's row
        # and events in that order too; started from the stage, it read them at random (14 s of CPU instead of
        # 1.8 s at a million leads). PostgreSQL plans it as any join.
        " FROM stage_change c CROSS JOIN lead x CROSS JOIN stage s"
        # the stay's stage says which pipeline the lead was in then
        " WHERE x.id = c.lead_id AND s.id = c.to_stage_id AND c.at <= :asof AND (c.left_at IS NULL OR c.left_at > :asof)"
        + (" AND s.pipeline_id = :pid)" if pipeline_id is not None else ")")
    ), {"pid": pipeline_id, "asof": as_of}


@contextmanager
def state(conn: Connection, pipeline_id: int, as_of: int | None) -> Iterator[State]:
    """Yield (relation, params) of `lead_state`; for a past moment the state is derived from the history
    once into a temporary table, which every aggregate of the report then reads (dropped afterwards)."""
    rel, params = lead_state(pipeline_id, as_of, conn.dialect.name)
    if as_of is None:
        yield rel, params
        return
    name = "pipecli_state_as_of"
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {name} AS SELECT * FROM {rel} l"), params)
    try:
        yield name, {}
    finally:
        conn.execute(text(f"DROP TABLE {name}"))


def percentile(buckets: list[tuple[int, int]], q: float) -> float | None:
    """Return the `q` quantile (0..1, linear interpolation) of values given as (value, count) pairs, or
    None when there are none."""
    pairs = sorted((v, n) for v, n in buckets if n)
    total = sum(n for _, n in pairs)
    if not total:
        return None
    pos = (total - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)

    def at(k: int) -> int:
        seen = 0
        for value, count in pairs:
            seen += count
            if k < seen:
                return value
        return pairs[-1][0]

    a, b = at(lo), at(hi)
    return a + (b - a) * (pos - lo)


def stage_reach(conn: Connection, st: State, start: int | None, t: int) -> Reach:
    """Return, for leads of the state `st` (see `state`) created in [start, t], counts by furthest
    position and status: {(position, status): (count, value_minor)}."""
    rel, params = st
    where = "l.created_at <= :t" + (" AND l.created_at >= :start" if start is not None else "")
    rows = conn.execute(
        text(
            f"SELECT l.furthest_position, l.status, COUNT(*), SUM(l.value_minor) FROM {rel} l "
            f"WHERE {where} GROUP BY l.furthest_position, l.status"
        ),
        {**params, "t": t, "start": start},
    ).all()
    return {(r[0], r[1]): (r[2], r[3] or 0) for r in rows}


def open_by_stage(conn: Connection, st: State, t: int) -> dict[int, tuple[int, int, int]]:
    """Return {stage_id: (open deals, open value, summed age in seconds)} for the deals open at `t`."""
    rel, params = st
    rows = conn.execute(
        text(
            f"SELECT l.stage_id, COUNT(*), SUM(l.value_minor), SUM(:t - l.created_at) FROM {rel} l "
            "WHERE l.status = 'open' AND l.archived_at IS NULL GROUP BY l.stage_id"
        ),
        {**params, "t": t},
    ).all()
    return {r[0]: (r[1], r[2] or 0, r[3] or 0) for r in rows}


def stage_durations(
    conn: Connection, stage_ids: list[int], start: int | None, t: int | None
) -> dict[int, list[tuple[int, int]]]:
    """Return {stage_id: [(hours, count), ...]}: completed stays in each stage (left by `t`, entered
    since `start`), by whole hours. Without bounds it reads the duration index alone."""
    if not stage_ids:
        return {}
    ids = ", ".join(str(int(i)) for i in stage_ids)
    where = f"c.to_stage_id IN ({ids}) AND c.left_at IS NOT NULL"
    if t is not None:
        where += " AND c.left_at <= :t"
    if start is not None:
        where += " AND c.at >= :start"
    rows = conn.execute(
        text(
            "SELECT c.to_stage_id, ((c.left_at - c.at) / 3600) AS h, COUNT(*) FROM stage_change c "
            f"WHERE {where} GROUP BY c.to_stage_id, ((c.left_at - c.at) / 3600)"
        ),
        {"t": t, "start": start},
    ).all()
    out: dict[int, list[tuple[int, int]]] = {}
    for sid, hours, count in rows:
        out.setdefault(sid, []).append((int(hours), count))
    return out


def median_stay(conn: Connection, stage_id: int, t: int | None) -> float | None:
    """Return `percentile(stage_durations(...)[stage_id] as seconds, 0.5)` (completed stays in the stage, left
    by `t`, by whole hours; None when there are none) without grouping every stay: the duration index holds a
    stage's stays in hour order, so the median is its count and the one or two stays at the middle rank."""
    where = "c.to_stage_id = :s AND c.left_at IS NOT NULL" + (" AND c.left_at <= :t" if t is not None else "")
    bound = {"s": int(stage_id), "t": t}
    total = int(conn.execute(text(f"SELECT COUNT(*) FROM stage_change c WHERE {where}"), bound).scalar() or 0)
    if not total:
        return None
    pos = (total - 1) * 0.5
    lo, hi = math.floor(pos), math.ceil(pos)
    middle = [
        int(h) * BUCKET
        for (h,) in conn.execute(
            text(
                f"SELECT ((c.left_at - c.at) / 3600) FROM stage_change c WHERE {where} "
                "ORDER BY ((c.left_at - c.at) / 3600) LIMIT :n OFFSET :lo"
            ),
            {**bound, "n": hi - lo + 1, "lo": lo},
        )
    ]
    a, b = middle[0], middle[-1]
    return a + (b - a) * (pos - lo)


def known_path(reach: Reach) -> Reach:
    """Return the cells of `stage_reach`'s counts whose leads' stage paths are known: without the won and
    lost deals imported with their final state only (`pipelines.UNKNOWN_PATH`), whose passage through the
    stages nobody observed, so that no figure of reach, conversion or win probability invents it."""
    return {k: v for k, v in reach.items() if k[0] != UNKNOWN_PATH}


def unknown_paths(reach: Reach) -> int:
    """Return how many leads of `stage_reach`'s counts have a stage path nobody observed."""
    return sum(n for (pos, _), (n, _) in reach.items() if pos == UNKNOWN_PATH)


def reached_counts(open_stages: list[dict[str, Any]], reach: Reach) -> list[int]:
    """Return, per open stage (by position), how many leads whose path is known (`known_path`) reached it:
    those whose furthest position is at least its position, plus every won lead."""
    reach = known_path(reach)
    won_total = sum(n for (_, status), (n, _) in reach.items() if status == "won")
    out = []
    for s in open_stages:
        passed = sum(
            n for (pos, status), (n, _) in reach.items() if status != "won" and pos is not None and pos >= s["position"]
        )
        out.append(passed + won_total)
    return out


def closed_summary(conn: Connection, rel: str, params: Params, since: bool, lost_sums: bool = True) -> Closed:
    """Return {'won': (count, value sum, valued count, summed cycle seconds), 'lost': (...)} for the leads
    of relation `rel` closed by :t (and since :start when `since`). Without `lost_sums` the lost deals are
    only counted (their sums are 0): velocity needs no more, and a count reads no lead's values."""
    out: Closed = {"won": (0, 0, 0, 0), "lost": (0, 0, 0, 0)}
    lower = " AND l.closed_at >= :start" if since else ""
    sums = "SUM(l.value_minor), COUNT(l.value_minor), SUM(l.closed_at - l.created_at)"
    sql = (
        f"SELECT l.status, COUNT(*), {sums} "
        f"FROM {rel} l WHERE l.status IN ('won', 'lost') AND l.closed_at <= :t{lower} GROUP BY l.status"
    )
    if not lost_sums:
        sql = " UNION ALL ".join(
            f"SELECT '{status}', COUNT(*), {columns} FROM {rel} l WHERE l.status = '{status}' AND l.closed_at <= :t{lower}"
            for status, columns in (("won", sums), ("lost", "0, 0, 0"))
        )
    for r in conn.execute(text(sql), params):
        if not r[1]:
            continue
        out[r[0]] = (r[1], r[2] or 0, r[3], r[4] or 0)
    return out


# Velocity divides by the mean cycle of the won deals: one deal won in the minute it was created makes it
# millions a day. Below this many won deals it is not given ("not enough history").
VELOCITY_MIN_WON = 3


@overload
def velocity_per_day(open_deals: int, closed: Closed, exact: Literal[False] = False) -> int | None: ...
@overload
def velocity_per_day(open_deals: int, closed: Closed, exact: Literal[True]) -> Decimal | None: ...
def velocity_per_day(open_deals: int, closed: Closed, exact: bool = False) -> int | Decimal | None:
    """Return pipeline velocity in minor units per day: open deals × win rate × average won deal ÷ mean
    sales-cycle days, rounded half-even to the minor unit (the exact Decimal with `exact`); None when fewer
    than VELOCITY_MIN_WON deals were won (or none had a value): too little history to say."""
    won_n, won_sum, won_valued, won_cycle = closed["won"]
    lost_n = closed["lost"][0]
    if won_n < VELOCITY_MIN_WON or not (won_valued and won_cycle):
        return None
    cycle_days = Decimal(won_cycle) / Decimal(won_n) / DAY
    value = (
        Decimal(open_deals)
        * Decimal(won_n)
        / Decimal(won_n + lost_n)
        * (Decimal(won_sum) / Decimal(won_valued))
        / cycle_days
    )
    return value if exact else round_minor(value)
