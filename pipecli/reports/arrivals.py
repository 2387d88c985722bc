"""New business: revenue from deals not yet created at the forecast moment and won inside the horizon.

- Arrival rate per period: the mean number of deals created per whole past period over the last year
  (PERIODS_PER_YEAR periods, fewer when the history is shorter). With at least two years of whole periods,
  each position in the year (a calendar month, quarter or week number) gets a seasonal factor: its mean
  count over those years ÷ the mean over every whole period of them. The current period counts only its
  part still to come.
- Win timing: of the deals created, the share won d periods after the period they were created in, a
  Kaplan–Meier estimate (`timing.hazards`) in which deals still open are censored.
- Beyond `timing.SAMPLE_LEADS` leads, win timing and values come from the systematic sample of
  `timing.sample_step`; the arrival counts are always exact.
- Value: the won deals' values (mean for the expected figure, drawn from for the ranges).
- Expected wins in coming period i: λ_i = Σ_{c ≤ i} rate_c × q_(i−c); revenue λ_i × mean won value. For
  a constant history (r deals a period, a share w won in their own period at value V) that is r × w × V.
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text

from pipecli import clock
from pipecli.reports.periods import next_start, period_start
from pipecli.reports.timing import hazards, period_index, period_indices, sample_from, win_by_offset

PERIODS_PER_YEAR = {"month": 12, "quarter": 4, "week": 52}


@dataclass
class NewBusiness:
    """What the history says about deals not yet created: per coming period the arrival rate and the
    expected number won, the win rate, the won values, and whether seasonality was used."""

    rates: list[float]
    expected_wins: list[float]
    win_rate: float
    values: np.ndarray
    seasonal: bool
    history_periods: int

    def expected_minor(self) -> list[float]:
        """Return the expected new-business revenue per coming period (minor units, unrounded)."""
        mean = float(self.values.mean()) if len(self.values) else 0.0
        return [w * mean for w in self.expected_wins]


def estimate(
    conn,
    rel: str,
    params: dict,
    t: int,
    period: str,
    starts: list[_dt.date],
    step: int = 1,
    pipeline_id: int | None = None,
):
    """Return the NewBusiness estimate for the coming periods [starts[i], starts[i+1]) from the leads of
    relation `rel` as they stood at `t`: arrivals counted exactly (`_counts_from_index` when `rel` is the
    current lead table of pipeline `pipeline_id`, else `_counts_by_quarter_hour`), win timing and values
    from the leads of the sample of step `step` (`timing.sample_step`)."""
    now = period_index(clock.from_ts(t).date(), period)
    if pipeline_id is None:
        counts = _counts_by_quarter_hour(conn, rel, params, t, period)
    else:
        counts = _counts_from_index(conn, pipeline_id, t, period)
    # closed and open leads apart, each from one covering index of the lead table
    parts = ("l.status IN ('won', 'lost') AND l.closed_at IS NOT NULL", "l.status = 'open'")
    leads, kept = sample_from(conn, rel, step, pipeline_id is not None)
    rows = conn.execute(
        text(
            " UNION ALL ".join(
                f"SELECT l.id, l.created_at, l.status, l.closed_at, l.value_minor FROM {leads} "
                f"WHERE {part} AND l.created_at <= :t AND {kept}"
                for part in parts
            )
            + " ORDER BY 1"
        ),
        {**params, "t": t},
    ).all()
    rows = [r[1:] for r in rows]
    horizon = len(starts) - 1
    status = np.array([r[1] for r in rows], dtype=object)
    closed = np.array([r[1] in ("won", "lost") and r[2] is not None for r in rows], dtype=bool)
    created_in = period_indices(np.array([r[0] for r in rows], dtype=np.int64), period)
    closed_in = period_indices(np.array([r[2] if c else r[0] for r, c in zip(rows, closed)], dtype=np.int64), period)
    delay = np.where(closed, closed_in - created_in, now - created_in)
    outcome = np.where(closed, status, "open")
    delay_rows = []
    for kind in ("won", "lost", "open"):
        found, n = np.unique(delay[outcome == kind], return_counts=True)
        delay_rows += [(int(d), kind, int(m)) for d, m in zip(found, n)]
    won_values = [int(r[3]) for r, c in zip(rows, closed) if c and r[1] == "won" and r[3] is not None]
    first = min(counts) if counts else now
    whole = list(range(first, now))  # whole past periods
    ppy = PERIODS_PER_YEAR[period]
    recent = whole[-ppy:]
    level = sum(counts.get(i, 0) for i in recent) / len(recent) if recent else 0.0
    seasonal = len(whole) >= 2 * ppy
    factors = {}
    if seasonal:
        years = whole[-(len(whole) // ppy) * ppy :]
        overall = sum(counts.get(i, 0) for i in years) / len(years)
        for pos in range(ppy):
            same = [counts.get(i, 0) for i in years if i % ppy == pos]
            factors[pos] = (sum(same) / len(same) / overall) if overall and same else 1.0
    rates = []
    for c in range(horizon):
        rate = level * (factors.get((now + c) % ppy, 1.0) if seasonal else 1.0)
        if c == 0:
            begin, end = clock.day_start_ts(starts[0]), clock.day_start_ts(starts[1])
            rate *= max(end - max(t, begin), 0) / max(end - begin, 1)
        rates.append(rate)
    h_won, h_lost, _ = hazards(delay_rows)
    q, win_rate = win_by_offset(h_won, h_lost, 0, horizon)
    expected = [sum(rates[c] * q[i - c] for c in range(i + 1)) for i in range(horizon)]
    return NewBusiness(rates, expected, win_rate, np.array(won_values, dtype=float), seasonal, len(whole))


def _counts_by_quarter_hour(conn, rel: str, params: dict, t: int, period: str) -> dict[int, int]:
    """Return {period index: deals created in it by `t`} for the leads of relation `rel`: counted by quarter
    hour (which every time zone's midnight falls on), then by period."""
    quarters = conn.execute(
        text(f"SELECT l.created_at / 900, COUNT(*) FROM {rel} l WHERE l.created_at <= :t GROUP BY l.created_at / 900"),
        {**params, "t": t},
    ).all()
    made = period_indices(np.array([q for q, _ in quarters], dtype=np.int64) * 900, period)
    counts: dict[int, int] = {}
    for c, (_, n) in zip(made.tolist(), quarters):
        counts[c] = counts.get(c, 0) + n
    return counts


def _counts_from_index(conn, pipeline_id: int, t: int, period: str) -> dict[int, int]:
    """Return `_counts_by_quarter_hour`'s counts for the current leads of a pipeline without sorting them:
    the cohort index (pipeline, furthest position, status, created) holds each (position, status) group's
    leads in creation order, so each group's count per period is a range of it, counted where it lies."""

    # the index's distinct (position, status) prefixes and each one's first lead, found by seeking (MIN)
    def least(column: str, where: str, **bound) -> object:
        sql = f"SELECT MIN({column}) FROM lead WHERE pipeline_id = :p AND {where}"
        return conn.execute(text(sql), {"p": pipeline_id, "t": t, **bound}).scalar()

    groups = []
    position = least("furthest_position", "1 = 1")
    while position is not None:
        status = least("status", "furthest_position = :f", f=position)
        while status is not None:
            first = least(
                "created_at", "furthest_position = :f AND status = :s AND created_at <= :t", f=position, s=status
            )
            groups.append((position, status, first))
            status = least("status", "furthest_position = :f AND status > :s", f=position, s=status)
        position = least("furthest_position", "furthest_position > :f", f=position)
    groups = [g for g in groups if g[2] is not None]
    if not groups:
        return {}
    day = clock.from_ts(int(min(g[2] for g in groups))).date()
    starts = [period_start(day, period)]
    while clock.day_start_ts(starts[-1]) <= t:
        starts.append(next_start(starts[-1], period))
    bounds = [clock.day_start_ts(s) for s in starts]
    bounds[-1] = t + 1  # created by `t`
    spans = ", ".join(f"({i}, {int(lo)}, {int(hi)})" for i, (lo, hi) in enumerate(itertools.pairwise(bounds)))
    cells = ", ".join(f"({int(f)}, '{str(s).replace(chr(39), chr(39) * 2)}')" for f, s, _ in groups)
    rows = conn.execute(
        text(
            f"WITH b(i, lo, hi) AS (VALUES {spans}), g(f, s) AS (VALUES {cells}) "
            "SELECT b.i, SUM((SELECT COUNT(*) FROM lead l WHERE l.pipeline_id = :p AND l.furthest_position = g.f "
            "AND l.status = g.s AND l.created_at >= b.lo AND l.created_at < b.hi)) FROM b CROSS JOIN g GROUP BY b.i"
        ),
        {"p": pipeline_id},
    ).all()
    first = period_index(starts[0], period)
    return {first + int(i): int(n) for i, n in rows if n}


def simulate(nb: NewBusiness, runs: int, rng) -> np.ndarray:
    """Return (runs × periods) simulated new-business revenue: the number won in each period is Poisson
    with mean λ_i (arrivals are Poisson and each is won in period i independently), their values drawn
    from the won values (a normal law of their sum beyond a few million draws)."""
    horizon = len(nb.expected_wins)
    out = np.zeros((runs, horizon))
    if not len(nb.values):
        return out
    mean, sd = float(nb.values.mean()), float(nb.values.std())
    for i, lam in enumerate(nb.expected_wins):
        n = rng.poisson(lam, runs)
        total = int(n.sum())
        if not total:
            continue
        if total <= 2_000_000:
            draws = rng.choice(nb.values, size=total)
            out[:, i] = np.bincount(np.repeat(np.arange(runs), n), weights=draws, minlength=runs)
        else:
            out[:, i] = np.clip(n * mean + np.sqrt(n) * sd * rng.standard_normal(runs), 0, None)
    return out
