"""`pipecli clean` and `pipecli snooze`: each rule on a constructed history with frozen time
(2026-11-28 09:00 UTC), snoozes, --as-of, exit codes, acting on findings, the cron example script."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pipecli
from pipecli.clock import human_duration

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400


def epoch(text: str) -> int:
    """Epoch seconds of an ISO time (UTC unless it says otherwise)."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(text)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp())


NOW = epoch("2026-11-28T09:00:00")  # conftest's frozen clock

# Stage limits of the default Sales pipeline (pipelines.DEFAULT_STAGES): stale days.
LIMITS = {"Prospecting": 21, "Contact": 14, "Qualification": 14, "Meeting": 10, "Proposal": 10}


def complete(**extra) -> list[str]:
    """Options that make a lead complete (nothing for the incomplete rule to report), but next step."""
    opts = {"--value": "1000", "--email": None, "--owner": "bob", "--expected-close": "2027-01-31", **extra}
    return [str(x) for k, v in opts.items() if v is not None for x in (k, v)]


def add(cli, name, at, *opts, email=None, next_step=True, **extra) -> int:
    """Add a lead at `at`, complete unless told otherwise; return its id."""
    email = email or f"{name.lower().replace(' ', '.')}@example.com"
    args = ["add-lead", name, "--at", at, "--email", email, *complete(**extra), *opts]
    lead_id = int(cli(*args).stdout.strip())
    if next_step:
        set_next_step(cli, lead_id)
    return lead_id


def set_next_step(cli, lead_id: int, step: str = "call back") -> None:
    # The follow-up command that sets next steps is another issue's; the column is the contract.
    cli.execute("UPDATE lead SET next_step = :s WHERE id = :i", s=step, i=lead_id)


def report(cli, *args) -> list[dict]:
    return json.loads(cli("clean", "--format", "json", *args).stdout)


def by_rule(rows, rule) -> dict[int, dict]:
    return {r["lead_id"]: r for r in rows if r["rule"] == rule}


def state(cli):
    """Everything an action could change, to compare before and after."""
    return (
        cli.sql("SELECT id, status, stage_id, archived_at, snoozed_until, lost_reason FROM lead ORDER BY id"),
        cli.sql("SELECT * FROM stage_change ORDER BY id"),
        cli.sql("SELECT * FROM activity ORDER BY id"),
    )


