"""Dates and money as people type them, through the command line: one date grammar for options and files,
events that cannot lie in the future, plans that may; amounts with k/m, refused foreign currencies, ISO
4217 minor units, and the locale that writes amounts for people while JSON and CSV stay machine-readable.

The clock is frozen at conftest's FROZEN_NOW, Saturday 2026-11-28 09:00 UTC, and TZ is UTC."""

from __future__ import annotations

import datetime as _dt
import json

import pytest

from pipecli import clock

NOW = _dt.datetime(2026, 11, 28, 9, 0, tzinfo=_dt.UTC)


def epoch(*parts: int) -> int:
    return int(_dt.datetime(*parts, tzinfo=_dt.UTC).timestamp())


def config(tmp_path, text: str) -> None:
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")


def lead(cli, *extra: str) -> int:
    return int(cli("add-lead", "Anna Rossi", "--at", "2026-11-01", *extra).stdout)


# --- events may not lie in the future; plans may --------------------------------------------------------


@pytest.mark.parametrize("command", ["log", "move", "edit", "add-lead"])
def test_an_event_in_the_future_is_one_line_and_changes_nothing(cli, command):
    lead_id = lead(cli)
    before = cli.every_row()
    args = {
        "log": ["log", lead_id, "call"],
        "move": ["move", lead_id, "Meeting"],
        "edit": ["edit", lead_id, "--owner", "bob"],
        "add-lead": ["add-lead", "Typo"],
    }[command]
    result = cli(*args, "--at", "2062-11-28", ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "in the future" in result.stderr
    assert cli.every_row() == before


def test_a_time_thousands_of_years_away_is_one_line_not_an_internal_error(cli):
    lead_id = lead(cli)
    for typed in ("in 99999 years", "99999 years ago", "in 9999999999 days"):
        result = cli("log", lead_id, "call", "--at", typed, ok=False)
        assert result.exit_code == 1, typed
        assert result.stderr.count("\n") == 1 and "too far away" in result.stderr


def test_a_few_minutes_of_clock_skew_are_accepted(cli):
    lead_id = lead(cli)
    ahead = NOW + _dt.timedelta(seconds=clock.SKEW - 60)
    cli("log", lead_id, "call", "--at", ahead.isoformat())
    assert cli.scalar("SELECT MAX(at) FROM activity WHERE kind = 'call'") == int(ahead.timestamp())


def test_an_event_given_in_words_says_the_moment_it_recorded(cli):
    lead_id = lead(cli)
    result = cli("log", lead_id, "call", "--at", "yesterday 15:30")
    assert "read as Fri 2026-11-27 15:30" in result.stderr
    assert cli.scalar("SELECT MAX(at) FROM activity WHERE kind = 'call'") == epoch(2026, 11, 27, 15, 30)
    iso = cli("log", lead_id, "email", "--at", "2026-11-26 10:00")
    assert "read as" not in iso.stderr  # an ISO time is what it says


def test_weekdays_look_back_for_events(cli):
    lead_id = lead(cli)
    # Saturday 28: last monday is the 23rd, a bare "friday" (an event) is the 27th
    cli("move", lead_id, "Contact", "--at", "last monday")
    cli("log", lead_id, "call", "--at", "friday 9am")
    assert cli.scalar("SELECT stage_entered_at FROM lead WHERE id = :i", i=lead_id) == epoch(2026, 11, 23)
    assert cli.scalar("SELECT MAX(at) FROM activity WHERE kind = 'call'") == epoch(2026, 11, 27, 9)


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("next friday", "2026-12-04"),
        ("tomorrow", "2026-11-29"),
        ("in 3 days", "2026-12-01"),
        ("end of month", "2026-11-30"),
        ("eom", "2026-11-30"),
        ("eow", "2026-12-04"),  # the coming Friday
        ("5 june", "2027-06-05"),  # a plan without a year looks ahead
        ("2062-11-28", "2062-11-28"),  # a plan may be far ahead
    ],
)
def test_planning_dates_may_lie_ahead(cli, typed, expected):
    lead_id = lead(cli, "--expected-close", typed)
    assert cli.scalar("SELECT expected_close FROM lead WHERE id = :i", i=lead_id) == expected


