"""No silent new databases: a command that only reads fails on a database that is not there (exit 66,
one line naming the path, nothing created); a command that starts a pipeline from nothing creates it and
says so on stderr; `db init` creates one explicitly. On PostgreSQL, an empty database is "not initialised".
"""

from __future__ import annotations

import sqlite3
import stat

import pytest
from typer.testing import CliRunner

from pipecli.errors import EXIT_NO_DATABASE

READS = [
    ["list"],
    ["show", "1"],
    ["board"],
    ["metrics"],
    ["funnel"],
    ["forecast"],
    ["size", "--target", "100000"],
    ["clean"],
    ["clean", "--check"],
    ["export"],
    ["calendar", "export"],
    ["mail", "status"],
    ["pipeline", "list"],
    ["pipeline", "show"],
    ["today"],
    ["next"],
    ["score"],
    ["changes"],
    ["history", "1"],
    ["backup", "copy.db"],
]
# writes that need rows which a new database cannot hold: they fail as reads do, creating nothing
NEEDS_DATA = [["move", "1", "won"], ["edit", "1", "--owner", "bob"], ["log", "1", "call"], ["delete", "1", "--yes"]]


def run(*args: str):
    from pipecli.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args", READS + NEEDS_DATA, ids=" ".join)
def test_a_read_on_a_missing_database_fails_naming_it_and_creates_nothing(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "sales" / "pipline.db"  # a typo
    result = run("--db", str(missing), *args)
    assert result.exit_code == EXIT_NO_DATABASE == 66
    assert result.stdout == ""
    assert result.stderr == (
        f"pipecli: no database at {missing}: nothing was created (check --db / $PIPECLI_DB, or create one "
        "with `pipecli db init`)\n"
    )
    assert not missing.exists() and not missing.parent.exists()


def test_pipecli_db_from_the_environment_is_named_too(tmp_path, monkeypatch):
    missing = tmp_path / "cron.db"
    monkeypatch.setenv("PIPECLI_DB", str(missing))
    result = run("clean", "--check")
    assert result.exit_code == 66  # not 1, which says "found stale deals" under cron
    assert str(missing) in result.stderr
    assert not missing.exists()


@pytest.mark.sqlite_only
def test_an_empty_file_is_not_initialised_until_a_write_or_db_init(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = run("--db", str(empty), "list")
    assert result.exit_code == 66
    assert result.stderr.startswith(f"pipecli: database {empty} is not initialised")
    assert empty.stat().st_size == 0
    assert run("--db", str(empty), "db", "init").exit_code == 0
    assert run("--db", str(empty), "list").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [["add-lead", "Anna Rossi"], ["pipeline", "add", "Post", "--stages", "A,B"], ["demo", "--leads", "5"]],
    ids=" ".join,
)
def test_a_command_that_starts_a_pipeline_creates_the_database_and_says_so(tmp_path, args):
    path = tmp_path / "new" / "pipeline.db"
    extra = ["--into", str(path)] if args[0] == "demo" else []
    result = run("--db", str(path), *args, *extra)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"created a new database at {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run("--db", str(path), "list", "--format", "csv")
    assert again.exit_code == 0 and "created" not in again.stderr


def test_import_creates_the_database(tmp_path):
    csv = tmp_path / "leads.csv"
    csv.write_text("name,value\nAnna Rossi,4500\nMarco Bianchi,1200\n")
    path = tmp_path / "pipeline.db"
    result = run("--db", str(path), "import", str(csv))
    assert result.exit_code == 0, result.output
    assert f"created a new database at {path}" in result.stderr
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name, value_minor FROM lead ORDER BY id").fetchall() == [
        ("Anna Rossi", 450000),
        ("Marco Bianchi", 120000),
    ]


def test_a_refused_first_write_leaves_the_new_database_it_announced_and_no_lead(tmp_path):
    path = tmp_path / "pipeline.db"
    result = run("--db", str(path), "add-lead", "Anna", "--pipeline", "Nope")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"created a new database at {path}",
        "pipecli: unknown pipeline 'Nope'; pipelines: Sales",
    ]
    assert sqlite3.connect(path).execute("SELECT count(*) FROM lead").fetchone() == (0,)


def test_db_init_creates_says_when_present_and_refuses_other_files(tmp_path):
    path = tmp_path / "sales" / "pipeline.db"
    made = run("db", "init", str(path))
    assert made.exit_code == 0, made.output
    assert made.stderr == f"created a new database at {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sqlite3.connect(path).execute("SELECT name FROM pipeline").fetchall() == [("Sales",)]
    again = run("db", "init", str(path))
    assert again.exit_code == 0
    assert again.stderr == f"a pipecli database is already at {path}: left as it was\n"

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    refused = run("db", "init", str(notes))
    assert refused.exit_code == 1
    assert refused.stderr == f"pipecli: {notes} is not a pipecli database: it looks like a text file\n"
    assert notes.read_text() == "not a database\n"

    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    refused = run("db", "init", str(other))
    assert refused.exit_code == 1
    assert "not a pipecli database (it holds other tables)" in refused.stderr
    assert [r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")] == ["t"]


def test_db_init_without_a_path_creates_the_database_in_use(tmp_path, monkeypatch):
    path = tmp_path / "env.db"
    monkeypatch.setenv("PIPECLI_DB", str(path))
    assert run("db", "init").stderr == f"created a new database at {path}\n"
    assert path.exists()


def test_an_empty_postgresql_database_is_not_initialised_for_reads(pg_url):
    from sqlalchemy import create_engine, inspect

    result = run("--db", pg_url, "list")
    assert result.exit_code == 66
    assert "is not initialised (it holds no pipecli tables)" in result.stderr
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert inspect(engine).get_table_names() == []
        made = run("db", "init", pg_url)
        assert made.exit_code == 0, made.output
        assert made.stderr.startswith("created a new database at postgresql://")
        assert "lead" in inspect(engine).get_table_names()
        assert run("--db", pg_url, "add-lead", "Anna").exit_code == 0
        assert "already" in run("db", "init", pg_url).stderr
    finally:
        engine.dispose()


def test_add_lead_initialises_an_empty_postgresql_database(pg_url):
    result = run("--db", pg_url, "add-lead", "Anna Rossi")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("created a new database at postgresql://")
    assert "Anna Rossi" in run("--db", pg_url, "list", "--format", "csv").stdout


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/p.db", "sqlite:////{tmp}/p.db", "mysql://seller:s3cret@localhost/sales", "http://localhost/p.db"],
)
@pytest.mark.parametrize("command", [["list"], ["add-lead", "Anna"], ["db", "init"]], ids=" ".join)
def test_a_url_that_is_not_postgresql_is_one_line_and_creates_nothing(tmp_path, monkeypatch, url, command):
    """A sqlite:// URL was an internal error (exit 70) and mysql:// said the PostgreSQL driver was missing
    while it was installed: pipecli takes a SQLite file's path or a postgresql:// URL, and says so."""
    from pipecli.cli import app

    monkeypatch.chdir(tmp_path)  # a relative sqlite:///{tmp} path would land here
    url = url.format(tmp=str(tmp_path).lstrip("/"))
    result = CliRunner().invoke(app, ["--db", url, *command])
    assert result.exit_code == 1, result.output
    shown = url.replace(":s3cret@", ":***@")
    assert result.stderr.splitlines() == [
        f"pipecli: cannot use database URL {shown}: name a SQLite database by its file's path (no sqlite://),"
        " a PostgreSQL one as postgresql://user@host/db"
    ]
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == []
