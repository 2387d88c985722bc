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

from pipecli.store.migrations import LATEST

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


# --- users and access on PostgreSQL (`pipecli team`, row-level security) ----------------------------------

TEAM_SECONDS = 30
ROLE_NUMBERS = iter(range(1, 10_000))


def url_as(url: str, role: str) -> str:
    """Return `url` connecting as database role `role` (the test server trusts local connections)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=role).render_as_string(hide_password=False)


class Team:
    """A fresh PostgreSQL database (owned by the test role, which runs `team add`) and the names of the roles
    the test creates there: `owner` is a Cli as the database owner, `as_(name)` one as a member."""

    def __init__(self, server):
        self.server = server
        self.db = server.fresh()
        self.url = server.url_of(self.db)
        self.owner = Cli(self.url)
        tag = f"{os.getpid()}_{next(ROLE_NUMBERS)}"
        self.anna, self.marco, self.mia = (f"{n}_{tag}" for n in ("anna", "marco", "mia"))

    def as_(self, role: str):
        return Cli(url_as(self.url, role))

    def close(self) -> None:
        self.server.drop(self.db)  # first: a role cannot be dropped while it holds grants in a database
        for role in (self.anna, self.marco, self.mia):
            self.server.admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def pg_team(pg_server):
    """Return a Team with sellers anna and marco and mia managing the Sales pipeline, one lead each seller
    owns (anna's with an activity and an extra field), and a second pipeline no one manages."""
    team = Team(pg_server)
    try:
        owner = team.owner
        owner("pipeline", "add", "Renewals", "--stages", "Due,Signed")
        owner("team", "add", team.anna, "--role", "seller")
        owner("team", "add", team.marco, "--role", "seller")
        owner("team", "add", team.mia, "--role", "manager", "--pipelines", "Sales")
        team.anna_lead = int(owner("add-lead", "Anna's Deal", "--owner", team.anna, "--value", "1000").stdout)
        owner("log", team.anna_lead, "call", "--note", "anna's secret note")
        team.marco_lead = int(owner("add-lead", "Marco's Deal", "--owner", team.marco, "--value", "2000").stdout)
        team.renewal = int(owner("add-lead", "Renewal Co", "--owner", team.marco, "--pipeline", "Renewals").stdout)
        yield team
    finally:
        team.close()


from conftest import Cli  # noqa: E402  (the Cli of conftest, bound to another role's URL)


def test_team_on_sqlite_is_refused_in_one_line(tmp_path):
    sqlite = Cli(str(tmp_path / "p.db"))
    sqlite("db", "init")
    result = sqlite("team", "list", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "pipecli: a team needs a PostgreSQL database: on SQLite the file's permissions are the access control"
        " (share it through a group-writable folder, or move it with `pipecli db migrate-to postgresql://...`)"
    ]


def test_team_add_list_remove(pg_team):
    t, owner = pg_team, pg_team.owner
    listed = json.loads(owner("team", "list", "--format", "json").stdout)
    assert [(m["name"], m["role"], m["pipelines"], m["created_role"], m["role_exists"]) for m in listed] == sorted(
        [
            (t.anna, "seller", [], True, True),
            (t.marco, "seller", [], True, True),
            (t.mia, "manager", ["Sales"], True, True),
        ]
    )
    again = owner("team", "add", t.anna, "--role", "seller", ok=False)
    assert again.exit_code == 1 and "already a member" in again.stderr
    boss = owner("team", "add", "eve_nobody", "--role", "boss", ok=False)
    assert boss.exit_code == 2, boss.output  # a fixed set's bad value is a usage error, as on every command
    assert boss.stderr.splitlines() == ["pipecli: --role must be one of seller, manager, admin, not 'boss'"]
    assert owner.scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = 'eve_nobody'") == 0
    bad = owner("team", "add", "Robert'); DROP TABLE lead; --", "--role", "seller", ok=False)
    assert bad.exit_code == 1 and "cannot be a team member's database role" in bad.stderr
    refused = t.as_(t.anna)("team", "add", "eve_nobody", "--role", "admin", ok=False)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        f"pipecli: permission denied: seller {t.anna} may not change the team: only a team admin may; nothing was changed"
    )
    assert owner.scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = 'eve_nobody'") == 0
    owner("team", "remove", t.mia)
    assert owner.scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = :r", r=t.mia) == 0
    assert [m["name"] for m in json.loads(owner("team", "list", "--format", "json").stdout)] == [t.anna, t.marco]