def run(db, *args, env=None):
    """Run pipecli in a real subprocess with no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", db, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=subprocess.DEVNULL,
    )


# --- the rules ---------------------------------------------------------------------------------


def test_silent_uses_the_stage_limit_and_the_last_event(cli):
    quiet = add(cli, "Quiet", "2026-11-01")  # 27 days in Prospecting (limit 21), no activity
    touched = add(cli, "Touched", "2026-11-01")
    cli("log", touched, "call", "--at", "2026-11-20")  # 8 days ago
    young = add(cli, "Young", "2026-11-10")  # 18 days < 21
    contact = add(cli, "Contact", "2026-11-01")
    cli("move", contact, "Contact", "--at", "2026-11-10")  # 18 days in Contact > 14

    silent = by_rule(report(cli), "silent")

    assert set(silent) == {quiet, contact}
    assert touched not in silent and young not in silent
    assert silent[quiet]["since"] == "2026-11-01T00:00:00+00:00"
    assert silent[quiet]["threshold"] == "21d"
    assert silent[contact]["stage"] == "Contact" and silent[contact]["threshold"] == "14d"
    assert "27d 9h" in silent[quiet]["why"]


def test_silent_falls_back_to_the_configured_default(cli, tmp_path):
    cli("pipeline", "add", "Ops", "--stages", "New,Done")  # stages without their own limit
    (tmp_path / "config.toml").write_text("stale_days = 5\n")
    old = add(cli, "Old", "2026-11-22", "--pipeline", "Ops")  # 6 days > 5
    add(cli, "New", "2026-11-24", "--pipeline", "Ops")  # 4 days

    silent = by_rule(report(cli, "--pipeline", "Ops"), "silent")

    assert list(silent) == [old]
    assert silent[old]["threshold"] == "5d" and silent[old]["basis"] == "default limit"


def past_stays(cli, stage: str, days: list[float]) -> None:
    """Leads that entered `stage` on 2026-06-01 and stayed `days` before winning."""
    start = epoch("2026-06-01")
    for i, d in enumerate(days):
        lead = add(cli, f"Past {stage} {i}", iso(start), "--stage", stage)
        cli("move", lead, "won", "--at", iso(start + int(d * DAY)))


def iso(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def test_stuck_uses_the_percentile_with_history_and_the_fixed_limit_without(cli):
    durations = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]  # 10 past stays in Proposal
    past_stays(cli, "Proposal", durations)
    past_stays(cli, "Meeting", [1, 1, 1])  # too few to say what is normal
    ranked = sorted(durations)  # the 90th percentile, interpolated: 0.9 of the way from the 9th to the 10th
    pos = 0.9 * (len(ranked) - 1)
    p90 = round((ranked[int(pos)] + (ranked[int(pos) + 1] - ranked[int(pos)]) * (pos - int(pos))) * DAY)  # 9.3d

    slow = add(cli, "Slow proposal", iso(NOW - int(9.5 * DAY)), "--stage", "Proposal")  # > p90, < limit 10d
    normal = add(cli, "Normal proposal", iso(NOW - 8 * DAY), "--stage", "Proposal")
    meeting = add(cli, "Long meeting", iso(NOW - 11 * DAY), "--stage", "Meeting")  # > fixed 10d
    short = add(cli, "Short meeting", iso(NOW - 5 * DAY), "--stage", "Meeting")  # > 1d percentile, < 10d

    stuck = by_rule(report(cli), "stuck")

    assert set(stuck) == {slow, meeting}
    assert normal not in stuck and short not in stuck
    assert stuck[slow]["basis"] == "percentile"
    assert stuck[slow]["threshold"] == human_duration(p90) == "9d 7h"
    assert "90th percentile of 10 past stays" in stuck[slow]["why"]
    assert stuck[meeting]["basis"] == "fixed limit"
    assert stuck[meeting]["threshold"] == f"{LIMITS['Meeting']}d"
    assert "fixed limit" in stuck[meeting]["why"] and "only 3 past stays" in stuck[meeting]["why"]
    assert stuck[slow]["since"] == iso(NOW - int(9.5 * DAY))


def test_stuck_percentile_and_history_needed_are_configurable(cli, tmp_path):
    durations = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]
    past_stays(cli, "Proposal", durations)
    eight = add(cli, "Eight days", iso(NOW - 8 * DAY), "--stage", "Proposal")
    (tmp_path / "config.toml").write_text("[clean]\npercentile = 50\n")
    ranked = sorted(durations)
    median = (ranked[4] + ranked[5]) / 2 * DAY  # 5.5 days, as `metrics` would say

    stuck = by_rule(report(cli), "stuck")
    assert stuck[eight]["threshold"] == human_duration(round(median)) and stuck[eight]["basis"] == "percentile"

    (tmp_path / "config.toml").write_text("[clean]\npercentile = 50\nmin_history = 11\n")
    assert eight not in by_rule(report(cli), "stuck")  # 8 days < the fixed 10 days


def test_metrics_p90_and_the_stuck_threshold_are_one_definition(cli):
    """`metrics` says a stage's 90th percentile stay; `clean` calls a deal stuck past that same figure."""
    past_stays(cli, "Proposal", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12])
    slow = add(cli, "Slow proposal", iso(NOW - int(9.5 * DAY)), "--stage", "Proposal")
    stages = {s["stage"]: s for s in json.loads(cli("metrics", "--format", "json").stdout)["stages"]}
    p90_days = stages["Proposal"]["time_p90_days"]

    assert p90_days == pytest.approx(9.3)
    assert by_rule(report(cli), "stuck")[slow]["threshold"] == human_duration(round(p90_days * DAY))


