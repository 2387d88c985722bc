"""A command that waits for another one's lock waits a bounded time (config `lock_wait`), then fails in one
line, exit 1, the database unchanged (issue 19).

On PostgreSQL the lock is the keyed imports' advisory lock (`sql.KEYED_IMPORT_LOCK`), which `add-lead`
takes for its look for duplicates and its insert; a real second connection holds it, as a running keyed
import does. On SQLite it is the file's write lock (the busy timeout), held by a second connection's
`BEGIN IMMEDIATE`, as another command's write does.
"""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Cli
from sqlalchemy import text
from test_retry import two  # noqa: F401  (the fixture: a Cli, its store, a raw connection; leads 1 and 2)

from pipecli.store import sql


@pytest.fixture
def wait_one_second(tmp_path):
    (tmp_path / "config.toml").write_text("lock_wait = 1\n")


def test_add_lead_behind_a_keyed_import_gives_up_after_lock_wait(two, wait_one_second):  # noqa: F811
    cli, _store, other = two
    before = cli.every_row()
    other.execute("SELECT pg_advisory_xact_lock(%s)", (sql.KEYED_IMPORT_LOCK,))  # held until it commits
    started = time.monotonic()
    result = cli("add-lead", "Gamma", "--email", "gamma@example.com", ok=False)
    waited = time.monotonic() - started
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "pipecli: gave up after waiting 1s for a keyed import (`import --key`) or an add-lead running on this"
        " database to finish (config `lock_wait` sets how long to wait); nothing was changed: try again"
    ]
    assert result.stdout == ""
    assert waited >= 0.9  # it did wait; and it came back (the default would have been 30 s)
    assert cli.every_row() == before
    other.commit()  # the import ends: the same command now goes through
    assert int(cli("add-lead", "Gamma", "--email", "gamma@example.com").stdout) == 3
    assert cli.sql("SELECT id, name FROM lead ORDER BY id") == [(1, "Acme"), (2, "Beta"), (3, "Gamma")]


def test_a_lock_freed_within_lock_wait_is_taken_and_the_transaction_keeps_its_own_lock_timeout(two):  # noqa: F811
    _cli, store, other = two
    other.execute("SELECT pg_advisory_xact_lock(%s)", (sql.KEYED_IMPORT_LOCK,))
    threading.Timer(0.5, other.commit).start()  # the import ends half a second later
    with store.write() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '7s'"))
        started = time.monotonic()
        sql.serialise(conn, sql.KEYED_IMPORT_LOCK, lambda: 20.0)
        assert time.monotonic() - started >= 0.4  # it waited for the other to commit
        assert conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one() == "7s"
        held = conn.execute(
            text(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :n AND granted"
                " AND pid = pg_backend_pid()"  # advisory locks of other tests' databases are in pg_locks too
            ),
            {"n": sql.KEYED_IMPORT_LOCK},
        ).scalar_one()
        assert held == 1


@pytest.mark.sqlite_only
def test_a_write_behind_another_writer_on_sqlite_gives_up_after_lock_wait(tmp_path, wait_one_second):
    import sqlite3

    path = tmp_path / "p.db"
    cli = Cli(str(path))
    cli("add-lead", "Acme")
    before = cli.every_row()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another command's write transaction
        for args in (["add-lead", "Beta"], ["edit", "1", "--value", "5"]):
            result = cli(*args, ok=False)
            assert result.exit_code == 1, args
            assert result.stderr.strip().splitlines() == [
                f"pipecli: database {path} stayed busy for 1s (another command was writing to it; config"
                " `lock_wait` sets how long to wait): nothing was changed; try again"
            ], args
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert cli.every_row() == before


def test_lock_wait_must_be_a_positive_number(tmp_path):
    (tmp_path / "config.toml").write_text("lock_wait = 0\n")
    result = Cli(str(tmp_path / "p.db"))("add-lead", "Acme", ok=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lock_wait" in lines[0] and "above 0" in lines[0], lines
    assert not (tmp_path / "p.db").exists()


def test_a_server_that_never_answers_is_given_up_after_connect_timeout(tmp_path):
    """A TCP port that accepts connections and never says a word (a hung server, a wrong port behind a
    proxy): the command gives up after config `connect_timeout` seconds with one line, exit 1."""
    import socket

    (tmp_path / "config.toml").write_text("connect_timeout = 2\n")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    url = f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/pipecli"
    try:
        started = time.monotonic()
        result = Cli(url)("list", ok=False)
        waited = time.monotonic() - started
    finally:
        silent.close()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"pipecli: cannot connect to database {url}: the server did not answer within 2s (config"
        " `connect_timeout`); is it up and reachable? Nothing was changed"
    ]
    assert 1.5 <= waited < 10  # the configured wait, not the default 10 s nor forever
