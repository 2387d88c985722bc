"""The write commands beyond add-lead, move, edit and log run again when PostgreSQL aborts them for a
concurrent write (`Store.write(work)`), through the command line.

The conflict is real: pipecli's connections run SERIALIZABLE (`PGOPTIONS`, read by libpq), and just before
the command's first write to the lead table another connection changes the lead and commits, after the
command's snapshot was taken. The server then aborts the command's transaction (40001); the command runs
again from the start and commits once: both changes kept, one journal entry, exit 0. With a single attempt
(`RETRIES = 1`) the same collision is the one-line error and nothing is changed, which shows the collision
happens. Skipped without PIPECLI_TEST_PG_URL.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, event
from test_retry import two  # noqa: F401  (the fixture: a Cli, its store, a raw connection; leads 1 and 2)

from pipecli.store import db

WRITES_LEAD = re.compile(r"\s*(UPDATE lead\b|SELECT .* FROM lead .*FOR UPDATE)", re.S | re.I)
COMMANDS = {  # a command that changes lead 1, and what it stores there
    "snooze": (["snooze", "1", "--until", "2026-12-20", "--reason", "budget freeze"], "snoozed_until", "2026-12-20"),
    "follow-up": (["follow-up", "1", "2026-12-02", "send proposal"], "next_step", "send proposal"),
    "qualify": (
        ["qualify", "1", "--budget", "yes", "--authority", "yes", "--need", "yes", "--timeline", "yes"],
        "qualification",
        "qualified",
    ),
}


@pytest.fixture
def collide(two, monkeypatch):  # noqa: F811
    """Return (the Cli, the number of collisions forced so far): the other connection changes lead 1 and
    commits just before the first write to the lead of each of pipecli's transactions."""
    cli, _store, other = two
    database = other.info.dbname
    forced: list[int] = []
    state = {"armed": False}

    def before(conn, _cursor, statement, _params, _context, _many) -> None:
        if not state["armed"] or conn.engine.url.database != database or not WRITES_LEAD.match(statement):
            return
        state["armed"] = False  # once per test: the second attempt goes through
        forced.append(1)
        other.execute("UPDATE lead SET company = 'Theirs' WHERE id = 1")
        other.commit()

    monkeypatch.setenv("PGOPTIONS", "-c default_transaction_isolation=serializable")
    event.listen(Engine, "before_cursor_execute", before)
    try:
        yield cli, forced, state
    finally:
        event.remove(Engine, "before_cursor_execute", before)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_aborted_by_a_serialisation_failure_runs_again(collide, command):
    cli, forced, state = collide
    args, column, stored = COMMANDS[command]
    journals = cli.scalar("SELECT COUNT(*) FROM journal")
    state["armed"] = True
    result = cli(*args, ok=False)
    assert forced == [1]  # the other connection did change the lead under the command's snapshot
    assert result.exit_code == 0, result.stderr
    assert "collided" not in result.stderr
    assert cli.sql(f"SELECT company, CAST({column} AS TEXT) FROM lead WHERE id = 1") == [("Theirs", stored)]
    assert cli.scalar("SELECT COUNT(*) FROM journal") == journals + 1  # the aborted attempt left nothing


def test_with_one_attempt_the_same_collision_is_one_line_and_changes_nothing(collide, monkeypatch):
    cli, forced, state = collide
    monkeypatch.setattr(db, "RETRIES", 1)
    before = cli.every_row()
    state["armed"] = True
    result = cli(*COMMANDS["snooze"][0], ok=False)
    assert forced == [1]
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"pipecli: database {cli.db}: this write collided with a concurrent one (a serialisation failure:"
        " could not serialize access due to concurrent update); nothing was changed: try again"
    ]
    after = cli.every_row()
    assert after["lead"] != before["lead"]  # the other's change, and only that
    assert [r for r in after["lead"] if r[0] != 1] == [r for r in before["lead"] if r[0] != 1]
    assert {k: v for k, v in after.items() if k != "lead"} == {k: v for k, v in before.items() if k != "lead"}
    assert cli.sql("SELECT company, snoozed_until FROM lead WHERE id = 1") == [("Theirs", None)]
