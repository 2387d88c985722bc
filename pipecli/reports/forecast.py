"""The forecast: what the open pipeline is expected to bring in each coming period, with ranges, and how far
such forecasts could be trusted in the past (the backtest).

- Period of a deal: its expected close date; without one, the time it entered its stage plus the typical
  remaining cycle for that stage, learned from history (the sum of the median times spent in this stage
  and each later one). A deal whose date has passed counts in the first period; one beyond the last period
  is reported as `later`.
- Win probability (`probabilities`): `stage` the configured `stage.probability` (unset counts as 0);
  `history` of the closed deals that reached the stage, the share that were won (a won deal reached every
  stage), falling back to the configured value when fewer than `min_history` closed deals (config
  `[forecast] min_history`, default 20) inform it; `learned` each lead's `win_probability` from
  `score --learn`, falling back to history for leads without one; `auto` is learned when any open lead has
  one and the model's held-out AUC is at least LEARNED_MIN_AUC (0.65), else history (saying why). The
  result says which was used, per stage.
- Weighted value: value × probability, summed exactly and rounded half-even to the minor unit.
- Ranges: a seeded Monte Carlo of which deals close. Up to EXACT_LIMIT deals it draws every deal in every
  run (vectorised with numpy, in chunks); beyond that it draws per group of deals sharing a period, stage
  and probability: the number won is binomial and their total is drawn from the normal law of a sum of
  that many values taken without replacement from the group. P10/P50/P90 are rounded to the minor unit.
- Target: the share of runs in which the period's already-won revenue plus the simulated revenue reaches it.
- Categories (a SaaS CRM's roll-up, from each open deal's forecast category, else its stage's default
  (`pipeline stage --forecast-category`, read as it is now, also for a past moment), else pipeline; and
  its period as above):
  commit = won so far + the value of commit deals; best case = commit + the value of best deals; pipeline
  = the value of deals in category pipeline (or none); omitted = the value of omit deals, left out of the
  roll-up. The raw sums of the four categories add up to the period's value.
- Velocity cross-check: pipeline velocity (see `metrics`) × the days left in the period.
- Backtest: at each past period start S, the pipeline as it stood at S (the history up to the second before),
  history probabilities learned up to then, forecast for [S, next S); actual = the value of deals moved to
  won in that period. WAPE = Σ|forecast − actual| ÷ Σ actual; bias = Σ(forecast − actual) ÷ Σ actual;
  coverage = share of periods whose actual fell within P10..P90.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text

from pipecli import clock, config, pipelines
from pipecli.clock import DAY
from pipecli.config import setting
from pipecli.errors import PipecliError
from pipecli.history import check_as_of
from pipecli.money import round_minor
from pipecli.pipelines import FORECAST_CATEGORIES
from pipecli.reports import arrivals, simulate, state, timing
from pipecli.reports.periods import PERIODS, label, next_start, period_start
from pipecli.scoring import learn
from pipecli.vocabulary import PROBABILITY_MODES as MODES

# `auto` uses the learned per-lead probabilities only when `score --learn` ranked its held-out leads at least
# this well (AUC 0.5 is a coin): a weaker model is worse than the stages' history.
LEARNED_MIN_AUC = 0.65
EXACT_LIMIT = 20000
MAX_PERIODS = 36


@dataclass(frozen=True)
class Settings:
    """The `[forecast]` config section."""

    min_history: int = setting(20, low=1)  # closed deals a stage needs before its history probability is used
    runs: int = setting(10000, low=1)  # Monte Carlo runs
    seed: int = setting(1, low=0)  # the random seed: same seed, same figures


def settings() -> Settings:
    """Return the `[forecast]` settings in force, checked."""
    return config.section("forecast", Settings)


def _check(period: str, mode: str, periods: int, runs: int) -> None:
    if period not in PERIODS:
        raise PipecliError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}")
    if mode not in MODES:
        raise PipecliError(f"--probabilities must be one of {', '.join(MODES)}, not {mode!r}")
    if periods < 1:
        raise PipecliError("--periods must be at least 1")
    if periods > MAX_PERIODS:
        raise PipecliError(f"--periods must be at most {MAX_PERIODS}: history says little about timing that far ahead")
    if runs < 1:
        raise PipecliError("--runs must be at least 1")


def stage_probabilities(conn, pid: int, st: tuple[str, dict], t: int, mode: str, min_history: int) -> list[dict]:
    """Return per open stage its probability and where it came from (`configured` or `history`), from the
    lead state `st` (see `state.state`)."""
    open_stages = pipelines.stages(conn, pid, outcomes=False)
    out = []
    if mode == "stage":
        for s in open_stages:
            out.append(
                {
                    "stage_id": s["id"],
                    "stage": s["name"],
                    "probability": s["probability"] or 0.0,
                    "source": "configured",
                    "informed_by": None,
                }
            )
        return out
    reach = state.stage_reach(conn, st, None, t)
    closed = {k: v for k, v in state.known_path(reach).items() if k[1] in ("won", "lost")}
    won = sum(n for (_, status), (n, _) in closed.items() if status == "won")
    for s, reached in zip(open_stages, state.reached_counts(open_stages, closed)):
        if reached >= min_history:
            prob, source = won / reached, "history"
        else:
            prob, source = s["probability"] or 0.0, "configured"
        out.append(
            {"stage_id": s["id"], "stage": s["name"], "probability": prob, "source": source, "informed_by": reached}
        )
    return out


def remaining_seconds(conn, open_stages: list[dict], as_of_ts: int | None) -> dict:
    """Return {stage_id: typical seconds from entering the stage to closing}: the sum of the median time
    spent in it and in every later open stage (completed stays up to `as_of_ts`)."""
    durations = state.stage_durations(conn, [s["id"] for s in open_stages], None, as_of_ts)
    medians = [
        state.percentile([(h * state.BUCKET, n) for h, n in durations.get(s["id"], [])], 0.5) or 0 for s in open_stages
    ]
    return {s["id"]: int(sum(medians[i:])) for i, s in enumerate(open_stages)}


def _case(column: str, mapping: dict, default: str = "0") -> str:
    if not mapping:
        return default
    whens = " ".join(f"WHEN {int(k)} THEN {v!r}" for k, v in mapping.items())
    return f"CASE {column} {whens} ELSE {default} END"


def project(
    conn,
    pipeline: dict,
    t: int,
    history: bool,
    period: str,
    starts: list[_dt.date],
    mode: str,
    runs: int,
    seed: int,
    target: int | None,
    min_history: int,
) -> dict:
    """Return the forecast for the periods [starts[i], starts[i+1]) from the pipeline as it stood at `t`
    (from the history when `history`, else the cached lead columns)."""
    with state.state(conn, pipeline["id"], t if history else None) as st:
        return _project(conn, pipeline, t, history, period, starts, mode, runs, seed, target, min_history, st)


def _project(conn, pipeline, t, history, period, starts, mode, runs, seed, target, min_history, st) -> dict:
    # local by history only (no cycle, no start-up cost): may move to the top
    import numpy as np

    pid = pipeline["id"]
    as_of_ts = t if history else None
    rel, params = st
    if mode == "auto":
        has_learned = (
            not history
            and conn.execute(
                text(
                    "SELECT 1 FROM lead WHERE pipeline_id = :p AND status = 'open' AND win_probability IS NOT NULL LIMIT 1"
                ),
                {"p": pid},
            ).first()
        )
        mode, auto_note = "history", None
        if has_learned:
            model = learn.load_model(conn, pid)  # the pipeline's own model when it has one
            held_auc = model.get("auc") if model else None
            if held_auc is not None and held_auc >= LEARNED_MIN_AUC:
                mode = "learned"
            else:
                shown = "unknown" if held_auc is None else f"{held_auc:.2f}"
                auto_note = (
                    f"learned probabilities not used: their held-out AUC ({shown}) is below {LEARNED_MIN_AUC} "
                    "(history instead; --probabilities learned forces them)"
                )
    else:
        auto_note = None
    if mode == "learned" and history:
        mode = "history"  # learned probabilities are today's, so a past pipeline cannot use them
    probs = stage_probabilities(conn, pid, st, t, mode, min_history)
    open_stages = pipelines.stages(conn, pid, outcomes=False)
    remaining = remaining_seconds(conn, open_stages, as_of_ts)
    bounds = starts[1:]
    date_case = " ".join(f"WHEN l.expected_close < :d{i} THEN {i}" for i in range(len(bounds)))
    ts_case = " ".join(
        f"WHEN l.stage_entered_at + {_case('l.stage_id', remaining)} < :e{i} THEN {i}" for i in range(len(bounds))
    )
    stage_p = _case("l.stage_id", {p["stage_id"]: p["probability"] for p in probs}, "0.0")
    prob_sql = f"COALESCE(l.win_probability, {stage_p})" if mode == "learned" else stage_p
    bucket_sql = "CAST(l.win_probability * 100 AS INTEGER)" if mode == "learned" else "-1"
    # a deal without a category of its own takes its stage's default (`pipeline stage --forecast-category`)
    defaults = {s["id"]: s["forecast_category"] for s in open_stages if s.get("forecast_category")}
    default_category = _case("l.stage_id", defaults, "NULL")
    inner = (
        f"SELECT CASE WHEN l.expected_close IS NOT NULL THEN CASE {date_case} ELSE -1 END"
        f" ELSE CASE {ts_case} ELSE -1 END END AS k, l.stage_id AS stage_id,"
        f" COALESCE(l.value_minor, 0) AS v, {prob_sql} AS p, {bucket_sql} AS pb,"
        " (:t - l.stage_entered_at) / :plen AS a, l.expected_close AS ec,"
        f" COALESCE(l.forecast_category, {default_category}, 'pipeline') AS fc"
        f" FROM {rel} l WHERE l.status = 'open' AND l.archived_at IS NULL"
    )
    params = {**params, "t": t, "plen": timing.PERIOD_SECONDS[period]}
    for i, b in enumerate(bounds):
        params[f"d{i}"] = b
        params[f"e{i}"] = clock.day_start_ts(b)
    groups = conn.execute(
        text(
            f"SELECT q.k, q.stage_id, q.pb, COUNT(*), SUM(q.v), SUM(CAST(q.v AS DOUBLE PRECISION) * q.v), SUM(q.v * q.p), SUM(q.p), q.fc "
            f"FROM ({inner}) q GROUP BY q.k, q.stage_id, q.pb, q.fc"
        ),
        params,
    ).all()
    nper = len(bounds)
    stage_prob = {p["stage_id"]: p["probability"] for p in probs}
    deals = [0] * nper
    value = [0] * nper
    weighted = [Decimal(0)] * nper
    later = [0, 0]
    by_category = [dict.fromkeys(FORECAST_CATEGORIES, 0) for _ in range(nper)]
    for k, sid, pb, n, sv, _, svp, _, category in groups:
        sv = int(sv or 0)
        if k < 0:
            later[0] += n
            later[1] += sv
            continue
        deals[k] += n
        value[k] += sv
        by_category[k][category] += sv
        exact = Decimal(sv) * Decimal(repr(stage_prob.get(sid, 0.0)))
        weighted[k] += exact if (pb is None or pb < 0) else Decimal(repr(float(svp or 0)))
    rng = np.random.default_rng(seed)
    open_deals = sum(g[3] for g in groups)
    step = timing.sample_step(conn, rel, params)
    model = open_deal_model(
        conn,
        rel,
        inner,
        params,
        open_deals,
        step,
        t,
        period,
        starts,
        open_stages,
        probs,
        mode,
        min_history,
        not history,
    )
    if model["deals"] <= EXACT_LIMIT:
        method = "every deal" if model["deals"] else "no deals"
        from_open = simulate.every_deal(model["matrix"], model["values"], runs, rng)
    else:
        method = "groups"
        from_open = simulate.normal_sum(model["matrix"], model["values"], model["squares"], model["counts"], runs, rng)
    nb = arrivals.estimate(conn, rel, params, t, period, starts, step, None if history else pid)
    from_new = arrivals.simulate(nb, runs, rng)
    revenue = from_open + from_new
    expected_open = model["expected"]
    expected_new = nb.expected_minor()
    won_so_far = (
        conn.execute(
            text(
                f"SELECT SUM(l.value_minor) FROM {rel} l WHERE l.status = 'won' AND l.closed_at >= :s AND l.closed_at <= :t"
            ),
            {**params, "s": clock.day_start_ts(starts[0]), "t": t},
        ).scalar()
        or 0
    )
    closed = state.closed_summary(conn, rel, {**params, "t": t}, False)
    velocity = state.velocity_per_day(open_deals, closed, exact=True)
    out_periods = []
    for k in range(nper):
        begin = max(clock.day_start_ts(starts[k]), t)
        days_left = max(clock.day_start_ts(starts[k + 1]) - begin, 0) / DAY
        already = won_so_far if k == 0 else 0
        cat = by_category[k]
        p10, p50, p90 = (round(x) for x in np.percentile(revenue[:, k], [10, 50, 90]))
        out_periods.append(
            {
                "period": label(starts[k], period),
                "start": starts[k],
                "end": starts[k + 1] - _dt.timedelta(days=1),
                "deals": deals[k],
                "value_minor": value[k],
                "weighted_minor": round_minor(weighted[k]),
                "p10_minor": p10,
                "p50_minor": p50,
                "p90_minor": p90,
                "won_minor": already,
                "commit_minor": already + cat["commit"],
                "best_minor": already + cat["commit"] + cat["best"],
                "pipeline_minor": cat["pipeline"],
                "omitted_minor": cat["omit"],
                "expected_minor": round(expected_open[k] + expected_new[k]),
                "from_open_minor": round(expected_open[k]),
                "from_new_minor": round(expected_new[k]),
                "arrivals": nb.rates[k],
                "target_probability": (
                    float(np.mean(already + revenue[:, k] >= target)) if target is not None else None
                ),
                "velocity_minor": (round_minor(velocity * Decimal(repr(days_left))) if velocity is not None else None),
            }
        )
    return {
        "probabilities": mode,
        "auto_note": auto_note,
        "stages": probs,
        "method": method,
        "periods": out_periods,
        "later_deals": later[0],
        "later_value_minor": later[1],
        "velocity_minor_per_day": round_minor(velocity) if velocity is not None else None,
        "remaining_seconds": remaining,
        "new_business": {
            "win_rate": nb.win_rate,
            "seasonal": nb.seasonal,
            "history_periods": nb.history_periods,
            "won_deals": len(nb.values),
        },
    }


def _day(value) -> _dt.date:
    return value if isinstance(value, _dt.date) else _dt.date.fromisoformat(str(value)[:10])


def open_deal_model(
    conn, rel, inner, params, count, step, t, period, starts, open_stages, probs, mode, min_cell, seek=False
) -> dict:
    """Return the open deals' rows of P(won in coming period i) (see `timing`), one per deal up to
    EXACT_LIMIT deals, else one per group of alike deals, with their counts, value sums and squares, and
    the expected revenue per period. `inner` is the open-deal query of `_project` (classic period k,
    stage, value, mode probability, age bucket, expected close) and `count` the number of its deals; the
    history is read from the leads of the sample of step `step` (`timing.sample_step`; `seek`: `rel` is the
    lead table, `timing.sample_from`)."""
    # local by history only (no cycle, no start-up cost): numpy is only needed by the forecast
    import numpy as np

    horizon = len(starts) - 1
    rel_params = dict(params)
    ids = [int(s["id"]) for s in open_stages]
    stage_rows: dict = {sid: [] for sid in ids}
    stay_sql = "(CASE WHEN c.left_at IS NULL OR c.left_at > :t THEN :t ELSE c.left_at END - c.at) / :plen"
    # SQLite: the lead side first (CROSS JOIN fixes the order there; PostgreSQL plans a hash join itself)
    join = "CROSS JOIN" if conn.dialect.name == "sqlite" else "JOIN"
    leads, kept = timing.sample_from(conn, rel, step, seek)
    if ids:
        # from the (sampled) leads to their stays, closed and open apart: each part reads one covering index
        # of the lead table and seeks its stays, instead of looking a lead up for every stay
        for part in ("l.status IN ('won', 'lost') AND l.closed_at <= :t", "l.status = 'open'"):
            for sid, stay, b, status, n in conn.execute(
                text(
                    f"SELECT c.to_stage_id, {stay_sql}, (COALESCE(l.closed_at, :t) - c.at) / :plen AS b, l.status,"
                    f" COUNT(*) FROM {leads} {join} stage_change c ON c.lead_id = l.id "
                    f"WHERE {part} AND {kept} AND c.at <= :t "
                    f"AND c.to_stage_id IN ({', '.join(map(str, ids))}) "
                    f"GROUP BY c.to_stage_id, {stay_sql}, (COALESCE(l.closed_at, :t) - c.at) / :plen, l.status"
                ),
                rel_params,
            ):
                stage_rows[sid].append((stay, b, status, n * step))  # a sample stands for `step` leads
    by_age: dict = {}

    def hazard(sid: int, age: int):
        # the deals that were still in this stage at this age: those who had moved on were further along
        if age not in by_age:
            rows = {k: [(b, st, n) for stay, b, st, n in v if stay >= age] for k, v in stage_rows.items()}
            by_age[age] = timing.pooled(rows, min_cell)
        table = by_age[age]
        return table.get(sid, table[None])

    slips = timing.slip_shares(
        [
            (_day(ec), clock.from_ts(closed).date())
            for ec, closed in conn.execute(
                text(
                    f"SELECT l.expected_close, l.closed_at FROM {leads} WHERE l.status = 'won' "
                    f"AND l.expected_close IS NOT NULL AND l.closed_at <= :t AND {kept}"
                ),
                rel_params,
            )
        ],
        period,
    )
    # how many periods ahead a deal's date lies, in SQL: every date before `low` (no slip lands from now on)
    # or from `high` on (every slip lands beyond the horizon) acts alike, so alike deals group together
    shifts = list(slips or {0: 1.0})
    low, high = -max(shifts) - 1, horizon - min(shifts)
    edges = range(low + 1, high + 1)  # the period `j` ahead starts on edge j
    whens = " ".join(f"WHEN q.ec < :ah{i} THEN {j - 1}" for i, j in enumerate(edges))
    ahead_sql = f"CASE WHEN q.ec IS NULL THEN NULL {whens} ELSE {high} END"
    params = {**params, **{f"ah{i}": next_start(starts[0], period, j) for i, j in enumerate(edges)}}
    sel = f"q.k, q.stage_id, q.a, {ahead_sql}, q.p"
    if count <= EXACT_LIMIT:
        sql = f"SELECT {sel}, 1, q.v, CAST(q.v AS DOUBLE PRECISION) * q.v FROM ({inner}) q ORDER BY q.k, q.stage_id, q.a, q.v"
    else:
        sql = (
            f"SELECT {sel}, COUNT(*), SUM(q.v), SUM(CAST(q.v AS DOUBLE PRECISION) * q.v) FROM ({inner}) q "
            f"GROUP BY {sel} ORDER BY {sel}"
        )
    # a row's vector depends on its stage and age (the hazard, cut at the calendar periods' ends), on how far
    # ahead its date lies (the slip) and on its classic period and probability: each is worked out once per
    # distinct value, not per deal
    plen = timing.PERIOD_SECONDS[period]
    ends = [(clock.day_start_ts(s) - t) / plen for s in starts[1:]]  # the periods' ends, buckets from now
    found = conn.execute(text(sql), params).all()
    wins_of: dict = {}
    for sid, age in {(r[1], min(max(int(r[2] or 0), 0), timing.MAX_BUCKETS - 1)) for r in found}:
        wins, totals = timing.win_by_window(*hazard(sid, age), np.array([float(age)]), ends)
        wins_of[sid, age] = (wins[0], float(totals[0]))
    spread_of: dict = {}
    cache: dict = {}
    rows, counts, sums, squares = [], [], [], []
    for k, sid, a, ahead, p, n, sv, svv in found:
        age = min(max(int(a or 0), 0), timing.MAX_BUCKETS - 1)
        key = (k, sid, age, ahead, p)
        vec = cache.get(key)
        if vec is None:
            vec, total = wins_of[sid, age]
            if ahead is not None:
                if ahead not in spread_of:
                    spread_of[ahead] = timing.spread_by_slip(slips or {0: 1.0}, int(ahead), horizon)
                if spread_of[ahead] is not None:
                    vec = spread_of[ahead] * total
            if total <= 0:  # nothing closed in history: the classic period at the mode's probability
                vec = np.zeros(horizon)
                if 0 <= k < horizon:
                    vec[k] = float(p or 0)
            elif mode in ("stage", "learned"):
                vec = vec / total * float(p or 0)
            cache[key] = vec
        rows.append(vec)
        counts.append(n)
        sums.append(float(sv or 0))
        squares.append(float(svv or 0))
    matrix = np.clip(np.array(rows).reshape(-1, horizon), 0, 1)
    sums_a = np.array(sums)
    return {
        "deals": int(count),
        "matrix": matrix,
        "values": sums_a,
        "squares": np.array(squares),
        "counts": np.array(counts, dtype=float),
        "expected": list((matrix * sums_a[:, None]).sum(axis=0)) if len(rows) else [0.0] * horizon,
        "slips": slips,
    }


def forecast(
    conn,
    pipeline: str | None = None,
    period: str = "month",
    periods: int = 3,
    as_of=None,
    target: int | None = None,
    probabilities: str = "auto",
    runs: int | None = None,
    seed: int | None = None,
) -> dict:
    """Return the forecast for the coming `periods` periods (the first one is the period holding now or
    the `--as-of` day), as described in the module docstring."""
    cfg = settings()
    runs = cfg.runs if runs is None else runs
    seed = cfg.seed if seed is None else seed
    _check(period, probabilities, periods, runs)
    if target is not None and target <= 0:
        raise PipecliError("--target must be more than 0")
    p = pipelines.get_pipeline(conn, pipeline)
    history = as_of is not None
    t = clock.end_of_day_ts(as_of) if history else clock.now_ts()
    if history:
        check_as_of(conn, t)
    day = clock.from_ts(t).date()
    starts = [period_start(day, period)]
    for _ in range(periods):
        starts.append(next_start(starts[-1], period))
    result = project(conn, p, t, history, period, starts, probabilities, runs, seed, target, cfg.min_history)
    return {
        "pipeline": p["name"],
        "as_of": t,
        "from_history": history,
        "period": period,
        "runs": runs,
        "seed": seed,
        "target_minor": target,
        **result,
    }
