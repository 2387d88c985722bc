"""`pipecli import`: real CSV files in tmp_path through the CLI, then what is stored."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipecli.transfer import importer

ROOT = Path(__file__).resolve().parent.parent
LEADS_CSV = Path("/work/shared/data/x-education-leads/Leads.csv")


def ts(text: str) -> int:
    """Epoch seconds of an ISO date or time in UTC (the tests run with TZ=UTC)."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def write(tmp_path, name: str, content: str | bytes, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return str(path)


def leads(cli) -> list[tuple]:
    return cli.sql("SELECT name, company, email, value_minor, status FROM lead ORDER BY id")


def test_plain_file_maps_synonyms_and_keeps_extras(cli, tmp_path):
    path = write(
        tmp_path,
        "crm.csv",
        "Full Name,Organization,E-mail,Deal Value,Lead Source,Sales Agent,Country,Tags\n"
        "Anna Rossi,Rossi Srl,anna@rossi.it,4500,Referral,alice,Italy,NA\n"
        'Bob Jones,Acme,bob@acme.com,"€1,200.50",web,bob,,Select\n',
    )
    result = cli("import", path)
    assert "2 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert "Country, Tags" in result.stderr  # unmapped columns are reported
    assert leads(cli) == [
        ("Anna Rossi", "Rossi Srl", "anna@rossi.it", 450000, "open"),
        ("Bob Jones", "Acme", "bob@acme.com", 120050, "open"),
    ]
    assert cli.sql("SELECT source, owner FROM lead ORDER BY id") == [("Referral", "alice"), ("web", "bob")]
    # placeholders stay the text they are; empty cells are not stored
    assert cli.sql(
        "SELECT l.name, e.key, e.value FROM lead_extra e JOIN lead l ON l.id = e.lead_id ORDER BY l.id, e.key"
    ) == [
        ("Anna Rossi", "Country", "Italy"),
        ("Anna Rossi", "Tags", "NA"),
        ("Bob Jones", "Tags", "Select"),
    ]
    # every lead starts in the first stage, created now, with one creation event
    now = ts("2026-11-28T09:00:00")
    assert cli.sql(
        "SELECT s.name, l.created_at, l.stage_entered_at, l.last_event_at FROM lead l JOIN stage s ON s.id = l.stage_id"
    ) == [("Prospecting", now, now, now), ("Prospecting", now, now, now)]
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE from_stage_id IS NULL AND at = :a", a=now) == 2


def test_null_option_turns_placeholders_into_empty(cli, tmp_path):
    path = write(tmp_path, "n.csv", "name,company,City\nAnna,Select,Select\nBob,NA,Rome\n")
    cli("import", path, "--null", "Select", "--null", "NA")
    assert cli.sql("SELECT name, company FROM lead ORDER BY id") == [("Anna", None), ("Bob", None)]
    assert cli.sql("SELECT key, value FROM lead_extra") == [("City", "Rome")]


def test_bom_semicolons_decimal_commas_dayfirst_crlf_multiline(cli, tmp_path):
    content = (
        "\ufeffNome;Company;Email;Amount;Stage;Created;Notes\r\n"
        'Anna Rossi;Rossi Srl;anna@rossi.it;4.500,00;Contact;28/11/2025;"first call; went ""well""\r\nsecond line"\r\n'
        "Luca Bianchi;Bianchi SpA;luca@b.it;€ 12.000;won;03/01/2017;\r\n"
    )
    path = write(tmp_path, "excel.csv", content)
    result = cli("import", path, "--map", "Nome=name")
    assert "2 inserted" in result.stderr
    assert leads(cli) == [
        ("Anna Rossi", "Rossi Srl", "anna@rossi.it", 450000, "open"),
        ("Luca Bianchi", "Bianchi SpA", "luca@b.it", 1200000, "won"),
    ]
    assert cli.sql("SELECT created_at FROM lead ORDER BY id") == [(ts("2025-11-28"),), (ts("2017-01-03"),)]
    assert cli.scalar("SELECT note FROM activity") == 'first call; went "well"\r\nsecond line'
    assert cli.scalar("SELECT COUNT(*) FROM lead_extra") == 0  # the BOM did not make 'Nome' unknown


