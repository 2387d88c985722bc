"""`import`, `mail sync` and `pipecli ui` run a write again when PostgreSQL aborts it for a concurrent one.

The conflict is real, as in test_retry_commands.py: pipecli's connections run SERIALIZABLE (`PGOPTIONS`,
read by libpq) and, just before a chosen statement of pipecli's transaction (after its snapshot was taken),
another connection changes lead 1 and commits. The server then aborts pipecli's transaction (40001) when it
writes lead 1; the write runs again from the start and commits once. With a single attempt (`RETRIES = 1`)
the same collision is the one-line error and nothing of pipecli's is stored, which shows the collision
happens. Skipped without PIPECLI_TEST_PG_URL.

The database: lead 1 Acme (anna@acme.example, 1,000.00 EUR), lead 2 Beta (bo@beta.example).
"""

from __future__ import annotations

import json
import mailbox
import re
from types import SimpleNamespace

import pytest
from conftest import Cli
from sqlalchemy import Engine, event

from pipecli.store import db
from pipecli.store.sql import KEYED_IMPORT_LOCK

ME = "me@seller.example"
NOW = 1_795_856_400  # conftest's FROZEN_NOW, 2026-11-28 09:00 UTC
COLLIDED = (
    "this write collided with a concurrent one (a serialisation failure: could not serialize access due to"
    " concurrent update); nothing was changed: try again"
)


@pytest.fixture
def pg(pg_server, tmp_path, monkeypatch):
    """Return (a Cli on a fresh PostgreSQL database holding leads 1 and 2, the other raw connection)."""
    import psycopg

    (tmp_path / "config.toml").write_text(f'[mail]\naddresses = ["{ME}"]\n')
    name = pg_server.fresh()
    cli = Cli(pg_server.url_of(name))
    cli("add-lead", "Acme", "--email", "anna@acme.example", "--value", "1000")
    cli("add-lead", "Beta", "--email", "bo@beta.example")
    other = psycopg.connect(cli.db)
    try:
        yield cli, other
    finally:
        other.close()
        pg_server.drop(name)


THEIRS = "UPDATE lead SET company = 'Theirs' WHERE id = 1"


class Collision:
    """Before the first statement of pipecli's matching `pattern` once armed, the other connection runs
    `change` (by default: lead 1's company becomes 'Theirs') and commits: `forced` counts the times it did."""

    def __init__(self, other, pattern: str, change: str = THEIRS, params: tuple = (), snapshot: bool = False):
        self.other, self.pattern = other, re.compile(pattern, re.S | re.I)
        self.change, self.params, self.snapshot = change, params, snapshot
        self.database = other.info.dbname
        self.armed, self.forced = True, 0

    def __call__(self, conn, cursor, statement, _params, _context, _many) -> None:
        if not self.armed or conn.engine.url.database != self.database or not self.pattern.match(statement):
            return
        self.armed = False  # once: the next attempt goes through
        self.forced += 1
        if self.snapshot:  # when the statement is the transaction's first: its snapshot is taken before the change
            cursor.execute("SELECT 1")
        self.other.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")  # as pipecli's, seen by SSI
        self.other.execute(self.change, self.params)
        self.other.commit()


@pytest.fixture
def collide(pg, monkeypatch):
    """Return a function arming a `Collision` on statements matching a pattern (removed after the test)."""
    _cli, other = pg
    armed: list[Collision] = []
    monkeypatch.setenv("PGOPTIONS", "-c default_transaction_isolation=serializable")
    monkeypatch.setattr(db, "RETRY_PAUSE", 0.0)

    def arm(pattern: str, change: str = THEIRS, params: tuple = (), snapshot: bool = False) -> Collision:
        collision = Collision(other, pattern, change, params, snapshot)
        event.listen(Engine, "before_cursor_execute", collision)
        armed.append(collision)
        return collision

    yield arm
    for collision in armed:
        event.remove(Engine, "before_cursor_execute", collision)


