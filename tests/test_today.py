"""Next steps: `log --next`, `follow-up`, stage triggers and `pipecli next`, and the morning view `pipecli today`."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_log_next_and_follow_up_set_the_next_step(cli):
    cli("add-lead", "Anna")
    cli("log", "1", "call", "--next", "2026-12-02 send proposal")
    assert tuple(cli.sql("SELECT next_step, next_step_due FROM lead WHERE id = 1")[0]) == (
        "send proposal",
        "2026-12-02",
    )
    cli("follow-up", "1", "tomorrow", "call back about the price")
    assert tuple(cli.sql("SELECT next_step, next_step_due FROM lead WHERE id = 1")[0]) == (
        "call back about the price",
        "2026-11-29",
    )


def test_bad_next_changes_nothing(cli):
    cli("add-lead", "Anna")
    result = cli("log", "1", "call", "--next", "send proposal soon", ok=False)
    assert result.exit_code == 1 and "--next" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM activity") == 0
    assert cli.scalar("SELECT next_step FROM lead WHERE id = 1") is None


def test_next_lists_leads_with_a_trigger_since_entering_their_stage(cli):
    cli("pipeline", "stage", "Sales", "Contact", "--triggers", "demo_request,quote_request")
    cli("add-lead", "Ready", "--stage", "Contact", "--at", "2026-11-20T09:00Z")
    cli("log", "1", "demo_request", "--at", "2026-11-25T09:00Z")
    cli("add-lead", "Asked before", "--at", "2026-11-01T09:00Z")
    cli("log", "2", "quote_request", "--at", "2026-11-02T09:00Z")
    cli("move", "2", "Contact", "--at", "2026-11-10T09:00Z")  # the request came before this stage
    cli("add-lead", "Only called", "--stage", "Contact")
    cli("log", "3", "call")
    rows = json.loads(cli("next", "--format", "json").stdout)
    assert [(r["name"], r["trigger"], r["suggested"]) for r in rows] == [("Ready", "demo_request", "Qualification")]
    assert rows[0]["trigger_at"] == "2026-11-25T09:00:00+00:00"


def test_today_has_three_sections(cli, tmp_path):
    (tmp_path / "config.toml").write_text("[scoring]\nhot_threshold = 30\n")
    cli("pipeline", "stage", "Sales", "Proposal", "--triggers", "contract_sent")
    cli("add-lead", "Overdue")
    cli("follow-up", "1", "2026-11-25", "send the quote")
    cli("add-lead", "Due today")
    cli("follow-up", "2", "2026-11-28", "call")
    cli("add-lead", "Later")
    cli("follow-up", "3", "2026-12-05", "check in")
    cli("add-lead", "Hot, no plan", "--source", "referral")  # fit 15 by the default rules
    cli("log", "4", "reply")  # + 15 for a reply now (default points): 30, hot
    cli("add-lead", "Hot with plan", "--source", "referral")
    cli("log", "5", "reply", "--next", "2026-12-01 demo")
    cli("add-lead", "Closing", "--stage", "Proposal")
    cli("log", "6", "contract_sent")
    data = json.loads(cli("today", "--format", "json").stdout)
    assert set(data) == {"follow_ups", "hot_without_next_step", "ready"}
    assert [(r["name"], r["days_overdue"]) for r in data["follow_ups"]] == [("Overdue", 3), ("Due today", 0)]
    assert [r["name"] for r in data["hot_without_next_step"]] == ["Hot, no plan"]
    assert [(r["name"], r["suggested"]) for r in data["ready"]] == [("Closing", "won")]
    table = cli("today").stdout
    assert "Follow-ups due (2)" in table and "Ready to advance (1)" in table


def test_today_csv_through_a_pipe(cli):
    cli("add-lead", "Anna")
    cli("follow-up", "1", "2026-11-27", "call")
    proc = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", cli.db, "today", "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "# follow_ups" and lines[2].startswith("1,Anna")