def test_owner_names_a_member_and_a_sellers_lead_is_their_own(pg_team):
    t = pg_team
    unknown = t.owner("add-lead", "Someone", "--owner", "bob", ok=False)
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == (
        f"pipecli: --owner bob is not a member of the team (members: {t.anna}, {t.marco}, {t.mia}); see `pipecli team list`"
    )
    anna = t.as_(t.anna)
    mine = int(anna("add-lead", "Her New Deal").stdout)
    assert t.owner.scalar("SELECT owner FROM lead WHERE id = :i", i=mine) == t.anna
    away = anna("add-lead", "For Marco", "--owner", t.marco, ok=False)
    assert away.exit_code == 1 and f"seller {t.anna} may not give a lead to {t.marco}" in away.stderr
    listed = json.loads(anna("list", "--mine", "--format", "json").stdout)
    assert [row["id"] for row in listed] == [t.anna_lead, mine]


def test_a_seller_sees_and_changes_only_their_leads(pg_team):
    t = pg_team
    anna = t.as_(t.anna)
    before = t.owner.every_row()
    assert [r["id"] for r in json.loads(anna("list", "--format", "json").stdout)] == [t.anna_lead]
    exported = json.loads(anna("export", "--format", "json").stdout)
    assert [(r["id"], r["owner"]) for r in exported] == [(t.anna_lead, t.anna)]
    exported = json.loads(anna("export", "--format", "json", "--what", "activities").stdout)
    assert {r["lead_id"] for r in exported} == {t.anna_lead}
    denied = f"permission denied: seller {t.anna} may not change lead {t.marco_lead} (owned by {t.marco}); nothing was changed"
    for args in (
        ["edit", t.marco_lead, "--value", "1"],
        ["move", t.marco_lead, "Contact"],
        ["log", t.marco_lead, "call", "--note", "sneaky"],
        ["delete", t.marco_lead, "--yes"],
        ["qualify", t.marco_lead, "--budget", "yes"],
        ["snooze", t.marco_lead, "--until", "2026-12-20"],
    ):
        result = anna(*args, ok=False)
        assert result.exit_code == 1, (args, result.stdout)
        assert result.stderr.strip() == f"pipecli: {denied}", args
    shown = anna("show", t.marco_lead, ok=False)
    assert shown.exit_code == 1 and f"may not see lead {t.marco_lead} (owned by {t.marco})" in shown.stderr
    for args, what in (
        (["settings", "set", "scoring.hot_threshold", "10"], "change settings"),
        (["pipeline", "add", "Mine", "--stages", "A,B"], "pipeline table"),
        (["pipeline", "rename", "Sales", "Mine"], "pipeline table"),
    ):
        result = anna(*args, ok=False)
        assert result.exit_code == 1 and "permission denied" in result.stderr and what in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert t.owner.every_row() == before


def test_a_manager_sees_the_pipelines_they_manage(pg_team):
    t = pg_team
    mia = t.as_(t.mia)
    assert [r["id"] for r in json.loads(mia("list", "--format", "json").stdout)] == [t.anna_lead, t.marco_lead]
    mia("edit", t.marco_lead, "--owner", t.anna)  # a manager hands leads over
    assert t.owner.scalar("SELECT owner FROM lead WHERE id = :i", i=t.marco_lead) == t.anna
    result = mia("edit", t.renewal, "--value", "5", ok=False)
    assert result.exit_code == 1
    assert f"manager {t.mia} may not change lead {t.renewal} (in pipeline Renewals, which {t.mia} does not manage)" in (
        result.stderr
    )
    assert t.owner.scalar("SELECT value_minor FROM lead WHERE id = :i", i=t.renewal) is None


