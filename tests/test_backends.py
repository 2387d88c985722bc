"""Every foundation command does the same on SQLite and PostgreSQL (each test runs on both backends).

The histories are built with `--at`, so every figure below is worked out from the data the test made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_add_move_log_and_history(cli):
    lead = int(
        cli(
            "add-lead",
            "Anna Rossi",
            "--company",
            "Rossi Srl",
            "--email",
            "anna@rossi.it",
            "--value",
            "4500",
            "--owner",
            "Marco",
            "--expected-close",
            "2026-12-20",
            "--at",
            "2026-11-01 10:00",
        ).stdout
    )
    cli("move", lead, "Contact", "--at", "2026-11-03 10:00")
    cli("log", lead, "call", "--note", "first call", "--at", "2026-11-04 09:00")
    cli("move", lead, "Meeting", "--at", "2026-11-10 10:00")
    cli("move", lead, "Contact", "--at", "2026-11-12 10:00")  # backwards
    cli("move", lead, "lost", "--reason", "price", "--at", "2026-11-20 10:00")

    row = cli.sql(
        "SELECT status, lost_reason, furthest_position, expected_close, value_minor FROM lead WHERE id = :l", l=lead
    )[0]
    assert (row[0], row[1], row[2], str(row[3]), row[4]) == ("lost", "price", 4, "2026-12-20", 450000)
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = :l", l=lead) == 5
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = :l AND left_at IS NULL", l=lead) == 1

    shown = json.loads(cli("show", lead, "--format", "json").stdout)
    assert shown["status"] == "lost" and shown["expected_close"] == "2026-12-20"
    assert [h["to_stage"] for h in shown["history"]] == ["Prospecting", "Contact", "Meeting", "Contact", "lost"]
    # Meeting: from 11-10 10:00 to 11-12 10:00 = 2 days
    assert shown["history"][2]["seconds_in_stage"] == 2 * 86400
    assert shown["history"][-1]["seconds_in_stage"] is None
    assert [(a["kind"], a["note"]) for a in shown["activities"]] == [("call", "first call")]


def test_list_sorts_filters_and_nulls_last(cli):
    a = int(cli("add-lead", "A", "--value", "100", "--owner", "Giulia", "--at", "2026-11-01").stdout)
    b = int(cli("add-lead", "B", "--owner", "giulia", "--at", "2026-11-02").stdout)  # no value
    c = int(cli("add-lead", "C", "--value", "900", "--owner", "Tom", "--at", "2026-11-03").stdout)
    rows = json.loads(cli("list", "--sort", "value", "--format", "json").stdout)
    assert [r["id"] for r in rows] == [c, a, b]  # NULL value last on both backends
    rows = json.loads(cli("list", "--owner", "GIULIA", "--format", "json").stdout)
    assert [r["id"] for r in rows] == [a, b]  # owner matched case-insensitively
    rows = json.loads(cli("list", "--sort", "created", "--limit", "2", "--format", "json").stdout)
    assert [r["id"] for r in rows] == [c, b]
    assert rows[0]["value"] == 900


def test_edit_clear_and_delete(cli):
    lead = int(cli("add-lead", "Bo", "--value", "10", "--expected-close", "2027-01-31").stdout)
    cli("edit", lead, "--value", "", "--expected-close", "", "--company", "Acme")
    row = cli.sql("SELECT value_minor, expected_close, company FROM lead WHERE id = :l", l=lead)[0]
    assert tuple(row) == (None, None, "Acme")
    cli("log", lead, "email")
    cli("delete", lead, "--yes")
    for table in ("lead", "stage_change", "activity"):
        column = "id" if table == "lead" else "lead_id"
        assert cli.scalar(f"SELECT COUNT(*) FROM {table} WHERE {column} = :l", l=lead) == 0


def test_board_counts_and_values(cli):
    for name, value, stage in (("A", "100", "Contact"), ("B", "250", "Contact"), ("C", "", "Meeting")):
        args = ["add-lead", name, "--stage", stage] + (["--value", value] if value else [])
        cli(*args)
    board = json.loads(cli("board", "--format", "json").stdout)
    by_stage = {s["stage"]: s for s in board["stages"]}
    assert by_stage["Contact"]["count"] == 2 and by_stage["Contact"]["value"] == 350
    assert [lead["name"] for lead in by_stage["Contact"]["leads"]] == ["B", "A"]
    assert by_stage["Meeting"]["count"] == 1 and by_stage["Meeting"]["value"] == 0


def test_pipelines_and_stages(cli):
    cli("pipeline", "add", "Partners", "--stages", "New,Talk,Signed")
    cli("pipeline", "add-stage", "Partners", "Pilot", "--position", "3", "--probability", "0.6")
    lead = int(cli("add-lead", "P", "--pipeline", "Partners", "--stage", "Pilot").stdout)
    cli("move", lead, "Signed")
    cli("pipeline", "remove-stage", "Partners", "Talk")  # never used: deleted
    cli("move", lead, "New")
    cli("pipeline", "remove-stage", "Partners", "Pilot")  # used in history: kept as removed
    stages = json.loads(cli("pipeline", "show", "Partners", "--format", "json").stdout)
    assert [s["stage"] for s in stages] == ["New", "Signed", "won", "lost"]
    assert [s["position"] for s in stages[:2]] == [1, 2]
    assert cli.scalar("SELECT removed FROM stage WHERE name = 'Pilot'") in (True, 1)
    assert cli.scalar("SELECT furthest_position FROM lead WHERE id = :l", l=lead) == 2
    cli("pipeline", "stage", "Partners", "Signed", "--rename", "Contract", "--stale-days", "5")
    cli("pipeline", "rename", "Partners", "Channel")
    cli("pipeline", "default", "channel")
    listed = json.loads(cli("pipeline", "list", "--format", "json").stdout)
    assert [(p["name"], p["default"], p["open_leads"]) for p in listed] == [("Sales", False, 0), ("Channel", True, 1)]
    cli("pipeline", "default", "Sales")
    cli("move", lead, "won")
    cli("delete", lead, "--yes")
    cli("pipeline", "delete", "Channel", "--yes")
    assert cli.scalar("SELECT COUNT(*) FROM stage WHERE name IN ('New', 'Contract', 'Pilot')") == 0


def test_errors_change_nothing(cli):
    lead = int(cli("add-lead", "Z", "--at", "2026-11-10").stdout)
    before = cli.sql("SELECT * FROM lead")
    for args in (
        ("move", lead, "Nowhere"),
        ("move", lead, "Contact", "--at", "2026-11-01"),
        ("add-lead", "Y", "--email", "not-an-email"),
        ("move", 999, "won"),
    ):
        result = cli(*args, ok=False)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1
    # not one of the choices: a usage error, one line naming the parameter
    for args, name in ((("log", lead, "dance"), "KIND"), (("list", "--sort", "sideways"), "--sort")):
        result = cli(*args, ok=False)
        assert result.exit_code == 2, args
        assert result.stderr.startswith(f"pipecli {args[0]}: {name}: '{args[-1]}' is not one of ")
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert cli.sql("SELECT * FROM lead") == before


def test_subprocess_pipe_and_exit_codes(db_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pipecli", "--db", db_path, *args], capture_output=True, text=True, env=env, cwd=ROOT
        )

    added = run("add-lead", "Pipe Person", "--value", "12")
    assert added.returncode == 0 and added.stdout.strip().isdigit()
    listed = run("list", "--format", "csv")
    assert listed.returncode == 0 and "Pipe Person" in listed.stdout
    missing = run("show", "4242")
    assert missing.returncode == 1 and missing.stderr.startswith("pipecli: no lead with id 4242")


@pytest.mark.parametrize("group", ["db", "pipeline", "config"])
def test_group_help_exits_zero(cli, group):
    result = cli(group, "--help")
    assert "Usage" in result.stdout
