"""The everyday commands: add-lead, move, edit, show, delete, log, through the CLI, checked in the database."""

import json

import pytest

from pipecli import clock

AT_CREATE = "2026-11-01T10:00:00+00:00"


def ts(text):
    return clock.parse_ts(text)


def test_add_lead_stores_every_detail(cli):
    result = cli(
        "add-lead",
        "Anna Rossi",
        "--company",
        "Rossi Srl",
        "--email",
        "anna@rossi.it",
        "--phone",
        "+39 02 123",
        "--value",
        "4500",
        "--source",
        "referral",
        "--owner",
        "marco",
        "--expected-close",
        "2026-12-20",
        "--note",
        "met at the fair",
        "--at",
        AT_CREATE,
    )
    lead_id = int(result.stdout.strip())  # piped: only the id
    row = cli.sql(
        "SELECT name, company, email, phone, value_minor, source, owner, expected_close, status, created_at,"
        " stage_entered_at FROM lead WHERE id = :i",
        i=lead_id,
    )[0]
    assert row[:7] == ("Anna Rossi", "Rossi Srl", "anna@rossi.it", "+39 02 123", 450000, "referral", "marco")
    assert str(row[7]) == "2026-12-20"
    assert row[8] == "open"
    assert row[9] == row[10] == ts(AT_CREATE)
    stage = cli.scalar("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = :i", i=lead_id)
    assert stage == "Prospecting"
    history = cli.sql("SELECT from_stage_id, at FROM stage_change WHERE lead_id = :i", i=lead_id)
    assert history == [(None, ts(AT_CREATE))]  # creation is an event
    assert cli.sql("SELECT kind, note FROM activity WHERE lead_id = :i", i=lead_id) == [("note", "met at the fair")]


@pytest.mark.parametrize(
    "typed, minor",
    [
        ("4500", 450000),
        ("4,500.00", 450000),
        ("4.500,00", 450000),
        ("€ 4.500", 450000),
        ("EUR 4,500", 450000),
        ("4.5k", 450000),
        ("19.99", 1999),
    ],
)
def test_amounts_are_exact(cli, typed, minor):
    lead_id = cli("add-lead", "X", "--value", typed).stdout.strip()
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=int(lead_id)) == minor


def test_add_lead_to_named_pipeline_and_stage(cli):
    cli("pipeline", "add", "Retention", "--stages", "Onboarding,Adoption,Renewal")
    lead_id = int(cli("add-lead", "Acme", "--pipeline", "retention", "--stage", "adoption").stdout)
    row = cli.sql(
        "SELECT p.name, s.name, l.furthest_position FROM lead l JOIN pipeline p ON p.id = l.pipeline_id"
        " JOIN stage s ON s.id = l.stage_id WHERE l.id = :i",
        i=lead_id,
    )
    assert row == [("Retention", "Adoption", 2)]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--value", "lots"], "cannot read 'lots' as an amount"),
        (["--email", "not-an-email"], "not an email address"),
        (["--expected-close", "someday"], "--expected-close"),
        (["--stage", "Nowhere"], "unknown stage 'Nowhere'"),
        (["--pipeline", "Nope"], "unknown pipeline 'Nope'"),
        (["--at", "the day after"], "--at"),
    ],
)
def test_add_lead_bad_input_is_one_line_and_changes_nothing(cli, args, message):
    cli("add-lead", "Existing")
    result = cli("add-lead", "Anna", *args, ok=False)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


