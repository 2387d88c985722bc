"""metrics and funnel, through the CLI, on a hand-built history (frozen now: 2026-11-28T09:00Z, TZ=UTC).

The history (stages: 1 Prospecting, 2 Contact, 3 Qualification, 4 Meeting, 5 Proposal):
  A  10-01 referral €1000: Contact 10-03, Qualification 10-08, won 10-11   (cycle 10 days)
  B  10-01 referral €3000: Contact 10-05, won 10-21                         (cycle 20 days)
  C  10-02 web €500: lost 10-12
  D  10-10 event €2000: Contact 10-11, Qualification 10-13, lost 10-20
  E  11-01 web €4000: Contact 11-06, still open
  F  11-20 web €600: still open in Prospecting
  G  11-10 referral €2500: won 11-25 straight from Prospecting            (cycle 15 days)
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

DAY = 86400
ROOT = Path(__file__).resolve().parent.parent


def build(cli) -> dict:
    """Create the history above; return the lead ids by letter."""

    def add(name, at, value, source, owner=None):
        args = ["add-lead", name, "--at", at, "--value", value, "--source", source]
        if owner:
            args += ["--owner", owner]
        return int(cli(*args).stdout.strip())

    ids = {
        "A": add("A", "2026-10-01", "1000", "referral", "ann"),
        "B": add("B", "2026-10-01", "3000", "referral", "ann"),
        "C": add("C", "2026-10-02", "500", "web", "bob"),
        "D": add("D", "2026-10-10", "2000", "event"),
        "E": add("E", "2026-11-01", "4000", "web"),
        "F": add("F", "2026-11-20", "600", "web"),
        "G": add("G", "2026-11-10", "2500", "referral"),
    }
    moves = [
        ("A", "Contact", "2026-10-03"),
        ("A", "Qualification", "2026-10-08"),
        ("A", "won", "2026-10-11"),
        ("B", "Contact", "2026-10-05"),
        ("B", "won", "2026-10-21"),
        ("C", "lost", "2026-10-12"),
        ("D", "Contact", "2026-10-11"),
        ("D", "Qualification", "2026-10-13"),
        ("D", "lost", "2026-10-20"),
        ("E", "Contact", "2026-11-06"),
        ("G", "won", "2026-11-25"),
    ]
    for letter, stage, at in moves:
        cli("move", ids[letter], stage, "--at", at)
    return ids


def metrics_json(cli, *args) -> dict:
    return json.loads(cli("metrics", "--format", "json", *args).stdout)


def by_stage(data: dict) -> dict:
    return {s["stage"]: s for s in data["stages"]}


def test_current_figures(cli):
    build(cli)
    m = metrics_json(cli)
    assert m["from_history"] is False
    assert m["new_leads"] == 7
    assert {s["source"]: s["new_leads"] for s in m["sources"]} == {"referral": 3, "web": 3, "event": 1}
    assert (m["won"], m["lost"]) == (3, 2)
    assert m["win_rate"] == pytest.approx(3 / 5)
    # (1000 + 3000 + 2500) / 3 = 2166.666... -> rounded to the cent
    assert m["avg_won_deal"] == 2166.67
    assert m["won_value"] == 6500
    assert m["cycle_median_days"] == pytest.approx(15)
    assert m["cycle_mean_days"] == pytest.approx((10 + 20 + 15) / 3)
    assert m["open_deals"] == 2 and m["open_value"] == 4600
    # E created 11-01, F 11-20; now is 11-28 09:00
    assert m["avg_open_age_days"] == pytest.approx(((27 + 9 / 24) + (8 + 9 / 24)) / 2)
    # 2 open × 0.6 × 216666.67 cents ÷ 15 days = 17333.33 cents a day
    velocity = (Decimal(2) * Decimal(3) / Decimal(5) * Decimal(650000) / Decimal(3) / Decimal(15)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN
    )
    assert m["velocity_per_day"] == float(velocity) / 100


def test_stage_conversion_and_time_in_stage(cli):
    build(cli)
    stages = by_stage(metrics_json(cli))
    # won leads (A, B, G) count in every stage; others up to their furthest stage
    assert [stages[s]["reached"] for s in ("Prospecting", "Contact", "Qualification", "Meeting", "Proposal")] == [
        7,
        5,
        4,
        3,
        3,
    ]
    assert stages["Prospecting"]["conversion"] == pytest.approx(5 / 7)
    assert stages["Contact"]["conversion"] == pytest.approx(4 / 5)
    assert stages["Qualification"]["conversion"] == pytest.approx(3 / 4)
    assert stages["Meeting"]["conversion"] == pytest.approx(1)
    assert stages["Proposal"]["next_stage"] == "won" and stages["Proposal"]["conversion"] == pytest.approx(1)
    # completed Prospecting stays: A 2, B 4, C 10, D 1, E 5, G 15 days -> median 4.5, p90 at 4.5 of 0..5 = 12.5
    assert stages["Prospecting"]["stays"] == 6
    assert stages["Prospecting"]["time_median_days"] == pytest.approx(4.5)
    assert stages["Prospecting"]["time_p90_days"] == pytest.approx(12.5)
    # Contact stays: A 5, B 16, D 2 -> median 5, p90 at 1.8 -> 5 + 0.8 × 11
    assert stages["Contact"]["time_median_days"] == pytest.approx(5)
    assert stages["Contact"]["time_p90_days"] == pytest.approx(5 + 0.8 * 11)
    assert stages["Qualification"]["time_median_days"] == pytest.approx(5)
    assert stages["Meeting"]["time_median_days"] is None
    assert (stages["Contact"]["open"], stages["Contact"]["open_value"]) == (1, 4000)


def test_since_limits_the_window(cli):
    build(cli)
    m = metrics_json(cli, "--since", "2026-11-01")
    assert m["new_leads"] == 3  # E, F, G
    assert (m["won"], m["lost"]) == (1, 0)  # only G closed since November
    assert m["win_rate"] == 1
    assert m["avg_won_deal"] == 2500
    assert m["cycle_median_days"] == pytest.approx(15)


def test_as_of_reads_the_history(cli):
    build(cli)
    m = metrics_json(cli, "--as-of", "2026-10-15")
    assert m["from_history"] is True
    assert m["as_of"] == "2026-10-15T23:59:59+00:00"
    assert m["new_leads"] == 4  # A, B, C, D existed
    assert (m["won"], m["lost"]) == (1, 1)  # A won 10-11, C lost 10-12
    assert m["win_rate"] == pytest.approx(0.5)
    assert m["avg_won_deal"] == 1000
    assert m["cycle_median_days"] == pytest.approx(10)
    assert m["open_deals"] == 2 and m["open_value"] == 5000  # B in Contact, D in Qualification
    end = 15 * DAY - 1  # seconds from 10-01 00:00 to 10-15 23:59:59
    assert m["avg_open_age_days"] == pytest.approx((end + (end - 9 * DAY)) / 2 / DAY)
    stages = by_stage(m)
    assert [stages[s]["reached"] for s in ("Prospecting", "Contact", "Qualification", "Meeting")] == [4, 3, 2, 1]
    assert stages["Contact"]["open"] == 1 and stages["Qualification"]["open"] == 1
    # stays completed by then: Prospecting A 2, B 4, C 10, D 1; Contact A 5, D 2
    assert stages["Prospecting"]["time_median_days"] == pytest.approx(3)
    assert stages["Contact"]["time_median_days"] == pytest.approx(3.5)
    assert stages["Qualification"]["time_median_days"] == pytest.approx(3)


def test_as_of_today_agrees_with_the_cached_columns(cli):
    build(cli)
    now, hist = metrics_json(cli), metrics_json(cli, "--as-of", "2026-11-28")
    for key in (
        "new_leads",
        "won",
        "lost",
        "win_rate",
        "avg_won_deal",
        "cycle_median_days",
        "open_deals",
        "open_value",
    ):
        assert now[key] == hist[key], key
    for a, b in zip(now["stages"], hist["stages"]):
        assert (a["reached"], a["open"], a["conversion"], a["time_median_days"]) == (
            b["reached"],
            b["open"],
            b["conversion"],
            b["time_median_days"],
        )


def test_csv_and_table(cli):
    build(cli)
    lines = cli("metrics", "--format", "csv").stdout.splitlines()
    assert lines[0] == "section,item,figure,value"
    assert "summary,,win_rate,0.6" in lines
    assert "stage,Prospecting,reached,7" in lines
    table = cli("metrics").stdout
    assert "win rate: 60.0%" in table and "Prospecting" in table


def test_csv_defuses_a_formula_in_a_text_cell_unless_raw(cli):
    """The long CSV defuses as every CSV table does (`output.csv_cells`): a source named as a formula gets
    a leading apostrophe; `--raw` writes the cells as stored; every other cell is the same either way."""
    build(cli)
    formula = '=HYPERLINK("http://x.example")'
    cli("add-lead", "H", "--at", "2026-11-21", "--value", "10", "--source", formula)
    defused = list(csv.reader(io.StringIO(cli("metrics", "--format", "csv").stdout)))
    raw = list(csv.reader(io.StringIO(cli("metrics", "--format", "csv", "--raw").stdout)))
    assert ["source", "'" + formula, "new_leads", "1"] in defused and ["source", formula, "new_leads", "1"] in raw
    assert [row for row in defused if row[1] != "'" + formula] == [row for row in raw if row[1] != formula]
    assert not any(cell.startswith("=") for row in defused for cell in row)


def test_funnel(cli):
    build(cli)
    rows = json.loads(cli("funnel", "--format", "json").stdout)
    assert [(r["stage"], r["reached"]) for r in rows] == [
        ("Prospecting", 7),
        ("Contact", 5),
        ("Qualification", 4),
        ("Meeting", 3),
        ("Proposal", 3),
        ("won", 3),
    ]
    assert rows[0]["conversion"] == pytest.approx(5 / 7)
    assert rows[-1]["open_value"] == 6500  # the won row carries the won value
    old = json.loads(cli("funnel", "--as-of", "2026-10-15", "--format", "json").stdout)
    assert [r["reached"] for r in old] == [4, 3, 2, 1, 1, 1]


def test_funnel_piped_is_plain_text(cli, db_path):
    build(cli)
    out = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", db_path, "funnel"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].startswith("Funnel: Sales")
    assert "\x1b" not in out
    assert lines[1].startswith("Prospecting") and "#" * 40 in lines[1]  # the widest bar
    assert "71.4% to Contact" in lines[1]


def test_bad_date_is_one_line(cli):
    build(cli)
    result = cli("metrics", "--as-of", "not a date", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("pipecli: ") and len(result.stderr.strip().splitlines()) == 1


def test_funnel_on_a_terminal_draws_coloured_bars(cli, db_path):
    import os
    import pty

    build(cli)
    pid, fd = pty.fork()
    if pid == 0:  # the child: pipecli with its stdout on the terminal
        os.chdir(ROOT)
        os.execvpe(
            sys.executable,
            [sys.executable, "-m", "pipecli", "--db", db_path, "funnel"],
            {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"},
        )
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode()
    assert "\x1b[" in text and "█" in text  # colour and solid bars, unlike the piped text
    assert "Prospecting" in text and "71.4% to Contact" in text


def test_velocity_needs_enough_won_deals(cli):
    """One deal won in the minute it was created would make velocity millions a day: below three won deals
    it is not given, and the table says why."""
    cli("add-lead", "Open", "--value", "1000")
    won = cli("add-lead", "Quick", "--value", "50000").stdout.strip()
    cli("move", won, "won")
    data = json.loads(cli("metrics", "--format", "json").stdout)
    assert data["won"] == 1 and data["velocity_per_day"] is None
    table = cli("metrics")
    assert "not enough history" in table.stderr and "3 won deals" in table.stderr
