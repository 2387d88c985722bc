"""What the fuzz run (`benchmarks/fuzz.py`, issue 19) found, each kept as a reproduction: one line on stderr,
exit 1 or 2, nothing changed and no file left behind."""

from __future__ import annotations

import pytest


def _csv(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("name,email\nAnna,anna@x.co\nBad,not-an-email\n")
    return data


@pytest.mark.parametrize("encoding", ["a\tb\nc", "rot13", "base64"])
def test_a_bad_encoding_with_rejects_is_a_usage_error_and_leaves_no_file(cli, tmp_path, encoding):
    cli("add-lead", "Zoe")
    before = cli.every_row()
    out = tmp_path / "out"
    out.mkdir()
    result = cli(
        "import",
        str(_csv(tmp_path)),
        "--encoding",
        encoding,
        "--skip-invalid",
        "--rejects",
        str(out / "r.csv"),
        ok=False,
    )
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"pipecli: --encoding: unknown encoding {encoding!r} (try utf-8, cp1252, latin-1, cp850)"
    ]
    assert list(out.iterdir()) == []  # no rejects file, no hidden partial copy
    assert cli.every_row() == before


@pytest.mark.sqlite_only
def test_migrate_to_a_url_that_is_not_postgresql_is_one_line(cli, tmp_path):
    cli("add-lead", "Zoe")
    before = cli.every_row()
    result = cli("db", "migrate-to", f"sqlite:///{tmp_path / 'x.db'}", ok=False)
    assert result.exit_code == 1, result.stderr
    assert "internal error" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"pipecli: migrate-to copies into PostgreSQL only (postgresql://user@host/db), not sqlite:///{tmp_path / 'x.db'}"
    ]
    assert not (tmp_path / "x.db").exists()
    assert cli.every_row() == before


@pytest.mark.sqlite_only
@pytest.mark.timeout(60)
def test_calendar_import_of_a_fifo_is_refused_at_once(cli, tmp_path):
    import os

    cli("add-lead", "Zoe")
    before = cli.every_row()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = cli("calendar", "import", str(fifo), ok=False)  # before the fix: blocked for ever on open
    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip().splitlines() == [f"pipecli: cannot read {fifo}: not a regular file"]
    assert cli.every_row() == before


@pytest.mark.sqlite_only
@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_settings_import_reads_only_a_regular_file(cli, tmp_path, kind):
    import os

    cli("add-lead", "Zoe")
    before = cli.every_row()
    path = {"fifo": tmp_path / "fifo", "device": "/dev/zero", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)  # before the fix: blocked for ever
    result = cli("settings", "import", str(path), ok=False)
    assert result.exit_code == 1, result.stderr
    reason = "it is a folder" if kind == "folder" else "not a regular file"
    assert result.stderr.strip().splitlines() == [f"pipecli: cannot read {path}: {reason}"]
    assert cli.every_row() == before


@pytest.mark.parametrize("history", [False, True])
def test_utf16_without_a_byte_order_mark_is_one_line(cli, tmp_path, history):
    cli("add-lead", "Zoe")
    before = cli.every_row()
    data = tmp_path / "u16.csv"
    data.write_bytes("name,stage\nAnna,won\n".encode("utf-16-le"))  # no BOM: Python's utf-16 refuses it
    args = ["import", str(data), "--encoding", "utf-16", *(["--history"] if history else [])]
    result = cli(*args, ok=False)
    assert result.exit_code == 1, result.stderr  # before the fix: exit 70, "internal error: UnicodeError"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0] and "utf-16" in lines[0].lower(), lines
    assert cli.every_row() == before