def test_move_forward_backward_close_and_reopen(cli):
    lead_id = cli("add-lead", "Anna", "--at", "2026-11-01T10:00Z").stdout.strip()
    cli("move", lead_id, "Meeting", "--at", "2026-11-05T10:00Z")
    cli("move", lead_id, "contact", "--at", "2026-11-06T10:00Z")  # backwards, case-insensitive
    cli("move", lead_id, "lost", "--reason", "price", "--at", "2026-11-10T10:00Z")
    row = cli.sql("SELECT status, closed_at, lost_reason, furthest_position FROM lead WHERE id = :i", i=int(lead_id))[0]
    assert row == ("lost", ts("2026-11-10T10:00Z"), "price", 4)
    cli("move", lead_id, "Proposal", "--at", "2026-11-20T10:00Z")  # reopened
    row = cli.sql(
        "SELECT status, closed_at, lost_reason, furthest_position, stage_entered_at FROM lead WHERE id = :i",
        i=int(lead_id),
    )[0]
    assert row == ("open", None, None, 5, ts("2026-11-20T10:00Z"))
    history = cli.sql(
        "SELECT f.name, t.name, c.at, c.left_at, c.reason FROM stage_change c LEFT JOIN stage f ON f.id = c.from_stage_id"
        " JOIN stage t ON t.id = c.to_stage_id WHERE c.lead_id = :i ORDER BY c.id",
        i=int(lead_id),
    )
    assert history == [
        (None, "Prospecting", ts("2026-11-01T10:00Z"), ts("2026-11-05T10:00Z"), None),
        ("Prospecting", "Meeting", ts("2026-11-05T10:00Z"), ts("2026-11-06T10:00Z"), None),
        ("Meeting", "Contact", ts("2026-11-06T10:00Z"), ts("2026-11-10T10:00Z"), None),
        ("Contact", "lost", ts("2026-11-10T10:00Z"), ts("2026-11-20T10:00Z"), "price"),
        ("lost", "Proposal", ts("2026-11-20T10:00Z"), None, None),
    ]
    cli("move", lead_id, "won", "--at", "2026-11-25T10:00Z")
    assert cli.sql("SELECT status, closed_at FROM lead WHERE id = :i", i=int(lead_id))[0] == (
        "won",
        ts("2026-11-25T10:00Z"),
    )


def test_move_refusals_change_nothing(cli):
    lead_id = cli("add-lead", "Anna", "--at", "2026-11-10T10:00Z").stdout.strip()
    before = cli.sql("SELECT * FROM stage_change")
    for args, message in [
        ([lead_id, "Prospecting"], "already in Prospecting"),
        ([lead_id, "Contact", "--at", "2026-11-01"], "before lead"),
        ([lead_id, "Nowhere"], "unknown stage 'Nowhere' in pipeline Sales; stages: Prospecting"),
        (["999", "Contact"], "no lead with id 999"),
    ]:
        result = cli("move", *args, ok=False)
        assert result.exit_code == 1, args
        assert message in result.stderr, result.stderr
    assert cli.sql("SELECT * FROM stage_change") == before
    result = cli("move", "abc", "Contact", ok=False)
    assert result.exit_code == 1  # a lead is also named by name (lookup): no lead matches 'abc'
    assert result.stderr == "pipecli: no lead matches 'abc' (see `pipecli list --search`)\n"


def test_relative_times(cli):
    lead_id = cli("add-lead", "Anna", "--at", "3 days ago").stdout.strip()
    assert cli.scalar("SELECT created_at FROM lead WHERE id = :i", i=int(lead_id)) == ts("2026-11-25T09:00Z")
    cli("move", lead_id, "Contact", "--at", "yesterday")
    assert cli.scalar("SELECT stage_entered_at FROM lead WHERE id = :i", i=int(lead_id)) == ts("2026-11-27T00:00Z")
    cli("move", lead_id, "Meeting", "--at", "today")
    cli("move", lead_id, "Proposal")  # now = PIPECLI_NOW
    assert cli.scalar("SELECT stage_entered_at FROM lead WHERE id = :i", i=int(lead_id)) == ts("2026-11-28T09:00Z")


