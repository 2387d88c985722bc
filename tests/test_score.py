"""`pipecli score`: fit rules from the config, engagement with half-life decay, explain, list --sort score / --hot."""

import json

import pytest

CONFIG = """
[scoring]
hot_threshold = 40
half_life_days = 14

[scoring.points]
reply = 20
call = 4
email_opened = 1

[[scoring.rules]]
field = "source"
equals = "referral"
points = 15

[[scoring.rules]]
field = "Country"
in = ["Italy", "Spain"]
points = 5

[[scoring.rules]]
field = "value"
at_least = 10000
points = 10

[[scoring.rules]]
field = "visits"
at_least = 3
points = 7
"""


@pytest.fixture
def config(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG)


def extra(cli, lead_id, key, value):
    """Store an extra field the way an import keeps it, then recompute scores as the importer does."""
    store = cli.store()
    try:
        from sqlalchemy import text

        with store.write() as conn:
            conn.execute(
                text("INSERT INTO lead_extra (lead_id, key, value) VALUES (:l, :k, :v)"),
                {"l": lead_id, "k": key, "v": value},
            )
    finally:
        store.dispose()


def scores(cli, *args):
    return {r["id"]: r for r in json.loads(cli("score", "--format", "json", *args).stdout)}


def test_engagement_halves_every_half_life(cli, config, monkeypatch):
    cli("add-lead", "Anna")
    cli("log", "1", "reply", "--at", "2026-10-31T09:00:00+00:00")  # 28 days before the frozen now
    reply_points, half_life = 20, 14
    expected = reply_points * 0.5 ** (28 / half_life)  # = points / 4
    assert scores(cli)[1]["engagement"] == pytest.approx(expected)
    assert scores(cli)[1]["engagement"] == pytest.approx(reply_points / 4)
    # Stored as of the activity, decayed only when read.
    assert cli.scalar("SELECT engagement FROM lead WHERE id = 1") == pytest.approx(reply_points)
    assert json.loads(cli("show", "1", "--format", "json").stdout)["score"] == pytest.approx(reply_points / 4)
    monkeypatch.setenv("PIPECLI_NOW", "2026-12-12T09:00:00+00:00")  # 14 days later
    assert scores(cli)[1]["engagement"] == pytest.approx(reply_points / 8)


def test_activities_add_up_each_decayed_from_its_own_time(cli, config):
    cli("add-lead", "Anna")
    cli("log", "1", "call", "--at", "2026-11-14T09:00:00+00:00")  # 14 days ago
    cli("log", "1", "reply", "--at", "2026-11-28T09:00:00+00:00")  # now
    cli("log", "1", "email_opened", "--at", "2026-10-17T09:00:00+00:00")  # 42 days ago, logged late
    expected = 4 * 0.5 + 20 * 1 + 1 * 0.5**3
    assert scores(cli)[1]["engagement"] == pytest.approx(expected)


def test_fit_rules_over_fields_and_extra_fields(cli, config):
    cli("add-lead", "Anna", "--source", "Referral", "--value", "12000")
    cli("add-lead", "Ben", "--source", "web", "--value", "9999.99")
    extra(cli, 1, "Country", "italy")
    extra(cli, 1, "visits", "3")
    extra(cli, 2, "Country", "France")
    extra(cli, 2, "visits", "2.5")
    cli("score", "--recompute")
    got = scores(cli)
    assert got[1]["fit"] == 15 + 5 + 10 + 7
    assert got[2]["fit"] == 0
    assert got[1]["total"] == got[1]["fit"] + got[1]["engagement"]
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 37


def test_edits_keep_the_stored_fit_current(cli, config):
    cli("add-lead", "Anna", "--source", "web")
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 0
    cli("edit", "1", "--source", "referral")
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 15
    cli("edit", "1", "--value", "10000")
    assert cli.scalar("SELECT score FROM lead WHERE id = 1") == 25


