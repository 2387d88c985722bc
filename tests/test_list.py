"""`pipecli list` and `pipecli board`: filters, sorts, limits and the three output formats."""

import csv
import io
import json

import pytest


@pytest.fixture
def sample(cli):
    """Five leads with known values, owners, sources, stages and dates."""
    rows = [
        ("Anna", "4500", "marco", "referral", "2026-12-20", "2026-11-01T09:00Z", "Contact"),
        ("Ben", "12000", "giulia", "web", "2026-12-05", "2026-10-01T09:00Z", "Proposal"),
        ("Cleo", "800", "marco", "web", None, "2026-11-20T09:00Z", None),
        ("Dan", "3000", "marco", "event", "2027-01-10", "2026-09-15T09:00Z", "won"),
        ("Eve", None, "giulia", "referral", "2026-11-30", "2026-11-10T09:00Z", "lost"),
    ]
    for name, value, owner, source, close, at, stage in rows:
        args = ["add-lead", name, "--owner", owner, "--source", source, "--at", at]
        if value:
            args += ["--value", value]
        if close:
            args += ["--expected-close", close]
        lead_id = cli(*args).stdout.strip()
        if stage:
            cli("move", lead_id, stage, "--at", "2026-11-21T09:00Z")
    cli("log", "1", "call", "--at", "2026-11-25T09:00Z")
    return rows


def names(result):
    return [r["name"] for r in json.loads(result.stdout)]


def test_filters(cli, sample):
    assert names(cli("list", "--status", "all", "--owner", "MARCO", "--format", "json")) == ["Anna", "Cleo", "Dan"]
    assert names(cli("list", "--status", "all", "--source", "referral", "--format", "json")) == ["Anna", "Eve"]
    assert names(cli("list", "--status", "open", "--format", "json")) == ["Anna", "Ben", "Cleo"]
    assert names(cli("list", "--status", "won", "--format", "json")) == ["Dan"]
    assert names(cli("list", "--stage", "contact", "--format", "json")) == ["Anna"]
    assert names(cli("list", "--pipeline", "Sales", "--stage", "lost", "--format", "json")) == ["Eve"]
    bad = cli("list", "--status", "maybe", ok=False)
    assert bad.exit_code == 2 and "is not one of open, won, lost" in bad.stderr  # a choice (issue 14)


def test_sorts_and_limit(cli, sample):
    assert names(cli("list", "--status", "all", "--sort", "value", "--format", "json")) == [
        "Ben",
        "Anna",
        "Dan",
        "Cleo",
        "Eve",
    ]
    assert names(cli("list", "--status", "all", "--sort", "age", "--format", "json")) == [
        "Dan",
        "Ben",
        "Anna",
        "Eve",
        "Cleo",
    ]
    assert names(cli("list", "--status", "all", "--sort", "expected-close", "--format", "json")) == [
        "Eve",
        "Ben",
        "Anna",
        "Dan",
        "Cleo",
    ]
    # longest silent first: Eve (lost at 11-21, same as others moved then) ... Anna touched on 11-25 is last
    silent = names(cli("list", "--sort", "last-activity", "--status", "open", "--format", "json"))
    assert silent == ["Cleo", "Ben", "Anna"]
    assert names(cli("list", "--sort", "value", "--limit", "2", "--format", "json")) == ["Ben", "Anna"]
    bad = cli("list", "--sort", "colour", ok=False)
    assert bad.exit_code == 2 and "'colour' is not one of value, age" in bad.stderr  # a choice (issue 14)


def test_formats(cli, sample):
    data = json.loads(cli("list", "--format", "json", "--limit", "1").stdout)[0]
    assert data["value"] == 4500 and data["expected_close"] == "2026-12-20"
    assert data["created_at"] == "2026-11-01T09:00:00+00:00"
    assert all(key == key.lower() and " " not in key for key in data)
    rows = list(csv.DictReader(io.StringIO(cli("list", "--status", "all", "--format", "csv").stdout)))
    assert [r["name"] for r in rows] == ["Anna", "Ben", "Cleo", "Dan", "Eve"]
    assert rows[1]["value"] == "12000.00" and rows[4]["value"] == ""
    table = cli("list").stdout
    assert "\x1b[" not in table  # piped: no colour
    assert table.splitlines()[0].split()[:3] == ["id", "name", "company"]
    assert "€12,000.00" in table
    bad = cli("list", "--format", "xml", ok=False)
    assert bad.exit_code == 2


