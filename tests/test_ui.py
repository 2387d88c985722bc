"""`pipecli ui`, driven headless with textual's Pilot: every binding changes the database exactly as its
command would (checked in the database after each), the board's screen text at 80×24 and 160×48 against
what the constructed data says, live reload, errors in the status bar, and the command itself.

Tests that only look are run on SQLite; those that write, on both backends. The fixture pipeline is the default Sales one (open stages 1 Prospecting, 2 Contact, 3 Qualification,
4 Meeting, 5 Proposal). The clock is frozen at 2026-11-28 09:00 UTC (conftest).
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys

import pytest

pytest.importorskip("textual")

from rich.console import Console
from textual.widgets import Input

from pipecli.pipelines import open_store
from pipecli.ui import keys
from pipecli.ui.actions import Session
from pipecli.ui.app import MIN_COLUMN, BoardApp
from pipecli.ui.screens import Form, Page, Queue

OPEN_STAGES = ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal"]


def screen_text(app) -> str:
    """Return the app's screen as plain text, as a terminal of its size shows it."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


async def settle(pilot, app) -> None:
    """Wait until the app has drawn and its stale-marks worker has answered."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def fill(pilot, app, **values: str) -> None:
    """Fill the open form's fields and submit it with Enter on its last field."""
    form = app.screen
    assert isinstance(form, Form), f"expected a form, the screen is {form!r}"
    for key, value in values.items():
        form.query_one(f"#field-{key}", Input).value = value
    form.query(Input).last().focus()
    await pilot.press("enter")
    await settle(pilot, app)


def drive(cli, script, size=(80, 24), pipeline=None, owner=None, poll=3600.0):
    """Run the app on the test's database at `size`, run `script(pilot, app)`, return what it returned."""

    async def go():
        store = open_store(cli.db)
        try:
            app = BoardApp(Session(store, "EUR"), pipeline, owner, poll=poll)
            async with app.run_test(size=size) as pilot:
                await settle(pilot, app)
                return await script(pilot, app)
        finally:
            store.dispose()

    return asyncio.run(go())


def stage_of(cli, lead_id: int) -> str:
    return cli.scalar("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = :i", i=lead_id)


@pytest.fixture
def deals(cli):
    """Six open deals: three in Prospecting (values 3000, 2000, 1000), two in Contact, one in Proposal."""
    spec = [
        ("Anna Rossi", "Acme", "3000", "Prospecting"),
        ("Bo Chen", "Beta", "2000", "Prospecting"),
        ("Cy Diaz", "Gamma", "1000", "Prospecting"),
        ("Dee Evans", "Delta", "7000", "Contact"),
        ("Eli Ford", None, "500", "Contact"),
        ("Fay Gold", "Eta", "9000", "Proposal"),
    ]
    from pipecli import leads

    ids = {}
    store = cli.store()  # one transaction for the fixture (each add-lead is tested in tests/test_leads.py)
    try:
        with store.write() as conn:
            for name, company, value, stage in spec:
                ids[name] = leads.add_lead(conn, name, company=company, value_minor=int(value) * 100, stage=stage)
    finally:
        store.dispose()
    return ids


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_the_board_at_80x24_shows_three_columns_with_headers_from_the_data(cli, deals):
    async def script(pilot, app):
        return screen_text(app), [w.index for w in app.query("StageColumn") if w.display]

    text, shown = drive(cli, script, size=(80, 24))
    lines = text.splitlines()
    assert len(lines) == 24 and max(len(line) for line in lines) <= 80
    assert shown == [0, 1, 2]  # 80 // MIN_COLUMN columns
    assert 80 // MIN_COLUMN == 3
    assert lines[0].strip().startswith("Sales: 6 open · €22,500.00")  # 3000+2000+1000+7000+500+9000
    assert "1. Prospecting" in lines[1] and "2. Contact" in lines[1] and "3. Qualification" in lines[1]
    assert "4. Meeting" not in text
    assert "3 · €6.0k" in lines[2] and "2 · €7.5k" in lines[2] and "0 · €0" in lines[2]
    # cards, most valuable first: Anna (3000) above Bo (2000) above Cy; Dee (7000) above Eli (500)
    column = "\n".join(line[:25] for line in lines)
    assert column.index("Anna Rossi") < column.index("Bo Chen") < column.index("Cy Diaz")
    assert f"#{deals['Dee Evans']} Dee Evans" in text and "Delta" in text and "€7.0k" in text
    assert "0d" in text and "no-next" in text  # added today; nothing planned


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_the_board_at_160x48_shows_every_stage(cli, deals):
    async def script(pilot, app):
        return screen_text(app), [w.index for w in app.query("StageColumn") if w.display]

    text, shown = drive(cli, script, size=(160, 48))
    lines = text.splitlines()
    assert len(lines) == 48
    assert shown == list(range(len(OPEN_STAGES)))
    for n, name in enumerate(OPEN_STAGES, 1):
        assert f"{n}. {name}" in lines[1]
    assert "1 · €9.0k" in lines[2]  # Proposal: Fay Gold alone
    assert "Fay Gold" in text


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_cards_mark_stale_overdue_and_no_next_step(cli):
    cli("add-lead", "Quiet One", "--value", "100", "--at", "2026-10-01")  # silent since Oct 1: past 14 days
    cli("add-lead", "Late One", "--value", "90")
    cli("follow-up", "2", "2026-11-27", "call back")  # due yesterday
    cli("add-lead", "Planned One", "--value", "80")
    cli("follow-up", "3", "2026-12-05", "send quote")

    async def script(pilot, app):
        return screen_text(app), app.stale

    text, stale = drive(cli, script)
    assert stale == {1}
    first = [line[:25].strip() for line in text.splitlines()]

    def third_line(card: str) -> str:
        return first[first.index(card) + 2]

    assert third_line("#1 Quiet One") == "58d STALE no-next"  # silent since Oct 1: 58 days, past 14
    assert third_line("#2 Late One") == "0d next 11-27 OVERDUE"
    assert third_line("#3 Planned One") == "0d next 12-05"


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_cursor_keys_and_a_click_select_cards(cli, deals):
    async def script(pilot, app):
        got = []
        await pilot.press("j", "j")
        got.append(app.selected().id)
        await pilot.press("k")
        got.append(app.selected().id)
        await pilot.press("l")
        got.append(app.selected().id)
        await pilot.press("right", "left", "h", "down")
        got.append(app.selected().id)
        await pilot.click("#stage-1", offset=(3, 2 + 3))  # header lines, then the second card
        got.append(app.selected().id)
        return got

    got = drive(cli, script)
    assert got == [deals["Cy Diaz"], deals["Bo Chen"], deals["Dee Evans"], deals["Cy Diaz"], deals["Eli Ford"]]