def others_may_take_the_keyed_import_lock(other) -> bool:
    """Return whether another connection could take the keyed-import lock now (and let it go again)."""
    got = other.execute("SELECT pg_try_advisory_lock(%s)", (KEYED_IMPORT_LOCK,)).fetchone()[0]
    if got:
        other.execute("SELECT pg_advisory_unlock(%s)", (KEYED_IMPORT_LOCK,))
    other.commit()
    return bool(got)


def assert_only_theirs_changed(cli, before, theirs: bool = True) -> None:
    """Assert the database is `before` (every row) but for the other connection's change of lead 1's
    company, when `theirs`."""
    after = cli.every_row()
    if theirs:
        assert cli.sql("SELECT name, company FROM lead WHERE id = 1") == [("Acme", "Theirs")]
        (old,), (new,) = ([r for r in rows["lead"] if r[0] == 1] for rows in (before, after))
        assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [(None, "Theirs")]
        before = {**before, "lead": [new if r[0] == 1 else r for r in before["lead"]]}
    assert after == before


# --- import -------------------------------------------------------------------------------------------

# Acme's row updates lead 1 (name, value); Gamma is new; "lots" is no amount (rejected with --skip-invalid).
KEYED = (
    "name,email,value\nAcme Srl,anna@acme.example,4500.50\nGamma,gil@gamma.example,200\nDelta,dee@delta.example,lots\n"
)


def test_a_keyed_import_aborted_runs_again_from_the_files_start_holding_its_lock(pg, collide, tmp_path, monkeypatch):
    cli, other = pg
    path = tmp_path / "leads.csv"
    path.write_text(KEYED)
    pauses: list[bool] = []  # between the attempts: could another transaction take the keyed-import lock?
    monkeypatch.setattr(
        db, "time", SimpleNamespace(sleep=lambda _s: pauses.append(others_may_take_the_keyed_import_lock(other)))
    )
    journals = cli.scalar("SELECT COUNT(*) FROM journal")
    collision = collide(r"\s*UPDATE lead\b")
    result = cli("import", path, "--key", "email", "--skip-invalid", "--rejects", tmp_path / "bad.csv", ok=False)
    assert collision.forced == 1 and result.exit_code == 0, result.stderr
    assert pauses == [False]  # one pause, the lock held through it
    assert others_may_take_the_keyed_import_lock(other)  # and let go after the import
    # the bad row reported once, though both attempts read it; the counts are the committed attempt's
    errors = [line for line in result.stderr.splitlines() if "lots" in line]
    assert len(errors) == 1 and errors[0].startswith(f"pipecli: {path}: line 4")
    assert f"{path}: 1 inserted, 1 updated, 0 unchanged, 1 rejected" in result.stderr.splitlines()
    assert (tmp_path / "bad.csv").read_text().splitlines() == [  # written once: the retry started it again
        "name,email,value,reason",
        f'Delta,dee@delta.example,lots,"{errors[0].split(": ", 2)[2]}"',
    ]
    assert cli.sql("SELECT name, company, value_minor FROM lead ORDER BY id") == [
        ("Acme Srl", "Theirs", 450050),  # the import's change and the other's, both kept
        ("Beta", None, None),
        ("Gamma", None, 20000),  # once
    ]
    assert cli.scalar("SELECT COUNT(*) FROM journal") == journals + 1
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE field = 'name' AND new = 'Acme Srl'") == 1


REMEMBERED = "UPDATE meta SET value = '2 0' WHERE key LIKE 'imported_file:%%'"


def remembered_with_no_lead(cli, path) -> str:
    """Store that the file at `path` was imported before adding no lead (which refuses no import of it
    again); return its meta key."""
    from pipecli.transfer import importer

    key = "imported_file:" + importer.file_digest(str(path))
    cli.execute("INSERT INTO meta (key, value) VALUES (:k, '1 0')", k=key)
    return key