def test_the_policy_is_in_the_database_for_a_raw_connection(pg_team):
    import psycopg

    t = pg_team
    with psycopg.connect(url_as(t.url, t.anna)) as raw:
        assert raw.execute("SELECT id FROM lead ORDER BY id").fetchall() == [(t.anna_lead,)]
        assert {r[0] for r in raw.execute("SELECT lead_id FROM activity")} <= {t.anna_lead}
        assert raw.execute("SELECT COUNT(*) FROM event WHERE lead_id = %s", (t.marco_lead,)).fetchone() == (0,)
        assert raw.execute("SELECT COUNT(*) FROM stage_change WHERE lead_id = %s", (t.marco_lead,)).fetchone() == (0,)
        assert raw.execute("UPDATE lead SET value_minor = 0").rowcount == 1  # only her own
        raw.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute(
                "INSERT INTO lead (pipeline_id, stage_id, status, name, owner, created_at, stage_entered_at,"
                " last_event_at, furthest_position, fit_score, engagement, score, qualification)"
                " SELECT pipeline_id, stage_id, 'open', 'Planted', %s, 0, 0, 0, 1, 0, 0, 0, 'incomplete'"
                " FROM lead LIMIT 1",
                (t.marco,),
            )
        raw.rollback()
        for statement in (
            "UPDATE team_member SET role = 'admin'",
            "DELETE FROM team_member",
            f'SET ROLE "{t.marco}"',
            "ALTER TABLE lead DISABLE ROW LEVEL SECURITY",
        ):
            with pytest.raises(psycopg.Error):
                raw.execute(statement)
            raw.rollback()
    assert t.owner.scalar("SELECT value_minor FROM lead WHERE id = :i", i=t.anna_lead) == 100_000
    assert t.owner.scalar("SELECT COUNT(*) FROM team_member WHERE role = 'admin'") == 0


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_as_a_seller_does_not_get_past_the_policy(pg_team, payload):
    t = pg_team
    anna = t.as_(t.anna)
    before = t.owner.every_row()
    for args in (
        ["list", "--search", payload, "--format", "json"],
        ["list", "--owner", payload, "--format", "json"],
        ["list", "--stage", payload, "--format", "json"],
        ["export", "--format", "json", "--owner", payload],
        ["show", payload],
        ["history", payload],
        ["edit", payload, "--value", "1"],
        ["settings", "set", payload, "1"],
    ):
        result = anna(*args, ok=False)
        assert "Traceback" not in result.stderr and "syntax error" not in result.stderr.lower(), (args, result.stderr)
        assert "Marco's Deal" not in result.stdout, args
        if result.exit_code == 0:
            assert json.loads(result.stdout or "[]") == [], (args, result.stdout)
    added = anna("add-lead", payload, "--company", payload, "--source", payload, "--note", payload)
    new = int(added.stdout)
    assert t.owner.sql("SELECT name, owner FROM lead WHERE id = :i", i=new) == [(payload, t.anna)]
    assert t.owner.every_row()["team_member"] == before["team_member"]
    assert [r for r in t.owner.every_row()["lead"] if r[0] != new] == before["lead"]


TEAM_DRIVER = """
import json, sys, time
from typer.testing import CliRunner
from pipecli.cli import app
db, me, kind, targets, seconds = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5])
runner, out, i = CliRunner(), [], 0
def run(*args):
    result = runner.invoke(app, ["--db", db, *map(str, args)])
    out.append([list(map(str, args)), result.exit_code, result.stdout, result.stderr])
    return result
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    i += 1
    if kind == "seller":
        lead = run("add-lead", f"{me} deal {i}").stdout.strip()
        run("edit", lead, "--value", 1000 * i)
        run("move", lead, "Contact")
        run("log", lead, "call", "--note", f"{me} {i}")
        run("edit", targets[0], "--value", "1")  # another seller's lead: refused
        run("log", targets[0], "call", "--note", f"{me} crossing {i}")  # refused
    else:
        for lead in targets:
            run("log", lead, "email", "--note", f"{me} {i} on {lead}")
        run("list", "--format", "json")
print(json.dumps(out))
"""