def test_bad_config_is_one_line_and_exit_1(cli, tmp_path):
    (tmp_path / "config.toml").write_text("[clean]\npercentile = 150\n")
    result = cli("clean", ok=False)
    assert result.exit_code == 1
    assert "percentile must be between 1 and 100" in result.stderr


def test_overdue_is_an_open_deal_past_its_expected_close(cli):
    late = add(cli, "Late", "2026-11-20", **{"--expected-close": "2026-11-20"})
    today = add(cli, "Today", "2026-11-20", **{"--expected-close": "2026-11-28"})
    won = add(cli, "Won", "2026-11-20", **{"--expected-close": "2026-11-01"})
    cli("move", won, "won", "--at", "2026-11-25")

    overdue = by_rule(report(cli), "overdue")

    assert list(overdue) == [late]
    assert overdue[late]["since"] == "2026-11-21T00:00:00+00:00"
    assert overdue[late]["threshold"] == "2026-11-20"
    assert "8 days ago" in overdue[late]["why"]
    assert today not in overdue


def test_incomplete_names_what_is_missing(cli):
    ok = add(cli, "Complete", "2026-11-27")
    phone_only = add(cli, "Phone only", "2026-11-27", **{"--phone": "+39 06 555"})
    cli("edit", phone_only, "--email", "")
    bare = int(cli("add-lead", "Bare", "--at", "2026-11-27").stdout)
    no_step = add(cli, "No step", "2026-11-27", next_step=False)

    rows = report(cli, "--rules", "hygiene")
    incomplete, unplanned = by_rule(rows, "incomplete"), by_rule(rows, "no-next-step")

    assert set(incomplete) == {bare}
    assert incomplete[bare]["why"] == "missing value, expected close, email or phone, owner"
    assert set(unplanned) == {bare, no_step}
    assert {r["group"] for r in rows} == {"hygiene"}
    assert ok not in incomplete and phone_only not in incomplete
    assert report(cli) == []  # hygiene is not counted as stale by default


def test_duplicates_same_email_or_same_name_and_company(cli):
    first = add(cli, "Anna Rossi", "2026-11-27", email="anna@acme.com", **{"--company": "Acme"})
    same_email = add(cli, "A. Rossi", "2026-11-27", email="ANNA@acme.com")
    same_name = add(cli, "anna rossi", "2026-11-27", email="other@acme.com", **{"--company": "ACME"})
    same_name_other_company = add(cli, "Anna Rossi", "2026-11-27", email="x@y.com", **{"--company": "Beta"})

    dups = by_rule(report(cli, "--rules", "duplicate"), "duplicate")

    assert set(dups) == {same_email, same_name}
    assert dups[same_email]["why"] == f"same email as lead {first} (Anna Rossi)"
    assert dups[same_name]["why"] == f"same name and company as lead {first} (Anna Rossi)"
    assert first not in dups and same_name_other_company not in dups


def test_duplicates_are_compared_within_the_stored_blocks(cli):
    """The duplicate rule compares only open leads sharing a stored block (`match_*`) with another: a copy
    whose stored blocks were lost is not compared (the blocks are what the rule reads)."""
    first = add(cli, "Anna Rossi", "2026-11-27", email="anna@acme.com", **{"--company": "Rossi S.r.l."})
    copy = add(cli, "Rossi Anna", "2026-11-27", email="anna+crm@ACME.com", **{"--company": "Rossi Srl"})
    phone = add(cli, "Bruno Bianchi", "2026-11-27", **{"--phone": "+39 02 1234567"})
    phone_copy = add(cli, "Bianchi Bruno", "2026-11-27", **{"--phone": "+39 02-123-4567"})
    dups = by_rule(report(cli, "--rules", "duplicate"), "duplicate")
    assert set(dups) == {copy, phone_copy}
    assert f"as lead {first} (Anna Rossi)" in dups[copy]["why"]
    assert dups[phone_copy]["why"].endswith(f"as lead {phone} (Bruno Bianchi)")
    cli.execute("UPDATE lead SET match_email = NULL, match_company = NULL WHERE id = :i", i=copy)
    assert set(by_rule(report(cli, "--rules", "duplicate"), "duplicate")) == {phone_copy}