def test_a_plain_import_aborted_runs_again_and_is_remembered_once(pg, collide, tmp_path):
    """No key: the import inserts, and replaces the file's meta row `imported_file:<digest>` (an earlier
    import of the same bytes that added no lead). The other connection changes that row after the import's
    snapshot, so the import's replacing it collides (40001); the retry inserts the leads and remembers the
    file once."""
    cli, _other = pg
    path = tmp_path / "new.csv"
    path.write_text("name,email\nGamma,gil@gamma.example\nDelta,dee@delta.example\n")
    key = remembered_with_no_lead(cli, path)
    collision = collide(r"\s*INSERT INTO lead\b", REMEMBERED)
    result = cli("import", path, ok=False)
    assert collision.forced == 1 and result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"{path}: 2 inserted, 0 updated, 0 unchanged, 0 rejected"
    assert cli.sql("SELECT name FROM lead ORDER BY id") == [("Acme",), ("Beta",), ("Gamma",), ("Delta",)]
    assert cli.sql("SELECT value FROM meta WHERE key = :k", k=key) == [(f"{NOW} 2",)]  # the import's, once


def test_stdin_is_kept_in_a_temporary_file_and_read_again(pg, collide):
    cli, _other = pg
    collision = collide(r"\s*UPDATE lead\b")
    result = cli(
        "import", "-", "--key", "email", input="name,email,value\nAcme Srl,anna@acme.example,4500.50\n", ok=False
    )
    assert collision.forced == 1 and result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == ["stdin: 0 inserted, 1 updated, 0 unchanged, 0 rejected"]
    assert cli.sql("SELECT name, company, value_minor FROM lead WHERE id = 1") == [("Acme Srl", "Theirs", 450050)]


STDIN_ROWS = "name,email,value\nAcme Srl,anna@acme.example,4500.50\nGamma,gil@gamma.example,200\n"


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(("UPDATE lead", THEIRS, ["import", "-", "--key", "email"]), id="keyed-stdin"),
        pytest.param(("INSERT INTO lead", REMEMBERED, ["import", "FILE"]), id="plain-file"),
    ],
)
def test_with_one_attempt_an_import_that_collides_is_one_line_and_changes_nothing(
    pg, collide, monkeypatch, tmp_path, how
):
    cli, _other = pg
    statement, change, args = how
    path = tmp_path / "new.csv"
    path.write_text(STDIN_ROWS)
    monkeypatch.setattr(db, "RETRIES", 1)
    if change == REMEMBERED:
        key = remembered_with_no_lead(cli, path)
    before = cli.every_row()
    collision = collide(rf"\s*{statement}\b", change)
    result = cli(*[str(path) if a == "FILE" else a for a in args], input=STDIN_ROWS, ok=False)
    assert collision.forced == 1 and result.exit_code == 1
    assert result.stderr.splitlines() == [f"pipecli: database {cli.db}: {COLLIDED}"]
    if change == REMEMBERED:  # the other's change of the meta row, and only that
        assert cli.sql("SELECT value FROM meta WHERE key = :k", k=key) == [("2 0",)]
        cli.execute("UPDATE meta SET value = '1 0' WHERE key = :k", k=key)
    assert_only_theirs_changed(cli, before, change == THEIRS)


HISTORY = "deal,stage,at\nD1,Prospecting,2026-10-01\nD1,Meeting,2026-10-04\nD1,won,2026-10-12\n"


