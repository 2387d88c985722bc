"""Migration 17: `ix_lead_by_owner` (owner completion reads it instead of the lead table) and the command lines
journalled before pipecli kept URL passwords out of them, scrubbed. A schema-16 database holding such a line
migrates on its next command: the password is gone from the file, every other line and row is unchanged."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text

from pipecli.store import quick
from pipecli.store.migrations import LATEST

LEAKED = "pipecli --db 'postgresql://admin:s3cr:et@db.example/sales?sslmode=require' add-lead Acme"
FORM = "pipecli --db 'postgresql://admin:***@db.example/sales?sslmode=require' add-lead Acme"


def _owner_index(cli) -> list[str] | None:
    return cli.index_columns("lead", "ix_lead_by_owner")


def test_a_schema_16_database_gets_the_owner_index_and_loses_its_journalled_passwords(cli):
    cli("add-lead", "Acme", "--owner", "marco", "--value", "100")
    cli("add-lead", "Globex", "--owner", "anna")
    cli("log", "1", "call", "--note", "see https://example.com/x")
    before = cli.every_row()
    with cli.outside() as conn:  # as schema 16 left it: no owner index, a password journalled
        conn.execute(text("DROP INDEX ix_lead_by_owner"))
        conn.execute(text("UPDATE journal SET command = :c WHERE id = 1"), {"c": LEAKED})
        conn.execute(text("UPDATE meta SET value = '16' WHERE key = 'schema_version'"))
    assert _owner_index(cli) is None

    listed = cli("undo", "--list", "--format", "json").stdout  # the command that opens it migrates it first
    assert "s3cr" not in listed and ":***@" in listed
    assert _owner_index(cli) == ["owner"]
    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)
    after = cli.every_row()
    assert {k: v for k, v in after.items() if k != "journal"} == {k: v for k, v in before.items() if k != "journal"}
    assert cli.scalar("SELECT command FROM journal WHERE id = 1") == FORM  # as pipecli writes such a line now
    assert len(after["journal"]) == len(before["journal"])
    assert after["journal"][1:] == before["journal"][1:]  # the others as they were (a note's URL has no password)


def test_owner_completion_reads_the_owners_most_used_first(cli):
    for name, owner in (("A", "marco"), ("B", "marco"), ("C", "anna"), ("D", None), ("E", "Marta")):
        cli("add-lead", name, *(("--owner", owner) if owner else ()))
    owners = quick.values(cli.db, "owner", "")
    assert owners[0] == "marco" and sorted(owners) == ["Marta", "anna", "marco"]
    assert sorted(quick.values(cli.db, "owner", "MA")) == ["Marta", "marco"]
    if "://" not in cli.db:
        sql = "SELECT owner FROM lead WHERE owner IS NOT NULL AND owner LIKE ? GROUP BY owner ORDER BY count(*) DESC"
        with sqlite3.connect(cli.db) as db:
            plan = " ".join(r[-1] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", ("%",)))
        assert "COVERING INDEX ix_lead_by_owner" in plan, plan
