"""`pipecli qualify`: BANT answers and verdicts, qualified / disqualified / incomplete, --move, --close, --pending."""

import datetime as dt
import json


def epoch(text):
    return int(dt.datetime.fromisoformat(text).timestamp())


def answers(cli, lead_id):
    return {
        r[0]: (r[1], r[2], r[3])
        for r in cli.sql("SELECT criterion, answer, verdict, at FROM qualification WHERE lead_id = :l", l=lead_id)
    }


def status(cli, lead_id):
    return cli.scalar("SELECT qualification FROM lead WHERE id = :l", l=lead_id)


def test_values_count_as_yes_and_firm_no_as_no(cli):
    cli("add-lead", "Anna")
    cli(
        "qualify",
        "1",
        "--budget",
        "20000",
        "--authority",
        "Maria (CFO)",
        "--need",
        "unknown",
        "--at",
        "2026-11-20T10:00Z",
    )
    got = answers(cli, 1)
    at = epoch("2026-11-20T10:00:00+00:00")
    assert got["budget"] == ("20000", "yes", at)
    assert got["authority"] == ("Maria (CFO)", "yes", at)
    assert got["need"] == ("unknown", "unknown", at)
    assert "timeline" not in got
    assert status(cli, 1) == "incomplete"
    cli("qualify", "1", "--need", "new CRM", "--timeline", "2027-01-15")
    assert status(cli, 1) == "qualified"
    assert answers(cli, 1)["budget"][2] == at  # an answer not given again keeps its time


def test_firm_no_disqualifies(cli):
    for word in ("no", "none", "0", "€0"):
        lead = cli("add-lead", f"Lead {word}").stdout.strip()
        cli("qualify", lead, "--budget", word)
        assert answers(cli, int(lead))["budget"][1] == "no"
        assert status(cli, int(lead)) == "disqualified"


def test_required_criteria_come_from_config(cli, tmp_path):
    (tmp_path / "config.toml").write_text('[qualification]\nrequired = ["budget", "need"]\n')
    cli("add-lead", "Anna")
    cli("qualify", "1", "--budget", "yes", "--need", "yes", "--authority", "no")
    assert status(cli, 1) == "qualified"  # authority is not required here


def test_move_puts_a_qualified_lead_in_the_qualification_stage(cli):
    cli("add-lead", "Anna", "--at", "2026-11-01T09:00Z")
    cli(
        "qualify",
        "1",
        "--budget",
        "yes",
        "--authority",
        "yes",
        "--need",
        "yes",
        "--timeline",
        "Q1",
        "--move",
        "--at",
        "2026-11-20T09:00Z",
    )
    row = cli.sql("SELECT s.name, l.stage_entered_at FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = 1")[0]
    assert row == ("Qualification", epoch("2026-11-20T09:00:00+00:00"))
    # The stage is configurable per pipeline.
    cli("pipeline", "stage", "Sales", "Meeting", "--qualification")
    cli("add-lead", "Ben")
    cli("qualify", "2", "--budget", "yes", "--authority", "yes", "--need", "yes", "--timeline", "yes", "--move")
    assert cli.scalar("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = 2") == "Meeting"


def test_move_leaves_an_incomplete_lead_where_it_is(cli):
    cli("add-lead", "Anna")
    result = cli("qualify", "1", "--budget", "yes", "--move")
    assert "not moved" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = 1") == 1


def test_close_closes_a_disqualified_lead_as_lost_with_the_reason(cli):
    cli("add-lead", "Anna")
    cli("qualify", "1", "--budget", "no", "--need", "yes", "--close")
    row = cli.sql("SELECT status, lost_reason FROM lead WHERE id = 1")[0]
    assert tuple(row) == ("lost", "disqualified: no budget")
    assert (
        cli.scalar("SELECT reason FROM stage_change WHERE lead_id = 1 AND left_at IS NULL") == "disqualified: no budget"
    )


def test_refused_move_changes_nothing(cli):
    cli("pipeline", "add", "Tiny", "--stages", "New,Talk")
    cli("add-lead", "Anna", "--pipeline", "Tiny")
    result = cli(
        "qualify", "1", "--budget", "y", "--authority", "y", "--need", "y", "--timeline", "y", "--move", ok=False
    )
    assert result.exit_code == 1 and "no qualification stage" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM qualification") == 0
    assert status(cli, 1) == "incomplete"


def test_no_answer_is_an_error(cli):
    cli("add-lead", "Anna")
    result = cli("qualify", "1", ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("pipecli: give at least one answer")
    assert cli("qualify", ok=False).exit_code == 2


def test_pending_lists_open_incomplete_leads_oldest_first(cli):
    cli("add-lead", "Newer", "--at", "2026-11-10T09:00Z")
    cli("add-lead", "Oldest", "--at", "2026-11-01T09:00Z")
    cli("add-lead", "Done", "--at", "2026-10-01T09:00Z")
    cli("add-lead", "Closed", "--at", "2026-10-01T09:00Z")
    cli("qualify", "3", "--budget", "y", "--authority", "y", "--need", "y", "--timeline", "y")
    cli("move", "4", "lost")
    cli("qualify", "1", "--budget", "5000")
    rows = json.loads(cli("qualify", "--pending", "--format", "json").stdout)
    assert [r["name"] for r in rows] == ["Oldest", "Newer"]
    assert rows[1]["missing"] == "authority, need, timeline" and rows[1]["answered"] == 1


def test_show_displays_answers_with_their_time(cli):
    cli("add-lead", "Anna")
    cli("qualify", "1", "--budget", "20000", "--at", "2026-11-20T10:00Z")
    info = json.loads(cli("show", "1", "--format", "json").stdout)
    assert info["qualification_answers"] == [
        {"criterion": "budget", "answer": "20000", "verdict": "yes", "at": "2026-11-20T10:00:00+00:00"}
    ]
    assert "Qualification" in cli("show", "1").stdout
