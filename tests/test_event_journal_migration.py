"""Migration 15: a schema-14 database's `ix_event_journal` (on journal_id alone) is rebuilt on (journal_id,
lead_id), the index `undo --list` counts an entry's leads from; nothing else changes."""

from __future__ import annotations

from sqlalchemy import text

from pipecli.store.migrations import LATEST


def _journal_index(cli) -> list[str] | None:
    return cli.index_columns("event", "ix_event_journal")


def _as_schema_14(cli) -> None:
    with cli.outside() as conn:
        conn.execute(text("DROP INDEX ix_event_journal"))
        conn.execute(text("CREATE INDEX ix_event_journal ON event (journal_id)"))
        conn.execute(text("UPDATE meta SET value = '14' WHERE key = 'schema_version'"))
        version = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    assert version == "14"


def test_a_new_database_has_the_index_on_journal_and_lead(cli):
    assert _journal_index(cli) == ["journal_id", "lead_id"]


def test_a_schema_14_database_migrates_and_gets_the_wider_index(cli):
    cli("add-lead", "Acme", "--value", "100")
    cli("add-lead", "Globex", "--value", "250")
    cli("move", "1", "won")
    cli("edit", "2", "--value", "300")
    listing = cli("undo", "--list").stdout
    before = cli.every_row()
    # as schema 14 made it: the index on journal_id alone, the version 14
    _as_schema_14(cli)
    assert _journal_index(cli) == ["journal_id"]

    assert cli("undo", "--list").stdout == listing  # the command that opens it migrates it first
    assert _journal_index(cli) == ["journal_id", "lead_id"]
    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)  # and on
    assert cli.every_row() == before  # the rows as they were: only the index changed
    cli("undo", "--yes")  # the edit, found through the new index
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = 2") == 25000
