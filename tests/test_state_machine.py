"""A hypothesis state machine over pipecli's writes (issue 19): random interleavings of add-lead, move,
edit, log, delete, commands that must fail, and undo, on both backends. After every step:

- the stored leads are the model's (name, stage, status, value, owner, activity count): counts match;
- the events replay to every cached column (`history.verify`), and no row is an orphan of a lead;
- on SQLite, the file passes `integrity_check` and `foreign_key_check`;
- a failed command exits 1 or 2 with one line and leaves every table as it was;
- `undo` of the newest command not yet undone gives back the model from before it.

`import` is one of the steps: a small CSV, keyed by external id (new keys insert, known ones update the
lead's name, value, owner and stage, a key twice in one file updates what its first row added) or not
(every row a new lead), sometimes with a bad row, which makes the whole import fail and change nothing.

PIPECLI_MACHINE_EXAMPLES / PIPECLI_MACHINE_STEPS for a longer hunt; the suite keeps it under a minute.
"""

from __future__ import annotations

import copy
import itertools
import json
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from pipecli.store.schema import lead_tables

EXAMPLES = int(os.environ.get("PIPECLI_MACHINE_EXAMPLES", "4"))
STEPS = int(os.environ.get("PIPECLI_MACHINE_STEPS", "14"))
MACHINE = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OWNERS = ["marco", "giulia", None]
KINDS = ["call", "email", "meeting", "note"]
# commands that must fail, whatever the state: (args with {lead}, needs a lead)
FAILING = [
    (["move", "{lead}", "Nowhere"], True),
    (["edit", "{lead}", "--value", "-5"], True),
    (["log", "{lead}", "teleport"], True),
    (["edit", "{lead}", "--expected-close", "yesterday-ish"], True),
    (["move", "999999", "won"], False),
    (["add-lead", "Bad", "--value", "12,3,4"], False),  # was read as 1234 (money.py)
]
IMPORT_KEYS = ["K1", "K2", "K3"]
IMPORT_STAGES = ["Prospecting", "Contact", "Proposal", "won"]
# an import row: (key index, value in euros, owner, stage, a note)
IMPORT_ROW = st.tuples(
    st.integers(0, len(IMPORT_KEYS) - 1),
    st.integers(0, 5000),
    st.sampled_from(OWNERS),
    st.sampled_from(IMPORT_STAGES),
    st.booleans(),
)


