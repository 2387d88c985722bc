"""forecast through the CLI on a hand-built history (frozen now: 2026-11-28T09:00Z, TZ=UTC).

Configured probabilities (the default pipeline): Prospecting .10, Contact .20, Qualification .35,
Meeting .50, Proposal .70.

Closed history:
  H1, H2  created 06-01 in Qualification €100 each: Meeting 06-11, Proposal 06-21, won 07-01
          (10 days in each of Qualification, Meeting, Proposal)
  K       created 11-02 €400 in Prospecting, won 11-05
  L       created 11-03 €50 in Prospecting, lost 11-04
Open deals (created 11-10, except V 11-20):
  Y  Meeting  €3000 expected 11-30 -> November
  W  Contact  €500  expected 10-01 (passed) -> November
  X  Proposal €1000 expected 12-10 -> December
  V  Qualification €800, no date: entered 11-20 + typical remaining 30 days (10+10+10) -> 12-20, December
  Z  Prospecting €2000 expected 2027-01-15 -> January
"""

from __future__ import annotations

import json

import pytest


def add_deal(cli, name, at, value, stage=None, close=None) -> int:
    """Add a lead created `at` with `value` (in `stage`, expected to close `close`); return its id."""
    args = ["add-lead", name, "--at", at, "--value", value]
    if stage:
        args += ["--stage", stage]
    if close:
        args += ["--expected-close", close]
    return int(cli(*args).stdout.strip())


def build(cli) -> dict:
    def add(name, at, value, stage=None, close=None):
        return add_deal(cli, name, at, value, stage, close)

    ids = {
        "H1": add("H1", "2026-06-01", "100", "Qualification"),
        "H2": add("H2", "2026-06-01", "100", "Qualification"),
        "K": add("K", "2026-11-02", "400"),
        "L": add("L", "2026-11-03", "50"),
        "Y": add("Y", "2026-11-10", "3000", "Meeting", "2026-11-30"),
        "W": add("W", "2026-11-10", "500", "Contact", "2026-10-01"),
        "X": add("X", "2026-11-10", "1000", "Proposal", "2026-12-10"),
        "V": add("V", "2026-11-20", "800", "Qualification"),
        "Z": add("Z", "2026-11-10", "2000", "Prospecting", "2027-01-15"),
    }
    for h in ("H1", "H2"):
        cli("move", ids[h], "Meeting", "--at", "2026-06-11")
        cli("move", ids[h], "Proposal", "--at", "2026-06-21")
        cli("move", ids[h], "won", "--at", "2026-07-01")
    cli("move", ids["K"], "won", "--at", "2026-11-05")
    cli("move", ids["L"], "lost", "--at", "2026-11-04")
    return ids


def run(cli, *args) -> dict:
    return json.loads(cli("forecast", "--format", "json", *args).stdout)


def periods(data: dict) -> dict:
    return {p["period"]: p for p in data["periods"]}


def test_stage_probabilities_and_periods(cli):
    build(cli)
    data = run(cli, "--probabilities", "stage", "--runs", "2000")
    assert data["probabilities"] == "stage"
    assert all(s["source"] == "configured" for s in data["stages"])
    p = periods(data)
    assert list(p) == ["2026-11", "2026-12", "2027-01"]
    assert (p["2026-11"]["deals"], p["2026-11"]["value"]) == (2, 3500)
    assert p["2026-11"]["weighted"] == 3000 * 0.5 + 500 * 0.2
    assert p["2026-11"]["won"] == 400  # K, won 11-05
    assert (p["2026-12"]["deals"], p["2026-12"]["value"]) == (2, 1800)
    assert p["2026-12"]["weighted"] == 1000 * 0.7 + 800 * 0.35
    assert p["2027-01"]["weighted"] == 2000 * 0.1
    assert data["later"] == {"deals": 0, "value": 0}


def test_simulation_is_seeded_and_ordered(cli):
    build(cli)
    first = cli("forecast", "--format", "json", "--seed", "7", "--runs", "3000").stdout
    again = cli("forecast", "--format", "json", "--seed", "7", "--runs", "3000").stdout
    assert first == again
    for p in json.loads(first)["periods"]:
        assert p["p10"] <= p["p50"] <= p["p90"]
        assert 0 <= p["p10"]  # new business can bring more than the open deals' value
    table = cli("forecast", "--seed", "7", "--runs", "3000").stdout
    assert table == cli("forecast", "--seed", "7", "--runs", "3000").stdout
    assert "probabilities: history" in table and "3000 runs, seed 7" in table


