"""The forecast's parts on hand-built histories, each checked exactly: Kaplan–Meier with censoring, the slip
of expected dates, the aging fallback, and new business for a constant history (frozen now 2026-11-28, UTC)."""

from __future__ import annotations

import datetime as _dt
import json

import pytest
from sqlalchemy import text
from test_forecast import add_deal

from pipecli.reports import timing


def test_censored_open_deals_lower_the_hazard_as_kaplan_meier_does():
    # 10 deals: 2 won in bucket 0, 1 lost in bucket 0; 3 still open in bucket 1 (finished bucket 0 only);
    # 2 won in bucket 1, 2 lost in bucket 2.
    rows = [(0, "won", 2), (0, "lost", 1), (1, "open", 3), (1, "won", 2), (2, "lost", 2)]
    h_won, h_lost, at_risk = timing.hazards(rows, 4)
    # bucket 0: all 10 at risk (the 3 open ones finished it); bucket 1: the 4 closing then or later (the 3
    # open ones have not finished it); bucket 2: the 2 lost then
    assert list(at_risk[:3]) == [10, 4, 2]
    assert h_won[0] == pytest.approx(2 / 10) and h_lost[0] == pytest.approx(1 / 10)
    assert h_won[1] == pytest.approx(2 / 4)
    # the same deals with the 3 open ones counted as "never won" (lost in bucket 1) give a lower hazard
    naive_won, _, naive_risk = timing.hazards([(0, "won", 2), (0, "lost", 1), (1, "lost", 3), (1, "won", 2),
                                               (2, "lost", 2)], 4)  # fmt: skip
    assert naive_risk[1] == 7 and naive_won[1] == pytest.approx(2 / 7)
    assert naive_won[1] < h_won[1]
    wins, total = timing.win_by_offset(h_won, h_lost, 0, 3)
    # P(won in 0) = .2; in 1 = (1 - .3) × .5 = .35; in 2 = .7 × .5 × 0 = 0
    assert list(wins) == pytest.approx([0.2, 0.35, 0.0])
    assert total == pytest.approx(0.55)
    # a deal already in bucket 1 (it survived bucket 0): .5 in its first coming bucket
    assert timing.win_by_offset(h_won, h_lost, 1, 2)[0] == pytest.approx([0.5, 0.0])


def test_calendar_windows_spread_a_bucket_s_wins_over_the_days_left():
    h_won, h_lost = [0.3, 0.2, 0.0, 0.0], [0.1, 0.1, 0.0, 0.0]
    import numpy as np

    hw, hl = np.array(h_won), np.array(h_lost)
    # whole buckets: the same as win_by_offset
    wins, _ = timing.win_by_window(hw, hl, np.array([1.0]), [1.0, 2.0])
    assert list(wins[0]) == pytest.approx(list(timing.win_by_offset(hw, hl, 1, 2)[0]))
    # open half-way through bucket 0 (still open: 1 − .4 × .5 = .8 of the deals are); a window of .1 holds
    # .3 × .1 of the wins: .03 ÷ .8; the next, to 1.6: .3 × .4 + (1 − .4) × .2 × .6 = .192, ÷ .8
    wins, total = timing.win_by_window(hw, hl, np.array([0.5, 0.9]), [0.1, 1.1])
    assert list(wins[0]) == pytest.approx([0.03 / 0.8, 0.192 / 0.8])
    # at all: the rest of bucket 0 (.3 × .5) and bucket 1 (.6 × .2), ÷ .8; at .9: (.3 × .1 + .12) ÷ .64
    assert list(total) == pytest.approx([(0.15 + 0.12) / 0.8, (0.03 + 0.12) / 0.64])


def test_aging_fallback_pools_to_the_pipeline_then_the_tail():
    big = [(0, "won", 30), (0, "lost", 10), (1, "won", 5), (1, "lost", 15)]  # 60 deals
    small = [(0, "won", 1), (0, "lost", 4)]  # 5 deals: too few for its own cell
    haz = timing.pooled({1: big, 2: small}, min_cell=20, nbuckets=3)
    assert haz[1][0][0] == pytest.approx(30 / 60)  # its own cell: 60 at risk
    # stage 2 at bucket 0 falls back to the pooled 65 deals: 31 won
    assert haz[2][0][0] == pytest.approx(31 / 65)
    # bucket 1 has 20 at risk in the pool (stage 1's only): pooled and stage 1 agree
    assert haz[1][0][1] == pytest.approx(5 / 20) and haz[2][0][1] == pytest.approx(5 / 20)


