"""Shared fixtures: every test gets its own database, config file and a frozen clock, so no test can
touch a real user's data and every figure is repeatable.

Backends: a test that uses `db_path` (or `cli`) runs once per backend: on a fresh SQLite file always, and
on a fresh PostgreSQL database when `PIPECLI_TEST_PG_URL` names a server where that role may create
databases (otherwise the PostgreSQL runs skip, saying so). Each PostgreSQL test database is a copy of a
template made once per session with the current schema, so one costs tens of milliseconds. Mark a test
`@pytest.mark.sqlite_only` when it is about the SQLite file itself (permissions, WAL, raw bytes).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from pipecli import clock, config  # noqa: E402

FROZEN_NOW = "2026-11-28T09:00:00+00:00"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point the database, config and data folders at tmp_path and freeze time at FROZEN_NOW."""
    monkeypatch.setenv("PIPECLI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("PIPECLI_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    for var in ("LC_ALL", "LC_MONETARY", "LANG"):  # the locale writes amounts and reads dates: none by default
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIPECLI_NOW", FROZEN_NOW)
    clock.freeze(None)
    config.use_database(None)  # no database's shared settings carried over from another test
    yield
    clock.freeze(None)
    config.use_database(None)


PG_URL = os.environ.get("PIPECLI_TEST_PG_URL")
PG_SKIP = "PIPECLI_TEST_PG_URL not set: PostgreSQL tests skipped"
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: the test is about the SQLite file; run it on SQLite only")


def pytest_generate_tests(metafunc):
    """Run every test that uses a database once per backend (SQLite only when marked sqlite_only)."""
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", BACKENDS[:1] if only_sqlite else BACKENDS)


class PgServer:
    """The test PostgreSQL server: makes fresh databases (copies of a schema template) and drops them."""

    def __init__(self, url: str):
        import psycopg
        from sqlalchemy.engine import make_url

        self.url = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.admin = psycopg.connect(url, autocommit=True)
        self.prefix = f"pipecli_test_{os.getpid()}"
        self.counter = itertools.count(1)
        self.template = f"{self.prefix}_template"
        self._create(self.template, "template0")
        saved = os.environ.get("PIPECLI_NOW")
        os.environ["PIPECLI_NOW"] = FROZEN_NOW
        try:
            from pipecli.pipelines import open_store

            store = open_store(self.url_of(self.template), create=True)
            store.dispose()
        finally:
            if saved is None:
                os.environ.pop("PIPECLI_NOW")
            else:
                os.environ["PIPECLI_NOW"] = saved

    def url_of(self, name: str) -> str:
        """Return the postgresql:// URL of database `name` on this server."""
        return (
            self.url.set(database=name)
            .render_as_string(hide_password=False)
            .replace("postgresql+psycopg://", "postgresql://", 1)
        )

    def _create(self, name: str, template: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def fresh(self, with_schema: bool = True) -> str:
        """Create a new database (holding a new pipecli schema, or nothing) and return its URL."""
        name = f"{self.prefix}_{next(self.counter)}"
        self._create(name, self.template if with_schema else "template0")
        return name

    def drop(self, name: str) -> None:
        """Drop a test database. A server process may still be on it for a moment (a pipecli subprocess
        closing, an autovacuum worker this role may not stop), so try again before leaving it to the
        throwaway server: a leftover database is no test failure."""
        import psycopg

        for _ in range(20):
            try:
                self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg.errors.InsufficientPrivilege:
                time.sleep(0.1)

    def close(self) -> None:
        self.drop(self.template)
        self.admin.close()


@pytest.fixture(scope="session")
def pg_server():
    """Return the session's PgServer, or skip the test when no PostgreSQL server is configured."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    server = PgServer(PG_URL)
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server):
    """Return the URL of a fresh, EMPTY PostgreSQL database (no tables), dropped after the test."""
    name = pg_server.fresh(with_schema=False)
    yield pg_server.url_of(name)
    pg_server.drop(name)


@pytest.fixture
def db_path(backend, tmp_path, request):
    """Return the test's fresh database holding a new, empty pipeline: a SQLite file made by `pipecli db
    init` (commands that only read never create one), or the URL of a new PostgreSQL database."""
    if backend == "sqlite":
        path = str(tmp_path / "pipeline.db")
        Cli(path)("db", "init")
        yield path
        return
    server = request.getfixturevalue("pg_server")
    name = server.fresh()
    yield server.url_of(name)
    server.drop(name)


def _portable(value):
    import datetime
    from decimal import Decimal

    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


class Cli:
    """Runs pipecli in-process through typer's CliRunner against one database."""

    def __init__(self, db: str):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, ok: bool = True):
        """Run `pipecli --db DB ARGS`; with ok=True, fail the test unless it exits 0."""
        from pipecli.cli import app

        result = self.runner.invoke(app, ["--db", self.db, *map(str, args)], input=input)
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"pipecli {' '.join(map(str, args))} exited {result.exit_code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
            )
        return result

    def store(self):
        """Return an open Store on the same database, for asserting what is stored."""
        from pipecli.pipelines import open_store

        return open_store(self.db)

    def sql(self, query: str, **params):
        """Run one SQL query on the database and return all rows (tuples).

        Values come back the same on both backends: a DATE as its ISO text (as SQLite stores it), an
        integral NUMERIC (PostgreSQL's SUM of integers) as an int."""
        from sqlalchemy import text

        store = self.store()
        try:
            with store.read() as conn:
                return [tuple(_portable(v) for v in row) for row in conn.execute(text(query), params)]
        finally:
            store.dispose()

    def execute(self, statement: str, **params) -> None:
        """Run one SQL write (UPDATE, INSERT...) on the database, on either backend, and commit it."""
        from sqlalchemy import text

        store = self.store()
        try:
            with store.write() as conn:
                conn.execute(text(statement), params)
        finally:
            store.dispose()

    def every_row(self) -> dict[str, list[tuple]]:
        """Return every row of every table of the schema, ordered by primary key: the whole database,
        for comparing two databases or a database before and after a command."""
        from sqlalchemy import select

        from pipecli.store import schema

        store = self.store()
        try:
            with store.read() as conn:
                return {
                    t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in schema.tables()
                }
        finally:
            store.dispose()

    def verify(self) -> list[str]:
        """Return what a replay of the journal's events finds different from the stored rows
        (`history.verify`; empty when they agree)."""
        from pipecli import history

        store = self.store()
        try:
            with store.read() as conn:
                return history.verify(conn)
        finally:
            store.dispose()

    @contextlib.contextmanager
    def outside(self):
        """Yield a connection in one committed transaction that does not go through pipecli, so opening
        it migrates nothing: to make a database look as an older schema left it."""
        from sqlalchemy import create_engine

        url = f"sqlite:///{self.db}" if "://" not in self.db else "postgresql+psycopg://" + self.db.split("://", 1)[1]
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()

    def index_columns(self, table: str, name: str) -> list[str] | None:
        """Return the columns of index `name` on `table` as the database reports them (None: no such index),
        read from outside pipecli."""
        import warnings

        from sqlalchemy import inspect
        from sqlalchemy.exc import SAWarning

        with self.outside() as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # SQLite's reflection skips the expression indexes
            return {i["name"]: i["column_names"] for i in inspect(conn).get_indexes(table)}.get(name)

    def scalar(self, query: str, **params):
        """Run one SQL query and return the first column of the first row."""
        rows = self.sql(query, **params)
        return rows[0][0] if rows else None


@pytest.fixture
def cli(db_path):
    """Return a Cli bound to the test's database."""
    return Cli(db_path)


@pytest.fixture
def fresh_cli(tmp_path, monkeypatch):
    """Return a factory of (Cli on a new SQLite database, monkeypatch): one database per hypothesis example."""
    import itertools

    numbers = itertools.count()

    def make():
        made = Cli(str(tmp_path / f"example-{next(numbers)}.db"))
        made("db", "init")  # as db_path: commands that only read never create the database
        return made, monkeypatch

    return make