def test_decimal_comma_flag_and_tab_delimiter(cli, tmp_path):
    path = write(tmp_path, "t.tsv", "name\tvalue\nAnna\t4,5\nBob\t1.250\n")
    cli("import", path, "--decimal-comma")
    assert cli.sql("SELECT value_minor FROM lead ORDER BY id") == [(450,), (125000,)]


def test_an_amount_in_another_currency_is_a_row_error_not_stored_as_the_databases(cli, tmp_path):
    """`$4,500` in a EUR database was stored as €4,500.00 (add-lead refused it): now a row error, as the
    database's own symbol or code is still read."""
    path = write(tmp_path, "usd.csv", "name,value\nAnna,€ 4.500\nBob,$4500\nCarla,USD 1200\nDan,1200 EUR\n")
    before = cli.every_row()
    bad = cli("import", path, ok=False)
    assert bad.exit_code == 1
    errors = [line for line in bad.stderr.splitlines() if "column 'value'" in line]
    assert errors == [
        f"pipecli: {path}: line 3, column 'value', value '$4500': amount '$4500' is in USD, but this database "
        "keeps EUR; convert it first, or give it without a currency",
        f"pipecli: {path}: line 4, column 'value', value 'USD 1200': amount 'USD 1200' is in USD, but this "
        "database keeps EUR; convert it first, or give it without a currency",
    ]
    assert cli.every_row() == before
    cli("import", path, "--skip-invalid", "--rejects", str(tmp_path / "rejects.csv"))
    assert cli.sql("SELECT name, value_minor FROM lead ORDER BY id") == [("Anna", 450000), ("Dan", 120000)]


def test_bad_bytes_late_in_a_big_file_still_report_the_rows_before(cli, tmp_path):
    rows = [f"Lead {i},lead{i}@example.com,{i}\n" for i in range(30000)]  # > 1 MB: past the part read up front
    rows[25100] = "Bad,not-an-email,5\n"  # in the batch being read when the decoder fails (rows are checked by 5,000)
    content = ("name,email,value\n" + "".join(rows)).encode() + b"Jos\xe9,jose@example.com,1\n"
    path = write(tmp_path, "late.csv", content)
    bad = cli("import", path, ok=False)
    assert bad.exit_code == 1
    assert f"{path}: line 25102, column 'email', value 'not-an-email': not an email address" in bad.stderr
    assert f"{path}, near line " in bad.stderr and "not valid utf-8 text" in bad.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_other_encoding_needs_the_flag(cli, tmp_path):
    path = write(tmp_path, "w.csv", "name,company\nJosé Müller,Café Société\n", encoding="cp1252")
    bad = cli("import", path, ok=False)
    assert bad.exit_code == 1
    assert "not valid utf-8" in bad.stderr and "--encoding" in bad.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    cli("import", path, "--encoding", "cp1252")
    assert cli.sql("SELECT name, company FROM lead") == [("José Müller", "Café Société")]


def test_monthfirst_and_ambiguous_dates(cli, tmp_path):
    ambiguous = write(tmp_path, "a.csv", "name,created\nAnna,05/06/2024\nBob,01/02/2024\n")
    result = cli("import", ambiguous, ok=False)
    assert result.exit_code == 1
    assert "'created'" in result.stderr and "--dayfirst or --monthfirst" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    cli("import", ambiguous, "--monthfirst")
    assert cli.sql("SELECT created_at FROM lead ORDER BY id") == [(ts("2024-05-06"),), (ts("2024-01-02"),)]
    settled = write(tmp_path, "b.csv", "name,created\nCarla,05/06/2024\nDario,11/28/2024\n")
    cli("import", settled)  # 11/28 settles the file as month-first
    assert cli.sql("SELECT created_at FROM lead WHERE name IN ('Carla', 'Dario') ORDER BY id") == [
        (ts("2024-05-06"),),
        (ts("2024-11-28"),),
    ]


