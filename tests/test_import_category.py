"""The import's forecast-category column: read in pipecli's words or a CRM's, checked per row, written by both
the column-wise and the row-wise path, updated by a keyed import, and carried by export -> import."""

from __future__ import annotations

import csv
import io

from test_import import write

ROWS = (
    "name,email,value,stage,forecast category\n"
    "Anna,anna@x.com,100,Proposal,Commit\n"
    "Bob,bob@x.com,200,Meeting,best case\n"  # Salesforce's "Best Case"
    "Carla,carla@x.com,300,Contact,\n"
    "Dario,dario@x.com,400,Proposal,OMIT\n"
    "Elena,elena@x.com,500,Prospecting,pipeline\n"
)
STORED = [("Anna", "commit"), ("Bob", "best"), ("Carla", None), ("Dario", "omit"), ("Elena", "pipeline")]


def categories(cli) -> list[tuple]:
    return cli.sql("SELECT name, forecast_category FROM lead ORDER BY id")


def test_the_column_is_read_by_both_paths_alike(cli, tmp_path):
    # plain rows go column-wise (fastpath); a quoted-formula cell sends the batch row by row (rows)
    cli("import", write(tmp_path, "plain.csv", ROWS))
    assert categories(cli) == STORED
    quoted = ROWS.replace("Elena,elena@x.com", "'=Elena,elena@x.com")
    cli("import", write(tmp_path, "quoted.csv", quoted.replace(",anna@", ",anna2@").replace(",bob@", ",bob2@")))
    assert categories(cli)[5:] == [(n if n != "Elena" else "=Elena", c) for n, c in STORED]


def test_a_bad_category_is_one_line_naming_the_row_and_nothing_is_written(cli, tmp_path):
    cli("add-lead", "Existing")
    path = write(tmp_path, "bad.csv", ROWS.replace("OMIT", "maybe"))
    result = cli("import", path, ok=False)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "line " in line]
    assert errors == [
        f"pipecli: {path}: line 5, column 'forecast category', value 'maybe': "
        "forecast category 'maybe' is not one of commit, best, pipeline, omit"
    ]
    assert "Traceback" not in result.stderr
    assert categories(cli) == [("Existing", None)]


def test_a_keyed_import_sets_and_clears_the_category_with_an_event(cli, tmp_path):
    cli("import", write(tmp_path, "first.csv", ROWS))
    again = ROWS.replace("Commit", "best").replace("best case", "")
    cli("import", write(tmp_path, "again.csv", again), "--key", "email")
    assert categories(cli)[:2] == [("Anna", "best"), ("Bob", None)]
    # each change is an event, as `edit --forecast-category` records it
    events = cli.sql("SELECT COUNT(*) FROM event WHERE field = 'forecast_category'")
    assert events == [(2,)]


def test_export_then_import_round_trips_the_category(cli, tmp_path):
    cli("import", write(tmp_path, "first.csv", ROWS))
    exported = cli("export").stdout
    header = next(csv.reader(io.StringIO(exported)))
    assert "forecast_category" in header
    assert [r["forecast_category"] for r in csv.DictReader(io.StringIO(exported))] == [c or "" for _, c in STORED]
    cli("import", write(tmp_path, "exported.csv", exported))  # read back as five more leads
    assert categories(cli)[5:] == STORED


def test_crm_spellings_are_the_import_s_only(cli, tmp_path):
    # HubSpot's "Not forecasted" is omit, a closed deal's "Closed" is none; `edit` takes pipecli's words only
    rows = "name,forecastcategoryname\nAnna,Not forecasted\nBob,Closed\n"
    cli("import", write(tmp_path, "crm.csv", rows))
    assert categories(cli) == [("Anna", "omit"), ("Bob", None)]
    refused = cli("edit", "1", "--forecast-category", "closed", ok=False)
    assert refused.exit_code == 2 and "is not one of commit, best, pipeline, omit" in refused.stderr
    assert categories(cli)[0] == ("Anna", "omit")