class Pipeline(RuleBasedStateMachine):
    """One fresh database per example; the model is {lead id: what the lead should hold}."""

    def __init__(self, make_db, drop_db, tmp_path):
        # local: the conftest module is pytest's, imported once the test runs
        from conftest import Cli

        super().__init__()
        self.drop_db, self.tmp_path = drop_db, tmp_path
        self.db = make_db()
        self.cli = Cli(self.db)
        self.cli("db", "init")  # a read never creates a database: each example starts from a made one
        self.model: dict[int, dict] = {}
        self.undoable: list[tuple[int, dict]] = []  # (journal entry, the model before it), newest last
        self.clock = itertools.count(1)
        self.names = itertools.count(1)
        self.kinds: dict[str, str] = {}

    @initialize()
    def stages(self):
        shown = json.loads(self.run("pipeline", "show", "--format", "json").stdout)
        self.kinds = {s["stage"]: s["kind"] for s in shown}
        self.first = shown[0]["stage"]

    def teardown(self):
        self.drop_db(self.db)

    # -- running commands --

    def run(self, *args, ok=True):
        hour = next(self.clock)
        os.environ["PIPECLI_NOW"] = f"2026-11-{1 + hour // 24:02d} {hour % 24:02d}:00"
        return self.cli(*map(str, args), ok=ok)

    def newest_entry(self) -> int | None:
        entries = json.loads(self.run("undo", "--list", "--limit", "1", "--format", "json").stdout)
        return entries[0]["id"] if entries else None

    def change(self, *args) -> bool:
        """Run a command that should succeed; remember it for undo. Return False when it was refused (one
        line, nothing changed: then the model stays as it is)."""
        before_model, before_rows, last = copy.deepcopy(self.model), self.cli.every_row(), self.newest_entry()
        result = self.run(*args, ok=False)
        if result.exit_code != 0:
            self.refused(result, before_rows, args)
            return False
        entry = self.newest_entry()
        if entry != last:
            self.undoable.append((entry, before_model))
        return True

    def refused(self, result, before_rows, args):
        assert result.exit_code in (1, 2), (args, result.exit_code, result.output, result.exception)
        if result.exit_code == 2:  # a usage error (a value not among the choices): `pipecli CMD: ... -h for help)`
            assert result.stderr.startswith(f"pipecli {args[0]}"), (args, result.stderr)
            assert result.stderr.endswith(" -h for help)\n") and result.stderr.count("\n") == 1, (args, result.stderr)
        else:
            assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1, (args, result.stderr)
        assert self.cli.every_row() == before_rows, f"a failed command changed the database: {args}"

    def pick(self, n: int) -> int | None:
        ids = sorted(self.model)
        return ids[n % len(ids)] if ids else None

    # -- rules --

    @rule(value=st.one_of(st.none(), st.integers(0, 10**6)), owner=st.sampled_from(OWNERS), note=st.booleans())
    def add(self, value, owner, note):
        name = f"Lead {next(self.names)}"
        args = ["add-lead", name]
        args += ["--value", value] if value is not None else []
        args += ["--owner", owner] if owner else []
        args += ["--note", "first contact"] if note else []
        assert self.change(*args)
        lead = int(self.cli.scalar("SELECT MAX(id) FROM lead"))
        self.model[lead] = {
            "name": name,
            "stage": self.first,
            "value": None if value is None else value * 100,  # EUR: minor units
            "owner": owner,
            "activities": int(note),
            "external_id": None,
        }

    @rule(rows=st.lists(IMPORT_ROW, min_size=1, max_size=4), keyed=st.booleans(), bad=st.sampled_from([0, 0, 1]))
    def import_csv(self, rows, keyed, bad):
        if bad:  # a negative value: the row is invalid, and the import with it
            rows = [*rows[:-1], (rows[-1][0], -5, *rows[-1][2:])]
        names = [f"Imported {next(self.names)}" for _ in rows]
        lines = ["name,external_id,value,owner,stage,note"]
        for name, (k, value, owner, stage, note) in zip(names, rows):
            key = IMPORT_KEYS[k] if keyed else ""
            lines.append(f"{name},{key},{value},{owner or ''},{stage},{'imported' if note else ''}")
        path = self.tmp_path / f"import-{next(self.names)}.csv"
        path.write_text("\n".join(lines) + "\n")
        args = ["import", path] + (["--key", "external_id"] if keyed else [])
        before_model, before_rows, last = copy.deepcopy(self.model), self.cli.every_row(), self.newest_entry()
        result = self.run(*args, ok=False)
        if any(value < 0 for _, value, _, _, _ in rows):  # a bad row: the whole import fails, nothing changes
            assert result.exit_code == 1, (args, result.output, result.exception)
            said = result.stderr.strip().splitlines()
            assert said[-1].startswith("pipecli: ") and "nothing was imported" in said[-1], result.stderr
            assert self.cli.every_row() == before_rows, "a failed import changed the database"
            return
        assert result.exit_code == 0, (args, result.output, result.exception)
        entry = self.newest_entry()
        if entry != last:
            self.undoable.append((entry, before_model))
        by_key = {m["external_id"]: lead for lead, m in self.model.items() if m["external_id"]}
        new: dict[str, dict] = {}
        for name, (k, value, owner, stage, note) in zip(names, rows):
            fields = {"name": name, "stage": stage, "value": value * 100, "owner": owner}
            key = IMPORT_KEYS[k] if keyed else None
            if key in by_key:
                self.model[by_key[key]].update(fields)
            elif key in new:
                new[key].update(fields)
            else:
                new[key or name] = {**fields, "activities": int(note), "external_id": key}
        for made in new.values():
            lead = self.cli.scalar("SELECT id FROM lead WHERE name = :n", n=made["name"])
            self.model[int(lead)] = made

    @rule(n=st.integers(0, 50), stage=st.sampled_from(["Contact", "Qualification", "Proposal", "won", "lost"]))
    def move(self, n, stage):
        lead = self.pick(n)
        if lead is None or stage not in self.kinds:
            return
        args = ["move", lead, stage] + (["--reason", "price"] if stage == "lost" else [])
        if self.change(*args):
            self.model[lead]["stage"] = stage
        else:
            assert self.model[lead]["stage"] == stage, f"move {lead} {stage} refused from another stage"

    @rule(n=st.integers(0, 50), value=st.integers(0, 10**5), owner=st.sampled_from(OWNERS))
    def edit(self, n, value, owner):
        lead = self.pick(n)
        if lead is None:
            return
        assert self.change("edit", lead, "--value", value, "--owner", owner or "")
        self.model[lead].update(value=value * 100, owner=owner)

    @rule(n=st.integers(0, 50), kind=st.sampled_from(KINDS))
    def log(self, n, kind):
        lead = self.pick(n)
        if lead is None:
            return
        assert self.change("log", lead, kind, "--note", f"{kind} {n}")
        self.model[lead]["activities"] += 1

    @rule(n=st.integers(0, 50))
    def delete(self, n):
        lead = self.pick(n)
        if lead is None:
            return
        assert self.change("delete", lead, "--yes")
        del self.model[lead]

    @rule(n=st.integers(0, 50), which=st.sampled_from(FAILING))
    def fail(self, n, which):
        args, needs_lead = which
        lead = self.pick(n)
        if needs_lead and lead is None:
            return
        before = self.cli.every_row()
        result = self.run(*[str(a).format(lead=lead) for a in args], ok=False)
        self.refused(result, before, args)

    @rule()
    def undo(self):
        if not self.undoable:
            return
        entry, before = self.undoable.pop()
        self.run("undo", entry, "--yes")
        self.model = before

    # -- invariants --

    @invariant()
    def the_database_is_the_model_and_replays_from_its_history(self):
        # local like test_history's own use of it: the replay is the core's
        from pipecli import history

        store = self.cli.store()
        try:
            with store.read() as conn:
                assert history.verify(conn) == []
                rows = conn.execute(
                    text(
                        "SELECT l.id, l.name, s.name, s.kind, l.status, l.value_minor, l.owner,"
                        " (SELECT COUNT(*) FROM activity a WHERE a.lead_id = l.id), l.external_id FROM lead l"
                        " JOIN stage s ON s.id = l.stage_id"
                    )
                ).all()
                for table in lead_tables():
                    orphans = conn.execute(
                        text(f"SELECT COUNT(*) FROM {table} WHERE lead_id NOT IN (SELECT id FROM lead)")
                    ).scalar_one()
                    assert orphans == 0, table
                if conn.dialect.name == "sqlite":
                    assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                    assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        finally:
            store.dispose()
        stored = {
            r[0]: {"name": r[1], "stage": r[2], "value": r[5], "owner": r[6], "activities": r[7], "external_id": r[8]}
            for r in rows
        }
        assert stored == self.model
        for r in rows:  # a lead's status is its stage's kind
            assert r[4] == r[3], r


def test_random_command_sequences_keep_every_invariant(backend, tmp_path, request):
    numbers = itertools.count()
    if backend == "sqlite":

        def make_db():
            return str(tmp_path / f"machine-{next(numbers)}.db")

        def drop_db(db):
            pass
    else:
        server = request.getfixturevalue("pg_server")

        def make_db():
            return server.url_of(server.fresh())

        def drop_db(db):
            server.drop(db.rsplit("/", 1)[1])

    # (each step sets PIPECLI_NOW; conftest's monkeypatch puts the frozen value back after the test)
    run_state_machine_as_test(lambda: Pipeline(make_db, drop_db, tmp_path), settings=MACHINE)
