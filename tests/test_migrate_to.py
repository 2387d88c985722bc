"""`pipecli db migrate-to URL`: a SQLite pipeline with its whole history into an empty PostgreSQL database."""

from __future__ import annotations

import json

import pytest
from conftest import Cli

pytestmark = pytest.mark.sqlite_only  # the source is a SQLite file; the target comes from `pg_url`


def _every_row(db: str) -> dict[str, list[tuple]]:
    return Cli(db).every_row()


def _history(cli):
    cli("demo", "--leads", "25")
    cli("pipeline", "add", "Partners", "--stages", "New,Pilot")
    cli("pipeline", "add-stage", "Sales", "Legal", "--position", "5")
    cli("pipeline", "remove-stage", "Sales", "Legal")  # deleted: leaves a gap in stage ids
    cli("add-lead", "Zoë «Quote» O'Brien", "--email", "zoe@example.com", "--pipeline", "Partners", "--value", "12.34")
    cli("delete", "3", "--yes")  # a gap in lead ids
    cli.execute("INSERT INTO lead_extra (lead_id, key, value) VALUES (1, 'industry', 'retail'), (2, 'size', '50')")
    cli.execute(
        "INSERT INTO qualification (lead_id, criterion, answer, verdict, at) VALUES (1, 'budget', '10k', 'yes', 5)"
    )


def test_copies_every_row_with_ids_and_history(cli, db_path, pg_url):
    _history(cli)
    before = _every_row(db_path)
    result = cli("db", "migrate-to", pg_url, "--format", "json")
    counts = {r["table"]: (r["source_rows"], r["copied_rows"]) for r in json.loads(result.stdout)}
    assert counts["lead"] == (len(before["lead"]), len(before["lead"])) and len(before["lead"]) == 25
    assert counts["stage_change"][0] == len(before["stage_change"]) > 25
    assert all(source == copied for source, copied in counts.values())
    assert _every_row(pg_url) == before  # same ids, same values, same types (dates, booleans, big ints)


def test_new_rows_on_the_target_get_fresh_ids(cli, db_path, pg_url):
    _history(cli)
    highest = cli.scalar("SELECT MAX(id) FROM lead")
    cli("db", "migrate-to", pg_url)
    pg = Cli(pg_url)
    new_id = int(pg("add-lead", "After Migration").stdout)
    assert new_id == highest + 1
    pg("move", new_id, "Contact")
    pg("pipeline", "add", "Third", "--stages", "One")
    assert pg.scalar("SELECT COUNT(*) FROM lead") == 26
    # the SQLite file is left as it was
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 25


def test_refuses_a_database_that_is_not_empty(cli, db_path, pg_url):
    cli("add-lead", "One")
    cli("db", "migrate-to", pg_url)
    cli("add-lead", "Two")
    result = cli("db", "migrate-to", pg_url, ok=False)
    assert result.exit_code == 1
    assert "not empty" in result.stderr and result.stderr.count("\n") == 1
    assert Cli(pg_url).scalar("SELECT COUNT(*) FROM lead") == 1  # unchanged


def test_refuses_a_target_that_is_not_a_url(cli, tmp_path):
    cli("add-lead", "One")
    result = cli("db", "migrate-to", str(tmp_path / "other.db"), ok=False)
    assert result.exit_code == 1 and "needs a database URL" in result.stderr
    assert not (tmp_path / "other.db").exists()


def test_unreachable_server_is_one_line(cli):
    cli("add-lead", "One")
    result = cli("db", "migrate-to", "postgresql://nobody@127.0.0.1:1/none", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1