def test_archived_and_closed_leads_are_left_out(cli):
    lead = add(cli, "Quiet", "2026-10-01")
    lost = add(cli, "Lost", "2026-10-01")
    cli("move", lost, "lost", "--at", "2026-10-02")
    assert {r["lead_id"] for r in report(cli)} == {lead}
    cli("clean", "--archive", "--reason", "gone quiet", "--yes")
    assert report(cli) == []
    assert cli.scalar("SELECT archived_at FROM lead WHERE id = :i", i=lead) == NOW
    assert (
        cli.scalar("SELECT note FROM activity WHERE lead_id = :i AND kind = 'note'", i=lead)
        == "archived by clean: gone quiet"
    )
    assert "Quiet" not in cli("list").stdout


# --- snoozes -------------------------------------------------------------------------------------


def test_a_snoozed_deal_is_left_out_until_the_date_passes(cli, monkeypatch):
    lead = add(cli, "Frozen budget", "2026-10-01")
    other = add(cli, "Other", "2026-10-01")
    cli("snooze", lead, "--until", "2026-12-05", "--reason", "budget freeze")

    assert {r["lead_id"] for r in report(cli)} == {other}
    assert cli.sql("SELECT snoozed_until, snooze_reason FROM lead WHERE id = :i", i=lead)[0] == (
        "2026-12-05",
        "budget freeze",
    )
    assert (
        cli.scalar("SELECT note FROM activity WHERE lead_id = :i", i=lead) == "snoozed until 2026-12-05: budget freeze"
    )

    monkeypatch.setenv("PIPECLI_NOW", "2026-12-05T09:00:00+00:00")  # the day itself: back in
    assert lead in {r["lead_id"] for r in report(cli)}


def test_snooze_clear_and_bad_input(cli):
    lead = add(cli, "Quiet", "2026-10-01")
    before = state(cli)
    assert cli("snooze", lead, "--until", "2026-11-01", "--reason", "x", ok=False).exit_code == 1  # in the past
    assert cli("snooze", lead, "--until", "2026-12-01", ok=False).exit_code == 1  # no reason
    assert cli("snooze", lead, ok=False).exit_code == 2
    assert cli("snooze", 999, "--until", "2026-12-01", "--reason", "x", ok=False).exit_code == 1
    assert state(cli) == before
    cli("snooze", lead, "--until", "2026-12-10", "--reason", "holiday")
    assert report(cli) == []
    cli("snooze", lead, "--clear")
    assert cli.scalar("SELECT snoozed_until FROM lead WHERE id = :i", i=lead) is None
    assert {r["lead_id"] for r in report(cli)} == {lead}


def test_clean_snooze_days_snoozes_every_deal_found(cli):
    a = add(cli, "A", "2026-10-01")
    b = add(cli, "B", "2026-10-01")
    cli("clean", "--snooze", "7", "--reason", "after the fair", "--yes")
    rows = cli.sql("SELECT id, snoozed_until, snooze_reason FROM lead ORDER BY id")
    assert rows == [(a, "2026-12-05", "after the fair"), (b, "2026-12-05", "after the fair")]
    assert report(cli) == []


# --- as of ---------------------------------------------------------------------------------------


