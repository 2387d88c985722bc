"""`pipecli import BOOK.xlsx|.ods`: workbooks written in the test (openpyxl; an .ods zip built by hand) import
exactly as the same rows as CSV; --sheet; corrupt, empty and password-protected workbooks refused with one line."""

from __future__ import annotations

import datetime as dt
import zipfile
from xml.sax.saxutils import escape

import openpyxl

HEADER = ["Name", "Company", "Email", "Value", "Stage", "Created", "Close date"]
ROWS = [
    ["Anna Rossi", "Rossi Srl", "anna@rossi.it", 4500, "won", dt.datetime(2026, 3, 2, 10, 15), dt.date(2026, 5, 20)],
    ["Bob Jones", "Acme", "bob@acme.com", 1200.5, "Meeting", dt.datetime(2026, 4, 1, 9, 0), None],
    ["Carla Neri", "", "carla@neri.it", None, "", None, None],
]
CSV = (
    "Name,Company,Email,Value,Stage,Created,Close date\n"
    "Anna Rossi,Rossi Srl,anna@rossi.it,4500,won,2026-03-02 10:15:00,2026-05-20\n"
    "Bob Jones,Acme,bob@acme.com,1200.50,Meeting,2026-04-01 09:00:00,\n"
    "Carla Neri,,carla@neri.it,,,,\n"
)


def contents(cli) -> list[tuple]:
    """Every lead with its stage, dates and history: what must be equal whatever file it came from."""
    return cli.sql(
        "SELECT l.name, l.company, l.email, l.value_minor, l.status, s.name, l.created_at, l.closed_at, "
        "(SELECT COUNT(*) FROM stage_change c WHERE c.lead_id = l.id) FROM lead l JOIN stage s ON s.id = l.stage_id "
        "ORDER BY l.id"
    )


def xlsx(path, sheets: dict[str, list[list]]) -> str:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return str(path)


def _ods_cell(value) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, dt.datetime):
        return f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}"/>'
    if isinstance(value, dt.date):
        return f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}"/>'
    if isinstance(value, (int, float)):
        return f'<table:table-cell office:value-type="float" office:value="{value}"/>'
    return f'<table:table-cell office:value-type="string"><text:p>{escape(value)}</text:p></table:table-cell>'


def ods(path, rows: list[list]) -> str:
    """Write a minimal OpenDocument spreadsheet (the zip a spreadsheet program writes, reduced)."""
    body = "".join("<table:table-row>" + "".join(map(_ods_cell, r)) + "</table:table-row>" for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Leads">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return str(path)


def csv_contents(fresh_cli, tmp_path) -> list[tuple]:
    other, _ = fresh_cli()
    path = tmp_path / "same.csv"
    path.write_text(CSV)
    other("import", str(path))
    return contents(other)


def test_xlsx_imports_as_the_same_rows_as_csv(cli, fresh_cli, tmp_path):
    book = xlsx(tmp_path / "leads.xlsx", {"Leads": [HEADER, *ROWS]})
    result = cli("import", book)
    assert "3 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    assert contents(cli) == csv_contents(fresh_cli, tmp_path)
    assert cli.sql("SELECT closed_at FROM lead WHERE name = 'Anna Rossi'") == [
        (int(dt.datetime(2026, 5, 20, tzinfo=dt.UTC).timestamp()),)  # a date cell is a real date
    ]


def test_ods_imports_as_the_same_rows_as_csv(cli, fresh_cli, tmp_path):
    book = ods(tmp_path / "leads.ods", [HEADER, *ROWS])
    cli("import", book)
    assert contents(cli) == csv_contents(fresh_cli, tmp_path)


def test_sheet_option_picks_a_sheet(cli, tmp_path):
    book = xlsx(tmp_path / "book.xlsx", {"Notes": [["nothing here"]], "Leads": [HEADER, *ROWS[:1]]})
    cli("import", book, "--sheet", "Leads")
    assert cli.sql("SELECT name, status FROM lead") == [("Anna Rossi", "won")]
    result = cli("import", book, "--sheet", "Deals", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"pipecli: {book} has no sheet 'Deals' (sheets: Notes, Leads)"


def test_corrupt_and_empty_workbooks_write_nothing(cli, tmp_path):
    corrupt = tmp_path / "broken.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 not really a workbook")
    result = cli("import", str(corrupt), ok=False)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"pipecli: {corrupt} is not a readable workbook: ")
    empty = xlsx(tmp_path / "empty.xlsx", {"Leads": []})
    result = cli("import", empty, ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"pipecli: {empty}: sheet 'Leads' is empty: expected a header row and rows of leads"
    )
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_a_password_protected_workbook_is_refused_with_one_line_and_nothing_written(cli, tmp_path):
    """The workbook is a real encrypted one (ECMA-376 agile encryption, as Excel writes it with "Encrypt with
    Password"), made from a plain workbook by msoffcrypto-tool; the same rows unencrypted import."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = xlsx(tmp_path / "plain.xlsx", {"Leads": [HEADER, *ROWS]})
    locked = tmp_path / "locked.xlsx"
    with open(plain, "rb") as source, open(locked, "wb") as out:
        OOXMLFile(source).encrypt("s3cret", out)
    assert locked.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # an OLE container, not a zip
    before = cli.every_row()
    result = cli("import", str(locked), ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"pipecli: {locked} is not a readable workbook: it is password-protected; save an unprotected copy first"
    ]
    assert cli.every_row() == before
    cli("import", plain)
    assert cli.scalar("SELECT COUNT(*) FROM lead") == len(ROWS)


def test_invalid_rows_in_a_workbook_are_all_or_nothing(cli, tmp_path):
    book = xlsx(tmp_path / "bad.xlsx", {"Leads": [HEADER, ROWS[0], ["Bad", "", "", "lots", "", None, None]]})
    result = cli("import", book, ok=False)
    assert result.exit_code == 1 and "line 3, column 'Value', value 'lots'" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