def test_binary_file_is_refused_with_what_it_looks_like(cli, tmp_path):
    path = write(tmp_path, "data.csv", bytes(range(256)) * 4)
    result = cli("import", path, ok=False)
    assert result.exit_code == 1
    assert "binary" in result.stderr
    assert "Traceback" not in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_xlsx_renamed_csv_is_refused(cli, tmp_path):
    path = tmp_path / "leads.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    result = cli("import", str(path), ok=False)
    assert result.exit_code == 1
    assert "ZIP archive" in result.stderr and ".xlsx" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


BAD_MIDDLE = (
    "name,email,value,created\n"
    "Anna,anna@x.com,100,2024-01-01\n"
    "Bob,not-an-email,200,2024-01-02\n"
    "Carla,carla@x.com,abc,2024-01-03\n"
    '"Dario\nDi Dario",dario@x.com,300,2024-02-30\n'
    "Elena,elena@x.com,400,2024-01-05\n"
)


def test_bad_rows_all_or_nothing(cli, tmp_path):
    cli("add-lead", "Existing")
    path = write(tmp_path, "bad.csv", BAD_MIDDLE)
    result = cli("import", path, ok=False)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "line " in line]
    assert errors == [
        f"pipecli: {path}: line 3, column 'email', value 'not-an-email': not an email address",
        f"pipecli: {path}: line 4, column 'value', value 'abc': cannot read 'abc' as an amount (use 4500, 4500.50, 4,500.00 or 4.500,00)",
        f"pipecli: {path}: line 5, column 'created', value '2024-02-30': not a valid date",
    ]
    assert f"{path}: 0 inserted, 0 updated, 0 unchanged, 3 rejected" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "pipecli: 3 invalid row(s); nothing was imported (fix them, or pass --skip-invalid --rejects FILE to import the rest)"
    )
    assert cli.sql("SELECT name FROM lead") == [("Existing",)]
    assert cli.scalar("SELECT COUNT(*) FROM stage_change") == 1


def test_bad_rows_skipped_into_rejects_file(cli, tmp_path):
    path = write(tmp_path, "bad.csv", BAD_MIDDLE)
    rejects = tmp_path / "rejects.csv"
    result = cli("import", path, "--skip-invalid", "--rejects", str(rejects))
    assert "2 inserted, 0 updated, 0 unchanged, 3 rejected" in result.stderr
    assert cli.sql("SELECT name FROM lead ORDER BY id") == [("Anna",), ("Elena",)]
    assert rejects.read_text(encoding="utf-8") == (
        "name,email,value,created,reason\n"
        "Bob,not-an-email,200,2024-01-02,\"line 3, column 'email', value 'not-an-email': not an email address\"\n"
        "Carla,carla@x.com,abc,2024-01-03,\"line 4, column 'value', value 'abc': cannot read 'abc' as an amount "
        '(use 4500, 4500.50, 4,500.00 or 4.500,00)"\n'
        "\"Dario\nDi Dario\",dario@x.com,300,2024-02-30,\"line 5, column 'created', value '2024-02-30': not a valid date\"\n"
    )


def test_skip_invalid_needs_rejects(cli, tmp_path):
    path = write(tmp_path, "bad.csv", BAD_MIDDLE)
    result = cli("import", path, "--skip-invalid", ok=False)
    assert result.exit_code == 2
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_stdin_in_a_real_subprocess(tmp_path):
    db = str(tmp_path / "pipe.db")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    csv_text = "name|company|amount\nAnna|Rossi Srl|4500\nBob|Acme|1200\n"
    done = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", db, "import", "-"],
        input=csv_text.encode(),
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert b"stdin: 2 inserted" in done.stderr
    assert b"\x1b[" not in done.stderr  # no progress bar for stdin
    listed = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", db, "list", "--format", "csv"],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        text=True,
    )
    assert [line.split(",")[1:3] for line in listed.stdout.splitlines()[1:]] == [["Anna", "Rossi Srl"], ["Bob", "Acme"]]