def test_as_of_reads_the_pipeline_as_it_stood(cli):
    then_silent = add(cli, "Then silent", "2026-10-01")
    cli("log", then_silent, "call", "--at", "2026-11-20")  # silent on Oct 25, not now
    closed_later = add(cli, "Closed later", "2026-10-01")
    cli("move", closed_later, "Contact", "--at", "2026-10-20")
    cli("move", closed_later, "won", "--at", "2026-11-15")
    add(cli, "Not yet", "2026-11-01")

    now_silent = by_rule(report(cli), "silent")
    assert then_silent not in now_silent and closed_later not in now_silent

    rows = report(cli, "--as-of", "2026-10-25")
    silent = by_rule(rows, "silent")
    assert set(silent) == {then_silent}  # Closed later was in Contact for 5 days only
    end = epoch("2026-10-25T23:59:59")
    assert f"for {clock_days(end - epoch('2026-10-01'))} " in silent[then_silent]["why"]
    assert {r["lead_id"] for r in rows} == {then_silent}

    late = report(cli, "--as-of", "2026-11-10")  # "Not yet" is 9 days old: nothing to say
    assert set(by_rule(late, "silent")) == {then_silent, closed_later}
    stuck = by_rule(late, "stuck")
    assert set(stuck) == {then_silent, closed_later}  # 21 days in Contact by Nov 10 > fixed 14
    assert stuck[closed_later]["since"] == "2026-10-20T00:00:00+00:00"
    assert stuck[closed_later]["stage"] == "Contact"
    assert by_rule(late, "silent")[then_silent]["since"] == "2026-10-01T00:00:00+00:00"


def test_as_of_shows_each_finding_with_its_details_as_they_were(cli):
    """No finding of a past day shows a present value: the name, owner, value, close date and next step
    a deal had then, and a seller's filter on who owned it then."""
    lead = add(cli, "Acme", "2026-10-01")
    cli("edit", lead, "--owner", "bob", "--value", "100", "--expected-close", "2026-10-15", "--at", "2026-10-01 10:00")
    cli("edit", lead, "--name", "Acme Renamed", "--owner", "zed", "--value", "900", "--expected-close", "2026-12-20")
    then = report(cli, "--as-of", "2026-10-25")
    assert {r["rule"] for r in then} >= {"silent", "overdue"}  # overdue by Oct 15's expected close, then
    assert {(r["name"], r["owner"], r["value"]) for r in then} == {("Acme", "bob", 100)}
    assert "expected to close on 2026-10-15" in by_rule(then, "overdue")[lead]["why"]
    assert {(r["name"], r["owner"], r["value"]) for r in report(cli)} == {("Acme Renamed", "zed", 900)}
    assert report(cli, "--as-of", "2026-10-25", "--owner", "bob") == then  # bob owned it then
    assert report(cli, "--as-of", "2026-10-25", "--owner", "zed") == []
    missing = cli("clean", "--as-of", "2026-10-25", "--owner", "nobody", ok=False)
    assert missing.exit_code == 1 and "bob" in missing.stderr and "zed" in missing.stderr  # owners then and now


def clock_days(seconds: int) -> str:
    return f"{seconds // DAY}d {seconds % DAY // 3600}h"


def test_as_of_refuses_to_act(cli):
    add(cli, "Quiet", "2026-10-01")
    result = cli("clean", "--as-of", "2026-11-01", "--close-lost", "--yes", ok=False)
    assert result.exit_code == 2 and "--as-of" in result.stderr


# --- output --------------------------------------------------------------------------------------


def test_text_report_starts_with_a_summary_computed_from_the_rows(cli):
    a = add(cli, "Quiet", "2026-11-01", **{"--value": "1200.50"})  # silent + stuck
    b = add(cli, "Late", "2026-11-20", **{"--value": "300", "--expected-close": "2026-11-25"})  # overdue
    add(cli, "Fine", "2026-11-25", **{"--value": "999"})

    text = cli("clean").stdout  # not a terminal: text by default
    lines = text.splitlines()

    total = 120050 + 30000
    assert lines[0] == f"2 stale deals worth €{total // 100:,}.{total % 100:02d} in Sales: 1 silent, 1 stuck, 1 overdue"
    assert f"#{a} Quiet" in text and f"#{b} Late" in text and "Fine" not in text
    assert [line for line in lines if line and not line.startswith(" ")][1:] == [
        "silent (1)",
        "stuck (1)",
        "overdue (1)",
    ]