def test_target_probability(cli):
    build(cli)
    # November: already won €400; Y (€3000, p .5) is dated 11-30, so its win falls in November; W (€500,
    # date passed, no slip history) and V (€800, no date) are timed by the hazard over the calendar: only
    # 2.6 days of November are left (of a 30.4-day bucket), so each has a small share of its chance now.
    # Reaching €3400 needs Y: about .5; €3500 needs Y and W or V (or a new deal): .5 × a small share.
    p = periods(run(cli, "--probabilities", "stage", "--target", "3400", "--runs", "20000"))["2026-11"]
    assert 0.45 <= p["target_probability"] <= 0.6
    p = periods(run(cli, "--probabilities", "stage", "--target", "3500", "--runs", "20000"))["2026-11"]
    assert 0.02 <= p["target_probability"] <= 0.1
    p = periods(run(cli, "--probabilities", "stage", "--target", "400", "--runs", "500"))["2026-11"]
    assert p["target_probability"] == 1


def test_history_probabilities_fall_back_to_configured(cli, tmp_path, monkeypatch):
    build(cli)
    # Closed deals: H1, H2, K won; L lost in Prospecting. Prospecting is informed by 4 (3 won: .75);
    # every later stage by the 3 won deals only: under min_history 4, so configured.
    (tmp_path / "config.toml").write_text("[forecast]\nmin_history = 4\n")
    data = run(cli, "--probabilities", "history", "--runs", "500")
    stages = {s["stage"]: s for s in data["stages"]}
    assert (stages["Prospecting"]["source"], stages["Prospecting"]["probability"]) == ("history", 0.75)
    assert stages["Prospecting"]["closed_deals"] == 4
    for name, configured in (("Contact", 0.2), ("Qualification", 0.35), ("Meeting", 0.5), ("Proposal", 0.7)):
        assert (stages[name]["source"], stages[name]["probability"]) == ("configured", configured)
    assert periods(data)["2027-01"]["weighted"] == 2000 * 0.75
    # with the default min_history (20) nothing is informed enough
    (tmp_path / "config.toml").write_text("")
    data = run(cli, "--probabilities", "history", "--runs", "500")
    assert {s["source"] for s in data["stages"]} == {"configured"}


def store_model_auc(cli, auc):
    """Record a `score --learn` model whose held-out AUC is `auc` (what the forecast's auto mode reads)."""
    cli.execute("DELETE FROM meta WHERE key = 'win_model'")
    cli.execute("INSERT INTO meta (key, value) VALUES ('win_model', :v)", v=json.dumps({"auc": auc}))


def test_learned_probabilities_are_used_when_present(cli, db_path):
    ids = build(cli)
    cli.execute("UPDATE lead SET win_probability = 0.9 WHERE id = :i", i=ids["Y"])  # what `score --learn` writes
    store_model_auc(cli, 0.8)
    data = run(cli, "--runs", "500")
    assert data["probabilities"] == "learned"
    # Y at its learned .9; W has none, so its stage's (configured, too little history) .2
    assert periods(data)["2026-11"]["weighted"] == 3000 * 0.9 + 500 * 0.2
    assert run(cli, "--probabilities", "stage", "--runs", "500")["probabilities"] == "stage"


def test_as_of_forecasts_the_past_pipeline(cli):
    build(cli)
    # End of 11-04: only K is open (Prospecting since 11-02, no date). Stays completed by then:
    # Prospecting 1 day (L), Qualification/Meeting/Proposal 10 days each -> K closes 11-02 + 31 days = 12-03.
    data = run(cli, "--as-of", "2026-11-04", "--probabilities", "stage", "--runs", "500")
    assert data["from_history"] is True
    p = periods(data)
    assert p["2026-11"]["deals"] == 0 and p["2026-11"]["won"] == 0
    assert (p["2026-12"]["deals"], p["2026-12"]["value"], p["2026-12"]["weighted"]) == (1, 400, 40)