def test_a_follow_up_due_in_words(cli):
    lead_id = lead(cli)
    cli("follow-up", lead_id, "next tuesday", "send proposal")
    assert cli.scalar("SELECT next_step_due FROM lead WHERE id = :i", i=lead_id) == "2026-12-01"


# --- day order ------------------------------------------------------------------------------------------


def test_an_ambiguous_date_without_a_day_order_says_how_to_settle_it(cli):
    result = cli("add-lead", "X", "--expected-close", "05/06", ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "date_order" in result.stderr and "YYYY-MM-DD" in result.stderr
    assert cli("add-lead", "Y", "--expected-close", "13/03/2027").exit_code == 0  # reads one way only


@pytest.mark.parametrize(
    "setting, env, expected",
    [
        ('date_order = "dmy"\n', {}, "2027-06-05"),
        ('date_order = "mdy"\n', {}, "2027-05-06"),
        ('locale = "it_IT"\n', {}, "2027-06-05"),
        ('locale = "fr_FR"\n', {}, "2027-06-05"),
        ("", {"LANG": "en_US.UTF-8"}, "2027-05-06"),
        ("", {"LC_ALL": "it_IT.UTF-8", "LANG": "en_US.UTF-8"}, "2027-06-05"),
        ('locale = "en_US"\ndate_order = "dmy"\n', {}, "2027-06-05"),  # the setting wins over the locale
    ],
)
def test_the_day_order_comes_from_the_setting_else_the_locale(cli, tmp_path, monkeypatch, setting, env, expected):
    config(tmp_path, setting)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    lead_id = int(cli("add-lead", "X", "--expected-close", "05/06").stdout)
    assert cli.scalar("SELECT expected_close FROM lead WHERE id = :i", i=lead_id) == expected


def test_a_date_impossible_in_the_configured_order_is_refused(cli, tmp_path):
    config(tmp_path, 'date_order = "mdy"\n')
    result = cli("add-lead", "X", "--expected-close", "13/03/2027", ok=False)
    assert result.exit_code == 1 and "not a valid date" in result.stderr


def test_the_importer_reads_an_ambiguous_file_in_the_configured_day_order(cli, tmp_path):
    csv = tmp_path / "leads.csv"
    csv.write_text("name,created\nAnna,05/06/2026\nBruno,04/03/2026\n", encoding="utf-8")
    refused = cli("import", str(csv), ok=False)
    assert refused.exit_code == 1 and "--dayfirst" in refused.stderr
    config(tmp_path, 'date_order = "dmy"\n')
    cli("import", str(csv))
    rows = cli.sql("SELECT name, created_at FROM lead ORDER BY name")
    assert rows == [("Anna", epoch(2026, 6, 5)), ("Bruno", epoch(2026, 3, 4))]


# --- money ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, minor", [("4.5k", 450000), ("12k", 1200000), ("1.2m", 120000000), ("€ 12K", 1200000)])
def test_thousands_and_millions_are_read(cli, typed, minor):
    lead_id = int(cli("add-lead", "X", "--value", typed).stdout)
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=lead_id) == minor


@pytest.mark.parametrize("typed", ["$ 7,250.50", "7250 USD", "£300"])
def test_an_amount_in_another_currency_is_refused(cli, typed):
    before = cli.every_row()
    result = cli("add-lead", "X", "--value", typed, ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "EUR" in result.stderr
    assert cli.every_row() == before


def test_a_currency_that_is_not_iso_4217_is_refused(cli, tmp_path):
    config(tmp_path, 'currency = "XYZ"\n')
    result = cli("add-lead", "X", "--value", "100", ok=False)
    assert result.exit_code == 1 and "ISO 4217" in result.stderr and "XYZ" in result.stderr


@pytest.mark.parametrize(
    "code, typed, minor, shown", [("XOF", "1500", 1500, 1500), ("BHD", "1,234.500", 1234500, 1234.5)]
)
def test_minor_units_follow_iso_4217(cli, tmp_path, code, typed, minor, shown):
    config(tmp_path, f'currency = "{code}"\n')
    lead_id = int(cli("add-lead", "X", "--value", typed).stdout)
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=lead_id) == minor
    assert json.loads(cli("show", lead_id, "--format", "json").stdout)["value"] == shown
    if code == "XOF":
        refused = cli("add-lead", "Y", "--value", "1500.5", ok=False)
        assert refused.exit_code == 1 and "decimals" in refused.stderr