def test_two_sellers_and_a_manager_at_once_stay_apart_and_lose_nothing(pg_team):
    t = pg_team
    plan = {
        t.anna: ("seller", [t.marco_lead]),
        t.marco: ("seller", [t.anna_lead]),
        t.mia: ("manager", [t.anna_lead, t.marco_lead]),
    }
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-c",
                TEAM_DRIVER,
                url_as(t.url, name),
                name,
                kind,
                json.dumps(targets),
                str(TEAM_SECONDS),
            ],
            cwd=ROOT,
            env={**os.environ, "PIPECLI_USER": name},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (kind, targets) in plan.items()
    }
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TEAM_SECONDS * 20)
        assert proc.returncode == 0, err
        runs[name] = json.loads(out)
    owner = t.owner
    for name, (kind, targets) in plan.items():
        for args, code, _out, err in runs[name]:
            assert "deadlock" not in err.lower() and "serializ" not in err.lower(), err
            crossing = kind == "seller" and args[1] == str(targets[0])
            if crossing:
                other = owner.scalar("SELECT owner FROM lead WHERE id = :i", i=targets[0])
                assert code == 1 and err.strip() == (
                    f"pipecli: permission denied: seller {name} may not change lead {targets[0]} (owned by {other});"
                    " nothing was changed"
                ), (args, err)
            else:
                assert code == 0, (name, args, err)
        if kind == "seller":
            rounds = sum(1 for args, *_ in runs[name] if args[0] == "add-lead")
            assert rounds >= 3, f"{name} made only {rounds} rounds in {TEAM_SECONDS}s"
            stored = owner.sql(
                "SELECT l.name, l.value_minor, s.name FROM lead l JOIN stage s ON s.id = l.stage_id"
                " WHERE l.owner = :o AND l.name LIKE :p ORDER BY l.id",
                o=name,
                p=f"{name} deal %",
            )
            done = {args[1] for args, code, *_ in runs[name] if args[0] == "move" and code == 0}
            assert len(stored) == rounds  # a round runs to its end: the deadline is checked between rounds
            for i, (lead_name, value, stage) in enumerate(stored, start=1):
                assert lead_name == f"{name} deal {i}" and value == 100_000 * i and stage == "Contact"
            assert len(done) == rounds
            exported = json.loads(t.as_(name)("export", "--format", "json").stdout)
            owns = owner.scalar("SELECT COUNT(*) FROM lead WHERE owner = :o", o=name)
            assert {r["owner"] for r in exported} == {name} and len(exported) == owns
            crossed = owner.scalar("SELECT COUNT(*) FROM activity WHERE note LIKE :p", p=f"{name} crossing %")
            assert crossed == 0
    assert owner.sql(
        "SELECT id, value_minor FROM lead WHERE id IN (:a, :m) ORDER BY id", a=t.anna_lead, m=t.marco_lead
    ) == [
        (t.anna_lead, 100_000),
        (t.marco_lead, 200_000),
    ]
    logged = sum(1 for args, code, *_ in runs[t.mia] if args[0] == "log" and code == 0)
    assert owner.scalar("SELECT COUNT(*) FROM activity WHERE note LIKE :p", p=f"{t.mia} %") == logged
    for name in (t.anna, t.marco):  # each seller sees the activities (the manager's too) of their own leads only
        notes = json.loads(t.as_(name)("export", "--format", "json", "--what", "activities").stdout)
        theirs = {
            r[0]
            for r in owner.sql(
                "SELECT lead_id FROM activity a JOIN lead l ON l.id = a.lead_id WHERE l.owner = :o", o=name
            )
        }
        assert {r["lead_id"] for r in notes} == theirs and theirs
    from pipecli import history

    store = owner.store()
    try:
        with store.read() as conn:
            assert history.verify(conn) == []
    finally:
        store.dispose()


def test_migration_11_and_migrate_to_put_the_policies_in_place(pg_server, tmp_path):
    """A schema-8 PostgreSQL database gets the team table and the policies when pipecli next opens it; a
    SQLite database copied with `db migrate-to` arrives with them too."""
    policies = (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relrowsecurity ORDER BY c.relname"
    )
    from pipecli.store.schema import lead_tables

    protected = sorted(["lead", "journal", "event", *lead_tables()])  # activities, history, extras, answers, merges
    name = pg_server.fresh()
    try:
        import psycopg

        old = Cli(pg_server.url_of(name))
        with psycopg.connect(pg_server.url_of(name), autocommit=True) as raw:  # pipecli would migrate it back
            for table in protected:
                raw.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            raw.execute("DROP TABLE team_member")
            raw.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
            assert raw.execute(policies).fetchall() == []
        old("list")  # any command brings the schema up to date
        assert [r[0] for r in old.sql(policies)] == protected
        assert old.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)
        assert old.scalar("SELECT COUNT(*) FROM team_member") == 0
    finally:
        pg_server.drop(name)
    source = Cli(str(tmp_path / "p.db"))
    source("add-lead", "Copied", "--owner", "anyone")
    target = pg_server.fresh(with_schema=False)
    try:
        source("db", "migrate-to", pg_server.url_of(target))
        copied = Cli(pg_server.url_of(target))
        assert [r[0] for r in copied.sql(policies)] == protected
        assert copied.sql("SELECT name, owner FROM lead") == [("Copied", "anyone")]  # no team: owner stays free text
    finally:
        pg_server.drop(target)