def test_periods_week_and_quarter(cli):
    build(cli)
    q = run(cli, "--period", "quarter", "--periods", "2", "--probabilities", "stage", "--runs", "500")
    assert [p["period"] for p in q["periods"]] == ["2026-Q4", "2027-Q1"]
    assert q["periods"][0]["deals"] == 4 and q["periods"][1]["deals"] == 1
    w = run(cli, "--period", "week", "--periods", "1", "--probabilities", "stage", "--runs", "500")
    assert w["periods"][0]["start"] == "2026-11-23" and w["periods"][0]["end"] == "2026-11-29"
    # W (date passed) and Y (11-30 is next week) -> only W this week; the rest later
    assert w["periods"][0]["deals"] == 1
    assert w["later"]["deals"] == 4


def test_quarters_follow_the_fiscal_year_start_setting(cli):
    """With the fiscal year starting in December, the quarters are Sep-Nov and Dec-Feb: Y (expected 11-30)
    and W (its date passed) stay in the current one; X (12-10) and V (no date: December, by its stage's
    timing, as in the calendar's 2026-Q4) move to the next, with Z (2027-01-15), which the calendar put in
    2027-Q1."""
    build(cli)
    cli("settings", "set", "fiscal_year_start", "12")
    q = run(cli, "--period", "quarter", "--periods", "2", "--probabilities", "stage", "--runs", "500")
    shown = [(p["period"], p["start"], p["end"], p["deals"], p["value"]) for p in q["periods"]]
    assert shown == [
        ("FY2026-Q4", "2026-09-01", "2026-11-30", 2, 3000 + 500),  # the fiscal year Dec 2025 - Nov 2026
        ("FY2027-Q1", "2026-12-01", "2027-02-28", 3, 1000 + 800 + 2000),
    ]
    refused = cli("settings", "set", "fiscal_year_start", "13", ok=False)
    assert refused.exit_code == 1 and refused.stderr.splitlines() == [
        "pipecli: setting fiscal_year_start must be between 1 and 12, not 13"
    ]
    cli("settings", "unset", "fiscal_year_start")  # back to the calendar quarters
    q = run(cli, "--period", "quarter", "--periods", "2", "--probabilities", "stage", "--runs", "500")
    assert [(p["period"], p["deals"]) for p in q["periods"]] == [("2026-Q4", 4), ("2027-Q1", 1)]


def test_velocity_cross_check(cli):
    build(cli)
    data = run(cli, "--probabilities", "stage", "--runs", "500")
    # won 3 of 4 closed; average won (100 + 100 + 400) / 3 = 200; cycles 30, 30, 3 days -> mean 21
    # 5 open deals × .75 × 200 ÷ 21 = 35.714... a day
    assert data["velocity_per_day"] == pytest.approx(35.71)
    # November: from now (11-28 09:00) to 12-01: 2.625 days
    assert periods(data)["2026-11"]["velocity"] == pytest.approx(round(3571.4286 * 2.625) / 100, abs=0.011)
    assert periods(data)["2026-12"]["velocity"] == pytest.approx(round(3571.4286 * 31) / 100, abs=0.011)


def build_monthly(cli) -> int:
    """Two Proposal deals created on the 5th of every month from January to October 2026: one won on the
    25th (€100), one lost the same day; and O, €500 in Proposal from 08-10, dated 09-15, still open."""
    for m in range(1, 11):
        won = int(cli("add-lead", f"W{m}", "--at", f"2026-{m:02d}-05", "--value", "100", "--stage", "Proposal").stdout)
        lost = int(cli("add-lead", f"L{m}", "--at", f"2026-{m:02d}-05", "--value", "80", "--stage", "Proposal").stdout)
        cli("move", won, "won", "--at", f"2026-{m:02d}-25")
        cli("move", lost, "lost", "--at", f"2026-{m:02d}-25")
    args = ("--value", "500", "--stage", "Proposal", "--expected-close", "2026-09-15")
    return int(cli("add-lead", "O", "--at", "2026-08-10", *args).stdout)


def backtest_json(cli, *args) -> dict:
    return json.loads(
        cli("forecast", "--backtest", "--from", "2026-07-01", "--to", "2026-09-30", "--format", "json", *args).stdout
    )


