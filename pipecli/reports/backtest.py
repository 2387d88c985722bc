"""The backtest: how pipecli's forecast and the simple ones would have done over past periods.

- At each period start S the forecast is made from the pipeline as it stood at the second before S (stages,
  values, expected dates from the history: `state.lead_state`), every estimate (hazards, slips, arrivals,
  win rates, values) from what had happened by then; actual = the value of the deals moved to won in
  [S, next S), each at the value it had when it was won (a later edit does not rewrite the past). `--from`/`--to` include the periods holding them.
- Forecasters: pipecli (P50 and its P10–P90), the classic stage-weighted pipeline (value × stage probability
  of the deals dated in the period), last period's actual, the mean of the last three periods' actuals.
- Per forecaster: WAPE = Σ|f − a| ÷ Σ a; bias = Σ(f − a) ÷ Σ a; pinball loss = the mean over periods of the
  mean quantile loss at .1, .5 and .9 (a point forecast stands for all three), ÷ the mean actual so it reads
  as a share. Coverage: the share of periods whose actual lay within P10–P90, leaving out periods with
  nothing forecast and nothing won. The best forecaster is the one of lowest pinball loss.
- With fewer than MIN_HISTORY whole periods of history before the first period the backtest refuses.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from pipecli import clock, pipelines
from pipecli.errors import PipecliError
from pipecli.history import field_at_sql
from pipecli.reports import forecast as fc
from pipecli.reports.periods import label, next_start, period_start

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MIN_HISTORY = 2
QUANTILES = (0.1, 0.5, 0.9)
FORECASTERS = ("pipecli", "stage_weighted", "last_period", "mean_of_3")


@dataclass(frozen=True)
class BacktestPeriod:
    """One past period: what was won in it and what each forecaster said at its start; money in minor units."""

    period: str
    start: _dt.date
    end: _dt.date  # its last day
    deals: int  # the open deals at its start
    actual_minor: int
    p10_minor: int
    p50_minor: int
    p90_minor: int
    stage_weighted_minor: int
    last_period_minor: int
    mean_of_3_minor: int
    inside: bool | None  # the actual within pipecli's P10-P90; None when nothing was forecast nor won

    def forecast_minor(self, forecaster: str) -> int:
        """Return what `forecaster` (one of FORECASTERS) said of this period: pipecli's P50 for pipecli."""
        return self.p50_minor if forecaster == "pipecli" else int(getattr(self, f"{forecaster}_minor"))

    def quantiles(self, forecaster: str) -> tuple[int, int, int]:
        """Return the forecaster's P10, P50 and P90 (a point forecast stands for all three)."""
        if forecaster == "pipecli":
            return self.p10_minor, self.p50_minor, self.p90_minor
        point = self.forecast_minor(forecaster)
        return point, point, point


@dataclass(frozen=True)
class ForecasterScore:
    """How one forecaster did over the periods, as shares of what was won (None when nothing was won)."""

    forecaster: str
    wape: float | None
    bias: float | None
    coverage: float | None  # pipecli's only: the share of periods whose actual lay within P10-P90
    pinball: float | None


@dataclass(frozen=True)
class Backtest:
    """The backtest of a pipeline: what was asked, the history before the first period, per period the
    figures, per forecaster its scores, the best one and the verdict in a sentence."""

    pipeline: str
    period: str
    runs: int
    seed: int
    probabilities: str
    history_periods: int
    period_count: int
    deals_per_period: float
    periods: list[BacktestPeriod]
    forecasters: list[ForecasterScore]
    best: str
    verdict: str


def _pinball(quantiles: tuple[float, float, float], actual: float) -> float:
    return sum(max(q * (actual - f), (q - 1) * (actual - f)) for q, f in zip(QUANTILES, quantiles)) / 3


