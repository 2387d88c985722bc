"""True history: every change an event with who and which command, replay equals the cached columns,
`history ID`, `show`'s recent changes, `list --mine`, undo and redo, and the migration of older files."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def problems(cli) -> list[str]:
    """Return what a replay of the events finds different from the stored leads (empty: they agree)."""
    return cli.verify()


def changes(cli, lead_id) -> list[dict]:
    return json.loads(cli("history", lead_id, "--format", "json").stdout)


def export(cli) -> dict:
    """Return everything `export` writes (leads, stage history, activities), as JSON."""
    return {
        what: json.loads(cli("export", "--format", "json", "--what", what).stdout)
        for what in ("leads", "history", "activities")
    }


def scripted(cli, monkeypatch) -> int:
    """Run a seller's week on one lead (as marco, then giulia) and return the lead's id."""
    monkeypatch.setenv("PIPECLI_USER", "marco")
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-02 09:00")
    lead = int(cli("add-lead", "Anna Rossi", "--value", "4500", "--owner", "marco", "--note", "met at fair").stdout)
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-03 09:00")
    cli("move", lead, "Meeting")
    cli("log", lead, "call", "--note", "intro", "--next", "2026-11-10 send proposal")
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-04 09:00")
    monkeypatch.setenv("PIPECLI_USER", "giulia")  # (--as is checked against the server's roles on PostgreSQL)
    cli("edit", lead, "--value", "5000", "--expected-close", "2026-12-20", "--source", "fair")
    monkeypatch.setenv("PIPECLI_USER", "marco")
    cli("qualify", lead, "--budget", "20000", "--need", "yes")
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-05 09:00")
    cli("move", lead, "lost", "--reason", "price")
    cli("edit", lead, "--lost-reason", "price, then budget")
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-06 09:00")
    cli("move", lead, "Proposal")  # reopened
    return lead


def test_every_change_is_an_event_with_its_author_and_command(cli, monkeypatch):
    lead = scripted(cli, monkeypatch)
    rows = changes(cli, lead)
    fields = [r["field"] for r in rows]
    for field in ("created", "stage", "activity", "value", "expected_close", "source", "next_step", "next_step_due",
                  "answer budget", "answer need", "lost_reason"):  # fmt: skip
        assert field in fields, f"{field} not in history: {fields}"
    value = next(r for r in rows if r["field"] == "value")
    assert (value["from"], value["to"], value["who"]) == ("€4,500.00", "€5,000.00", "giulia")
    assert " edit 1 --value 5000" in value["command"]
    stages = [(r["from"], r["to"]) for r in rows if r["field"] == "stage"]
    assert stages == [
        (None, "Prospecting"),
        ("Prospecting", "Meeting"),
        ("Meeting", "lost (price)"),
        ("lost", "Proposal"),
    ]
    reasons = [(r["from"], r["to"]) for r in rows if r["field"] == "lost_reason"]
    assert reasons == [(None, "price"), ("price", "price, then budget"), ("price, then budget", None)]
    # one command id per invocation, shared by all its events
    edit_ids = {r["command_id"] for r in rows if r["who"] == "giulia"}
    assert len(edit_ids) == 1
    assert {r["who"] for r in rows} == {"marco", "giulia"}
    assert problems(cli) == []


def test_replaying_the_events_gives_every_cached_column(cli, monkeypatch):
    lead = scripted(cli, monkeypatch)
    other = int(cli("add-lead", "Bea", "--stage", "Contact", "--value", "100").stdout)
    cli("follow-up", other, "tomorrow", "call back")
    cli("pipeline", "add-stage", "Sales", "Demo", "--position", "2")  # renumbers furthest positions
    cli("delete", lead, "--yes")
    assert problems(cli) == []
    # a change that bypasses the journal is caught
    cli.execute("UPDATE lead SET value_minor = 1 WHERE id = :i", i=other)
    assert problems(cli) == [f"lead {other}: value_minor is 1, its events say 10000"]


def test_show_has_recent_changes_and_a_deleted_lead_keeps_its_history(cli, monkeypatch):
    lead = scripted(cli, monkeypatch)
    shown = json.loads(cli("show", lead, "--format", "json").stdout)
    assert [c["field"] for c in shown["recent_changes"]][-2:] == ["stage", "lost_reason"]  # the reopening
    assert len(shown["recent_changes"]) == 5
    assert "Recent changes" in cli("show", lead).stdout
    cli("delete", lead, "--yes")
    assert changes(cli, lead)[-1]["field"] == "deleted"
    missing = cli("history", 999, ok=False)
    assert missing.exit_code == 1 and "no lead with id 999" in missing.stderr


def test_as_names_the_author(tmp_path, monkeypatch):
    from tests.conftest import Cli

    cli = Cli(str(tmp_path / "p.db"))
    monkeypatch.setenv("PIPECLI_USER", "marco")
    lead = int(cli("--as", "giulia", "add-lead", "A").stdout)
    cli("edit", lead, "--value", "1")
    assert [r["who"] for r in changes(cli, lead)] == ["giulia", "giulia", "marco"]
    assert cli("--as", " ", "list", ok=False).exit_code == 2


def test_config_user_names_the_author_after_pipecli_user(cli, monkeypatch, tmp_path):
    """The config file's `user` (as `--as` and the README say) was refused as "not a setting", so every
    command failed once it was set."""
    import os

    monkeypatch.delenv("PIPECLI_USER", raising=False)
    Path(os.environ["PIPECLI_CONFIG"]).write_text('user = "giulia"\n')
    lead = int(cli("add-lead", "A").stdout)
    cli("log", lead, "call")
    monkeypatch.setenv("PIPECLI_USER", "marco")
    cli("edit", lead, "--value", "1")  # the environment wins over the file (--as over both: checked above)
    assert [r["who"] for r in changes(cli, lead)] == ["giulia"] * 3 + ["marco"]
    refused = cli("settings", "set", "user", "bob", ok=False)  # personal: not for the database
    assert refused.exit_code == 1 and "user is a personal setting" in refused.stderr


def test_list_mine_is_the_current_users_leads(cli, monkeypatch):
    cli("add-lead", "A", "--owner", "marco")
    cli("add-lead", "B", "--owner", "giulia")
    monkeypatch.setenv("PIPECLI_USER", "giulia")
    names = [r["name"] for r in json.loads(cli("list", "--mine", "--format", "json").stdout)]
    assert names == ["B"]
    monkeypatch.setenv("PIPECLI_USER", "marco")
    names = [r["name"] for r in json.loads(cli("list", "--mine", "--format", "json").stdout)]
    assert names == ["A"]
    assert cli("list", "--mine", "--owner", "x", ok=False).exit_code == 2


def test_undo_reverts_the_last_command_and_undo_again_redoes_it(cli, monkeypatch):
    lead = scripted(cli, monkeypatch)
    before = export(cli)
    cli("edit", lead, "--value", "9999", "--owner", "bob")
    after = export(cli)
    assert after != before
    said = cli("undo", "--yes")
    assert "undid command" in said.stderr and "edit" in said.stderr
    assert export(cli) == before
    cli("undo", "--yes")  # redo
    assert export(cli) == after
    assert problems(cli) == []
    listed = json.loads(cli("undo", "--list", "--format", "json").stdout)
    assert listed[0]["state"] == f"undoes {listed[1]['id']}"
    assert listed[1]["state"] == f"undone by {listed[0]['id']}"


def test_undo_needs_yes_without_a_terminal_and_refuses_what_later_commands_depend_on(cli, monkeypatch):
    a = int(cli("add-lead", "A").stdout)
    b = int(cli("add-lead", "B").stdout)
    cli("move", a, "Contact")
    cli("move", b, "Contact")
    cli("edit", a, "--value", "10")
    entries = json.loads(cli("undo", "--list", "--format", "json").stdout)
    move_a = next(e["id"] for e in entries if e["command"].endswith(f"move {a} Contact"))
    move_b = next(e["id"] for e in entries if e["command"].endswith(f"move {b} Contact"))
    asked = cli("undo", ok=False)
    assert asked.exit_code == 2 and "--yes" in asked.stderr
    before = cli.every_row()
    refused = cli("undo", move_a, "--yes", ok=False)
    assert refused.exit_code == 1 and "later commands changed the same records" in refused.stderr
    assert "edit" in refused.stderr
    assert cli.every_row() == before
    cli("undo", move_b, "--yes")  # nothing later touched lead b
    assert (
        cli.scalar("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = :i", i=b) == "Prospecting"
    )
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = :i", i=b) == 1
    again = cli("undo", move_b, "--yes", ok=False)
    assert again.exit_code == 1 and "already undone" in again.stderr
    cli("undo", "--yes")  # the undo of move_b (the latest): redoes it
    cli("undo", "--yes")  # and undoing that again undoes it again
    edit = next(e["id"] for e in entries if " edit " in e["command"])
    cli("undo", edit, "--yes")
    cli("undo", move_a, "--yes")  # the edit is undone, and b's moves never touched a
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = :i", i=a) == 1
    assert problems(cli) == []


def test_undo_of_delete_puts_the_lead_back_with_its_history(cli, monkeypatch):
    lead = scripted(cli, monkeypatch)
    before = export(cli)
    cli("delete", lead, "--yes")
    cli("undo", "--yes")
    assert export(cli) == before
    fields = [c["field"] for c in changes(cli, lead)]
    assert fields.index("deleted") < len(fields) - 1 - fields[::-1].index("created")  # deleted, then put back
    assert problems(cli) == []


def test_undo_of_a_setup_change(cli):
    cli("pipeline", "add-stage", "Sales", "Demo", "--position", "2")
    assert "Demo" in cli("pipeline", "show").stdout
    cli("undo", "--yes")
    assert "Demo" not in cli("pipeline", "show").stdout
    cli("pipeline", "add", "Post-sale", "--stages", "Onboarding,Live")
    cli("undo", "--yes")
    assert "Post-sale" not in cli("pipeline", "list").stdout


def test_undo_with_nothing_to_undo(cli):
    cli("list")
    result = cli("undo", "--yes", ok=False)
    assert result.exit_code == 1 and "nothing to undo" in result.stderr
    result = cli("undo", "77", "--yes", ok=False)
    assert result.exit_code == 1 and "no command 77" in result.stderr


def test_move_into_another_pipeline_is_recorded(cli):
    cli("pipeline", "add", "Post-sale", "--stages", "Onboarding,Live")
    lead = int(cli("add-lead", "A", "--value", "100").stdout)
    cli("move", lead, "won")
    cli("move", lead, "Onboarding", "--pipeline", "Post-sale")
    rows = changes(cli, lead)
    assert ("pipeline", "Sales", "Post-sale") in [(r["field"], r["from"], r["to"]) for r in rows]
    cli("undo", "--yes")
    assert (
        cli.scalar("SELECT p.name FROM lead l JOIN pipeline p ON p.id = l.pipeline_id WHERE l.id = :i", i=lead)
        == "Sales"
    )
    assert problems(cli) == []


def test_a_failed_command_leaves_no_journal_entry(cli):
    lead = int(cli("add-lead", "A").stdout)
    before = cli.every_row()
    assert cli("move", lead, "Nowhere", ok=False).exit_code == 1
    assert cli("edit", lead, "--email", "not-an-address", ok=False).exit_code == 1
    assert cli.every_row() == before


def test_edit_at_backdates_and_refuses_before_creation(cli, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-10 09:00")
    lead = int(cli("add-lead", "A", "--at", "2026-11-01").stdout)
    cli("edit", lead, "--value", "100", "--at", "2026-11-05")
    value = next(r for r in changes(cli, lead) if r["field"] == "value")
    assert value["at"].startswith("2026-11-05")
    refused = cli("edit", lead, "--value", "1", "--at", "2026-10-01", ok=False)
    assert refused.exit_code == 1 and "before lead" in refused.stderr


def test_unknown_as_user_on_postgresql_is_refused(db_path, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL checks --as against its roles")
    from tests.conftest import Cli

    cli = Cli(db_path)
    before = cli.every_row()
    result = cli("--as", "nobody_here", "add-lead", "A", ok=False)
    assert result.exit_code == 1 and "no such user" in result.stderr
    assert cli.every_row() == before
    cli("--as", "pipecli", "add-lead", "A")
    assert cli.scalar("SELECT db_role FROM journal ORDER BY id DESC LIMIT 1") == "pipecli"


def test_the_v1_fixture_migrates_with_creation_events_marked_as_known_since(tmp_path, monkeypatch):
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / "pipeline-v1.db", db)
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-28 09:00")
    from tests.conftest import Cli

    cli = Cli(str(db))
    leads = cli.scalar("SELECT COUNT(*) FROM lead")
    assert leads > 0
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE field = 'row:lead'") == leads
    migrated_at = datetime.datetime(2026, 11, 28, 9, tzinfo=datetime.UTC).timestamp()
    assert cli.scalar("SELECT value FROM meta WHERE key = 'history_since'") == str(int(migrated_at))
    from pipecli.store.migrations import LATEST

    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)
    assert problems(cli) == []
    lead = cli.scalar("SELECT MIN(id) FROM lead")
    cli("edit", lead, "--value", "123")
    assert problems(cli) == []
    assert cli("undo", "--yes").exit_code == 0
    migration = cli.scalar("SELECT MIN(id) FROM journal")
    refused = cli("undo", migration, "--yes", ok=False)
    assert refused.exit_code == 1 and "migration" in refused.stderr


def test_forget_erases_the_events_and_the_command_lines(cli):
    lead = int(cli("add-lead", "Zed Secretname", "--email", "zed@secret.example", "--note", "hidden words").stdout)
    cli("edit", lead, "--phone", "+39 999")
    keep = int(cli("add-lead", "Other").stdout)
    cli("forget", "zed@secret.example", "--yes")
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE lead_id = :i", i=lead) == 0
    commands = [r[0] for r in cli.sql("SELECT command FROM journal")]
    assert not any("Secretname" in c for c in commands)
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE lead_id = :i", i=keep) > 0