def test_m_moves_the_deal_by_stage_number_and_name(cli, deals):
    async def script(pilot, app):
        await pilot.press("m")
        await fill(pilot, app, stage="3")
        first = app.message
        await pilot.press("m")
        await fill(pilot, app, stage="meeting")  # the next card, Bo Chen
        return first

    first = drive(cli, script)
    assert first == f"lead {deals['Anna Rossi']}: Prospecting → Qualification"
    assert stage_of(cli, deals["Anna Rossi"]) == "Qualification"
    assert stage_of(cli, deals["Bo Chen"]) == "Meeting"
    # the same history `pipecli move` writes: one stage_change into each stage, journalled as ui commands
    assert cli.scalar("SELECT COUNT(*) FROM stage_change WHERE lead_id = :i", i=deals["Anna Rossi"]) == 2
    commands = [r[0] for r in cli.sql("SELECT command FROM journal ORDER BY id DESC LIMIT 2")]
    assert commands == ["pipecli ui: move 2 Meeting", "pipecli ui: move 1 Qualification"]


def test_won_asks_the_value_and_lost_the_reason(cli, deals):
    async def script(pilot, app):
        await pilot.press("m")
        await fill(pilot, app, stage="won")
        await fill(pilot, app, value="3500")
        await pilot.press("m")
        await fill(pilot, app, stage="lost")
        await fill(pilot, app, reason="price")

    drive(cli, script)
    assert cli.sql("SELECT status, value_minor FROM lead WHERE id = :i", i=deals["Anna Rossi"]) == [("won", 350000)]
    assert cli.sql("SELECT status, lost_reason FROM lead WHERE id = :i", i=deals["Bo Chen"]) == [("lost", "price")]


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_angle_brackets_step_one_stage(cli, deals):
    async def script(pilot, app):
        await pilot.press("greater_than_sign")
        await settle(pilot, app)
        after_forward = stage_of(cli, deals["Anna Rossi"])
        await pilot.press("l")  # Contact, where Anna now is (most valuable after Dee)
        await pilot.press("less_than_sign")  # Dee back to Prospecting
        await settle(pilot, app)
        await pilot.press("h", "less_than_sign")  # from the first stage: refused
        return after_forward, app.message, app.error

    after_forward, message, error = drive(cli, script)
    assert after_forward == "Contact"
    assert stage_of(cli, deals["Dee Evans"]) == "Prospecting"
    assert error and message.startswith("no open stage that way")


def test_a_adds_a_lead_with_add_leads_checks(cli, deals):
    async def script(pilot, app):
        await pilot.press("a")
        await fill(pilot, app, name="Gus Hale", company="Iota", value="1,250.50", email="gus@iota.example")
        ok = app.message
        before = cli.every_row()
        await pilot.press("a")
        await fill(pilot, app, name="Bad Mail", email="not-an-address")
        return ok, app.message, app.error, before

    ok, message, error, before = drive(cli, script)
    gus = cli.sql("SELECT id, company, value_minor, email FROM lead WHERE name = 'Gus Hale'")
    assert gus == [(7, "Iota", 125050, "gus@iota.example")]
    assert ok == "added lead 7 (Gus Hale)"
    assert error and message == "--email: 'not-an-address' is not an email address"
    assert cli.every_row() == before  # the failed add changed nothing