def backtest(
    conn: Connection,
    pipeline: str | None = None,
    period: str = "month",
    start: _dt.date | None = None,
    end: _dt.date | None = None,
    runs: int | None = None,
    seed: int | None = None,
    probabilities: str = "history",
) -> Backtest:
    """Return the backtest (see the module docstring): per past period the actual and each forecaster's
    figure, and per forecaster WAPE, bias, pinball loss (and pipecli's coverage), the best forecaster and
    whether pipecli beat the best naive one."""
    cfg = fc.settings()
    runs = cfg.runs if runs is None else runs
    seed = cfg.seed if seed is None else seed
    if probabilities == "learned":
        raise PipecliError(
            "--probabilities learned does not apply to the backtest: the learned probabilities are today's"
            " and would leak the outcomes; use history or stage"
        )
    mode = "history" if probabilities == "auto" else probabilities
    fc._check(period, mode, 1, runs)
    p = pipelines.get_pipeline(conn, pipeline)
    stop = next_start(period_start(end, period), period) if end is not None else period_start(clock.today(), period)
    first = period_start(start, period) if start is not None else next_start(stop, period, -6)
    if first >= stop:
        raise PipecliError("--from must not be after --to (the backtest covers whole past periods)")
    if stop > period_start(clock.today(), period):
        raise PipecliError("--to must be before the current period (the backtest covers whole past periods)")
    began = conn.execute(text("SELECT MIN(l.created_at) FROM lead l WHERE l.pipeline_id = :p"), {"p": p["id"]}).scalar()
    if began is None:
        raise PipecliError(f"pipeline {p['name']!r} has no deals: nothing to backtest")
    begun = period_start(clock.from_ts(began).date(), period)
    history = 0
    s = begun
    while s < first:
        history += 1
        s = next_start(s, period)
    if history < MIN_HISTORY:
        raise PipecliError(
            f"too little history: {history} whole {period}(s) before {label(first, period)}; the backtest needs"
            f" at least {MIN_HISTORY} (start later with --from)"
        )
    closed = conn.execute(
        text("SELECT COUNT(*) FROM lead l WHERE l.pipeline_id = :p AND l.closed_at < :s"),
        {"p": p["id"], "s": clock.day_start_ts(first)},
    ).scalar()
    if not closed:
        raise PipecliError(
            f"pipeline {p['name']!r} has no deal closed before {label(first, period)}: nothing to learn from"
        )
    won_id = pipelines.find_stage(conn, p["id"], "won")["id"]

    def actual(s: _dt.date) -> int:
        e = next_start(s, period)
        return int(
            conn.execute(
                text(
                    f"SELECT SUM({field_at_sql('value_minor', 'l', 'c.at', 'BIGINT')}) "
                    "FROM stage_change c JOIN lead l ON l.id = c.lead_id "
                    "WHERE c.to_stage_id = :w AND c.at >= :s AND c.at < :e"
                ),
                {"w": won_id, "s": clock.day_start_ts(s), "e": clock.day_start_ts(e)},
            ).scalar()
            or 0
        )

    past = [actual(next_start(first, period, -k)) for k in (3, 2, 1)]
    rows: list[BacktestPeriod] = []
    s = first
    while s < stop:
        e = next_start(s, period)
        t = clock.day_start_ts(s) - 1
        res = fc.project(conn, p, t, True, period, [s, e], mode, runs, seed, None, cfg.min_history)
        f = res.periods[0]
        a = actual(s)
        nothing = f.p90_minor == 0 and a == 0
        rows.append(
            BacktestPeriod(
                period=label(s, period),
                start=s,
                end=e - _dt.timedelta(days=1),
                deals=f.deals + res.later_deals,
                actual_minor=a,
                p10_minor=f.p10_minor,
                p50_minor=f.p50_minor,
                p90_minor=f.p90_minor,
                stage_weighted_minor=f.weighted_minor,
                last_period_minor=past[-1],
                mean_of_3_minor=round(sum(past[-3:]) / 3),
                inside=None if nothing else f.p10_minor <= a <= f.p90_minor,
            )
        )
        past.append(a)
        s = e
    total = sum(r.actual_minor for r in rows)
    mean_actual = total / len(rows)
    scores: list[ForecasterScore] = []
    for name in FORECASTERS:
        errors = [r.forecast_minor(name) - r.actual_minor for r in rows]
        pinball = sum(_pinball(r.quantiles(name), r.actual_minor) for r in rows) / len(rows)
        counted = [r.inside for r in rows if r.inside is not None] if name == "pipecli" else []
        scores.append(
            ForecasterScore(
                forecaster=name,
                wape=sum(abs(x) for x in errors) / total if total else None,
                bias=sum(errors) / total if total else None,
                coverage=(sum(counted) / len(counted) if counted else None) if name == "pipecli" else None,
                pinball=pinball / mean_actual if mean_actual else None,
            )
        )
    best = min(scores, key=lambda x: float("inf") if x.pinball is None else x.pinball).forecaster
    naive = [x for x in scores if x.forecaster in ("last_period", "mean_of_3") and x.wape is not None]
    ours = scores[0].wape
    best_naive = min(naive, key=lambda x: x.wape or 0.0) if naive else None
    if best_naive is None or best_naive.wape is None or ours is None:
        verdict = f"Best forecaster (lowest pinball loss): {best}; nothing was won, so WAPE cannot compare them."
    else:
        beat = "beat" if ours < best_naive.wape else "did not beat"
        verdict = (
            f"Best forecaster (lowest pinball loss): {best}; pipecli {beat} the best naive one"
            f" ({best_naive.forecaster}) on WAPE."
        )
    return Backtest(
        pipeline=p["name"],
        period=period,
        runs=runs,
        seed=seed,
        probabilities=mode,
        history_periods=history,
        period_count=len(rows),
        deals_per_period=sum(r.deals for r in rows) / len(rows),
        periods=rows,
        forecasters=scores,
        best=best,
        verdict=verdict,
    )