def test_explain_shows_each_rule_and_activity(cli, config):
    cli("add-lead", "Anna", "--source", "referral", "--value", "500")
    cli("log", "1", "reply", "--at", "2026-11-14T09:00:00+00:00")
    cli("log", "1", "call", "--at", "2026-11-28T09:00:00+00:00")
    info = json.loads(cli("score", "1", "--explain", "--format", "json").stdout)
    by_rule = {r["rule"]: r["contribution"] for r in info["rules"]}
    assert by_rule["source is referral"] == 15
    assert by_rule["value >= 10000"] == 0
    assert [a["kind"] for a in info["activities"]] == ["reply", "call"]
    assert [a["contribution"] for a in info["activities"]] == pytest.approx([20 * 0.5, 4])
    assert info["total"] == pytest.approx(15 + 10 + 4)
    assert info["hot"] is False  # threshold 40
    table = cli("score", "1", "--explain").stdout
    assert "source is referral" in table and "reply" in table


def test_list_sort_score_and_hot_use_the_decayed_total(cli, config, monkeypatch):
    cli("add-lead", "Old flame", "--source", "referral")  # fit 15
    cli("log", "1", "reply", "--at", "2026-11-27T09:00:00+00:00")  # nearly 20 now
    cli("log", "1", "reply", "--at", "2026-11-27T09:00:00+00:00")
    cli("add-lead", "Steady", "--source", "referral", "--value", "20000")  # fit 25, no activity
    cli("add-lead", "Cold")
    expected_1 = 15 + 2 * 20 * 0.5 ** (1 / 14)
    listed = json.loads(cli("list", "--sort", "score", "--format", "json").stdout)
    assert [r["name"] for r in listed] == ["Old flame", "Steady", "Cold"]
    assert listed[0]["score"] == pytest.approx(expected_1)
    assert [r["name"] for r in json.loads(cli("list", "--hot", "--format", "json").stdout)] == ["Old flame"]
    # Two months later the old flame has cooled below the steady lead and is no longer hot.
    monkeypatch.setenv("PIPECLI_NOW", "2027-01-28T09:00:00+00:00")
    listed = json.loads(cli("list", "--sort", "score", "--format", "json").stdout)
    assert [r["name"] for r in listed] == ["Steady", "Old flame", "Cold"]
    assert json.loads(cli("list", "--hot", "--format", "json").stdout) == []
    ranked = json.loads(cli("score", "--format", "json").stdout)
    assert [r["name"] for r in ranked] == ["Steady", "Old flame", "Cold"]


def test_default_rules_and_rules_listing(cli):
    cli("add-lead", "Anna", "--source", "referral")
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 15  # the documented default
    info = json.loads(cli("score", "--rules", "--format", "json").stdout)
    assert {"rule": "source is referral", "field": "source", "points": 15} in info["rules"]
    assert info["half_life_days"] == 14 and info["hot_threshold"] == 50


def test_bad_rule_in_config_is_one_line_error(cli, tmp_path):
    cli("add-lead", "Anna")
    (tmp_path / "config.toml").write_text('[[scoring.rules]]\nfield = "source"\npoints = 3\n')
    result = cli("score", "--rules", ok=False)
    assert result.exit_code == 1
    assert "exactly one of" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = cli("add-lead", "Ben", ok=False)
    assert result.exit_code == 1 and "exactly one of" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


def test_score_options_conflict(cli):
    result = cli("score", "--rules", "--recompute", ok=False)
    assert result.exit_code == 2


def test_recompute_after_a_rule_change(cli, config, tmp_path):
    cli("add-lead", "Anna", "--source", "event")
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 0
    # the first write adopted the config file's [scoring] (test_settings_adopt.py): the team's rules are the database's
    cli("settings", "set", "scoring.rules", '[{field = "source", in = ["event", "partner"], points = 9}]')
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 0  # stored until recomputed
    cli("score", "--recompute")
    assert cli.scalar("SELECT fit_score FROM lead WHERE id = 1") == 9


def test_score_csv_through_a_pipe(cli, config):
    import subprocess
    import sys
    from pathlib import Path

    cli("add-lead", "Anna", "--source", "referral")
    proc = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", cli.db, "score", "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "id,name,company,stage,fit,engagement,total,hot,win_probability",
        "1,Anna,,Prospecting,15,0,15,false,",
    ]