def test_e_edits_the_changed_fields_only(cli, deals):
    async def script(pilot, app):
        await pilot.press("e")
        await fill(pilot, app, company="Acme Corp", value="3100")
        return app.message

    message = drive(cli, script)
    assert message == f"lead {deals['Anna Rossi']} updated: company, value"  # the field as the form names it
    assert cli.sql("SELECT company, value_minor FROM lead WHERE id = 1") == [("Acme Corp", 310000)]
    fields = {r[0] for r in cli.sql("SELECT field FROM event WHERE journal_id = (SELECT MAX(id) FROM journal)")}
    assert {"company", "value_minor"} <= fields and "name" not in fields


def test_log_n_and_s_write_activities_next_steps_and_snoozes(cli, deals):
    async def script(pilot, app):
        await pilot.press("L")
        await fill(pilot, app, kind="call", note="spoke to Anna", next="2026-12-02 send proposal")
        await pilot.press("j", "n")
        await fill(pilot, app, due="2026-12-01", step="demo")
        await pilot.press("j", "s")
        await fill(pilot, app, days="10", reason="budget freeze")
        await pilot.press("L")
        await fill(pilot, app, kind="smoke-signal")
        return app.message, app.error

    message, error = drive(cli, script)
    assert cli.sql("SELECT kind, note FROM activity WHERE lead_id = 1") == [("call", "spoke to Anna")]
    assert cli.sql("SELECT next_step, next_step_due FROM lead WHERE id = 1") == [("send proposal", "2026-12-02")]
    assert cli.sql("SELECT next_step, next_step_due FROM lead WHERE id = 2") == [("demo", "2026-12-01")]
    # 2026-11-28 + 10 days
    assert cli.sql("SELECT snoozed_until, snooze_reason FROM lead WHERE id = 3") == [("2026-12-08", "budget freeze")]
    assert error and "smoke-signal" in message
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE kind = 'smoke-signal'") == 0


def test_filter_by_text_owner_and_source(cli, deals):
    cli("edit", str(deals["Bo Chen"]), "--owner", "sam", "--source", "web")

    async def script(pilot, app):
        await pilot.press("slash")
        await fill(pilot, app, text="ACME")
        by_text = [c.stage.count for c in app.columns]
        await pilot.press("slash")
        await fill(pilot, app, text="", owner="sam", source="web")
        by_owner = [c.stage.count for c in app.columns], app.selected().id
        return by_text, by_owner, screen_text(app)

    by_text, (by_owner, selected), text = drive(cli, script)
    assert by_text == [1, 0, 0, 0, 0]
    assert by_owner == [1, 0, 0, 0, 0] and selected == deals["Bo Chen"]
    assert "filter owner=sam source=web" in text


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_owner_option_filters_from_the_start(cli, deals):
    cli("edit", str(deals["Fay Gold"]), "--owner", "sam")

    async def script(pilot, app):
        return [c.stage.count for c in app.columns]

    assert drive(cli, script, owner="sam") == [0, 0, 0, 0, 1]


def test_p_switches_pipeline(cli, deals):
    cli("pipeline", "add", "Outbound", "--stages", "New,Demo")
    cli("add-lead", "Ivy Jones", "--pipeline", "Outbound", "--stage", "Demo", "--value", "400")

    async def script(pilot, app):
        await pilot.press("p")
        await fill(pilot, app, name="outbound")
        names = [c.stage.name for c in app.columns]
        await pilot.press("l", "m")
        await fill(pilot, app, stage="1")
        return names, screen_text(app)

    names, text = drive(cli, script)
    assert names == ["New", "Demo"]
    assert "Outbound: 1 open · €400.00" in text
    assert stage_of(cli, 7) == "New"


def test_u_undoes_the_last_change_and_again_redoes_it(cli, deals):
    async def script(pilot, app):
        await pilot.press("m")
        await fill(pilot, app, stage="Proposal")
        await pilot.press("u")
        await settle(pilot, app)
        undone = stage_of(cli, 1), app.message
        await pilot.press("u")
        await settle(pilot, app)
        return undone, stage_of(cli, 1), [c.stage.count for c in app.columns]

    (after_undo, message), after_redo, counts = drive(cli, script)
    assert after_undo == "Prospecting" and message.startswith("undid command")
    assert after_redo == "Proposal" and counts == [2, 2, 0, 0, 2]


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_enter_opens_the_deal_and_t_c_f_and_help_show_their_pages(cli, deals):
    cli("log", "1", "call", "--note", "first call")

    async def script(pilot, app):
        pages = {}
        for key in ("enter", "t", "c", "f", "question_mark"):
            await pilot.press(key)
            await settle(pilot, app)
            assert isinstance(app.screen, Page)
            pages[key] = "\n".join(app.screen.lines)
            await pilot.press("escape")
            await settle(pilot, app)
        return pages

    pages = drive(cli, script, size=(120, 40))
    deal = pages["enter"]
    assert deal.startswith("#1 Anna Rossi (Acme)") and "Sales / Prospecting · open · €3,000.00" in deal
    assert "(new) → Prospecting" in deal and "call  first call" in deal and "Score " in deal
    assert "Win probability: not learned" in deal
    assert pages["t"].startswith("Follow-ups due (0)")
    assert "Nothing stale" in pages["c"] or "finding(s)" in pages["c"]
    assert pages["f"].startswith("Forecast of Sales")
    for k in keys.KEYS:  # the help is the binding table
        assert f"{k.shown}" in pages["question_mark"] and k.help in pages["question_mark"]


