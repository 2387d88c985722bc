"""size through the CLI: the worked example, figures taken from history, stage needs and coverage."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from tests.test_metrics import build


def size(cli, *args) -> dict:
    return json.loads(cli("size", "--format", "json", *args).stdout)


def test_worked_example(cli):
    data = size(cli, "--target", "100000", "--avg-deal", "500", "--close-rate", "0.8", "--reps", "10")
    assert (data["deals_needed"], data["leads_needed"], data["leads_per_rep"]) == (200, 250, 25)
    assert (data["avg_deal_source"], data["close_rate_source"], data["reps_source"]) == ("given", "given", "given")
    assert data["target"] == 100000 and data["avg_deal"] == 500 and data["close_rate"] == 0.8
    table = cli("size", "--target", "100000", "--avg-deal", "500", "--close-rate", "80%", "--reps", "10").stdout
    assert "deals needed: 200" in table and "leads needed: 250" in table and "leads per seller: 25" in table
    assert "rounded up" in table


def test_fractions_round_up(cli):
    # 1000 / 300 = 3.33 deals -> 4; 4 / 0.3 = 13.3 leads -> 14; 14 / 3 = 4.67 -> 5
    data = size(cli, "--target", "1000", "--avg-deal", "300", "--close-rate", "0.3", "--reps", "3")
    assert (data["deals_needed"], data["leads_needed"], data["leads_per_rep"]) == (4, 14, 5)


def test_figures_left_out_come_from_history(cli):
    build(cli)  # won A €1000, B €3000, G €2500; lost C, D; owners ann (A, B) and bob (C)
    data = size(cli, "--target", "10000")
    assert (data["avg_deal_source"], data["close_rate_source"], data["reps_source"]) == ("history",) * 3
    avg = Fraction(650000, 3)  # cents
    assert data["avg_deal"] == 2166.67
    assert data["close_rate"] == pytest.approx(3 / 5)
    assert data["reps"] == 2
    deals = math.ceil(Fraction(1000000) / avg)  # 4.6 -> 5
    leads = math.ceil(Fraction(deals) / Fraction(3, 5))  # 8.3 -> 9
    assert (data["deals_needed"], data["leads_needed"], data["leads_per_rep"]) == (
        deals,
        leads,
        math.ceil(Fraction(leads, 2)),
    )
    # conversions 5/7, 4/5, 3/4, 1, 1 -> each later stage must hold deals ÷ (its chance of reaching won), at
    # most the leads needed; the first stage, where leads start, holds the leads needed: one figure
    to_won = [Fraction(3, 5), Fraction(3, 4), Fraction(1), Fraction(1)]
    later = [min(math.ceil(deals / c), leads) for c in to_won]
    assert [s["leads_needed_in_stage"] for s in data["stages"]] == [leads, *later]
    table = cli("size", "--target", "10000").stdout
    assert "covered: no" in table
    assert f"leads needed: {leads}" in table and table.count("leads needed") == 2  # the record's and the column's
    assert data["open_value"] == 4600
    assert data["coverage"] == pytest.approx(4600 / 10000)
    assert data["pipeline_needed"] == pytest.approx(16666.67)
    assert data["pipeline_covered"] is False
    given = size(cli, "--target", "10000", "--avg-deal", "1000")
    assert given["avg_deal_source"] == "given" and given["deals_needed"] == 10
    small = cli("size", "--target", "100").stdout  # €4,600 open covers €100 ÷ 3/5
    assert "covered: yes" in small


def test_bad_input_is_refused(cli):
    result = cli("size", "--target", "1000", "--avg-deal", "100", "--close-rate", "1.5", "--reps", "2", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == "pipecli: --close-rate must be above 0 and at most 1 (or 100%), not 1.5"
    # an empty database has no history to take the average deal from
    result = cli("size", "--target", "1000", ok=False)
    assert result.exit_code == 1 and "--avg-deal" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
