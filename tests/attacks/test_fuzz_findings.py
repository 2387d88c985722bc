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