@pytest.mark.sqlite_only  # what it reads is read on both backends by the tests that write
def test_the_palette_runs_a_pipecli_command_line(cli, deals):
    async def script(pilot, app):
        await pilot.press("colon")
        await fill(pilot, app, line="move 2 Meeting")
        ran = "\n".join(app.screen.lines)
        await pilot.press("escape")
        await settle(pilot, app)
        return ran, [c.stage.count for c in app.columns]

    ran, counts = drive(cli, script)
    assert "(exit 0)" not in ran and "Meeting" in ran
    assert stage_of(cli, 2) == "Meeting" and counts == [2, 2, 0, 1, 1]


def test_changes_from_another_terminal_appear_without_a_key(cli, deals):
    async def script(pilot, app):
        before = [c.stage.count for c in app.columns]
        cli("move", str(deals["Fay Gold"]), "won")
        await pilot.pause(0.6)
        await settle(pilot, app)
        return before, [c.stage.count for c in app.columns]

    before, after = drive(cli, script, poll=0.2)
    assert before == [3, 2, 0, 0, 1] and after == [3, 2, 0, 0, 0]


def test_a_failing_write_shows_one_line_and_changes_nothing(cli, deals):
    async def script(pilot, app):
        before = cli.every_row()
        await pilot.press("m")
        await fill(pilot, app, stage="Prospecting")  # already there
        await pilot.press("m")
        await fill(pilot, app, stage="9")
        return before, app.message, app.error, screen_text(app).splitlines()[-1]

    before, message, error, bar = drive(cli, script)
    assert error and message == "no stage number 9: this pipeline has 5 open stages"
    assert bar.strip() == message
    assert cli.every_row() == before


