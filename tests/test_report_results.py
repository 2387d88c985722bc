"""The reports' typed results: what the core hands the command line, and the columns that read them.

The core returns frozen dataclasses (`metrics.Metrics`, `metrics.Funnel`, `sizing.Sizing`,
`forecast.Forecast`, `backtest.Backtest`, `clean.Finding`, ...); the command
line's column lists name their fields. A field renamed on one side only would print an empty cell (and
`null` in JSON) without failing anything else, so every column's key is checked against its result's fields
here, and one result is read in the core on the hand-built history of `test_metrics` (figures worked out
there: won A €1000, B €3000, G €2500; lost C, D; open E €4000 in Contact, F €600 in Prospecting).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from pipecli.cli import views_reports as views
from pipecli.reports import backtest, clean, forecast, metrics, sizing
from tests.test_forecast import build_monthly
from tests.test_metrics import build

COLUMNS_AND_RESULTS = [
    (views.SUMMARY_COLUMNS, metrics.Metrics),
    (views.STAGE_COLUMNS, metrics.MetricsStage),
    (views.FUNNEL_COLUMNS, metrics.FunnelStage),
    (views.SOURCE_COLUMNS, metrics.SourceCount),
    (views.SIZE_COLUMNS, sizing.Sizing),
    (views.SIZE_STAGE_COLUMNS, sizing.StageNeed),
    (views.PERIOD_COLUMNS, forecast.Period),
    (views.PROBABILITY_COLUMNS, forecast.StageProbability),
    (views.BACKTEST_COLUMNS, backtest.BacktestPeriod),
    (views.SCORE_COLUMNS, backtest.ForecasterScore),
    (views.CLEAN_COLUMNS, clean.Finding),
]


@pytest.mark.parametrize(("columns", "result"), COLUMNS_AND_RESULTS, ids=lambda x: getattr(x, "__name__", ""))
def test_every_column_reads_a_field_of_its_result(columns, result):
    fields = {f.name for f in dataclasses.fields(result)}
    missing = [c.key for c in columns if c.key not in fields]
    assert not missing, f"{result.__name__} has no field {missing}"


@pytest.mark.parametrize("result", [r for _, r in COLUMNS_AND_RESULTS] + [backtest.Backtest])
def test_results_are_frozen(result):
    assert result.__dataclass_params__.frozen


def _open(db_path):
    from pipecli import pipelines

    return pipelines.open_store(str(db_path))


def test_core_results_on_the_hand_built_history(cli, db_path):
    build(cli)
    with _open(db_path).read() as conn:
        m = metrics.metrics(conn)
        f = metrics.funnel(conn)
        s = sizing.size(conn, 10000_00)
    assert isinstance(m, metrics.Metrics) and isinstance(f, metrics.Funnel) and isinstance(s, sizing.Sizing)
    assert (m.won, m.lost, m.new_leads) == (3, 2, 7)
    assert m.won_value_minor == 1000_00 + 3000_00 + 2500_00
    assert (m.open_deals, m.open_value_minor) == (2, 4000_00 + 600_00)
    assert {x.source: x.new_leads for x in m.sources} == {"referral": 3, "web": 3, "event": 1}
    assert all(isinstance(x, metrics.MetricsStage) for x in m.stages)
    # the funnel's last row is won: every won lead, its value, no next stage
    assert [(x.stage, x.reached, x.open_value_minor, x.next_stage) for x in f.stages[-1:]] == [
        ("won", 3, 6500_00, None)
    ]
    assert [x.stage for x in m.stages] == [x.stage for x in f.stages[:-1]]
    assert (s.deals_needed, s.open_value_minor, s.pipeline_covered) == (5, 4600_00, False)
    assert s.stages[0].needed == s.leads_needed == 9
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.won = 0  # type: ignore[misc]


def test_forecast_result_on_the_hand_built_history(cli, db_path):
    """The forecast's typed result: one period per asked period, the won-so-far of the first, the stages
    in pipeline order, and what it was asked (E €4000 and F €600 are the open deals)."""
    build(cli)
    with _open(db_path).read() as conn:
        f = forecast.forecast(conn, periods=2, target=1000_00, runs=200, seed=3, probabilities="stage")
    assert isinstance(f, forecast.Forecast)
    assert (f.runs, f.seed, f.target_minor, f.period, f.from_history) == (200, 3, 1000_00, "month", False)
    assert [p.period for p in f.periods] == ["2026-11", "2026-12"]
    assert f.periods[0].won_minor == 2500_00  # G, won 11-25 in the first period
    assert sum(p.value_minor for p in f.periods) + f.later_value_minor == 4000_00 + 600_00
    assert [s.stage for s in f.stages] == ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal"]
    assert all(s.source == "configured" and s.informed_by is None for s in f.stages)
    assert all(p.target_probability is not None and 0 <= p.target_probability <= 1 for p in f.periods)


def test_backtest_result_on_the_monthly_history(cli, db_path):
    """The backtest's typed result on test_forecast's monthly history: W (€100) won and L lost on the 25th
    of every month from January; O, €500 in Proposal from 08-10, dated 09-15, still open."""
    build_monthly(cli)
    with _open(db_path).read() as conn:
        b = backtest.backtest(conn, start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30), runs=200, seed=3)
    assert isinstance(b, backtest.Backtest) and (b.runs, b.seed, b.history_periods, b.period_count) == (200, 3, 6, 3)
    assert [p.period for p in b.periods] == ["2026-07", "2026-08", "2026-09"]
    assert [p.actual_minor for p in b.periods] == [100_00] * 3  # one W a month
    assert [p.stage_weighted_minor for p in b.periods] == [0, 0, 350_00]  # O × Proposal's .7, dated September
    assert all(p.last_period_minor == p.mean_of_3_minor == 100_00 for p in b.periods)
    assert all(isinstance(p.actual_minor, int) and p.p10_minor <= p.p50_minor <= p.p90_minor for p in b.periods)
    assert [f.forecaster for f in b.forecasters] == list(backtest.FORECASTERS)
    assert [f.coverage is None for f in b.forecasters] == [False, True, True, True]  # pipecli's only
    assert b.best in ("last_period", "mean_of_3")  # each forecast every period exactly
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.periods[0].actual_minor = 0  # type: ignore[misc]


def test_clean_findings_on_a_built_pipeline(cli, db_path):
    """`find_stale`'s rows are typed findings: an overdue deal (dated 11-20, €450.50) and a duplicate of it
    (same e-mail), with the lead it copies as `original_id`."""
    first = int(
        cli("add-lead", "Anna", "--email", "a@x.it", "--value", "450.50", "--expected-close", "2026-11-20").stdout
    )
    copy = int(cli("add-lead", "Anna R", "--email", "A@x.it").stdout)
    with _open(db_path).read() as conn:
        report = clean.find_stale(conn, rules=clean.choose_rules("overdue,duplicate"))
    assert all(isinstance(r, clean.Finding) for r in report.rows)
    overdue, duplicate = report.rows
    assert (overdue.lead_id, overdue.rule, overdue.group, overdue.value_minor) == (first, "overdue", "stale", 450_50)
    assert overdue.threshold == "2026-11-20" and overdue.original_id is None
    assert "8 days ago" in overdue.why  # 11-20 to the frozen 11-28
    assert (duplicate.lead_id, duplicate.rule, duplicate.group, duplicate.original_id) == (
        copy,
        "duplicate",
        "hygiene",
        first,
    )
    assert report.value_minor == 450_50 and report.lead_ids == [first, copy]
    with pytest.raises(dataclasses.FrozenInstanceError):
        overdue.rule = "silent"  # type: ignore[misc]