def test_upsert_is_idempotent_and_records_changes(cli, tmp_path):
    first = write(
        tmp_path,
        "v1.csv",
        "email,name,amount,stage,Tier\nanna@x.com,Anna,100,Contact,gold\nbob@x.com,Bob,200,Prospecting,silver\n",
    )
    cli("import", first, "--key", "email")
    again = cli("import", first, "--key", "email")
    assert "nothing changed: 0 inserted, 0 updated, 2 unchanged, 0 rejected" in again.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 2
    assert cli.scalar("SELECT COUNT(*) FROM stage_change") == 2

    second = write(
        tmp_path,
        "v2.csv",
        "email,name,amount,stage,Tier\nanna@x.com,Anna,150,Meeting,platinum\nbob@x.com,Bob,200,Prospecting,silver\n"
        "carla@x.com,Carla,300,Contact,\n",
    )
    result = cli("import", second, "--key", "email")
    assert "1 inserted, 1 updated, 1 unchanged, 0 rejected" in result.stderr
    anna = cli.sql("SELECT id, value_minor, stage_entered_at, furthest_position FROM lead WHERE email = 'anna@x.com'")[
        0
    ]
    now = ts("2026-11-28T09:00:00")
    assert anna[1:] == (15000, now, 4)  # Meeting is position 4 in the default pipeline
    assert cli.sql(
        "SELECT f.name, t.name, c.at FROM stage_change c LEFT JOIN stage f ON f.id = c.from_stage_id "
        "JOIN stage t ON t.id = c.to_stage_id WHERE c.lead_id = :l ORDER BY c.id",
        l=anna[0],
    ) == [(None, "Contact", now), ("Contact", "Meeting", now)]
    assert cli.scalar("SELECT value FROM lead_extra WHERE lead_id = :l AND key = 'Tier'", l=anna[0]) == "platinum"
    assert cli("import", second, "--key", "email").stderr.count("nothing changed") == 1


def test_stage_map_and_create_stages(cli, tmp_path):
    path = write(
        tmp_path,
        "stages.csv",
        "name,deal_stage\nAnna,Engaging\nBob,Closed Won\nCarla,closed lost\nDario,Negotiation\nElena,MEETING\n",
    )
    refused = cli("import", path, "--stage-map", "Engaging=Contact", ok=False)
    assert "line 5, column 'deal_stage', value 'Negotiation': unknown stage in pipeline Sales" in refused.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    cli("import", path, "--stage-map", "engaging=Contact,Closed Won=won", "--create-stages")
    assert cli.sql("SELECT l.name, s.name, l.status FROM lead l JOIN stage s ON s.id = l.stage_id ORDER BY l.id") == [
        ("Anna", "Contact", "open"),
        ("Bob", "won", "won"),
        ("Carla", "lost", "lost"),
        ("Dario", "Negotiation", "open"),
        ("Elena", "Meeting", "open"),
    ]
    assert cli.scalar("SELECT position FROM stage WHERE name = 'Negotiation'") == 6
    assert cli.scalar("SELECT furthest_position FROM lead WHERE name = 'Dario'") == 6


def test_pipeline_option(cli, tmp_path):
    cli("pipeline", "add", "Partners", "--stages", "Intro,Pilot")
    path = write(tmp_path, "p.csv", "name,stage\nAnna,Pilot\n")
    cli("import", path, "--pipeline", "partners")
    assert cli.sql(
        "SELECT p.name, s.name FROM lead l JOIN pipeline p ON p.id = l.pipeline_id JOIN stage s ON s.id = l.stage_id"
    ) == [("Partners", "Pilot")]