def test_edit_changes_and_clears_details(cli):
    lead_id = cli("add-lead", "Anna", "--company", "Rossi", "--value", "100").stdout.strip()
    cli("edit", lead_id, "--value", "2.500,50", "--owner", "giulia", "--company", "", "--expected-close", "2027-01-15")
    row = cli.sql("SELECT value_minor, owner, company, expected_close FROM lead WHERE id = :i", i=int(lead_id))[0]
    assert row[:3] == (250050, "giulia", None) and str(row[3]) == "2027-01-15"
    result = cli("edit", lead_id, ok=False)
    assert result.exit_code == 1 and "nothing to change" in result.stderr
    result = cli("edit", lead_id, "--email", "bad", ok=False)
    assert result.exit_code == 1
    assert cli.scalar("SELECT email FROM lead WHERE id = :i", i=int(lead_id)) is None


def test_edit_to_the_value_a_lead_already_has_says_unchanged_and_records_nothing(cli):
    lead_id = cli("add-lead", "Anna", "--value", "100").stdout.strip()
    cli("edit", lead_id, "--value", "200")
    entries = cli.scalar("SELECT COUNT(*) FROM journal")
    same = cli("edit", lead_id, "--value", "200")
    assert same.stderr.strip() == f"lead {lead_id} unchanged: it already has value as given"  # as people say it
    assert cli.scalar("SELECT COUNT(*) FROM journal") == entries  # nothing recorded, so nothing to undo
    mixed = cli("edit", lead_id, "--value", "200", "--company", "Rossi")
    assert mixed.stderr.strip() == f"lead {lead_id} updated: company"  # only what changed is named
    both = cli("edit", lead_id, "--value", "300", "--company", "Bianchi")
    assert sorted(both.stderr.strip().split(": ", 1)[1].split(", ")) == ["company", "value"]


def test_show_has_history_durations_and_activities(cli):
    lead_id = cli("add-lead", "Anna Rossi", "--value", "4500", "--at", "2026-11-01T09:00Z").stdout.strip()
    cli("move", lead_id, "Contact", "--at", "2026-11-04T09:00Z")
    cli("log", lead_id, "call", "--note", "left a message", "--at", "2026-11-05T10:00Z")
    data = json.loads(cli("show", lead_id, "--format", "json").stdout)
    assert data["name"] == "Anna Rossi" and data["value"] == 4500 and data["stage"] == "Contact"
    assert [(h["from_stage"], h["to_stage"], h["seconds_in_stage"]) for h in data["history"]] == [
        (None, "Prospecting", 3 * 86400),
        ("Prospecting", "Contact", ts("2026-11-28T09:00Z") - ts("2026-11-04T09:00Z")),  # still there: up to now
    ]
    assert data["activities"] == [{"at": "2026-11-05T10:00:00+00:00", "kind": "call", "note": "left a message"}]
    table = cli("show", lead_id).stdout
    assert "Anna Rossi" in table and "3d" in table and "24d" in table and "left a message" in table


def test_log_activity_updates_last_touch(cli):
    lead_id = cli("add-lead", "Anna", "--at", "2026-11-01T09:00Z").stdout.strip()
    activity = cli("log", lead_id, "Demo-Request", "--at", "2026-11-10T09:00Z").stdout.strip()
    assert cli.sql("SELECT kind FROM activity WHERE id = :a", a=int(activity)) == [("demo_request",)]
    cli("log", lead_id, "call", "--at", "2026-11-03T09:00Z")  # backfilled: not the latest
    assert cli.sql("SELECT last_activity_at, last_event_at FROM lead WHERE id = :i", i=int(lead_id)) == [
        (ts("2026-11-10T09:00Z"), ts("2026-11-10T09:00Z"))
    ]
    result = cli("log", lead_id, "carrier-pigeon", ok=False)
    # a kind is a choice: a usage error (exit 2) naming the kinds, as every fixed set of values (issue 14)
    assert result.exit_code == 2 and "'carrier-pigeon' is not one of call, email, " in result.stderr


def test_delete_asks_and_needs_yes_without_terminal(cli):
    lead_id = cli("add-lead", "Anna", "--note", "x").stdout.strip()
    result = cli("delete", lead_id, ok=False)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1
    cli("delete", lead_id, "--yes")
    for table in ("lead", "stage_change", "activity"):
        assert cli.scalar(f"SELECT COUNT(*) FROM {table}") == 0