def test_backtest_sets_pipecli_beside_the_baselines(cli):
    build_monthly(cli)
    data = backtest_json(cli, "--runs", "2000")
    assert [p["period"] for p in data["periods"]] == ["2026-07", "2026-08", "2026-09"]  # --to's period included
    assert (data["history_periods"], data["period_count"], data["probabilities"]) == (6, 3, "history")
    for p in data["periods"]:
        assert p["actual"] == 100 and p["last_period"] == 100 and p["mean_of_3"] == 100
        assert p["p10"] <= p["p50"] <= p["p90"]
    # at 09-01 O is open, dated in September: stage-weighted = 500 × Proposal's .7 (too little history)
    assert [p["stage_weighted"] for p in data["periods"]] == [0, 0, 350]
    scores = {f["forecaster"]: f for f in data["forecasters"]}
    assert scores["last_period"]["wape"] == 0 and scores["mean_of_3"]["wape"] == 0
    assert scores["stage_weighted"]["wape"] == pytest.approx((100 + 100 + 250) / 300)
    assert scores["last_period"]["pinball"] == 0 and data["best"] in ("last_period", "mean_of_3")
    assert "pipecli did not beat the best naive one" in data["verdict"] or scores["pipecli"]["wape"] == 0
    table = cli("forecast", "--backtest", "--from", "2026-07-01", "--to", "2026-09-30", "--runs", "500").stdout
    assert "3 months backtested, 6 months of history" in table and "Best forecaster" in table


def test_backtest_never_reads_an_event_after_its_period_start(cli):
    o = build_monthly(cli)
    before = backtest_json(cli, "--runs", "1000")
    # later events: O's value and date edited, O lost, a new deal won: all after the last period
    cli("edit", o, "--value", "9000", "--expected-close", "2026-07-20", "--at", "2026-10-02")
    cli("move", o, "lost", "--at", "2026-10-03")
    late = int(cli("add-lead", "Late", "--at", "2026-10-04", "--value", "7000", "--stage", "Proposal").stdout)
    cli("move", late, "won", "--at", "2026-10-05")
    assert backtest_json(cli, "--runs", "1000") == before


def test_backtest_actual_is_each_deal_s_value_when_it_was_won(cli):
    build_monthly(cli)
    w8 = cli.scalar("SELECT id FROM lead WHERE name = 'W8'")  # won 08-25 at €100
    w9 = cli.scalar("SELECT id FROM lead WHERE name = 'W9'")  # won 09-25
    cli("edit", w8, "--value", "5000", "--at", "2026-08-26")  # after its win, inside the period
    cli("edit", w9, "--value", "250", "--at", "2026-09-10")  # before its win: it was won at €250
    cli("edit", w9, "--value", "9000", "--at", "2026-10-02")  # after the backtest's last period
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=w8) == 500000  # today's value
    actual = {p["period"]: p["actual"] for p in backtest_json(cli, "--runs", "200")["periods"]}
    assert actual == {"2026-07": 100, "2026-08": 100, "2026-09": 250}


def test_backtest_refuses_too_little_history_and_learned(cli):
    build_monthly(cli)
    result = cli("forecast", "--backtest", "--from", "2026-02-01", "--to", "2026-03-31", ok=False)
    assert result.exit_code == 1 and "too little history: 1 whole month(s) before 2026-02" in result.stderr
    result = cli("forecast", "--backtest", "--probabilities", "learned", ok=False)
    assert result.exit_code == 1 and "learned does not apply to the backtest" in result.stderr


def test_bad_options(cli):
    build(cli)
    before = cli.scalar("SELECT COUNT(*) FROM stage_change")
    result = cli("forecast", "--periods", "0", ok=False)
    assert result.exit_code == 1 and result.stderr.strip() == "pipecli: --periods must be at least 1"
    assert cli("forecast", "--period", "year", ok=False).exit_code != 0
    for args, message in (
        (("--periods", "37"), "--periods must be at most 36"),
        (("--runs", "0"), "--runs must be at least 1"),
        (("--target", "0"), "--target must be more than 0"),
    ):
        result = cli("forecast", *args, ok=False)
        assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert cli("forecast", "--backtest", "--from", "2026-09-01", "--to", "2026-08-01", ok=False).exit_code == 1
    assert cli.scalar("SELECT COUNT(*) FROM stage_change") == before