def test_pipeline_column_closed_rows_enter_their_outcome_from_an_unobserved_stage(cli, tmp_path):
    cli("pipeline", "add", "Partners", "--stages", "Intro,Pilot")
    path = write(
        tmp_path,
        "p.csv",
        "name,pipeline,stage,created,close date,lost reason\n"
        "Anna,Partners,won,2024-01-01,2024-02-01,\n"
        "Bob,,lost,2024-01-05,2024-03-01,price\n"
        "Carla,Partners,Pilot,2024-01-07,,\n"
        "Dario,Partners,lost,2024-01-09,2024-01-09,budget\n",
    )
    cli("import", path)
    day = 86400
    jan1 = 1704067200  # 2024-01-01T00:00:00Z
    history = cli.sql(
        "SELECT l.name, fs.name, ts.name, c.at, c.left_at, c.reason FROM stage_change c JOIN lead l ON l.id = c.lead_id "
        "LEFT JOIN stage fs ON fs.id = c.from_stage_id JOIN stage ts ON ts.id = c.to_stage_id ORDER BY c.id"
    )
    feb1, mar1 = jan1 + 31 * day, jan1 + 60 * day  # 2024 is a leap year
    # a closed row's stage before its close was never observed: no stay in a first stage is invented
    assert history == [
        ("Anna", None, "won", feb1, None, None),
        ("Bob", None, "lost", mar1, None, "price"),
        ("Carla", None, "Pilot", jan1 + 6 * day, None, None),
        ("Dario", None, "lost", jan1 + 8 * day, None, "budget"),
    ]
    assert cli.sql("SELECT name, furthest_position, stage_entered_at FROM lead ORDER BY id") == [
        ("Anna", 0, feb1),
        ("Bob", 0, mar1),
        ("Carla", 2, jan1 + 6 * day),
        ("Dario", 0, jan1 + 8 * day),
    ]


def test_exact_history_dates(cli, tmp_path):
    path = write(
        tmp_path,
        "hist.csv",
        "name,stage,created,close date,lost reason,value\n"
        "Won Deal,won,2017-01-10,2017-03-01,,1000\n"
        "Lost Deal,lost,2017-02-01,2017-02-20,price,2000\n"
        "Same Day,won,2017-05-05,,,500\n"
        "Open Deal,Proposal,2017-04-01T10:30:00+02:00,2017-06-30,,3000\n",
    )
    cli("import", path)
    rows = cli.sql(
        "SELECT name, status, created_at, closed_at, stage_entered_at, last_event_at, furthest_position, "
        "expected_close, lost_reason FROM lead ORDER BY id"
    )
    assert rows == [
        ("Won Deal", "won", ts("2017-01-10"), ts("2017-03-01"), ts("2017-03-01"), ts("2017-03-01"), 0, None, None),
        ("Lost Deal", "lost", ts("2017-02-01"), ts("2017-02-20"), ts("2017-02-20"), ts("2017-02-20"), 0, None, "price"),
        ("Same Day", "won", ts("2017-05-05"), ts("2017-05-05"), ts("2017-05-05"), ts("2017-05-05"), 0, None, None),
        (
            "Open Deal",
            "open",
            ts("2017-04-01T08:30:00"),
            None,
            ts("2017-04-01T08:30:00"),
            ts("2017-04-01T08:30:00"),
            5,
            "2017-06-30",
            None,
        ),
    ]
    history = cli.sql(
        "SELECT l.name, f.name, t.name, c.at, c.left_at, c.reason FROM stage_change c JOIN lead l ON l.id = c.lead_id "
        "LEFT JOIN stage f ON f.id = c.from_stage_id JOIN stage t ON t.id = c.to_stage_id ORDER BY c.lead_id, c.at, c.id"
    )
    assert history == [
        ("Won Deal", None, "won", ts("2017-03-01"), None, None),  # from a stage nobody observed
        ("Lost Deal", None, "lost", ts("2017-02-20"), None, "price"),
        ("Same Day", None, "won", ts("2017-05-05"), None, None),
        ("Open Deal", None, "Proposal", ts("2017-04-01T08:30:00"), None, None),
    ]


