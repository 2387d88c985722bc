"""A PostgreSQL write aborted for a concurrent one (serialisation failure 40001, deadlock 40P01) runs again.

Two real connections to the real server force the conflict: pipecli's store, and a raw psycopg connection
playing the other seller. `Store.write(work)` rolls the aborted attempt back and runs `work` again from the
start, so exactly one run commits (one journal entry, no event of the aborted attempt); when every attempt
collides, the user gets one line and nothing is changed. Skipped without PIPECLI_TEST_PG_URL.
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Cli
from sqlalchemy import text

from pipecli import leads
from pipecli.errors import PipecliError
from pipecli.pipelines import open_store
from pipecli.store import db


@pytest.fixture
def two(pg_server):
    """Return (a Cli, pipecli's store, a raw psycopg connection) on a fresh database holding leads 1 and 2."""
    import psycopg

    name = pg_server.fresh()
    url = pg_server.url_of(name)
    cli = Cli(url)
    cli("add-lead", "Acme")
    cli("add-lead", "Beta")
    store = open_store(url)
    other = psycopg.connect(url)
    try:
        yield cli, store, other
    finally:
        other.close()
        store.dispose()
        pg_server.drop(name)


def test_a_serialisation_failure_runs_the_write_again_and_it_commits_once(two):
    cli, store, other = two
    journals = cli.scalar("SELECT COUNT(*) FROM journal")
    attempts = []

    def work(conn):
        attempts.append(len(attempts) + 1)
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute(text("SELECT name FROM lead WHERE id = 1")).scalar_one()  # the snapshot is taken here
        if len(attempts) == 1:  # the other seller changes the lead after it, and commits
            other.execute("UPDATE lead SET company = 'Their Co' WHERE id = 1")
            other.commit()
        leads.edit_lead(conn, 1, {"name": "Acme Srl"}, None)  # 40001 on the first attempt
        return len(attempts)

    assert store.write(work) == 2
    assert attempts == [1, 2]
    assert cli.sql("SELECT name, company FROM lead WHERE id = 1") == [("Acme Srl", "Their Co")]  # both writes kept
    assert cli.scalar("SELECT COUNT(*) FROM journal") == journals + 1
    assert cli.sql("SELECT new FROM event WHERE field = 'name' AND lead_id = 1 ORDER BY id")[-1:] == [("Acme Srl",)]
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE field = 'name' AND new = 'Acme Srl'") == 1


def test_a_deadlock_runs_the_write_again(two):
    """pipecli locks lead 2 and waits for lead 1, which the other connection holds; the other then asks for
    lead 2. pipecli waited first, so its deadlock check (deadlock_timeout after it began waiting) finds the
    cycle and the server aborts pipecli's attempt (40P01); the other commits, and the second attempt wins."""
    cli, store, other = two
    other.execute("UPDATE lead SET company = 'Theirs' WHERE id = 1")  # holds lead 1 (not committed)
    attempts = []
    errors: list[BaseException] = []

    def the_other() -> None:
        try:
            time.sleep(0.3)  # pipecli is waiting for lead 1 by now
            other.execute("UPDATE lead SET company = 'Theirs too' WHERE id = 2")  # waits for pipecli's lock
            other.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def work(conn):
        attempts.append(1)
        if len(attempts) == 1:
            threading.Thread(target=the_other).start()
        leads.edit_lead(conn, 2, {"name": "Beta 2"}, None)
        leads.edit_lead(conn, 1, {"name": "Acme 2"}, None)  # waits for the other: the cycle

    store.write(work)
    assert errors == [] and len(attempts) == 2
    assert cli.sql("SELECT id, name, company FROM lead ORDER BY id") == [
        (1, "Acme 2", "Theirs"),
        (2, "Beta 2", "Theirs too"),
    ]
    assert cli.sql("SELECT lead_id, new FROM event WHERE field = 'name' ORDER BY id")[-2:] == [
        (2, "Beta 2"),
        (1, "Acme 2"),
    ]


def test_a_write_that_collides_every_time_is_one_line_and_changes_nothing(two, monkeypatch):
    cli, store, other = two
    monkeypatch.setattr(db, "RETRY_PAUSE", 0.0)
    before = cli.every_row()
    attempts = []

    def work(conn):
        attempts.append(1)
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute(text("SELECT 1 FROM lead WHERE id = 1")).scalar_one()
        other.execute("UPDATE lead SET company = %s WHERE id = 1", (f"Theirs {len(attempts)}",))
        other.commit()
        leads.edit_lead(conn, 1, {"name": "Mine"}, None)

    with pytest.raises(PipecliError) as caught:
        store.write(work)
    assert len(attempts) == db.RETRIES
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("database postgresql://")
    assert message.endswith(
        f"this write collided with a concurrent one {db.RETRIES} times (a serialisation failure: could not"
        " serialize access due to concurrent update); nothing was changed: try again"
    )
    after = cli.every_row()
    assert after["journal"] == before["journal"] and after["event"] == before["event"]
    assert cli.sql("SELECT name, company FROM lead WHERE id = 1") == [("Acme", f"Theirs {db.RETRIES}")]


def test_the_block_form_cannot_run_again_and_says_so_in_one_line(two):
    cli, store, other = two
    with pytest.raises(PipecliError) as caught:
        with store.write() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(text("SELECT 1 FROM lead WHERE id = 1")).scalar_one()
            other.execute("UPDATE lead SET company = 'Theirs' WHERE id = 1")
            other.commit()
            leads.edit_lead(conn, 1, {"name": "Mine"}, None)
    assert str(caught.value).endswith(
        "this write collided with a concurrent one (a serialisation failure: could not serialize access due to"
        " concurrent update); nothing was changed: try again"
    )
    assert cli.sql("SELECT name FROM lead WHERE id = 1") == [("Acme",)]