def _plain_spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(
    "locale, shown", [("it_IT", "4.500,50 €"), ("fr_FR", "4 500,50 €"), ("en_US", "€4,500.50"), (None, "€4,500.50")]
)
def test_the_locale_writes_amounts_for_people_and_json_stays_machine_readable(cli, tmp_path, locale, shown):
    if locale:
        config(tmp_path, f'locale = "{locale}"\n')
    lead_id = int(cli("add-lead", "X", "--value", "4500.50", "--owner", "bob").stdout)
    assert shown in _plain_spaces(cli("show", lead_id).stdout)
    assert json.loads(cli("show", lead_id, "--format", "json").stdout)["value"] == 4500.5
    assert "4500.50" in cli("list", "--format", "csv").stdout


@pytest.mark.parametrize("locale, minor", [("it_IT", 450), ("en_US", 450000), (None, 450000)])
def test_the_locale_settles_a_lone_separator_before_three_digits(cli, tmp_path, locale, minor):
    if locale:
        config(tmp_path, f'locale = "{locale}"\n')
    lead_id = int(cli("add-lead", "X", "--value", "4,500").stdout)
    assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=lead_id) == minor


# --- settings -------------------------------------------------------------------------------------------


def test_an_unknown_setting_names_the_closest_key(cli, tmp_path):
    config(tmp_path, "stale_dayz = 10\n")
    result = cli("list", ok=False)
    assert result.exit_code == 1 and "did you mean stale_days?" in result.stderr


def test_a_bad_locale_is_refused(cli, tmp_path):
    config(tmp_path, 'locale = "Italian"\n')
    result = cli("add-lead", "X", "--value", "1", ok=False)
    assert result.exit_code == 1 and "locale" in result.stderr


# --- the README tour runs as written ----------------------------------------------------------------------


def _tour() -> str:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    after = readme.split("## A tour", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.sqlite_only
def test_the_readme_tour_runs_as_written_in_a_fresh_folder(tmp_path, backend, monkeypatch):
    import os
    import subprocess
    import sys
    from pathlib import Path

    block = _tour()
    assert "pipecli move $id Proposal" in block  # the tour this test is about
    folder = tmp_path / "fresh"
    folder.mkdir()
    env = dict(os.environ)
    env.pop("PIPECLI_NOW")  # the tour runs against the real clock, as a reader runs it
    env["PIPECLI_DB"] = str(folder / "tour.db")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    script = "set -e\ntrap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR\n" + block
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=270)
    assert done.returncode == 0, done.stderr
    assert "FAILED" not in done.stderr and "internal error" not in done.stderr
    assert "read as" in done.stderr  # the --at given in words says what it recorded
    assert "Anna Rossi" in done.stdout


# --- the small ones -------------------------------------------------------------------------------------


def test_a_new_pipelines_stages_get_the_default_probability_ramp(cli):
    from pipecli.pipelines import default_probability

    cli("pipeline", "add", "Outbound", "--stages", "New,Demo,Proposal")
    rows = cli.sql(
        "SELECT s.name, s.probability FROM stage s JOIN pipeline p ON p.id = s.pipeline_id "
        "WHERE p.name = 'Outbound' AND s.kind = 'open' ORDER BY s.position"
    )
    assert rows == [("New", 0.25), ("Demo", 0.5), ("Proposal", 0.75)]  # position / (3 + 1)
    assert [default_probability(i, 4) for i in range(1, 5)] == [0.2, 0.4, 0.6, 0.8]


