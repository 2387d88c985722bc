"""The database contract: where it is, how it is created, its schema version and migrations."""

import os
import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from pipecli.store.migrations import LATEST

FIXTURE_V1 = Path(__file__).parent / "fixtures" / "pipeline-v1.db"


def test_db_path_precedence(cli, tmp_path, monkeypatch):
    from pipecli.cli import app

    config = tmp_path / "config.toml"
    monkeypatch.delenv("PIPECLI_DB")
    # nothing set: the platform's user data folder
    default = cli.runner.invoke(app, ["db", "path"])
    assert default.stdout.strip() == str(tmp_path / "xdg-data" / "pipecli" / "pipeline.db")
    config.write_text(f'db = "{tmp_path / "from-config.db"}"\n')

    assert cli.runner.invoke(app, ["db", "path"]).stdout.strip() == str(tmp_path / "from-config.db")
    monkeypatch.setenv("PIPECLI_DB", str(tmp_path / "from-env.db"))
    assert cli.runner.invoke(app, ["db", "path"]).stdout.strip() == str(tmp_path / "from-env.db")
    out = cli.runner.invoke(app, ["--db", str(tmp_path / "from-flag.db"), "db", "path"]).stdout.strip()
    assert out == str(tmp_path / "from-flag.db")


def test_default_database_is_created_with_folders_and_private_mode(cli, tmp_path, monkeypatch):
    from pipecli.cli import app

    monkeypatch.delenv("PIPECLI_DB")
    result = cli.runner.invoke(app, ["add-lead", "Anna Rossi"])
    assert result.exit_code == 0, result.stderr
    created = tmp_path / "xdg-data" / "pipecli" / "pipeline.db"
    assert created.exists()
    assert stat.S_IMODE(created.stat().st_mode) == 0o600


@pytest.mark.sqlite_only
def test_connection_settings(cli, db_path):
    cli("add-lead", "Anna Rossi")
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x70697065
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == LATEST
    store = cli.store()
    with store.read() as c:
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    store.dispose()


def test_default_pipeline_exists_from_first_run(cli):
    result = cli("pipeline", "show", "--format", "json")
    import json

    stages = json.loads(result.stdout)
    assert [s["stage"] for s in stages] == [
        "Prospecting",
        "Contact",
        "Qualification",
        "Meeting",
        "Proposal",
        "won",
        "lost",
    ]
    assert [s["kind"] for s in stages][-2:] == ["won", "lost"]


def test_migration_from_v1_fixture_keeps_data(cli, tmp_path):
    copy = tmp_path / "old.db"
    shutil.copy(FIXTURE_V1, copy)
    cli.db = str(copy)
    shown = cli("show", "1", "--format", "json")
    import json

    lead = json.loads(shown.stdout)
    assert lead["name"] == "Anna Rossi" and lead["value"] == 4500 and lead["stage"] == "Contact"
    assert [h["to_stage"] for h in lead["history"]] == ["Prospecting", "Contact"]
    assert lead["activities"][0]["note"] == "first call"
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(LATEST)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(lead)")}
    assert {"next_step", "snoozed_until", "score", "qualification"} <= columns
    assert conn.execute("SELECT qualification, score FROM lead WHERE id = 2").fetchone() == ("incomplete", 0)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"lead_extra", "qualification"} <= tables
    # and the migrated database works for writes that use the new columns
    cli("move", "1", "Meeting")
    assert conn.execute("SELECT COUNT(*) FROM stage_change WHERE lead_id = 1").fetchone()[0] == 3


def test_migrated_schema_matches_models(cli, tmp_path):
    """A v1 database brought up to date has every column and index a fresh database has, and no other."""
    copy = tmp_path / "old.db"
    shutil.copy(FIXTURE_V1, copy)
    cli.db = str(copy)
    cli("list")
    fresh = tmp_path / "fresh.db"
    cli.db = str(fresh)
    cli("db", "init")

    def columns(path):
        conn = sqlite3.connect(path)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}

    assert columns(copy) == columns(fresh)

    assert index_definitions(copy) == index_definitions(fresh)
    assert "ix_lead_board" not in index_definitions(copy)  # v1's, now served by ix_lead_open