def test_nothing_stale_is_one_line(cli):
    add(cli, "Fine", "2026-11-25")
    assert cli("clean").stdout == "No stale deals in Sales: the pipeline is clean.\n"


def test_output_is_deterministic_and_ordered(cli):
    for i in range(6):
        add(cli, f"Lead {i}", f"2026-10-0{1 + i % 3}", **{"--expected-close": f"2026-11-0{1 + i % 2}"})
    first = cli("clean").stdout
    assert cli("clean").stdout == first
    rows = report(cli)
    rules = ["silent", "stuck", "overdue", "incomplete", "duplicate"]
    keys = [(rules.index(r["rule"]), r["since"], r["lead_id"]) for r in rows]
    assert keys == sorted(keys) and len(rows) == 18


def test_formats(cli):
    lead = add(cli, "Quiet", "2026-11-01")
    csv_out = cli("clean", "--format", "csv").stdout.splitlines()
    assert csv_out[0] == "lead_id,name,rule,group,why,since,threshold,basis,value,owner,stage"
    assert csv_out[1].startswith(f"{lead},Quiet,silent,stale,")
    md = cli("clean", "--format", "markdown").stdout.splitlines()
    assert md[0].startswith("1 stale deal worth €1,000.00 in Sales")
    assert md[2].startswith("| id | name | rule |") and md[4].startswith(f"| {lead} | Quiet | silent |")
    assert cli("clean", "--format", "xml", ok=False).exit_code == 2


def test_csv_defuses_a_formula_in_a_text_cell_unless_raw(cli):
    """A name or owner a spreadsheet would run (= + - @) gets a leading apostrophe in the CSV (the one rule
    of `output.csv_cells`); ids and amounts do not; `--raw` writes them as stored."""
    name, owner = "@SUM(A1)", "=cmd|' /C calc'!A0"
    lead = add(cli, name, "2026-11-01", email="sum@example.com", **{"--owner": owner})
    defused = list(csv.reader(io.StringIO(cli("clean", "--format", "csv").stdout)))[1]
    raw = list(csv.reader(io.StringIO(cli("clean", "--format", "csv", "--raw").stdout)))[1]
    assert defused[:4] == [str(lead), "'" + name, "silent", "stale"] and raw[:4] == [str(lead), name, "silent", "stale"]
    assert defused[-3:] == ["1000.00", "'" + owner, "Prospecting"] and raw[-3:] == ["1000.00", owner, "Prospecting"]


def test_owner_filter(cli):
    bob = add(cli, "Bob's", "2026-10-01")
    eve = add(cli, "Eve's", "2026-10-01", **{"--owner": "eve"})
    assert {r["lead_id"] for r in report(cli, "--owner", "EVE")} == {eve}
    assert {r["lead_id"] for r in report(cli, "--owner", "bob")} == {bob}
    assert "(owner eve)" in cli("clean", "--owner", "eve").stdout.splitlines()[0]


# --- exit codes and acting, in real processes ------------------------------------------------------


def test_check_exit_codes(cli):
    add(cli, "Fine", "2026-11-25")
    clean = run(cli.db, "clean", "--check")
    assert clean.returncode == 0 and clean.stdout == "No stale deals in Sales: the pipeline is clean.\n"
    add(cli, "Quiet", "2026-10-01")
    found = run(cli.db, "clean", "--check")
    assert found.returncode == 1 and found.stdout.startswith("1 stale deal worth")
    assert run(cli.db, "clean").returncode == 0
    helped = run(cli.db, "clean", "--help")
    assert helped.returncode == 0 and "Exit codes" in helped.stdout and helped.stderr == ""


def test_acting_without_a_terminal_needs_yes(cli):
    add(cli, "Quiet", "2026-10-01")
    before = state(cli)
    for action in (["--close-lost"], ["--archive"], ["--snooze", "5"]):
        refused = run(cli.db, "clean", *action)
        assert refused.returncode == 2
        assert "pass --yes" in refused.stderr and len(refused.stderr.splitlines()) == 1
        assert state(cli) == before


