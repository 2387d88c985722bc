"""Shared fixtures: every test gets its own database file, config file and a frozen clock, so no test
can touch a real user's data and every figure is repeatable."""

from __future__ import annotations

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from pipecli import clock  # noqa: E402

FROZEN_NOW = "2026-11-28T09:00:00+00:00"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point the database, config and data folders at tmp_path and freeze time at FROZEN_NOW."""
    monkeypatch.setenv("PIPECLI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("PIPECLI_DB", str(tmp_path / "default.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("PIPECLI_NOW", FROZEN_NOW)
    clock.freeze(None)
    yield
    clock.freeze(None)


@pytest.fixture
def db_path(tmp_path):
    """Return the path of a fresh SQLite database file for the test (created on first use)."""
    return str(tmp_path / "pipeline.db")


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
        from pipecli.db import Store

        return Store.open(self.db)

    def sql(self, query: str, **params):
        """Run one SQL query on the database and return all rows."""
        from sqlalchemy import text

        store = self.store()
        try:
            with store.read() as conn:
                return conn.execute(text(query), params).all()
        finally:
            store.dispose()

    def scalar(self, query: str, **params):
        """Run one SQL query and return the first column of the first row."""
        rows = self.sql(query, **params)
        return rows[0][0] if rows else None


@pytest.fixture
def cli(db_path):
    """Return a Cli bound to the test's database."""
    return Cli(db_path)