@pytest.mark.parametrize("history", [False, True])
def test_an_encoding_name_that_is_not_text_is_a_usage_error(cli, tmp_path, history):
    before = cli.every_row()
    name = b"\xff\xfe".decode("utf-8", "surrogateescape")  # what a shell's raw bytes become in argv
    args = ["import", str(_csv(tmp_path)), "--encoding", name, *(["--history"] if history else [])]
    result = cli(*args, ok=False)
    assert result.exit_code == 2, result.stderr  # before the fix: exit 70, UnicodeEncodeError
    assert result.stderr.strip().splitlines() == [
        f"pipecli: --encoding: unknown encoding {name!r} (try utf-8, cp1252, latin-1, cp850)"
    ]
    assert cli.every_row() == before


@pytest.mark.sqlite_only
def test_a_backup_name_that_is_not_utf8_is_refused_before_any_file_is_made(cli, tmp_path):
    cli("add-lead", "Zoe")
    target = tmp_path / "out"
    target.mkdir()
    name = str(target / b"abc\x80.db".decode("utf-8", "surrogateescape"))
    result = cli("backup", name, "--yes", ok=False)
    assert result.exit_code == 1, result.stderr  # before the fix: exit 70, and a hidden .partial copy left
    assert result.stderr.strip().splitlines() == [
        f"pipecli: the backup file {name!r} has a name that is not UTF-8 text; choose another name"
    ]
    assert list(target.iterdir()) == []


def test_a_bad_mail_to_is_the_only_line(cli):
    cli("add-lead", "Zoe")
    result = cli("changes", "--since", "today", "--mail-to", "3", ok=False)
    assert result.exit_code == 1, result.stderr
    # before the fix the empty report's own notes ("none") came first
    assert result.stderr.strip().splitlines() == ["pipecli: --mail-to needs an e-mail address, not '3'"]


def test_metrics_csv_defuses_a_formula_in_a_source_name_unless_raw(cli):
    # every CSV output defuses formula cells (issue 19); the long CSV of metrics wrote its sources as stored
    cli("add-lead", "Evil", "--source", '=HYPERLINK("http://x")')
    defused = cli("metrics", "--format", "csv").stdout.splitlines()
    assert 'source,"\'=HYPERLINK(""http://x"")",new_leads,1' in defused
    raw = cli("metrics", "--format", "csv", "--raw").stdout.splitlines()
    assert 'source,"=HYPERLINK(""http://x"")",new_leads,1' in raw


@pytest.mark.sqlite_only
def test_a_file_name_too_long_is_one_line_not_an_internal_error(cli, tmp_path):
    cli("add-lead", "Zoe")
    before = cli.every_row()
    name = str(tmp_path / ("x" * 300))
    result = cli("restore", name, "--yes", ok=False)
    assert result.exit_code == 1, result.stderr  # before the fix: exit 70, "internal error: OSError"
    assert result.stderr.strip().splitlines() == [f"pipecli: cannot use {name}: File name too long"]
    assert cli.every_row() == before


@pytest.mark.parametrize("offset", ["+25:00", "-24:00", "+0960", "+23:60"])
def test_a_date_whose_utc_offset_is_out_of_range_is_a_row_error(cli, tmp_path, offset):
    cli("add-lead", "Zoe")
    before = cli.every_row()
    data = tmp_path / "in.csv"
    data.write_text(f"name,created_at\nAnna,2024-01-01T00:00:00{offset}\nBen,2024-01-01T00:00:00+14:00\n")
    result = cli("import", str(data), ok=False)
    assert result.exit_code == 1, result.stderr  # before the fix: exit 70, "internal error: ValueError"
    assert "internal error" not in result.stderr
    assert f"line 2, column 'created_at', value '2024-01-01T00:00:00{offset}': its UTC offset is out of range" in (
        result.stderr
    )
    assert "line 3" not in result.stderr  # +14:00 is a real offset (Kiribati)
    assert cli.every_row() == before
    cli("import", str(data), "--skip-invalid", "--rejects", str(tmp_path / "r.csv"))
    assert cli.sql("SELECT name FROM lead ORDER BY id") == [("Zoe",), ("Ben",)]
