"""`pipecli export`: leads, history and activities to stdout; export -> import round trip."""

from __future__ import annotations

import csv
import io
import json

from conftest import Cli
from test_import import ts, write

LEAD_FIELDS = (
    "l.name, l.company, l.email, l.phone, l.value_minor, p.name, s.name, l.status, l.source, l.owner, "
    "l.expected_close, l.created_at, l.closed_at, l.lost_reason, l.external_id"
)


def build_history(cli, tmp_path) -> None:
    """A small pipeline with moves, wins and losses at known times, and extra fields from an import."""
    cli(
        "add-lead",
        "Anna Rossi",
        "--company",
        "Rossi Srl",
        "--email",
        "anna@rossi.it",
        "--value",
        "4500",
        "--source",
        "referral",
        "--owner",
        "alice",
        "--expected-close",
        "2026-12-20",
        "--at",
        "2026-01-05",
    )
    cli("move", "1", "Meeting", "--at", "2026-02-01")
    cli("add-lead", "Bob Jones", "--company", "Acme, Inc.", "--value", "1200.50", "--at", "2026-01-10 14:30")
    cli("move", "2", "Proposal", "--at", "2026-02-10")
    cli("move", "2", "won", "--at", "2026-03-01")
    cli(
        "add-lead",
        '=HYPERLINK("http://x")',
        "--phone",
        "+39 333 1234567",
        "--external-id",
        "crm-7",
        "--at",
        "2026-02-02",
    )
    cli("move", "3", "lost", "--reason", "price", "--at", "2026-04-04")
    cli("log", "1", "call", "--note", 'asked for a quote, "urgent"', "--at", "2026-02-03")
    path = write(tmp_path, "more.csv", 'name,Country,Status,Tags\nCarla,Italy,-warm,"a,b"\n')
    cli("import", path, "--map", "Status=extra")


def test_csv_round_trip_into_an_empty_database(cli, tmp_path):
    build_history(cli, tmp_path)
    exported = cli("export").stdout
    copy = Cli(str(tmp_path / "copy.db"))
    path = write(tmp_path, "export.csv", exported)
    result = copy("import", path)
    assert "4 inserted" in result.stderr
    query = (
        f"SELECT {LEAD_FIELDS} FROM lead l JOIN stage s ON s.id = l.stage_id "
        "JOIN pipeline p ON p.id = l.pipeline_id ORDER BY l.id"
    )
    assert copy.sql(query) == cli.sql(query)
    extras = "SELECT l.name, e.key, e.value FROM lead_extra e JOIN lead l ON l.id = e.lead_id ORDER BY l.id, e.key"
    assert (
        copy.sql(extras)
        == cli.sql(extras)
        == [("Carla", "Country", "Italy"), ("Carla", "Status", "-warm"), ("Carla", "Tags", "a,b")]
    )
    # closed leads close at their date in the copy too
    assert copy.sql("SELECT name, closed_at FROM lead WHERE status != 'open' ORDER BY id") == [
        ("Bob Jones", ts("2026-03-01")),
        ('=HYPERLINK("http://x")', ts("2026-04-04")),
    ]
    # exporting the copy gives the same file, but for nothing
    assert copy("export").stdout == exported


def test_csv_defuses_formulas_unless_raw(cli, tmp_path):
    build_history(cli, tmp_path)
    rows = list(csv.DictReader(io.StringIO(cli("export").stdout)))
    assert rows[2]["name"] == '\'=HYPERLINK("http://x")'
    assert rows[2]["phone"] == "'+39 333 1234567"
    assert rows[3]["extra:Status"] == "'-warm"  # an extra named like a field is written extra:KEY
    assert rows[1]["value"] == "1200.50" and rows[1]["stage"] == "won"
    assert rows[1]["created_at"] == "2026-01-10T14:30:00+00:00"
    raw = list(csv.DictReader(io.StringIO(cli("export", "--raw").stdout)))
    assert raw[2]["name"] == '=HYPERLINK("http://x")' and raw[2]["phone"] == "+39 333 1234567"


def test_json_and_jsonl_with_filters(cli, tmp_path):
    build_history(cli, tmp_path)
    data = json.loads(cli("export", "--format", "json", "--status", "won").stdout)
    assert data == [
        {
            "id": 2,
            "name": "Bob Jones",
            "company": "Acme, Inc.",
            "email": None,
            "phone": None,
            "value": 1200.5,
            "pipeline": "Sales",
            "stage": "won",
            "source": None,
            "owner": None,
            "expected_close": None,
            "created_at": "2026-01-10T14:30:00+00:00",
            "closed_at": "2026-03-01T00:00:00+00:00",
            "lost_reason": None,
            "external_id": None,
            "forecast_category": None,
        }
    ]
    lines = cli("export", "--format", "jsonl", "--owner", "alice").stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["Anna Rossi"]
    assert cli("export", "--format", "json", "--status", "open", "--stage", "Proposal").stdout == "[]\n"


def test_history_and_activities(cli, tmp_path):
    build_history(cli, tmp_path)
    history = [json.loads(line) for line in cli("export", "--what", "history", "--format", "jsonl").stdout.splitlines()]
    bob = [(h["from_stage"], h["to_stage"], h["at"], h["left_at"]) for h in history if h["lead_id"] == 2]
    assert bob == [
        (None, "Prospecting", "2026-01-10T14:30:00+00:00", "2026-02-10T00:00:00+00:00"),
        ("Prospecting", "Proposal", "2026-02-10T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("Proposal", "won", "2026-03-01T00:00:00+00:00", None),
    ]
    assert [h["reason"] for h in history if h["lead_id"] == 3] == [None, "price"]
    activities = list(csv.DictReader(io.StringIO(cli("export", "--what", "activities").stdout)))
    assert [(a["lead"], a["kind"], a["note"], a["at"]) for a in activities] == [
        ("Anna Rossi", "call", 'asked for a quote, "urgent"', "2026-02-03T00:00:00+00:00")
    ]


def test_bad_format_is_a_usage_error(cli):
    for args in (("--format", "xml"), ("--what", "notes")):
        result = cli("export", *args, ok=False)
        assert result.exit_code == 2 and "is not one of" in result.stderr