def test_bulk_history_matches_add_lead_and_move_but_for_the_unobserved_stage(cli, tmp_path):
    """The importer's bulk rows and events equal what add-lead + move record for the same deal, but for
    the stage it was in before it closed: by hand it was observed (Prospecting), the import's was not."""
    cli("add-lead", "By Hand", "--value", "1000", "--at", "2017-01-10")
    cli("move", "1", "won", "--at", "2017-03-01")
    path = write(tmp_path, "one.csv", "name,value,stage,created,close date\nBy Import,1000,won,2017-01-10,2017-03-01\n")
    cli("import", path)
    columns = (
        "status, stage_id, stage_entered_at, last_event_at, last_activity_at, furthest_position, closed_at, "
        "created_at, value_minor, lost_reason, archived_at"
    )
    by_hand, by_import = cli.sql(f"SELECT {columns} FROM lead ORDER BY id")
    furthest = columns.split(", ").index("furthest_position")
    assert by_hand[:furthest] + by_hand[furthest + 1 :] == by_import[:furthest] + by_import[furthest + 1 :]
    assert (by_hand[furthest], by_import[furthest]) == (1, 0)  # 0: no open stage was observed
    changes = cli.sql(
        "SELECT lead_id, from_stage_id, to_stage_id, at, left_at, reason FROM stage_change ORDER BY lead_id, id"
    )
    assert [c[2:] for c in changes if c[0] == 1][-1] == next(c[2:] for c in changes if c[0] == 2)
    assert len([c for c in changes if c[0] == 2]) == 1
    moved = ("status", "closed_at", "stage_entered_at", "last_event_at")
    events = cli.sql(f"SELECT lead_id, field, old, new, at FROM event WHERE field IN {moved} ORDER BY id")
    assert sorted(e[1:] for e in events if e[0] == 1) == sorted(e[1:] for e in events if e[0] == 2)


def test_dry_run_writes_nothing(cli, tmp_path):
    path = write(tmp_path, "d.csv", "Contact,Account,Deal Stage,Region\nAnna,Acme,Brand New,North\n")
    result = cli("import", path, "--dry-run", "--create-stages")
    assert "Contact" in result.stdout and "name" in result.stdout and "extra" in result.stdout
    assert "would be 1 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert "would create stages: Sales/Brand New" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    assert cli.scalar("SELECT COUNT(*) FROM stage WHERE name = 'Brand New'") == 0


def test_wrong_field_count_and_unknown_map_column(cli, tmp_path):
    path = write(tmp_path, "w.csv", "name,company\nAnna,Acme,extra cell\n")
    result = cli("import", path, ok=False)
    assert "line 2: has 3 fields, the header has 2" in result.stderr
    assert cli("import", path, "--map", "Nope=name", ok=False).exit_code == 2


