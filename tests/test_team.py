"""A team on one database, on both backends (the real PostgreSQL server when PIPECLI_TEST_PG_URL is set).

- Several sellers writing at once, each a real process: every write lands (no lost updates), nothing
  surfaces a deadlock or serialisation error, every change is journalled under its seller, and the events
  replay to exactly the stored rows (`history.verify`).
- SQL injection through every free-text option (names, search, stage, owner, source, notes, settings):
  a filter finds nothing or is refused in one line, a write stores the text as typed, and nothing else in
  the database changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_concurrency import DRIVER

ROOT = Path(__file__).resolve().parents[1]
SELLERS = ("anna", "marco", "lucia")
ROUNDS = 6

# DRIVER: one seller at work, pipecli commands one after the other in one process ("$id": the last add-lead's id)


def seller_ops(name: str, shared: int) -> list[list[str]]:
    """Each round: add an own lead, price it, move it, log a call on it and on the lead everyone works."""
    ops = []
    for i in range(ROUNDS):
        ops += [
            ["add-lead", f"{name} deal {i}", "--owner", name],
            ["edit", "$id", "--value", str(1000 * (i + 1))],
            ["move", "$id", "Contact"],
            ["log", "$id", "call", "--note", f"{name} {i}"],
            ["log", str(shared), "email", "--note", f"{name} on shared {i}"],
        ]
    return ops


def test_sellers_writing_at_once_lose_nothing_and_each_change_names_its_seller(cli):
    shared = int(cli("add-lead", "Shared Account", "--owner", "lucia").stdout)
    procs = []
    for name in SELLERS:
        env = {**os.environ, "PIPECLI_USER": name}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", DRIVER, cli.db, json.dumps(seller_ops(name, shared))],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = {}
    for name, proc in zip(SELLERS, procs, strict=True):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        results[name] = json.loads(out)

    for name, runs in results.items():
        for args, code, _out, err in runs:
            assert code == 0, f"{name}: pipecli {' '.join(args)} exited {code}: {err}"
            assert "deadlock" not in err.lower() and "serializ" not in err.lower()
    for name in SELLERS:
        rows = cli.sql(
            "SELECT name, value_minor, owner FROM lead WHERE owner = :o AND name LIKE :p ORDER BY id",
            o=name,
            p=f"{name} deal %",
        )
        # every round's lead, priced at its round's value (1000 * (i + 1) in minor units of 100 per unit)
        assert rows == [(f"{name} deal {i}", 100_000 * (i + 1), name) for i in range(ROUNDS)]
        moved = cli.scalar(
            "SELECT COUNT(*) FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.owner = :o AND s.name = 'Contact'",
            o=name,
        )
        assert moved == ROUNDS
        authored = cli.scalar(
            "SELECT COUNT(DISTINCT j.id) FROM journal j JOIN event e ON e.journal_id = j.id WHERE j.actor = :o",
            o=name,
        )
        assert authored == len(seller_ops(name, shared))  # one journal entry per command, under its seller
    on_shared = cli.sql("SELECT note FROM activity WHERE lead_id = :l ORDER BY note", l=shared)
    assert on_shared == sorted((f"{n} on shared {i}",) for n in SELLERS for i in range(ROUNDS))
    last = cli.scalar("SELECT last_activity_at FROM lead WHERE id = :l", l=shared)
    assert last == cli.scalar("SELECT MAX(at) FROM activity WHERE lead_id = :l", l=shared)
    from pipecli import history

    store = cli.store()
    try:
        with store.read() as conn:
            assert history.verify(conn) == []
    finally:
        store.dispose()


PAYLOADS = (
    "x'); DROP TABLE lead; --",
    "' OR '1'='1",
    "%' OR 1=1 --",
    'a"; DELETE FROM setting; --',
    "Robert'); UPDATE lead SET value_minor = 0 WHERE ('1'='1",
)


def everything(cli) -> dict[str, list]:
    """Every row of every table, for comparing the database before and after."""
    from pipecli.store.schema import tables

    return {t.name: sorted(map(repr, cli.sql(f"SELECT * FROM {t.name}"))) for t in tables()}


def added(before: dict[str, list], after: dict[str, list]) -> dict[str, set]:
    """Return the rows `after` holds beyond `before`, per table, after checking that no row of `before` is gone."""
    for table, rows in before.items():
        missing = set(rows) - set(after[table])
        assert not missing, f"{table}: rows changed or gone: {missing}"
    return {t: set(after[t]) - set(before[t]) for t in after if set(after[t]) - set(before[t])}


@pytest.fixture
def team(cli, monkeypatch):
    """A database with two sellers' leads and a shared setting; returns (cli, a lead id)."""
    monkeypatch.setenv("PIPECLI_USER", "anna")
    cli("settings", "set", "scoring.hot_threshold", "40")
    lead = int(cli("add-lead", "Acme", "--owner", "anna", "--value", "4500.50", "--company", "Acme Srl").stdout)
    cli("add-lead", "Beta", "--owner", "marco", "--value", "900", "--source", "web")
    return cli, lead


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_through_filters_and_references_changes_nothing(team, payload):
    cli, lead = team
    before = everything(cli)
    for args in (
        ["list", "--search", payload],
        ["list", "--owner", payload],
        ["list", "--source", payload],
        ["list", "--stage", payload],
        ["show", payload],
        ["move", str(lead), payload],
        ["history", payload],
        ["settings", "get", payload],
        ["settings", "set", payload, "1"],
        ["settings", "unset", payload],
        ["export", "--format", "json", "--owner", payload],
        ["export", "--format", "json", "--stage", payload],
    ):
        result = cli(*args, "--format", "json", ok=False) if args[0] == "list" else cli(*args, ok=False)
        assert "Traceback" not in result.stderr and "syntax error" not in result.stderr.lower(), (args, result.stderr)
        if result.exit_code == 0:
            assert json.loads(result.stdout or "[]") == [], (args, result.stdout)
        else:
            assert result.exit_code in (1, 2) and len(result.stderr.strip().splitlines()) <= 10, (args, result.stderr)
    assert everything(cli) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_through_written_text_is_stored_as_typed(team, payload):
    cli, _lead = team
    before = everything(cli)
    new = int(cli("add-lead", payload, "--company", payload, "--owner", payload, "--source", payload).stdout)
    assert cli.sql("SELECT name, company, owner, source FROM lead WHERE id = :i", i=new) == [(payload,) * 4]
    cli("log", new, "note", "--note", payload)
    assert cli.sql("SELECT note FROM activity WHERE lead_id = :i", i=new) == [(payload,)]
    cli("settings", "set", "currency", payload, ok=False)  # refused: not a currency
    cli("pipeline", "add", payload, "--stages", "One,Two")
    assert cli.scalar("SELECT COUNT(*) FROM pipeline WHERE name = :n", n=payload) == 1
    grown = added(before, everything(cli))  # nothing there before was changed or removed
    assert set(grown) <= {"lead", "stage_change", "activity", "journal", "event", "pipeline", "stage"}
    assert len(grown["lead"]) == 1 and len(grown["pipeline"]) == 1
    assert cli.sql("SELECT key, value FROM setting") == [("scoring.hot_threshold", "40.0")]
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 3
    assert cli.scalar("SELECT SUM(value_minor) FROM lead") == 450050 + 90000


def test_on_postgresql_an_unnamed_author_is_the_database_role(cli, monkeypatch, backend):
    monkeypatch.delenv("PIPECLI_USER", raising=False)
    cli("settings", "set", "forecast.seed", "3")
    actor, role = cli.sql("SELECT actor, db_role FROM journal ORDER BY id DESC LIMIT 1")[0]
    set_by = cli.scalar("SELECT set_by FROM setting WHERE key = 'forecast.seed'")
    if backend == "postgresql":
        assert actor == role == set_by == cli.scalar("SELECT current_user")
    else:
        import getpass

        assert actor == set_by == getpass.getuser() and role is None