def test_the_forecast_warns_when_every_probability_is_0(cli):
    cli("pipeline", "add", "Outbound", "--stages", "New,Demo")
    cli("add-lead", "X", "--pipeline", "Outbound", "--value", "1000", "--expected-close", "2026-12-15")
    fine = cli("forecast", "--pipeline", "Outbound", "--probabilities", "stage", "--runs", "100")
    assert "warning" not in fine.stderr
    for stage in ("New", "Demo"):
        cli("pipeline", "stage", "Outbound", stage, "--probability", "0")
    zero = cli("forecast", "--pipeline", "Outbound", "--probabilities", "stage", "--runs", "100")
    assert "every stage's win probability is 0" in zero.stderr


def test_demo_into_a_database_with_other_data_refuses(cli):
    cli("add-lead", "A real customer", "--email", "anna@rossi.it")
    before = cli.every_row()
    result = cli("demo", "--into", cli.db, "--leads", "5", ok=False)
    assert result.exit_code == 1 and "not the demo's" in result.stderr and result.stderr.count("\n") == 1
    assert cli.every_row() == before


def test_choices_take_any_case(cli):
    lead_id = lead(cli)
    assert json.loads(cli("list", "--status", "Open", "--format", "JSON").stdout)[0]["id"] == lead_id
    assert cli("list", "--sort", "Value").exit_code == 0
    assert cli("clean", "--rules", "Stale,HYGIENE", "--format", "Json").exit_code == 0


def test_importing_the_same_file_twice_without_a_key_needs_allow_duplicates(cli, tmp_path):
    csv = tmp_path / "leads.csv"
    csv.write_text("name,email\nAnna,anna@rossi.it\nBruno,bruno@neri.it\n", encoding="utf-8")
    cli("import", str(csv))
    before = cli.every_row()
    again = cli("import", str(csv), ok=False)
    assert again.exit_code == 1 and again.stderr.count("\n") == 1
    assert "would duplicate 2 leads" in again.stderr and "--allow-duplicates" in again.stderr
    assert cli.every_row() == before
    copy = tmp_path / "copy.csv"
    copy.write_bytes(csv.read_bytes())  # the same bytes under another name: the same file
    assert cli("import", str(copy), ok=False).exit_code == 1
    cli("import", str(csv), "--key", "email")  # updates: nothing duplicated
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 2
    cli("import", str(csv), "--allow-duplicates")
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 4


def test_move_to_lost_on_a_terminal_asks_for_the_reason(cli):
    from pipecli.cli import app
    from pipecli.cli.context import Context

    lead_id = lead(cli)
    result = cli.runner.invoke(
        app,
        ["--db", cli.db, "move", str(lead_id), "lost"],
        input="went with a competitor\n",
        obj=Context(stdin_tty=True, stderr_tty=True),
    )
    assert result.exit_code == 0, result.stderr
    assert "Why was lead" in result.stderr
    assert cli.scalar("SELECT lost_reason FROM lead WHERE id = :i", i=lead_id) == "went with a competitor"
    piped = lead(cli)
    cli("move", piped, "lost")  # no terminal: no question, no reason
    assert cli.scalar("SELECT lost_reason FROM lead WHERE id = :i", i=piped) is None


@pytest.mark.parametrize(
    "locale, close, created",
    [
        ("it_IT", "20/12/2026", "28/11/2026 09:00"),
        ("en_US", "12/20/2026", "11/28/2026 09:00"),
        (None, "2026-12-20", "2026-11-28 09:00"),
    ],
)
def test_the_locale_writes_dates_for_people_and_csv_keeps_iso(cli, tmp_path, locale, close, created):
    if locale:
        config(tmp_path, f'locale = "{locale}"\n')
    cli("add-lead", "X", "--expected-close", "2026-12-20")
    table = cli("list", "--columns", "all").stdout
    assert close in table and created in table
    assert "2026-12-20" in cli("list", "--format", "csv").stdout


def test_a_failed_command_says_its_one_line_without_the_reading(cli):
    """How a time in words was read is said once the command succeeded; a refused one says only why."""
    result = cli("log", "999", "call", "--at", "yesterday 15:30", ok=False)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "read as" not in result.stderr, result.stderr
    lead_id = lead(cli)
    moved = cli("move", lead_id, "Contact", "--at", "yesterday 9am")
    assert moved.stderr.strip().splitlines()[-1] == "--at yesterday 9am: read as Fri 2026-11-27 09:00"