def test_empty_list_says_so_on_stderr(cli):
    result = cli("list")
    assert result.stdout == "" and "no leads match" in result.stderr
    assert json.loads(cli("list", "--format", "json").stdout) == []


def test_board_counts_values_and_fits_80_columns(cli, sample):
    cli("add-lead", "A very long name that goes on and on " * 3, "--company", "Long Company Name Ltd", "--value", "1")
    data = json.loads(cli("board", "--format", "json").stdout)
    by_stage = {s["stage"]: s for s in data["stages"]}
    assert by_stage["Contact"]["count"] == 1 and by_stage["Contact"]["value"] == 4500
    assert by_stage["Prospecting"]["count"] == 2 and by_stage["Prospecting"]["value"] == 801
    assert by_stage["won"]["count"] == 1 and by_stage["won"]["value"] == 3000
    assert [s["stage"] for s in data["stages"]] == [
        "Prospecting",
        "Contact",
        "Qualification",
        "Meeting",
        "Proposal",
        "won",
        "lost",
    ]
    text = cli("board").stdout
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Proposal · 1 · €12,000.00" in text
    assert text.splitlines()[0] == "Sales: 4 open leads, €17,301.00"


def test_open_leads_by_default_and_status_all_lists_every_lead(cli, sample):
    # Dan is won and Eve lost (see `sample`): a bare `list` shows the work still to do
    assert names(cli("list", "--format", "json")) == ["Anna", "Ben", "Cleo"]
    assert names(cli("list", "--status", "ALL", "--format", "json")) == ["Anna", "Ben", "Cleo", "Dan", "Eve"]
    assert names(cli("list", "--stage", "won", "--format", "json")) == ["Dan"]  # a stage says which leads
    table = cli("list").stdout
    assert "Anna" in table and "Dan" not in table and "Eve" not in table


def test_columns_choose_what_every_format_writes(cli, sample):
    from pipecli.cli.views import LEAD_COLUMNS

    table = cli("list").stdout.splitlines()
    assert table[0].split() == ["id", "name", "company", "stage", "value", "owner", "last", "activity", "next", "step"]
    assert table[1].split()[:2] == ["1", "Anna"] and "2026-11-25" in table[1]  # Anna's call, as a day
    every = json.loads(cli("list", "--format", "json").stdout)[0]
    assert list(every) == [c.name for c in LEAD_COLUMNS]  # scripts keep every column
    chosen = json.loads(cli("list", "--columns", "name, email,Value", "--format", "json").stdout)
    assert chosen[0] == {"name": "Anna", "email": None, "value": 4500}
    rows = list(csv.DictReader(io.StringIO(cli("list", "--columns", "id,expected-close", "--format", "csv").stdout)))
    assert rows[0] == {"id": "1", "expected_close": "2026-12-20"}
    wide = cli("list", "--columns", "all").stdout.splitlines()[0]
    assert "email" in wide and "pipeline" in wide and "score" in wide
    only = cli("list", "--columns", "name,source").stdout.splitlines()
    assert only[0].split() == ["name", "source"] and only[1].split() == ["Anna", "referral"]
    # a header as the table prints it names its column too
    said = json.loads(cli("list", "--columns", "name,last-activity", "--format", "json").stdout)
    assert list(said[0]) == ["name", "last_event_at"] and said[0]["last_event_at"] == every["last_event_at"]


def test_an_unknown_column_is_a_usage_error_naming_the_known_ones(cli, sample):
    bad = cli("list", "--columns", "name,colour", ok=False)
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "unknown column colour" in bad.stderr and "next_step" in bad.stderr and "all" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