@pytest.mark.parametrize("retries", [5, 1])
def test_a_history_import_from_stdin_aborted_runs_again_or_is_one_line(pg, collide, monkeypatch, retries):
    """Lead 1 is given external id D1 and the path of the file: Prospecting (2026-10-01), Meeting, won."""
    cli, _other = pg
    cli.execute("UPDATE lead SET external_id = 'D1' WHERE id = 1")
    monkeypatch.setattr(db, "RETRIES", retries)
    before = cli.every_row()
    collision = collide(r"\s*UPDATE lead\b")
    result = cli("import", "-", "--history", "--key", "external_id", input=HISTORY, ok=False)
    assert collision.forced == 1
    if retries == 1:
        assert result.exit_code == 1 and result.stderr.splitlines() == [f"pipecli: database {cli.db}: {COLLIDED}"]
        assert_only_theirs_changed(cli, before)
        return
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == ["history: 0 deals created, 1 given their path, 3 stage changes"]
    path = cli.sql(
        "SELECT s.name FROM stage_change c JOIN stage s ON s.id = c.to_stage_id WHERE c.lead_id = 1 ORDER BY c.at"
    )
    assert [r[0] for r in path] == ["Prospecting", "Meeting", "won"]  # once each
    assert cli.sql("SELECT status, company FROM lead WHERE id = 1") == [("won", "Theirs")]


# --- mail sync ------------------------------------------------------------------------------------------


def mail(sender: str, to: str, subject: str, day: int):
    import datetime
    from email.message import EmailMessage
    from email.utils import format_datetime

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.datetime.fromtimestamp(NOW - (10 - day) * 86400, datetime.UTC))
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@test.example>"
    msg.set_content("Hello.")
    return msg


@pytest.fixture
def box(tmp_path):
    """A Maildir: Anna (lead 1) writes, the seller answers, and zed@zeta.example, whom no lead matches, writes."""
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    keys = {
        "ask": folder.add(mail("Anna <anna@acme.example>", ME, "Prices", 1)),
        "answer": folder.add(mail(ME, "Anna <anna@acme.example>", "Re Prices", 2)),
        "zed": folder.add(mail("Zed <zed@zeta.example>", ME, "Hello there", 3)),
    }
    return tmp_path / "Maildir", keys


def synced(cli, folder, *args, ok=True):
    result = cli("mail", "sync", folder, "--format", "json", *args, ok=False)
    if ok:
        assert result.exit_code == 0, result.stderr
    return result


def test_a_mail_sync_batch_aborted_runs_again_and_logs_counts_and_remembers_once(pg, collide, box):
    cli, _other = pg
    folder, keys = box
    collision = collide(r"\s*UPDATE lead\b")  # the batch's update of lead 1's last activity
    result = synced(cli, folder)
    assert collision.forced == 1 and "collided" not in result.stderr
    counts = json.loads(result.stdout)
    assert {k: counts[k] for k in ("scanned", "logged", "matched", "unmatched")} == {
        "scanned": 3,
        "logged": 2,
        "matched": 2,
        "unmatched": 1,
    }  # not 6, 4, 4, 2: the aborted attempt's counts were never added
    assert cli.sql("SELECT lead_id, subject FROM activity ORDER BY at") == [(1, "Prices"), (1, "Re Prices")]
    assert cli.sql("SELECT company FROM lead WHERE id = 1") == [("Theirs",)]  # the other's change kept
    assert sorted(k for (k,) in cli.sql("SELECT key FROM mail_seen")) == sorted(
        [keys["ask"], keys["answer"], "unmatched:" + keys["zed"]]
    )
    assert cli.sql("SELECT logged_total, last_scanned, last_logged, last_unmatched FROM mail_source") == [(2, 3, 2, 1)]
    # a later sync finds nothing new; --create-leads reads zed's message again and logs it once
    assert json.loads(synced(cli, folder).stdout)["logged"] == 0
    again = json.loads(synced(cli, folder, "--create-leads").stdout)
    assert (again["scanned"], again["logged"], again["created_leads"]) == (1, 1, 1)
    zed = cli.scalar("SELECT id FROM lead WHERE email = 'zed@zeta.example'")
    assert cli.sql("SELECT lead_id, subject FROM activity ORDER BY at") == [
        (1, "Prices"),
        (1, "Re Prices"),
        (zed, "Hello there"),
    ]
    assert sorted(k for (k,) in cli.sql("SELECT key FROM mail_seen")) == sorted(keys.values())