@pytest.mark.skipif(not LEADS_CSV.exists(), reason="the X Education file is not in /work/shared/data")
def test_real_x_education_file(cli):
    result = cli(
        "import",
        str(LEADS_CSV),
        "--map",
        "Prospect ID=external_id",
        "--map",
        "Converted=stage",
        "--stage-map",
        "1=won,0=lost",
        "--key",
        "external_id",
    )
    assert "9237 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert cli.sql("SELECT status, COUNT(*) FROM lead GROUP BY status ORDER BY status") == [
        ("lost", 5678),
        ("won", 3559),
    ]
    # no name column: a lead is named by its external id
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE name = external_id") == 9237
    # 37 columns: Prospect ID, Converted and Lead Source (-> source) are fields, the other 34 are extras
    assert cli.scalar("SELECT COUNT(DISTINCT key) FROM lead_extra") == 34
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE source IS NOT NULL") == 9237 - 36  # 36 rows have no source
    first = "7927b2df-8bba-4d29-b9a2-b6e0beafe620"
    extras = dict(
        cli.sql(
            "SELECT e.key, e.value FROM lead_extra e JOIN lead l ON l.id = e.lead_id WHERE l.external_id = :x", x=first
        )
    )
    assert extras["Specialization"] == "Select" and extras["Lead Number"] == "660737"
    assert "Country" not in extras  # the cell is empty
    again = cli(
        "import",
        str(LEADS_CSV),
        "--map",
        "Prospect ID=external_id",
        "--map",
        "Converted=stage",
        "--stage-map",
        "1=won,0=lost",
        "--key",
        "external_id",
    )
    assert "nothing changed: 0 inserted, 0 updated, 9237 unchanged" in again.stderr


@pytest.mark.sqlite_only  # SQLite's bulk path (indexes dropped and rebuilt)
def test_big_import_rebuilds_indexes_and_a_failed_one_keeps_them(cli, tmp_path):
    cli("add-lead", "Existing")
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name"
    before = cli.sql(indexes)
    rows = "".join(
        f"Lead {i},lead{i}@x.com,{i % 900 + 1}00,{'won' if i % 3 == 0 else 'Contact'},2024-01-{i % 28 + 1:02d},"
        f"met at the fair; asked for a quote\n"
        for i in range(30000)
    )
    path = write(tmp_path, "big.csv", "name,email,value,stage,created,note\n" + rows)
    assert importer.is_bulk(Path(path).stat().st_size)  # through Store.bulk_write
    cli("import", path)
    assert cli.sql(indexes) == before
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 30001
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE status = 'won'") == 10000
    assert cli.scalar("SELECT SUM(value_minor) FROM lead") == sum((i % 900 + 1) * 10000 for i in range(30000))
    assert cli.scalar("PRAGMA integrity_check") == "ok"
    assert cli.sql("PRAGMA foreign_key_check") == []  # written without row-by-row checks, every reference holds
    assert (
        cli.scalar("SELECT COUNT(*) FROM stage_change") == 1 + 30000
        and cli.scalar("SELECT COUNT(*) FROM activity") == 30000
    )
    assert cli.scalar("PRAGMA journal_mode") == "wal"
    bad = write(
        tmp_path, "bad-big.csv", "name,email,value,stage,created,note\n" + rows.replace("Lead 29999,", "Lead 29999,x,")
    )
    assert cli("import", bad, ok=False).exit_code == 1
    assert cli.sql(indexes) == before
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 30001


def test_upsert_key_repeated_in_one_file(cli, tmp_path):
    path = write(tmp_path, "dup.csv", "email,name,stage\nanna@x.com,Anna,Contact\nanna@x.com,Anna R.,Meeting\n")
    result = cli("import", path, "--key", "email")
    assert "1 inserted, 1 updated, 0 unchanged, 0 rejected" in result.stderr
    assert cli.sql("SELECT l.name, s.name FROM lead l JOIN stage s ON s.id = l.stage_id") == [("Anna R.", "Meeting")]
    assert cli.scalar("SELECT COUNT(*) FROM stage_change") == 2