def test_grouped_simulation_for_large_pipelines(cli, monkeypatch):
    """Beyond EXACT_LIMIT deals the draws are per group of alike deals (normal law of their sum): the
    weighted and expected figures are the same, the ranges stay ordered and seeded."""
    from pipecli.reports import forecast

    build(cli)
    exact = run(cli, "--probabilities", "stage", "--runs", "2000")
    monkeypatch.setattr(forecast, "EXACT_LIMIT", 0)
    grouped = run(cli, "--probabilities", "stage", "--runs", "2000")
    assert grouped == run(cli, "--probabilities", "stage", "--runs", "2000")
    assert grouped["simulation"] == "groups" and exact["simulation"] == "every deal"
    for e, g in zip(exact["periods"], grouped["periods"]):
        assert (e["deals"], e["value"], e["weighted"]) == (g["deals"], g["value"], g["weighted"])
        assert (e["expected"], e["from_open"], e["from_new"]) == (g["expected"], g["from_open"], g["from_new"])
        assert 0 <= g["p10"] <= g["p50"] <= g["p90"]


def test_backtest_refuses_a_pipeline_with_no_closed_deals(cli):
    for m in range(1, 6):
        cli("add-lead", f"Open{m}", "--at", f"2026-{m:02d}-05", "--value", "10")
    before = cli.scalar("SELECT COUNT(*) FROM event")
    result = cli("forecast", "--backtest", "--from", "2026-04-01", "--to", "2026-05-31", ok=False)
    assert result.exit_code == 1 and "has no deal closed before 2026-04" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM event") == before


def test_auto_refuses_a_learned_model_that_ranks_no_better_than_a_coin(cli):
    """A model whose held-out AUC is under 0.65 is not used by auto (history instead, and it says why);
    --probabilities learned still forces it."""
    ids = build(cli)
    cli.execute("UPDATE lead SET win_probability = 0.9 WHERE id = :i", i=ids["Y"])
    store_model_auc(cli, 0.49)
    result = cli("forecast", "--format", "json", "--runs", "500")
    assert json.loads(result.stdout)["probabilities"] == "history"
    assert "held-out AUC (0.49) is below 0.65" in result.stderr
    assert run(cli, "--probabilities", "learned", "--runs", "500")["probabilities"] == "learned"
    store_model_auc(cli, 0.7)
    passed = cli("forecast", "--format", "json", "--runs", "500")
    assert json.loads(passed.stdout)["probabilities"] == "learned" and "AUC" not in passed.stderr


def test_forecast_categories_roll_up_per_period_and_are_history(cli):
    ids = build(cli)
    cli("edit", ids["Y"], "--forecast-category", "commit", "--at", "2026-11-20")
    cli("edit", ids["X"], "--forecast-category", "Best")  # any case
    cli("edit", ids["Z"], "--forecast-category", "omit")
    cli("move", ids["Y"], "Proposal")  # a move keeps the seller's category
    p = periods(run(cli, "--probabilities", "stage", "--runs", "200"))
    nov, dec, jan = p["2026-11"], p["2026-12"], p["2027-01"]
    # November: won so far €400 (K); Y €3000 commit; W €500 without a category (pipeline)
    assert (nov["won"], nov["commit"], nov["best_case"], nov["pipeline"], nov["omitted"]) == (400, 3400, 3400, 500, 0)
    # December: X €1000 best, V €800 pipeline; January: Z €2000 omitted
    assert (dec["commit"], dec["best_case"], dec["pipeline"], dec["omitted"]) == (0, 1000, 800, 0)
    assert (jan["commit"], jan["best_case"], jan["pipeline"], jan["omitted"]) == (0, 0, 0, 2000)
    for x in (nov, dec, jan):  # the four categories add up to the period's value
        assert (x["commit"] - x["won"]) + (x["best_case"] - x["commit"]) + x["pipeline"] + x["omitted"] == x["value"]
    assert cli.scalar("SELECT forecast_category FROM lead WHERE id = :i", i=ids["Y"]) == "commit"
    assert "forecast category" in cli("history", ids["Y"]).stdout
    # as of 11-19, before Y was put in commit, Y counted as pipeline
    then = periods(run(cli, "--as-of", "2026-11-19", "--probabilities", "stage", "--runs", "200"))["2026-11"]
    assert then["commit"] == then["won"] and then["pipeline"] >= 3000
    cli("edit", ids["X"], "--forecast-category", "")  # '' clears it: pipeline again
    assert cli.scalar("SELECT forecast_category FROM lead WHERE id = :i", i=ids["X"]) is None