def test_a_batch_that_created_leads_runs_again_with_the_addresses_of_the_committed_leads(pg, collide, box):
    """The aborted attempt added zed's lead, which the rollback took away: the retry must not log zed's
    message on that lead (it is gone), but on the one it adds itself, once."""
    cli, _other = pg
    folder, _keys = box
    collision = collide(r"\s*UPDATE lead\b")
    counts = json.loads(synced(cli, folder, "--create-leads").stdout)
    assert collision.forced == 1
    assert (counts["logged"], counts["created_leads"], counts["unmatched"]) == (3, 1, 0)
    assert cli.sql("SELECT name FROM lead ORDER BY id") == [("Acme",), ("Beta",), ("Zed",)]
    zed = cli.scalar("SELECT id FROM lead WHERE name = 'Zed'")
    assert cli.sql("SELECT lead_id, subject FROM activity ORDER BY at") == [
        (1, "Prices"),
        (1, "Re Prices"),
        (zed, "Hello there"),
    ]


def test_with_one_attempt_a_mail_sync_that_collides_is_one_line_and_logs_nothing(pg, collide, box, monkeypatch):
    cli, _other = pg
    folder, _keys = box
    monkeypatch.setattr(db, "RETRIES", 1)
    before = cli.every_row()
    collision = collide(r"\s*UPDATE lead\b")
    result = synced(cli, folder, ok=False)
    assert collision.forced == 1 and result.exit_code == 1
    line = f"database {cli.db}: {COLLIDED}"
    assert result.stderr.splitlines() == [f"pipecli: {line}"]
    assert cli.sql("SELECT last_error, last_sync_at, logged_total FROM mail_source") == [
        (line, None, 0)
    ]  # mail status shows it
    after = cli.every_row()
    assert after["mail_source"] != before["mail_source"]
    assert_only_theirs_changed(cli, {**before, "mail_source": after["mail_source"]})


# --- pipecli ui -----------------------------------------------------------------------------------------

WRITES_LEAD = r"\s*(UPDATE lead\b|SELECT .* FROM lead .*FOR UPDATE)"


def moved_in_the_ui(cli):
    """Press m on the first card (lead 1, Acme: the bigger value of Prospecting) and move it to stage 3;
    return (the status bar's message, whether it is an error, the bar's text)."""
    pytest.importorskip("textual")
    from test_ui import drive, fill, screen_text

    async def script(pilot, app):
        await pilot.press("m")
        await fill(pilot, app, stage="3")
        return app.message, app.error, screen_text(app).splitlines()[-1].strip()

    return drive(cli, script)


def test_a_ui_move_aborted_runs_again_and_commits_once(pg, collide):
    cli, _other = pg
    journals = cli.scalar("SELECT COUNT(*) FROM journal")
    collision = collide(WRITES_LEAD, snapshot=True)  # the move's first statement locks lead 1
    message, error, _bar = moved_in_the_ui(cli)
    assert collision.forced == 1
    assert (message, error) == ("lead 1: Prospecting → Qualification", False)
    assert cli.sql("SELECT s.name, l.company FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = 1") == [
        ("Qualification", "Theirs")
    ]
    assert cli.scalar("SELECT COUNT(*) FROM journal") == journals + 1
    assert cli.sql("SELECT command FROM journal ORDER BY id DESC LIMIT 1") == [("pipecli ui: move 1 Qualification",)]
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = 1") == 2  # created, then this move


def test_with_one_attempt_a_ui_move_that_collides_shows_one_line_and_changes_nothing(pg, collide, monkeypatch):
    cli, _other = pg
    monkeypatch.setattr(db, "RETRIES", 1)
    before = cli.every_row()
    collision = collide(WRITES_LEAD, snapshot=True)  # the move's first statement locks lead 1
    message, error, bar = moved_in_the_ui(cli)
    assert collision.forced == 1 and error
    assert message == f"database {cli.db}: {COLLIDED}"
    assert len(bar) > 70 and bar.endswith("…")  # the status bar shows it, cut to the 80 columns
    assert message.startswith(bar[:-1])
    assert_only_theirs_changed(cli, before)