def test_import_and_export_on_postgresql(pg_url, tmp_path):
    from conftest import Cli

    pg = Cli(pg_url)  # an empty database: pipecli creates the schema
    path = write(
        tmp_path,
        "pg.csv",
        "email,name,stage,created,close date,amount,Country\n"
        "anna@x.com,Anna,won,2017-01-10,2017-03-01,1000,Italy\nbob@x.com,Bob,Contact,2017-02-01,,200,\n",
    )
    pg("import", path, "--key", "email")
    assert "nothing changed" in pg("import", path, "--key", "email").stderr
    assert pg.sql("SELECT name, status, created_at, closed_at, expected_close FROM lead ORDER BY id") == [
        ("Anna", "won", ts("2017-01-10"), ts("2017-03-01"), None),
        ("Bob", "open", ts("2017-02-01"), None, None),
    ]
    assert pg.scalar("SELECT COUNT(*) FROM stage_change") == 2  # Anna entered won from a stage nobody observed
    assert pg("add-lead", "After").stdout.strip() == "3"  # the id sequence moved past the imported leads
    exported = list(pg("export").stdout.splitlines())
    assert exported[1].startswith("1,Anna,,anna@x.com,,1000.00,Sales,won,")
    assert exported[1].endswith(",Italy")


def test_progress_bar_only_on_a_terminal(tmp_path):
    from test_terminal import run, run_on_terminal

    rows = "".join(f"Lead {i},lead{i}@x.com\n" for i in range(20000))
    path = write(tmp_path, "many.csv", "name,email\n" + rows)
    shown = run_on_terminal(["import", path], tmp_path / "tty.db")
    assert "importing" in shown and "20000 inserted" in shown
    piped = run(["import", path], tmp_path / "piped.db")
    assert piped.returncode == 0 and "importing" not in piped.stderr and "\x1b" not in piped.stderr
    assert "20000 inserted" in piped.stderr


def test_imported_leads_are_scored_like_added_ones(cli, tmp_path):
    """Fit rules (default ones and one over an extra field) and a learned model apply to imported leads."""
    (tmp_path / "config.toml").write_text(
        '[[scoring.rules]]\nfield = "source"\nequals = "referral"\npoints = 15\n\n'
        '[[scoring.rules]]\nfield = "Country"\nin = ["Italy"]\npoints = 5\n\n'
        '[[scoring.rules]]\nfield = "value"\nat_least = 10000\npoints = 10\n'
    )
    file = tmp_path / "leads.csv"
    file.write_text("name,source,amount,country\nAnna,Referral,12000,Italy\nBen,web,500,Italy\nCleo,referral,,France\n")
    cli("import", str(file))
    scores = dict(cli.sql("SELECT name, fit_score FROM lead"))
    assert scores == {"Anna": 15 + 5 + 10, "Ben": 5, "Cleo": 15}
    assert dict(cli.sql("SELECT name, score FROM lead")) == scores
    ranked = json.loads(cli("list", "--sort", "score", "--format", "json").stdout)
    assert [r["name"] for r in ranked] == ["Anna", "Cleo", "Ben"]
    # an upsert that changes a scored field rescores the lead
    file.write_text("name,source,amount,country\nBen,referral,500,Italy\n")
    cli("import", str(file), "--key", "name")
    assert cli.scalar("SELECT fit_score FROM lead WHERE name = 'Ben'") == 20


def test_error_lines_count_line_breaks_inside_quoted_cells_and_blank_lines(cli, tmp_path):
    """A row's line number is where it begins in the file, after rows spanning several lines (LF, CRLF
    and a bare CR inside quotes) and blank lines."""
    text = (
        "name,email,note\r\n"
        'Anna,anna@x.com,"two\r\nlines"\r\n'
        "\r\n"
        'Bob,bob@x.com,"three\nlines\rhere"\r\n'
        "Carla,not-an-email,plain\r\n"
        'Dario,dario@x.com,"a\r\n\r\nb"\r\n'
        "Elena,also-bad,\r\n"
    )
    path = write(tmp_path, "lines.csv", text.encode())
    result = cli("import", path, ok=False)
    physical = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # the file's lines, as an editor shows them
    carla, elena = physical.index("Carla,not-an-email,plain") + 1, physical.index("Elena,also-bad,") + 1
    assert (carla, elena) == (8, 12)
    assert f"line {carla}, column 'email', value 'not-an-email'" in result.stderr
    assert f"line {elena}, column 'email', value 'also-bad'" in result.stderr