def test_dry_run_changes_nothing(cli):
    add(cli, "Quiet", "2026-10-01")
    before = state(cli)
    result = cli("clean", "--close-lost", "--dry-run")
    assert "dry run: would close 1 deal as lost (reason: stale); nothing was changed" in result.stderr
    assert state(cli) == before


def test_close_lost_records_the_reason_in_history(cli):
    a = add(cli, "Quiet", "2026-10-01")
    b = add(cli, "Late", "2026-11-01", **{"--expected-close": "2026-11-25"})
    fine = add(cli, "Fine", "2026-11-25")
    result = run(cli.db, "clean", "--close-lost", "--reason", "stale", "--yes")
    assert result.returncode == 0, result.stderr
    assert cli.sql("SELECT id, status, lost_reason, closed_at FROM lead ORDER BY id") == [
        (a, "lost", "stale", NOW),
        (b, "lost", "stale", NOW),
        (fine, "open", None, None),
    ]
    moves = cli.sql(
        "SELECT c.lead_id, s.name, c.reason, c.at FROM stage_change c JOIN stage s ON s.id = c.to_stage_id "
        "WHERE s.kind = 'lost' ORDER BY c.lead_id"
    )
    assert moves == [(a, "lost", "stale", NOW), (b, "lost", "stale", NOW)]
    assert report(cli) == []