def test_a_passed_expected_date_spreads_as_the_slip_history_says():
    day = _dt.date
    # won deals: 4 on time, 2 one month late, 2 two months late, 2 three months late
    rows = [(day(2026, 1, 15), day(2026, 1, 20))] * 4 + [(day(2026, 1, 15), day(2026, 2, 3))] * 2
    rows += [(day(2026, 1, 15), day(2026, 3, 3))] * 2 + [(day(2026, 1, 15), day(2026, 4, 3))] * 2
    slips = timing.slip_shares(rows, "month")
    assert slips == {0: 0.4, 1: 0.2, 2: 0.2, 3: 0.2}
    # a date one month ago: only slips of ≥ 1 month remain (.6), renormalised over the coming months
    assert list(timing.spread_by_slip(slips, -1, 3)) == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    # a date this month: the slip history as it is
    assert list(timing.spread_by_slip(slips, 0, 3)) == pytest.approx([0.4, 0.2, 0.2])
    # beyond every slip seen: no information (the hazard's timing is used)
    assert timing.spread_by_slip(slips, -4, 3) is None


def test_a_deal_past_its_date_spreads_over_periods_in_the_forecast(cli):
    # history: 10 won deals that had a date of 2026-05-15: 4 closed in May, 6 in June, July, August (2 each)
    for i, won in enumerate(["2026-05-20"] * 4 + ["2026-06-10"] * 2 + ["2026-07-10"] * 2 + ["2026-08-10"] * 2):
        lead = add_deal(cli, f"H{i}", "2026-05-01", "100", "Proposal", "2026-05-15")
        cli("move", lead, "won", "--at", won)
    # open: a Proposal deal whose date (10-20) passed last month, a month late now
    add_deal(cli, "Late", "2026-10-01", "1000", "Proposal", "2026-10-20")
    data = json.loads(cli("forecast", "--format", "json", "--probabilities", "stage", "--runs", "200").stdout)
    # slips ≥ 1 month: 1, 2, 3 months, 2 each -> a third of its win in each coming month; stage .7
    got = [p["from_open"] for p in data["periods"]]
    assert got == pytest.approx([1000 * 0.7 / 3] * 3, abs=0.01)


def test_new_business_is_rate_times_win_rate_times_value_for_a_constant_history(cli):
    # 2 deals created on the 2nd of every month from 2025-11 to 2026-10; one won on the 20th (€300), one
    # lost on the 20th: 2 arrivals a month, half won in their own month, €300 each.
    for m in range(12):
        y, mo = (2025, 11 + m) if m < 2 else (2026, m - 1)
        lead = add_deal(cli, f"W{m}", f"{y}-{mo:02d}-02", "300")
        cli("move", lead, "won", "--at", f"{y}-{mo:02d}-20")
        lost = add_deal(cli, f"L{m}", f"{y}-{mo:02d}-02", "50")
        cli("move", lost, "lost", "--at", f"{y}-{mo:02d}-20")
    data = json.loads(cli("forecast", "--format", "json", "--runs", "4000", "--seed", "3").stdout)
    nov, dec, jan = data["periods"]
    assert data["new_business"]["win_rate"] == pytest.approx(0.5)
    assert (dec["arrivals"], jan["arrivals"]) == (2, 2)
    assert dec["from_new"] == jan["from_new"] == pytest.approx(2 * 0.5 * 300)
    # November: only the part after 11-28 09:00 is still to come (2.625 of 30 days)
    assert nov["arrivals"] == pytest.approx(2 * 2.625 / 30)
    assert nov["from_new"] == pytest.approx(2 * 2.625 / 30 * 0.5 * 300, abs=0.01)
    assert dec["from_open"] == 0 and dec["p50"] in (0, 300, 600, 900)


