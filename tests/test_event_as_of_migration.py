"""Migration 16: `ix_event_as_of`, the partial index of the events of the fields a past moment's reports read
(`history.field_at_sql`). A new database has it, in its backend's form; a schema-15 database gets it on its
next command with every row unchanged; `--as-of` reads each lead's first later change through it (SQLite's
plan says so), and only edits enter it, not an import's creation and stage events."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from pipecli.reports import state
from pipecli.store.columns import AS_OF_FIELDS
from pipecli.store.migrations import LATEST


def _index(cli) -> list[str] | None:
    return cli.index_columns("event", "ix_event_as_of")


def _expected(cli) -> list[str]:
    # SQLite's holds the old value too; PostgreSQL's entries are size-limited, so it reads `old` from the row
    return ["lead_id", "field", "at", "id"] + ([] if "://" in cli.db else ["old"])


def test_a_new_database_has_the_index_in_its_backends_form(cli):
    assert _index(cli) == _expected(cli)


def test_a_schema_15_database_migrates_and_its_reports_are_unchanged(cli, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    a = cli("add-lead", "Acme", "--value", "100", "--owner", "bob", "--at", "2026-11-01 10:00").stdout.strip()
    cli("add-lead", "Globex", "--value", "250", "--at", "2026-11-02 10:00")
    cli("edit", a, "--value", "300", "--owner", "carl", "--at", "2026-11-10 12:00")
    metrics = cli("metrics", "--as-of", "2026-11-05", "--format", "json").stdout
    before = cli.every_row()
    with cli.outside() as conn:  # as schema 15 left it: no such index, version 15
        conn.execute(text("DROP INDEX ix_event_as_of"))
        conn.execute(text("UPDATE meta SET value = '15' WHERE key = 'schema_version'"))
    assert _index(cli) is None

    assert cli("metrics", "--as-of", "2026-11-05", "--format", "json").stdout == metrics  # migrates first
    assert _index(cli) == _expected(cli)
    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)
    assert cli.every_row() == before


def test_as_of_reads_the_first_later_change_through_the_index(cli, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    a = cli("add-lead", "Acme", "--value", "100", "--owner", "bob", "--at", "2026-11-01 10:00").stdout.strip()
    cli("edit", a, "--value", "300", "--owner", "carl", "--at", "2026-11-10 12:00")
    cli("edit", a, "--value", "500", "--at", "2026-11-12 12:00")
    # what the report then says is worked out from the edits: 100 and bob on the 5th, 300 and carl on the 11th
    for day, value, owner in (
        ("2026-11-05", 10000, "bob"),
        ("2026-11-11", 30000, "carl"),
        ("2026-11-19", 50000, "carl"),
    ):
        listed = json.loads(cli("list", "--as-of", day, "--format", "json").stdout)
        assert [(r["value"], r["owner"]) for r in listed] == [(value // 100, owner)]
    if "://" in cli.db:
        return
    rel, params = state.lead_state(1, 0)
    with cli.outside() as conn:
        plan = " | ".join(r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN SELECT * FROM {rel} l"), params))
    # every field's seek, the existence test and the old value alike, is in the index alone
    assert plan.count("COVERING INDEX ix_event_as_of") == 2 * len(AS_OF_FIELDS), plan


def test_only_edits_enter_the_index_not_creations_or_moves(cli):
    cli("add-lead", "Acme", "--value", "100")
    cli("add-lead", "Globex", "--value", "250")
    cli("move", "1", "won")
    cli("edit", "2", "--value", "300", "--source", "web")
    rows = cli.scalar(f"SELECT COUNT(*) FROM event WHERE field IN ({', '.join(repr(f) for f in AS_OF_FIELDS)})")
    assert rows == 2  # the value and the source of the edit
    assert cli.scalar("SELECT COUNT(*) FROM event") > rows


@pytest.mark.parametrize("field", ["owner", "source"])
def test_a_long_owner_or_source_is_stored_and_read_as_of_on_both_backends(cli, monkeypatch, field):
    """PostgreSQL limits an index entry to about 2.7 kB: its form of the index leaves the value out."""
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    long = "x" * 6000
    cli("add-lead", "Acme", f"--{field}", long, "--at", "2026-11-01 10:00")
    cli("edit", "1", f"--{field}", "short", "--at", "2026-11-10 12:00")
    listed = json.loads(cli("list", "--as-of", "2026-11-05", "--format", "json").stdout)
    assert [r[field] for r in listed] == [long]