def test_the_mail_script_mails_only_when_something_is_stale(cli, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    outbox = tmp_path / "outbox"
    (bin_dir / "mail").write_text(f'#!/bin/sh\necho "$@" > "{outbox}.args"\ncat > "{outbox}"\n')
    (bin_dir / "pipecli").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pipecli "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT), "PIPECLI_DB": cli.db}
    script = [str(Path(pipecli.__file__).parent / "examples" / "clean-and-mail.sh"), "sales@example.com"]

    add(cli, "Fine", "2026-11-25")
    quiet = subprocess.run(script, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert quiet.returncode == 0 and not outbox.exists()

    add(cli, "Quiet", "2026-10-01")
    sent = subprocess.run(script, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert sent.returncode == 0, sent.stderr
    body = outbox.read_text()
    assert body == run(cli.db, "clean").stdout
    assert (tmp_path / "outbox.args").read_text() == f"-s {body.splitlines()[0]} sales@example.com\n"

    broken = subprocess.run(script, env={**env, "PIPECLI_DB": str(tmp_path)}, capture_output=True, text=True)
    assert broken.returncode == 1 and "no mail sent" in broken.stderr


def test_duplicates_as_of_a_past_day_read_who_was_open_then(cli):
    first = add(cli, "Anna", "2026-10-01", email="anna@acme.com")
    copy = add(cli, "Anna R", "2026-10-05", email="Anna@Acme.com")
    cli("move", first, "won", "--at", "2026-11-01")  # only the copy is open now: no pair

    assert by_rule(report(cli, "--rules", "duplicate"), "duplicate") == {}
    then = by_rule(report(cli, "--rules", "duplicate", "--as-of", "2026-10-10"), "duplicate")
    assert set(then) == {copy} and then[copy]["why"] == f"same email as lead {first} (Anna)"
    assert by_rule(report(cli, "--rules", "duplicate", "--as-of", "2026-10-03"), "duplicate") == {}  # not yet


def test_snooze_and_archive_actions_write_notes_with_the_reason(cli):
    a = add(cli, "A", "2026-10-01")
    cli("clean", "--snooze", "3", "--reason", "fair", "--yes")
    assert cli.sql("SELECT kind, note, at FROM activity WHERE lead_id = :i", i=a) == [
        ("note", "snoozed until 2026-12-01: fair", NOW)
    ]


# --- groups, what actions may touch, filters that match nothing, --since-last ------------------------


def test_rules_choose_groups_or_rules_and_stale_is_the_default(cli):
    quiet = add(cli, "Quiet", "2026-10-01")  # silent (and stuck on the fixed limit)
    bare = int(cli("add-lead", "Bare", "--at", "2026-11-27").stdout)  # hygiene only
    assert {(r["lead_id"], r["group"]) for r in report(cli)} == {(quiet, "stale")}
    both = report(cli, "--rules", "stale,hygiene")
    assert {r["lead_id"] for r in both} == {quiet, bare}
    assert {r["rule"] for r in report(cli, "--rules", "incomplete")} == {"incomplete"}
    assert report(cli, "--rules", "all") == both
    assert run(cli.db, "clean", "--check", "--rules", "hygiene", "--owner", "bob").returncode == 0
    refused = cli("clean", "--rules", "stail", ok=False)
    assert refused.exit_code == 2 and "stale, hygiene" in refused.stderr  # a fixed set: a usage error
    assert "deals to look at" in cli("clean", "--rules", "stale,hygiene").stdout.splitlines()[0]


def test_close_lost_and_archive_never_touch_a_young_deal_or_a_hygiene_finding(cli):
    old = add(cli, "Old", "2026-10-01", **{"--value": "50000"})
    # created seconds ago with a past expected close: overdue, but younger than Prospecting's 21 days
    young = add(cli, "Young", "2026-11-28T08:59", **{"--value": "50000", "--expected-close": "2026-11-01"})
    untidy = int(cli("add-lead", "Untidy", "--at", "2026-10-01", "--value", "10").stdout)  # silent and hygiene
    assert by_rule(report(cli), "overdue").keys() == {young}
    result = cli("clean", "--close-lost", "--rules", "all", "--reason", "stale", "--yes")
    assert "1 deal left alone" in result.stderr
    assert dict(cli.sql("SELECT id, status FROM lead ORDER BY id")) == {old: "lost", young: "open", untidy: "lost"}
    hygiene_only = int(cli("add-lead", "Hygiene", "--at", "2026-11-27").stdout)
    archived = cli("clean", "--archive", "--rules", "hygiene", "--reason", "tidy", "--yes")
    assert "nothing to archive" in archived.stderr
    assert cli.scalar("SELECT archived_at FROM lead WHERE id = :i", i=hygiene_only) is None


def test_filters_that_match_nothing_are_errors_naming_the_known_values(cli):
    add(cli, "Quiet", "2026-10-01", **{"--owner": "marco"})
    unknown_owner = cli("clean", "--owner", "bob", ok=False)
    assert unknown_owner.exit_code == 1 and "owners: marco" in unknown_owner.stderr
    unknown_stage = cli("clean", "--stage", "Negotiation", ok=False)
    assert unknown_stage.exit_code == 1 and "Prospecting" in unknown_stage.stderr
    unknown_pipeline = cli("clean", "--pipeline", "Nope", ok=False)
    assert unknown_pipeline.exit_code == 1 and "Sales" in unknown_pipeline.stderr
    assert {r["stage"] for r in report(cli, "--stage", "prospecting")} == {"Prospecting"}
    assert report(cli, "--stage", "Meeting") == []  # a known stage with nothing stale is no error


def test_since_last_reports_only_what_is_new(cli, monkeypatch):
    first = add(cli, "Quiet", "2026-10-01")
    assert {r["lead_id"] for r in report(cli, "--since-last")} == {first}  # the first time: everything
    again = cli("clean", "--since-last")
    assert again.stdout.startswith("Nothing new in Sales since the last report (2026-11-28 09:00): ")
    assert run(cli.db, "clean", "--since-last", "--check").returncode == 0  # nothing new: no mail
    second = add(cli, "Late", "2026-10-15", **{"--expected-close": "2026-11-20"})
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-29T09:00:00+00:00")
    new = report(cli, "--since-last")
    assert {r["lead_id"] for r in new} == {second}
    assert cli("clean").stdout.startswith("2 stale deals")  # without --since-last: the whole report
    assert cli("clean", "--since-last", "--as-of", "2026-11-01", ok=False).exit_code == 2
