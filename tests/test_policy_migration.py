"""Migration 14: a PostgreSQL database made before the faster row-level security policies gets them.

The old database is built honestly: a team database whose policies are replaced by the SQL pipecli ran
before schema 14 (tests/fixtures/policies-v13.sql, as pipecli/store/access.py wrote them up to commit 4e267a4: the lead
policy a function call per row, the event and journal policies calling pipecli_free per row), without the
functions the new policies call, stamped schema 13. The next command the owner runs migrates it; the
policies are then the ones a new database gets, and a seller still sees and changes only their own
leads, through pipecli and through a raw connection. Without pipecli's policies (no row-level security)
and on SQLite, migration 14 changes nothing but the schema version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli
from test_team import (
    pg_team,  # noqa: F401  (the fixture)
    url_as,
)

from pipecli.store.migrations import LATEST

# the old policies, one statement a line; the file says where they come from
OLD_SQL = Path(__file__).parent / "fixtures" / "policies-v13.sql"
OLD_POLICIES = [line.rstrip(";") for line in OLD_SQL.read_text().splitlines() if line and not line.startswith("--")]
POLICIES = (
    "SELECT tablename, policyname, coalesce(qual, ''), coalesce(with_check, '') FROM pg_policies"
    " WHERE schemaname = current_schema() ORDER BY tablename, policyname"
)


def policies(url: str) -> list[tuple[str, str, str, str]]:
    import psycopg

    with psycopg.connect(url) as raw:
        return raw.execute(POLICIES).fetchall()


def version(url: str) -> str:
    """Return the schema version stamped in the database, read without pipecli (which would migrate it)."""
    import psycopg

    with psycopg.connect(url) as raw:
        return raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]


def downgrade(url: str, statements: list[str]) -> None:
    """Run `statements` as the database's owner, outside pipecli (which would migrate the database back)."""
    import psycopg

    with psycopg.connect(url) as raw:
        for statement in statements:
            raw.execute(statement)


@pytest.fixture
def old_team(pg_team):  # noqa: F811  (the fixture imported above)
    """pg_team's database made as before schema 14: the old policies, stamped 13. Return (the team, the
    policies a database at LATEST has)."""
    new = policies(pg_team.url)
    downgrade(pg_team.url, OLD_POLICIES)
    return pg_team, new


def test_migration_14_replaces_the_old_policies_and_access_stays_per_seller(old_team):
    import psycopg

    t, new = old_team
    old = policies(t.url)
    lead_policy = {name: qual for _table, name, qual, _check in old}["pipecli_lead"]
    assert "pipecli_may_lead" in lead_policy and "pipecli_seller" not in lead_policy  # really the old one
    assert old != new and len(old) == len(new)

    refused = t.as_(t.anna)("list", ok=False)  # a seller's role may not change the schema
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        f"pipecli: database {url_as(t.url, t.anna)} is at schema 13 and this pipecli needs schema {LATEST}: only the owner of"
        " pipecli's tables (or a superuser) can bring it up to date; ask them to run any pipecli command"
        " (nothing was changed)"
    ]
    assert policies(t.url) == old
    assert version(t.url) == "13"

    t.owner("list")  # the owner's next command migrates
    assert version(t.url) == str(LATEST)
    assert policies(t.url) == new
    lead_policy = {name: qual for _table, name, qual, _check in policies(t.url)}["pipecli_lead"]
    assert "pipecli_seller" in lead_policy and "pipecli_may_lead" not in lead_policy

    anna = t.as_(t.anna)
    assert [r["id"] for r in json.loads(anna("list", "--format", "json").stdout)] == [t.anna_lead]
    assert [r["id"] for r in json.loads(t.as_(t.mia)("list", "--format", "json").stdout)] == [
        t.anna_lead,
        t.marco_lead,
    ]
    before = t.owner.every_row()
    denied = anna("edit", t.marco_lead, "--value", "1", ok=False)
    assert denied.exit_code == 1
    assert denied.stderr.strip() == (
        f"pipecli: permission denied: seller {t.anna} may not change lead {t.marco_lead} (owned by {t.marco});"
        " nothing was changed"
    )
    assert t.owner.every_row() == before
    with psycopg.connect(url_as(t.url, t.anna)) as raw:  # the policy itself, without pipecli's checks
        assert raw.execute("SELECT id FROM lead ORDER BY id").fetchall() == [(t.anna_lead,)]
        assert raw.execute("UPDATE lead SET value_minor = 7 WHERE id = %s", (t.marco_lead,)).rowcount == 0
        assert raw.execute("SELECT COUNT(*) FROM event WHERE lead_id = %s", (t.marco_lead,)).fetchone() == (0,)
        raw.commit()
    assert t.owner.every_row() == before
    anna("edit", t.anna_lead, "--value", "1500")  # her own lead, as before
    assert t.owner.scalar("SELECT value_minor FROM lead WHERE id = :i", i=t.anna_lead) == 150_000


def test_migration_14_leaves_a_database_without_pipecli_policies_alone(pg_server):
    from pipecli.store.schema import lead_tables

    name = pg_server.fresh()
    url = pg_server.url_of(name)
    try:
        tables = ["lead", "event", "journal", *lead_tables()]
        statements = [f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY" for table in tables]
        statements += [f"DROP POLICY {p} ON {table}" for table, p, _q, _c in policies(url)]
        downgrade(url, [*statements, "UPDATE meta SET value = '13' WHERE key = 'schema_version'"])
        cli = Cli(url)
        cli("add-lead", "Acme")
        assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)
        assert policies(url) == []
        assert (
            cli.scalar(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relrowsecurity"
            )
            == 0
        )
    finally:
        pg_server.drop(name)


@pytest.mark.sqlite_only
def test_migration_14_on_sqlite_changes_only_the_version(tmp_path):
    import sqlite3

    path = tmp_path / "p.db"
    cli = Cli(str(path))
    cli("add-lead", "Acme", "--value", "100")
    before = cli.every_row()
    with sqlite3.connect(path) as raw:  # outside pipecli, which would migrate it back
        raw.execute("UPDATE meta SET value = '13' WHERE key = 'schema_version'")
    raw.close()
    cli("list")
    assert cli.every_row() == before