def test_a_bad_forecast_category_is_one_line_and_changes_nothing(cli):
    ids = build(cli)
    before = cli.scalar("SELECT COUNT(*) FROM event")
    result = cli("edit", ids["Y"], "--forecast-category", "maybe", ok=False)
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1  # a fixed set: a usage error
    assert "not one of commit, best, pipeline, omit" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM event") == before


def test_a_stage_s_default_category_counts_for_its_deals_without_one(cli):
    ids = build(cli)
    cli("pipeline", "stage", "Sales", "Qualification", "--forecast-category", "Commit")  # any case
    cli("pipeline", "stage", "Sales", "Proposal", "--forecast-category", "best")
    cli("edit", ids["X"], "--forecast-category", "omit")  # the deal's own category wins over its stage's
    cli("move", ids["Y"], "Proposal")  # Y has none: it takes Proposal's default
    p = periods(run(cli, "--probabilities", "stage", "--runs", "200"))
    nov, dec = p["2026-11"], p["2026-12"]
    # November: won €400 (K); Y €3000 now in Proposal: best; W €500 in Contact: pipeline
    assert (nov["won"], nov["commit"], nov["best_case"], nov["pipeline"], nov["omitted"]) == (400, 400, 3400, 500, 0)
    # December: V €800 in Qualification: commit; X €1000 in Proposal but omitted by hand
    assert (dec["commit"], dec["best_case"], dec["pipeline"], dec["omitted"]) == (800, 800, 0, 1000)
    assert cli.scalar("SELECT forecast_category FROM lead WHERE id = :i", i=ids["Y"]) is None  # nothing stored
    cli("pipeline", "stage", "Sales", "Proposal", "--forecast-category", "")  # '' clears the default
    nov = periods(run(cli, "--probabilities", "stage", "--runs", "200"))["2026-11"]
    assert (nov["best_case"], nov["pipeline"]) == (400, 3500)
    cli("undo", "--yes")  # the setup change is journaled: undo brings the default back
    assert cli.scalar("SELECT forecast_category FROM stage WHERE name = 'Proposal'") == "best"


def test_a_bad_stage_category_is_one_line_and_changes_nothing(cli):
    build(cli)
    for stage, value, code, says in (
        ("Proposal", "maybe", 2, "not one of commit, best, pipeline, omit"),  # a fixed set: a usage error
        ("won", "commit", 1, "only an open stage has a forecast category"),
    ):
        result = cli("pipeline", "stage", "Sales", stage, "--forecast-category", value, ok=False)
        assert result.exit_code == code and len(result.stderr.strip().splitlines()) == 1
        assert says in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM stage WHERE forecast_category IS NOT NULL") == 0


def test_grouped_path_rolls_up_categories_and_learned_weights_as_the_exact_path(cli, monkeypatch):
    """The grouped path reads the roll-up (deals, values, weighted, categories) in the same query as the
    model's groups and folds it back: the same figures as the exact path, per deal category and learned
    probability."""
    from pipecli.reports import forecast

    ids = build(cli)
    cli("edit", ids["X"], "--forecast-category", "commit")
    cli("edit", ids["Y"], "--forecast-category", "best")
    cli("edit", ids["Z"], "--forecast-category", "omit")
    cli.execute("UPDATE lead SET win_probability = 0.25 WHERE id IN (:a, :b)", a=ids["X"], b=ids["V"])
    keys = ("deals", "value", "weighted", "commit", "best_case", "pipeline", "omitted", "won")
    for mode in ("stage", "learned"):
        exact = run(cli, "--probabilities", mode, "--runs", "300")
        with monkeypatch.context() as m:
            m.setattr(forecast, "EXACT_LIMIT", 0)
            grouped = run(cli, "--probabilities", mode, "--runs", "300")
        assert grouped["simulation"] == "groups" and exact["simulation"] == "every deal"
        assert [[p[k] for k in keys] for p in grouped["periods"]] == [[p[k] for k in keys] for p in exact["periods"]]
        assert grouped["later"] == exact["later"]
    # November: won K €400 so far; X (commit, €1,000, learned .25) is dated December
    nov, dec = run(cli, "--probabilities", "learned", "--runs", "300")["periods"][:2]
    assert (dec["commit"], dec["best_case"]) == (1000, 1000)
    assert nov["won"] == 400 and nov["commit"] == 400 and nov["best_case"] == 400 + 3000