@pytest.mark.sqlite_only
def test_no_color_is_honoured_and_marks_read_without_colour(cli, deals, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def script(pilot, app):
        return app.no_color, screen_text(app)

    no_color, text = drive(cli, script)
    assert no_color and "no-next" in text


# --- the command --------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_ui_needs_a_terminal(cli, deals):
    result = cli("ui", ok=False)
    assert result.exit_code == 2
    assert (
        result.stderr == "pipecli: pipecli ui needs a terminal (stdin and stdout); for a script use `pipecli board`\n"
    )


def test_ui_without_textual_says_how_to_install_it(tmp_path):
    blocker = tmp_path / "block" / "textual"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('textual is not installed')\n")
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'textual' else real(name, *a)\n"
        "from pipecli.cli import main\n"
        "sys.argv = ['pipecli', 'ui']\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().endswith('pipecli ui needs textual: pip install "pipecli[ui]"')
    assert len(done.stderr.strip().splitlines()) == 1


def test_other_commands_never_import_textual():
    code = (
        "import sys\n"
        "from pipecli.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    app(['ui', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('textual', 'pipecli.ui'))}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.sqlite_only
def test_end_to_end_in_tmux_moves_a_deal(cli, deals, tmp_path):
    import shutil

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (CI: apt-get install tmux)")
    session = f"pipecli-ui-{os.getpid()}"
    socket = str(tmp_path / "tmux.sock")
    env = {**os.environ, "TERM": "xterm-256color"}
    command = f"{sys.executable} -m pipecli --db {cli.db} ui"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-S", socket, *args], capture_output=True, text=True, env=env, timeout=30).stdout

    def wait_for(text: str) -> str:
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            screen = tmux("capture-pane", "-p", "-t", session)
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{screen}")

    tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", session, command)
    try:
        wait_for("1. Prospecting")
        tmux("send-keys", "-t", session, "m")
        wait_for("stage")
        tmux("send-keys", "-t", session, "2", "Enter")
        wait_for("Prospecting → Contact")
        tmux("send-keys", "-t", session, "q")
    finally:
        tmux("kill-session", "-t", session)
    shown = cli("show", "1", "--format", "json").stdout
    assert '"stage": "Contact"' in shown


@pytest.mark.sqlite_only
def test_a_big_pipelines_stale_marks_come_from_a_separate_process_with_the_same_answer(cli):
    from pipecli.errors import PipecliError
    from pipecli.ui import cards

    cli("add-lead", "Quiet One", "--at", "2026-10-01")
    cli("add-lead", "Fresh One")
    store = cli.store()
    try:
        with store.read() as conn:
            here = cards.stale_ids(conn, "Sales")
    finally:
        store.dispose()
    assert here == {1}
    assert cards.stale_ids_in(cli.db, "Sales") == here
    with pytest.raises(PipecliError, match="unknown pipeline 'Nope'"):
        cards.stale_ids_in(cli.db, "Nope")


@pytest.mark.sqlite_only  # about the judging process, not the database
def test_a_new_stale_judgement_stops_the_one_still_running(cli):
    import threading
    import time

    from pipecli.ui import cards

    cli("add-lead", "Quiet One", "--at", "2026-10-01")
    judge, answers = cards.StaleJudge(), []
    first = threading.Thread(target=lambda: answers.append(judge.ids(cli.db, "Sales")))
    first.start()
    for _ in range(600):  # until its process runs (a Python start-up: well under a minute, even loaded)
        if judge.running is not None:
            break
        time.sleep(0.1)
    running = judge.running
    assert running is not None and running.poll() is None
    second = judge.ids(cli.db, "Sales")  # a later change: judged again, the first one stopped
    first.join(60)
    assert running.returncode is not None and running.returncode < 0  # killed, not left to finish
    assert answers == [None] and second == {1}
    assert judge.running is None


def test_the_clean_queue_closes_snoozes_and_archives_a_finding_each_undoable(cli):
    for name in ("Quiet A", "Quiet B", "Quiet C"):  # silent and stuck since Oct 1: past Prospecting's 21 days
        cli("add-lead", name, "--value", "100", "--at", "2026-10-01")
    cli("add-lead", "Fresh", "--value", "50", "--expected-close", "2026-11-20")  # overdue, but added today

    async def script(pilot, app):
        await pilot.press("c")
        await settle(pilot, app)
        queue = app.screen
        assert isinstance(queue, Queue)
        seen = [list(queue.lines)]
        await pilot.press("x")  # the cursor is on the first finding: #1 silent
        await fill(pilot, app, reason="went quiet")
        seen.append(list(queue.lines))
        await pilot.press("s")  # #1's findings are gone: the cursor is on #2
        await fill(pilot, app, days="10", reason="budget freeze")
        await pilot.press("a")
        await fill(pilot, app, reason="duplicate of a won deal")
        seen.append(list(queue.lines))
        before = cli.every_row()
        await pilot.press("x")  # Fresh: overdue, but younger than the stage's limit
        await fill(pilot, app, reason="no")
        refused = queue.message, queue.error, cli.every_row() == before
        await pilot.press("escape")
        await settle(pilot, app)
        on_board = [c.stage.count for c in app.columns]
        await pilot.press("u")  # undoes the archive, the last change
        await settle(pilot, app)
        return seen, refused, on_board, [c.stage.count for c in app.columns]

    seen, refused, on_board, after_undo = drive(cli, script, size=(120, 40))
    assert seen[0][0] == "7 finding(s)"  # #1-#3 silent and stuck, #4 overdue
    assert seen[1][0] == "5 finding(s)" and not any("#1 " in line for line in seen[1])
    assert seen[2] == ["1 finding(s)", seen[0][-1]] and "#4 Fresh" in seen[2][1]
    message, error, unchanged = refused
    assert error and unchanged and message.startswith("lead 4: close-lost acts only on stale findings")
    # what `clean --close-lost / --snooze 10 / --archive --reason R` writes, one journal entry each
    assert cli.sql("SELECT status, lost_reason FROM lead WHERE id = 1") == [("lost", "went quiet")]
    assert cli.sql("SELECT snoozed_until, snooze_reason FROM lead WHERE id = 2") == [("2026-12-08", "budget freeze")]
    commands = [r[0] for r in cli.sql("SELECT command FROM journal ORDER BY id")][-4:]
    assert commands[:3] == [
        "pipecli ui: clean --close-lost --reason 'went quiet' 1",
        "pipecli ui: clean --snooze 10 --reason 'budget freeze' 2",
        "pipecli ui: clean --archive --reason 'duplicate of a won deal' 3",
    ]
    assert on_board == [2, 0, 0, 0, 0]  # #2 snoozed stays on the board; #1 lost, #3 archived left it
    assert after_undo == [3, 0, 0, 0, 0] and cli.scalar("SELECT archived_at FROM lead WHERE id = 3") is None


# The board's screen, as a terminal shows it, after `j` (the cursor on Bo Chen): the deals fixture with Bo's
# follow-up due yesterday and Dee's on Dec 5; three columns of 26 cells at 80, four of 30 at 120 (MIN_COLUMN),
# below the last line shown here the empty row repeats down to the status bar (empty). Cards: `#id name`, company and value, days in stage,
# next step and marks.
SNAPSHOT_80 = """\
 Sales: 6 open · €22,500.00 · ? keys
1. Prospecting           ▕2. Contact                ▕3. Qualification          ▕
3 · €6.0k                ▕2 · €7.5k                 ▕0 · €0                    ▕
#1 Anna Rossi            ▕#4 Dee Evans              ▕                          ▕
Acme                €3.0k▕Delta                €7.0k▕                          ▕
0d no-next               ▕0d next 12-05             ▕                          ▕
#2 Bo Chen               ▕#5 Eli Ford               ▕                          ▕
Beta                €2.0k▕                      €500▕                          ▕
0d next 11-27 OVERDUE    ▕0d no-next                ▕                          ▕
#3 Cy Diaz               ▕                          ▕                          ▕
Gamma               €1.0k▕                          ▕                          ▕
0d no-next               ▕                          ▕                          ▕
                         ▕                          ▕                          ▕
"""
SNAPSHOT_120 = """\
 Sales: 6 open · €22,500.00 · ? keys
1. Prospecting               ▕2. Contact                   ▕3. Qualification             ▕4. Meeting                   ▕
3 · €6.0k                    ▕2 · €7.5k                    ▕0 · €0                       ▕0 · €0                       ▕
#1 Anna Rossi                ▕#4 Dee Evans                 ▕                             ▕                             ▕
Acme                    €3.0k▕Delta                   €7.0k▕                             ▕                             ▕
0d no-next                   ▕0d next 12-05                ▕                             ▕                             ▕
#2 Bo Chen                   ▕#5 Eli Ford                  ▕                             ▕                             ▕
Beta                    €2.0k▕                         €500▕                             ▕                             ▕
0d next 11-27 OVERDUE        ▕0d no-next                   ▕                             ▕                             ▕
#3 Cy Diaz                   ▕                             ▕                             ▕                             ▕
Gamma                   €1.0k▕                             ▕                             ▕                             ▕
0d no-next                   ▕                             ▕                             ▕                             ▕
                             ▕                             ▕                             ▕                             ▕
"""


def highlighted(app) -> list[tuple[int, str]]:
    """Return the screen's reverse-video runs as (line, text): the selected column's header and card."""
    update = app.screen._compositor.render_update(full=True)
    runs = []
    for y, strips in enumerate(update.strips):
        run = ""
        for segment in (s for strip in strips for s in strip):
            if segment.style is not None and segment.style.reverse:
                run += segment.text
            elif run:
                runs.append((y, run.strip()))
                run = ""
        if run:
            runs.append((y, run.strip()))
    return runs


@pytest.mark.sqlite_only  # a screen: what it reads is read on both backends by the tests that write
@pytest.mark.parametrize(("size", "snapshot"), [((80, 24), SNAPSHOT_80), ((120, 40), SNAPSHOT_120)])
def test_the_board_screen_matches_its_snapshot(cli, deals, size, snapshot):
    cli("follow-up", str(deals["Bo Chen"]), "2026-11-27", "call back")
    cli("follow-up", str(deals["Dee Evans"]), "2026-12-05", "send quote")

    async def script(pilot, app):
        await pilot.press("j")
        await settle(pilot, app)
        return screen_text(app), highlighted(app)

    text, runs = drive(cli, script, size=size)
    height = size[1]
    lines = [line.rstrip() for line in text.splitlines()]
    expected = snapshot.splitlines()
    assert lines == expected + [expected[-1]] * (height - len(expected) - 1) + [""]
    # the cursor's column header and its card (Bo Chen, second) in reverse video, the whole column wide
    first = lines[1].index("▕")
    assert runs == [(y, lines[y][:first].strip()) for y in (1, 6, 7, 8)]
    assert runs[1] == (6, f"#{deals['Bo Chen']} Bo Chen")


def test_a_filtered_board_follows_its_own_moves_and_another_terminals(cli, deals):
    async def script(pilot, app):
        await pilot.press("slash")
        await fill(pilot, app, text="A")  # every name or company with an "a": all but Eli Ford (no company)
        headers = [[(c.stage.count, c.stage.value_minor) for c in app.columns]]
        read = app.matches
        await pilot.press("m")
        await fill(pilot, app, stage="2")  # Anna Rossi (3000), the first card, to Contact
        headers.append([(c.stage.count, c.stage.value_minor) for c in app.columns])
        contact = [card.id for card in app.cards_of(1, 0, 5)]
        patched = app.matches is read  # the move was applied to what the filter read, not read again
        cli("move", str(deals["Fay Gold"]), "won")  # another terminal, between two polls
        await pilot.press("m")
        await fill(pilot, app, stage="5")  # Bo Chen, now first in Prospecting, to Proposal
        headers.append([(c.stage.count, c.stage.value_minor) for c in app.columns])
        patched = patched, app.matches is read
        await pilot.press("slash")
        await fill(pilot, app, text="a_")  # LIKE's wildcards are read as themselves: no name holds "a_"
        headers.append([c.stage.count for c in app.columns])
        return headers, contact, patched

    headers, contact, patched = drive(cli, script)
    assert patched == (True, False)
    # Prospecting Anna 3000 + Bo 2000 + Cy 1000; Contact Dee 7000 (Eli has no "a"); Proposal Fay 9000
    assert headers[0] == [(3, 600000), (1, 700000), (0, 0), (0, 0), (1, 900000)]
    assert headers[1] == [(2, 300000), (2, 1000000), (0, 0), (0, 0), (1, 900000)]
    assert contact == [deals["Dee Evans"], deals["Anna Rossi"]]  # most valuable first
    # Fay's win from the other terminal shows with Bo's move: the board was read again, not patched
    assert headers[2] == [(1, 100000), (2, 1000000), (0, 0), (0, 0), (1, 200000)]
    assert headers[3] == [0, 0, 0, 0, 0]


def test_the_filter_applies_once_typing_stops_enter_keeps_it_and_escape_puts_back_the_one_before(
    cli, deals, monkeypatch
):
    from pipecli.ui import app as board_app

    monkeypatch.setattr(board_app, "FILTER_IDLE", 1.0)  # long enough that four keys land well inside it

    def counts(app):
        return [c.stage.count for c in app.columns]

    async def script(pilot, app):
        seen = {}
        await pilot.press("slash")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, Form) and form.query_one("#field-text", Input).has_focus
        await pilot.press(*"acme")
        seen["typing"] = counts(app), app.filter.text  # still typing: the board is as it was
        await asyncio.sleep(1.3)
        await pilot.pause()
        seen["idle"] = counts(app), app.filter.text, app.screen is form  # applied behind the open form
        form.query(Input).last().focus()
        await pilot.press("enter")
        await settle(pilot, app)
        seen["enter"] = counts(app), app.filter.text, isinstance(app.screen, Form)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("end", "x")  # "acmex" (the field's text is selected on focus): nothing matches
        await asyncio.sleep(1.3)
        await pilot.pause()
        seen["idle again"] = counts(app), app.filter.text
        await pilot.press("escape")
        await settle(pilot, app)
        seen["escape"] = counts(app), app.filter.text, isinstance(app.screen, Form)
        await pilot.press("slash")
        await fill(pilot, app, text="beta")  # Enter before the idle: applied at once
        seen["quick enter"] = counts(app), app.filter.text
        await asyncio.sleep(1.3)  # the idle timer was stopped: nothing is applied again
        await pilot.pause()
        seen["after"] = counts(app), app.filter.text
        return seen, screen_text(app)

    seen, text = drive(cli, script)
    assert seen["typing"] == ([3, 2, 0, 0, 1], None)
    assert seen["idle"] == ([1, 0, 0, 0, 0], "acme", True)  # Anna Rossi of Acme
    assert seen["enter"] == ([1, 0, 0, 0, 0], "acme", False)
    assert seen["idle again"] == ([0, 0, 0, 0, 0], "acmex")
    assert seen["escape"] == ([1, 0, 0, 0, 0], "acme", False)  # the filter before the form opened
    assert seen["quick enter"] == seen["after"] == ([1, 0, 0, 0, 0], "beta")  # Bo Chen of Beta
    assert "filter text=beta" in text and f"#{deals['Bo Chen']} Bo Chen" in text and "Anna" not in text


def test_a_move_updates_both_columns_headers_and_counts_and_the_filter_keys(cli, deals):
    async def script(pilot, app):
        before = screen_text(app)
        assert app.search is not None  # the filter keys were read after the board opened
        keys_read = app.search
        await pilot.press("m")
        await fill(pilot, app, stage="2")  # Anna Rossi (3000), the first card, to Contact
        after = screen_text(app)
        await pilot.press("l", "e")  # Dee Evans, first in Contact: 7000 → 8000, in the same stage
        await fill(pilot, app, value="8000")
        edited = screen_text(app).splitlines()[2]
        await pilot.press("m")
        await fill(pilot, app, stage="won")  # Dee leaves the board, won at 8500
        await fill(pilot, app, value="8500")
        won = screen_text(app)
        await pilot.press("slash")
        await fill(pilot, app, text="acme")  # found where the move put it, from the keys updated in place
        found = [c.stage.count for c in app.columns], app.search is keys_read
        return before, after, found, (edited, won)

    before, after, found, (edited, won) = drive(cli, script)
    assert "2 · €3.0k" in edited and "3 · €11.5k" in edited  # 8000+3000+500
    assert "2 · €3.5k" in won.splitlines()[2] and won.splitlines()[0].strip().startswith(
        "Sales: 5 open · €15,500.00"
    )  # 3000 + 3500 + 9000
    assert cli.sql("SELECT status, value_minor FROM lead WHERE id = :i", i=deals["Dee Evans"]) == [("won", 850000)]
    header = before.splitlines()[2]
    assert "3 · €6.0k" in header and "2 · €7.5k" in header
    lines = after.splitlines()
    assert "2 · €3.0k" in lines[2] and "3 · €10.5k" in lines[2]  # 2000+1000 left; 7000+3000+500
    assert lines[0].strip().startswith("Sales: 6 open · €22,500.00")  # the pipeline's totals did not change
    contact = "\n".join(line[26:52] for line in lines)
    assert contact.index("Dee Evans") < contact.index("Anna Rossi") < contact.index("Eli Ford")
    prospecting = "\n".join(line[:25] for line in lines)
    assert "Anna Rossi" not in prospecting and prospecting.index("Bo Chen") < prospecting.index("Cy Diaz")
    assert cli.sql("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = :i", i=1) == [("Contact",)]
    assert found == ([0, 1, 0, 0, 0], True)


def test_the_filter_keys_follow_an_edit_here_and_another_terminals(cli, deals):
    async def script(pilot, app):
        await pilot.press("e")
        await fill(pilot, app, company="Zeta Corp")  # Anna Rossi's company, here
        await pilot.press("slash")
        await fill(pilot, app, text="zeta")
        here = [c.stage.count for c in app.columns]
        cli("edit", str(deals["Dee Evans"]), "--company", "Zeta Two")  # another terminal
        app.poll()
        await settle(pilot, app)  # the keys are read again in their worker
        assert app.search is not None
        await pilot.press("slash")
        await fill(pilot, app, text="")
        await pilot.press("slash")
        await fill(pilot, app, text="ZETA")
        return here, [c.stage.count for c in app.columns]

    here, there = drive(cli, script)
    assert here == [1, 0, 0, 0, 0]
    assert there == [1, 1, 0, 0, 0]


def test_the_filter_keys_match_as_the_sql_filter_does(cli):
    from pipecli import leads
    from pipecli.ui import cards

    spec = [
        ("ÄRZTE Müller", "Praxis", "ana", "web"),
        ("50% off", None, "sam", "web"),
        ("under_score", "Acme Inc", "sam", "event"),
        ("  padded name  ", "  Padded Co ", None, None),
        ("Mixed CASE", "acme", "ana", None),
        ("plain", "Percent%Co", None, "web"),
    ]
    store = cli.store()
    try:
        with store.write() as conn:
            for n, (name, company, owner, source) in enumerate(spec):
                leads.add_lead(conn, name, company=company, owner=owner, source=source, value_minor=(n + 1) * 1000)
            leads.add_lead(conn, "No value yet", stage="Contact")  # a deal without a value, in a stage of its own
        filters = [
            cards.Filter(text=t, owner=o, source=s)
            for t in (None, "a", "ACME", "müller", "ärzte", "%", "_", "0% o", "padded name", "d c", " acme ", "zzz")
            for o in (None, "sam", "ana")
            for s in (None, "web")
        ]
        with store.read() as conn:
            pipeline = cards.pipeline_of(conn, None)["id"]
            index = cards.SearchIndex.read(conn, pipeline)
            assert index is not None
            for flt in filters:
                if not flt.active:
                    continue
                by_sql = cards.Matches.read(conn, pipeline, flt)
                by_keys = index.matches(flt)
                pairs = {s: [(r[1], r[2]) for r in m] for s, m in by_keys.by_stage.items() if m}
                assert pairs == {s: [(r[1], r[2]) for r in m] for s, m in by_sql.by_stage.items()}, flt
                assert {s: by_keys.header(s) for s in by_sql.by_stage} == {
                    s: by_sql.header(s) for s in by_sql.by_stage
                }, flt
            some = index.matches(cards.Filter(text="acme"))
            # the unfiltered board's headers, as a new filter counts them from the keys and as SQL does
            by_sql_headers = [(s.id, s.count, s.value_minor) for s in cards.stages(conn, pipeline, cards.Filter())]
            by_keys_headers = [(s, *index.header(s)) for s, _, _ in by_sql_headers]
    finally:
        store.dispose()
    assert sum(len(m) for m in some.by_stage.values()) == 2  # Acme Inc and acme, whatever the case
    # Prospecting holds the six deals of 10 + 20 + ... + 60 (in minor units: 21,000), Contact the one without
    # a value, the other open stages nothing
    assert [h[1:] for h in by_sql_headers] == [(6, 21000), (1, 0), (0, 0), (0, 0), (0, 0)]
    assert by_keys_headers == by_sql_headers


@pytest.mark.sqlite_only  # how the board behind a form is drawn; nothing is written
def test_the_board_behind_a_form_is_dimmed_exactly_as_textual_dims_it(cli, deals):
    from textual.renderables.background_screen import BackgroundScreen

    from pipecli.ui.screens import TintedBoard

    async def script(pilot, app):
        board = app.screen
        await pilot.press("e")  # the edit form, over the board
        await pilot.pause()
        form = app.screen
        assert isinstance(form, Form)
        console = Console(width=80, height=24, file=io.StringIO(), color_system="truecolor")
        color = form.styles.background
        ours = list(console.render(TintedBoard(board, color), console.options))
        textuals = list(console.render(BackgroundScreen(board, color), console.options))
        plain = list(console.render(board._compositor, console.options))
        inputs = {i.id: (i.value, i.classes) for i in form.query(Input)}
        return ours, textuals, plain, color.a, inputs

    ours, textuals, plain, alpha, inputs = drive(cli, script)
    assert 0 < alpha < 1  # the form's background lets the board show through, dimmed
    assert ours == textuals
    assert [s.text for s in ours] == [s.text for s in plain]  # the board's own text
    assert "Anna Rossi" in "".join(s.text for s in ours)
    assert [s.style for s in ours] != [s.style for s in plain]  # dimmed
    # the edit form's fields hold the deal under the cursor (the first column's first card: Anna Rossi of Acme,
    # 3000), each field marked valid as textual marks a field without validators
    assert inputs["field-name"] == ("Anna Rossi", frozenset({"-valid"}))
    assert inputs["field-company"][0] == "Acme" and inputs["field-value"][0] == "3000.00"