@pytest.mark.parametrize("period", ["month", "quarter", "week"])
def test_period_indices_agree_with_period_index_across_daylight_saving(monkeypatch, period):
    import time

    import numpy as np

    from pipecli import clock

    monkeypatch.setenv("TZ", "America/St_Johns")  # a half-hour offset, with daylight saving
    time.tzset()
    try:
        # every 7 h 13 min across two years, so moments fall near every local midnight and DST change
        moments = np.arange(1_767_225_600, 1_767_225_600 + 2 * 365 * 86400, 7 * 3600 + 13 * 60)
        want = [timing.period_index(clock.from_ts(int(m)).date(), period) for m in moments]
        assert timing.period_indices(moments, period).tolist() == want
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_large_history_is_sampled_but_what_is_shown_is_counted_exactly(cli, monkeypatch):
    """Beyond SAMPLE_LEADS leads the estimates read every k-th lead by id; the deals, values, weighted values
    and arrivals shown are still exact, and the figures stay seeded."""
    from test_forecast import build, run

    build(cli)  # 9 leads
    full = run(cli, "--probabilities", "stage", "--runs", "500")
    monkeypatch.setattr(timing, "SAMPLE_LEADS", 3)  # k = ceil(9 / 3) = 3: leads 3, 6, 9
    sampled = run(cli, "--probabilities", "stage", "--runs", "500")
    assert sampled == run(cli, "--probabilities", "stage", "--runs", "500")
    for f, s in zip(full["periods"], sampled["periods"]):
        assert (f["deals"], f["value"], f["weighted"], f["arrivals"]) == (
            s["deals"],
            s["value"],
            s["weighted"],
            s["arrivals"],
        )
        assert 0 <= s["p10"] <= s["p50"] <= s["p90"]
    assert full["new_business"] != sampled["new_business"]  # the win timing did come from the sample


def test_open_deals_are_timed_over_calendar_periods_so_a_short_current_month_gets_its_share(cli):
    # history: 10 Proposal deals, each won 5 days after entering it (bucket 0, every one: h_won[0] = 1)
    for i in range(10):
        lead = add_deal(cli, f"H{i}", "2026-06-01", "100", "Proposal")
        cli("move", lead, "won", "--at", "2026-06-06")
    add_deal(cli, "Now", "2026-11-28 09:00", "1000", "Proposal")  # entered now, no date: age 0
    data = json.loads(cli("forecast", "--format", "json", "--probabilities", "stage", "--runs", "200").stdout)
    # November has 2.625 days left of a 30.436875-day bucket: that share of the win; December the rest of
    # the bucket; stage probability .7
    share = 2.625 / 30.436875
    got = [p["from_open"] for p in data["periods"]]
    assert got == pytest.approx([1000 * 0.7 * share, 1000 * 0.7 * (1 - share), 0], abs=0.01)


def test_the_lead_table_paths_count_and_sample_exactly_what_the_history_paths_do(cli):
    # the current forecast counts arrivals from the cohort index's ranges and seeks its sample by id; the
    # as-of path counts by quarter hour and tests each id: the same figures on the same leads
    from test_forecast import build

    from pipecli import clock
    from pipecli.reports import arrivals, state

    build(cli)
    for i in range(7):  # more months of arrivals, some closed
        lead = add_deal(cli, f"A{i}", f"2026-0{i + 1}-1{i}", "10")
        if i % 2:
            cli("move", lead, "won", "--at", f"2026-0{i + 1}-2{i}")
    store = cli.store()
    with store.read() as conn:
        rel, params = state.lead_state(1, None, conn.dialect.name)
        t = clock.now_ts()
        for period in ("month", "quarter", "week"):
            by_quarter = arrivals._counts_by_quarter_hour(conn, rel, params, t, period)
            assert arrivals._counts_from_index(conn, 1, t, period) == by_quarter
            assert sum(by_quarter.values()) == 16
        for step in (2, 3):
            picked = {}
            for seek in (False, True):
                leads, kept = timing.sample_from(conn, rel, step, seek)
                picked[seek] = [
                    r[0] for r in conn.execute(text(f"SELECT l.id FROM {leads} WHERE {kept} ORDER BY 1"), params)
                ]
            assert picked[True] == picked[False] == [i for i in range(1, 17) if i % step == 0]
    store.dispose()