def index_definitions(path) -> dict:
    """Return {index name: its CREATE statement, spaces normalised} of a SQLite file."""
    rows = sqlite3.connect(path).execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name: " ".join((sql or "").split()) for name, sql in rows}


# v2's index definitions that v3 dropped or made partial
V2_INDEXES = """
DROP INDEX ix_lead_email; DROP INDEX ix_lead_external; DROP INDEX ix_lead_outcome;
DROP INDEX IF EXISTS ix_lead_dup_email; DROP INDEX ix_lead_dup_name;
CREATE INDEX ix_lead_email ON lead (email);
CREATE INDEX ix_lead_external ON lead (external_id);
CREATE INDEX ix_lead_outcome ON lead (pipeline_id, status, closed_at, created_at, value_minor);
CREATE INDEX ix_lead_dup_email ON lead (status, lower(trim(email)));
CREATE INDEX ix_lead_dup_name ON lead (status, lower(trim(name)), lower(trim(company)));
CREATE INDEX ix_lead_score ON lead (score);
CREATE INDEX ix_lead_cycle ON lead (pipeline_id, status, ((closed_at - created_at) / 3600), closed_at);
CREATE INDEX ix_lead_source ON lead (source);
CREATE INDEX ix_lead_owner ON lead (owner);
CREATE INDEX ix_lead_created ON lead (pipeline_id, created_at);
CREATE INDEX ix_lead_status_close ON lead (status, expected_close);
CREATE INDEX ix_lead_status_event ON lead (status, last_event_at);
CREATE INDEX ix_stage_change_to ON stage_change (to_stage_id, at);
CREATE INDEX ix_stage_change_at ON stage_change (at);
CREATE INDEX ix_activity_at ON activity (at);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


@pytest.mark.sqlite_only
def test_v2_indexes_are_dropped_or_rebuilt_partial(cli, tmp_path):
    """v2 -> v3: the indexes no command used are gone, the narrowed ones rebuilt, the data kept."""
    fresh, old = tmp_path / "fresh.db", tmp_path / "v2.db"
    cli.db = str(fresh)
    cli("db", "init")
    cli.db = str(old)
    cli("add-lead", "Anna", "--email", "anna@x.com")
    conn = sqlite3.connect(old)
    conn.executescript(V2_INDEXES)
    conn.close()
    assert "ix_lead_cycle" in index_definitions(old)
    assert cli("list", "--format", "csv").stdout.count("Anna") == 1
    assert index_definitions(old) == index_definitions(fresh)
    assert "WHERE status = 'open'" in index_definitions(old)["ix_lead_dup_name"]
    assert "ix_lead_dup_email" not in index_definitions(old)  # schema 12: the stored blocks replace it
    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)


@pytest.mark.sqlite_only
def test_newer_schema_is_refused_and_file_untouched(cli, db_path):
    cli("add-lead", "Anna Rossi")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = Path(db_path).read_bytes()
    result = cli("list", ok=False)
    assert result.exit_code == 1
    assert "newer pipecli" in result.stderr and "schema 999" in result.stderr
    assert "Traceback" not in result.output
    assert Path(db_path).read_bytes() == before


def test_not_a_pipecli_database(cli, tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    cli.db = str(other)
    result = cli("list", ok=False)
    assert result.exit_code == 1 and "not a pipecli database" in result.stderr
    zipped = tmp_path / "sheet.db"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    cli.db = str(zipped)
    result = cli("list", ok=False)
    assert result.exit_code == 1 and "ZIP" in result.stderr
    assert zipped.read_bytes() == b"PK\x03\x04" + b"\x00" * 100


def test_help_and_version_do_not_import_sqlalchemy_or_pendulum():
    probe = (
        "import sys\n"
        "from pipecli.cli import app\n"
        "for args in (['--help'], ['--version']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('sqlalchemy', 'pendulum', 'sqlmodel', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


@pytest.mark.sqlite_only  # the URL is the test's own; one run is enough
def test_a_database_url_password_never_shows_in_errors(cli):
    cli.db = "postgresql://seller:s3cret@127.0.0.1:1/pipeline"  # nothing listens on port 1
    result = cli("list", ok=False)
    assert result.exit_code == 1
    assert "s3cret" not in result.output and "seller:***@127.0.0.1" in result.stderr


@pytest.mark.sqlite_only
def test_a_bulk_write_goes_through_a_rollback_journal_only_when_alone(cli, db_path):
    """`Store.bulk_write` (a big import) switches the file to a rollback journal for its transaction, so
    each page is written once, then back to WAL; with another connection in the file it stays in WAL."""
    from sqlalchemy import text

    cli("add-lead", "Seed")
    store = cli.store()
    try:
        with store.bulk_write() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
            conn.execute(text("UPDATE lead SET name = 'Bulk'"))
        assert cli.scalar("PRAGMA journal_mode") == "wal"
        assert cli.scalar("SELECT name FROM lead") == "Bulk"
        with pytest.raises(RuntimeError):
            with store.bulk_write() as conn:
                conn.execute(text("UPDATE lead SET name = 'Lost'"))
                raise RuntimeError("a failed write")
        assert cli.scalar("SELECT name FROM lead") == "Bulk"  # rolled back, and back in WAL
        assert cli.scalar("PRAGMA journal_mode") == "wal"
        watcher = sqlite3.connect(db_path)  # another process reading the file
        try:
            watcher.execute("SELECT COUNT(*) FROM lead").fetchone()
            with store.bulk_write() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                conn.execute(text("UPDATE lead SET name = 'Shared'"))
            assert watcher.execute("SELECT name FROM lead").fetchone()[0] == "Shared"
        finally:
            watcher.close()
    finally:
        store.dispose()
    assert not Path(db_path + "-journal").exists()


def _empty_target(backend, tmp_path, request) -> str:
    """A database holding nothing yet: a SQLite path with no file, or an empty PostgreSQL database."""
    return str(tmp_path / "new.db") if backend == "sqlite" else request.getfixturevalue("pg_url")


def _tables(target: str) -> set[str]:
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{target}" if "://" not in target else target.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_a_new_database_is_seeded_once_in_the_schemas_transaction(backend, tmp_path, request):
    """`Store.open(create=True, seed=...)` gives an empty database the schema and then the seed's rows in one
    transaction; opening it again runs no seed. A seed that fails leaves the database as it was: on SQLite
    no file, on PostgreSQL no table."""
    from sqlalchemy import text

    from pipecli.errors import PipecliError
    from pipecli.store.db import Store

    target = _empty_target(backend, tmp_path, request)

    def failing(conn):
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('seeded', 'half')"))
        raise PipecliError("the seed failed")

    with pytest.raises(PipecliError, match="the seed failed"):
        Store.open(target, seed=failing, create=True)
    if backend == "sqlite":
        assert not Path(target).exists()
    else:
        assert _tables(target) == set()

    calls = []

    def seed(conn):
        # the schema is there, stamped, inside the same transaction
        calls.append(conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one())
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('seeded', 'yes')"))

    store = Store.open(target, seed=seed, create=True)
    try:
        assert store.created and calls == [str(LATEST)]
        with store.read() as conn:
            assert conn.execute(text("SELECT value FROM meta WHERE key = 'seeded'")).scalar_one() == "yes"
            assert conn.execute(text("SELECT COUNT(*) FROM pipeline")).scalar_one() == 0  # only what seed wrote
    finally:
        store.dispose()
    again = Store.open(target, seed=seed, create=True)
    again.dispose()
    assert not again.created and calls == [str(LATEST)]
