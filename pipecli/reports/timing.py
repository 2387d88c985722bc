"""When an open deal closes won: a discrete-time hazard (Kaplan–Meier with competing outcomes) of time to
close, conditioned on the deal's age in its stage, and the slip of typed expected close dates.

- Buckets: time is counted in period lengths (`PERIOD_SECONDS`); a deal that entered its stage `a` buckets
  ago is "age a". Bucket j of a history row is the number of whole period lengths from its stage entry to
  its close (won or lost) or, for a deal still open at the forecast moment, to that moment (censored).
- Hazards: for bucket j, at risk = rows whose close is in bucket j or later, plus censored rows that have
  *finished* bucket j (censored in a later bucket): a deal still open in its j-th bucket survived the
  earlier ones and is not counted in the one it has not finished. h_won[j] = wins in j ÷ at risk,
  h_lost[j] = losses in j ÷ at risk (Kaplan–Meier's product-limit estimate with two outcomes).
- Aging: a deal of age a in its stage is compared with the history's stays in that stage that lasted at
  least a (deals that had moved on by then were further along, and win more often): its hazards are
  estimated from those rows only.
- Fallback: a stage's own hazard at bucket j is used when at least `min_cell` rows are at risk
  there; else the hazard pooled over the pipeline's open stages at j; else (few deals that old anywhere)
  the pooled hazard over every bucket from j on. Buckets from MAX_BUCKETS on are pooled into the last.
- A deal of age a: P(won in coming bucket i) = S(a..a+i-1) × h_won[a+i], where S multiplies (1 − h_won −
  h_lost) over the buckets it must survive; its win probability is the sum over every future bucket.
- Calendar periods: the coming periods are calendar months, quarters or ISO weeks (`periods`). A deal's
  chance of winning in each is read off its cumulative wins from the start of its age bucket (spread evenly
  within a bucket), cut at the periods' ends measured from now (`win_by_window`): a current period with
  two days left gets two days' worth of wins, not a whole bucket's.
- Expected close dates: `slip` from won deals with a date: periods between the period of the expected date
  and the period it closed in (negative when early). An open deal whose date is e periods ahead (e < 0
  when passed) closes, if won, at offset e + slip, with the slips that would fall in the past dropped and
  the rest renormalised: a passed date spreads over the coming periods as late deals did, never "this
  period at full probability". Without slip history a date still ahead is taken as on time and a passed
  one gets the hazard's timing.
- Scale: the estimates above read each history lead's stays. Beyond SAMPLE_LEADS leads in the pipeline they
  are read from a systematic sample, the leads whose id is a multiple of k = ceil(leads ÷ SAMPLE_LEADS)
  (`sample_step`): hazards, slips and win timing are shares, so a sample of that size fixes them to a few
  tenths of a point, and the forecast stays under two seconds on a million leads. Counts that are shown
  (deals, values, arrivals, closed deals informing a probability) are always exact.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text

from pipecli import clock, config
from pipecli.clock import DAY
from pipecli.reports.periods import next_start, period_start

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# rows of (bucket, outcome, count): outcome won, lost or open (censored)
Outcomes = Iterable[Sequence[Any]]

PERIOD_SECONDS = {"month": int(30.436875 * DAY), "quarter": int(91.310625 * DAY), "week": 7 * DAY}
MAX_BUCKETS = 48
SAMPLE_LEADS = 20000


def sample_step(conn: Connection, rel: str, params: dict[str, Any], leads: int | None = None) -> int:
    """Return k, the step of the systematic sample of history leads (see the module docstring): 1 (every lead)
    up to SAMPLE_LEADS leads in the relation `rel` (or `leads`, when they were counted already), else
    ceil(leads ÷ SAMPLE_LEADS)."""
    n = leads if leads is not None else int(conn.execute(text(f"SELECT COUNT(*) FROM {rel} l"), params).scalar() or 0)
    return max(1, -(-n // SAMPLE_LEADS))


def sampled(alias: str, step: int) -> str:
    """Return the SQL condition that keeps the sampled leads (`alias`.id a multiple of `step`), or TRUE."""
    return f"{alias}.id % {int(step)} = 0" if step > 1 else "1 = 1"


def sample_from(conn: Connection, rel: str, step: int, seek: bool) -> tuple[str, str]:
    """Return (a FROM fragment naming the leads of relation `rel` as `l`, the condition keeping the sampled
    ones): the sample of `sampled`. With `seek` (`rel` is the lead table itself) the sampled ids are
    generated (step, 2 × step, ... up to the largest id) and each is looked up by its key, instead of
    reading every lead to test its id: the same leads, a fiftieth of the reads on a million."""
    if step <= 1 or not seek:
        return f"{rel} l", sampled("l", step)
    top = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar() or 0)
    k = int(step)
    join = "CROSS JOIN" if conn.dialect.name == "sqlite" else "JOIN"  # SQLite: the generated ids first
    pick = (
        f"(WITH RECURSIVE pick(id) AS (SELECT {k} UNION ALL SELECT id + {k} FROM pick WHERE id + {k} <= {top}) "
        "SELECT id FROM pick) s"
    )
    return f"{pick} {join} {rel} l ON l.id = s.id", "1 = 1"


def period_index(day: _dt.date, period: str, fiscal_start: int | None = None) -> int:
    """Return a period's ordinal (months and fiscal quarters since year 0, ISO-week Mondays since day 1),
    so that the difference of two is the number of periods between them; quarters begin in month
    `fiscal_start` (default: the `fiscal_year_start` setting, read here: a loop reads it once and passes it)."""
    if period == "week":
        return (day.toordinal() - 1) // 7
    if period == "quarter":
        first = config.top().fiscal_year_start if fiscal_start is None else fiscal_start
        return (day.year * 12 + day.month - first) // 3
    return day.year * 12 + day.month - 1


def period_indices(moments: np.ndarray, period: str) -> np.ndarray:
    """Return `period_index` of the local day of each Unix time in `moments`, vectorised: the calendar
    period starts covering them, as moments, searched once."""
    moments = np.asarray(moments, dtype=np.int64)
    if not len(moments):
        return np.zeros(0, dtype=np.int64)
    first = period_start(clock.from_ts(int(moments.min())).date(), period)
    last = clock.from_ts(int(moments.max())).date()
    starts = [first]
    while next_start(starts[-1], period) <= last:
        starts.append(next_start(starts[-1], period))
    bounds = np.array([clock.day_start_ts(s) for s in starts], dtype=np.int64)
    return period_index(first, period) + np.searchsorted(bounds, moments, side="right") - 1


def hazards(rows: Outcomes, nbuckets: int = MAX_BUCKETS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (h_won, h_lost, at_risk) per bucket from rows of (bucket, outcome, count) where outcome is
    'won', 'lost' or 'open' (censored), as the module docstring says."""
    won = np.zeros(nbuckets)
    lost = np.zeros(nbuckets)
    closed_from = np.zeros(nbuckets + 1)
    censored_after = np.zeros(nbuckets + 1)
    for bucket, outcome, count in rows:
        b = min(max(int(bucket), 0), nbuckets - 1)
        if outcome == "won":
            won[b] += count
            closed_from[b] += count
        elif outcome == "lost":
            lost[b] += count
            closed_from[b] += count
        else:
            censored_after[b] += count  # finished buckets 0..b-1
    closing = np.cumsum(closed_from[::-1])[::-1][:nbuckets]  # closed in bucket j or later
    censored = np.cumsum(censored_after[::-1])[::-1][1 : nbuckets + 1]  # censored in a bucket after j
    at_risk = closing + censored
    with np.errstate(invalid="ignore", divide="ignore"):
        h_won = np.where(at_risk > 0, won / np.maximum(at_risk, 1), 0.0)
        h_lost = np.where(at_risk > 0, lost / np.maximum(at_risk, 1), 0.0)
    return h_won, h_lost, at_risk


def pooled(
    stage_rows: dict[int, list[Sequence[Any]]], min_cell: int, nbuckets: int = MAX_BUCKETS
) -> dict[int | None, tuple[np.ndarray, np.ndarray]]:
    """Return {stage_id: (h_won, h_lost, source per bucket)} with the fallback of the module docstring,
    from {stage_id: [(bucket, outcome, count), ...]}; key None holds the pipeline's pooled hazards."""
    every = [r for rows in stage_rows.values() for r in rows]
    pw, pl, pr = hazards(every, nbuckets)
    # the tail: events and risk summed over buckets j.. (the hazard of "this old or older")
    won_tail = np.cumsum((pw * pr)[::-1])[::-1]
    lost_tail = np.cumsum((pl * pr)[::-1])[::-1]
    risk_tail = np.cumsum(pr[::-1])[::-1]
    tail_w = np.where(risk_tail > 0, won_tail / np.maximum(risk_tail, 1), 0.0)
    tail_l = np.where(risk_tail > 0, lost_tail / np.maximum(risk_tail, 1), 0.0)
    pool_w = np.where(pr >= min_cell, pw, tail_w)
    pool_l = np.where(pr >= min_cell, pl, tail_l)
    out: dict[int | None, tuple[np.ndarray, np.ndarray]] = {None: (pool_w, pool_l)}
    for sid, rows in stage_rows.items():
        hw, hl, risk = hazards(rows, nbuckets)
        own = risk >= min_cell
        out[sid] = (np.where(own, hw, pool_w), np.where(own, hl, pool_l))
    return out


def win_by_offset(h_won: np.ndarray, h_lost: np.ndarray, age: int, horizon: int) -> tuple[np.ndarray, float]:
    """Return (P(won in coming bucket i) for i < horizon, P(won at all)) for a deal open at bucket `age`.
    Buckets beyond the table keep the last bucket's hazards; "at all" stops after MAX_BUCKETS more."""
    n = len(h_won)
    steps = max(horizon, MAX_BUCKETS)
    idx = np.minimum(np.arange(age, age + steps), n - 1)
    hw, hl = h_won[idx], h_lost[idx]
    survive = np.concatenate(([1.0], np.cumprod(1.0 - hw - hl)[:-1]))
    wins = survive * hw
    return wins[:horizon], float(wins.sum())


def win_by_window(
    h_won: np.ndarray, h_lost: np.ndarray, elapsed: np.ndarray, ends: list[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (P(won in each calendar window): one row per deal, P(won at all) per deal) for deals open
    `elapsed` buckets after entering their stage (all in the same bucket); the windows run from now to
    ends[0], then ends[0] to ends[1] ... (bucket units from now: the calendar periods' ends). Within a bucket
    the wins and losses are spread evenly, and each deal is known to be open now, so a period with two days
    left gets two days' worth of wins (`win_by_offset` gives whole buckets: the same figures when the
    windows are whole buckets)."""
    elapsed = np.asarray(elapsed, dtype=float)
    n = len(h_won)
    first = int(elapsed.min())
    last = max(first + MAX_BUCKETS, int(np.ceil(elapsed.max() + max(ends, default=0.0))) + 1)
    idx = np.minimum(np.arange(first, last), n - 1)
    hw, hl = h_won[idx], h_lost[idx]
    alive = np.concatenate(([1.0], np.cumprod(1.0 - hw - hl)))  # open at the start of each bucket
    won = np.concatenate(([0.0], np.cumsum(alive[:-1] * hw)))  # won by the start of each bucket
    points = elapsed[:, None] + np.array([0.0, *ends])[None, :]
    j = np.minimum(np.floor(points).astype(int) - first, len(hw) - 1)
    part = points - (first + j)
    won_by = won[j] + alive[j] * hw[j] * part  # linear within a bucket
    open_now = alive[j[:, 0]] * (1.0 - (hw[j[:, 0]] + hl[j[:, 0]]) * part[:, 0])
    # where history says no deal is still open this old in its bucket, there is nothing to spread
    safe = np.where(open_now > 1e-12, open_now, np.inf)
    return np.diff(won_by, axis=1) / safe[:, None], (won[-1] - won_by[:, 0]) / safe


def slip_shares(rows: Iterable[Sequence[_dt.date]], period: str) -> dict[int, float]:
    """Return {periods late: share} from (expected close date, closed day) pairs of won deals."""
    counts: dict[int, int] = {}
    first = config.top().fiscal_year_start
    for expected, closed in rows:
        d = period_index(closed, period, first) - period_index(expected, period, first)
        counts[d] = counts.get(d, 0) + 1
    total = sum(counts.values())
    return {d: n / total for d, n in sorted(counts.items())} if total else {}


def spread_by_slip(slips: dict[int, float], ahead: int, horizon: int) -> np.ndarray | None:
    """Return, for a deal whose expected date is `ahead` periods from the current one, the share of its win
    falling in each coming period (i < horizon; the rest is later), from the slips that land from now on;
    None when no slip in history lands there."""
    kept = {ahead + d: s for d, s in slips.items() if ahead + d >= 0}
    total = sum(kept.values())
    if not total:
        return None
    out = np.zeros(horizon)
    for offset, s in kept.items():
        if offset < horizon:
            out[offset] += s / total
    return out
