"""`calendar export`: follow-ups as VTODOs with a reminder, expected close dates as all-day events, parsed
back with icalendar; UIDs stable across exports; the --days window (frozen now: 2026-11-28)."""

from __future__ import annotations

import datetime as dt

import icalendar


def export(cli, *args):
    result = cli("calendar", "export", *args)
    return result.stdout_bytes, icalendar.Calendar.from_ical(result.stdout_bytes)


def test_export_todos_events_and_stable_uids(cli):
    soon = int(cli("add-lead", "Acme", "--company", "Acme Inc", "--expected-close", "2026-12-15").stdout)
    far = int(cli("add-lead", "Far", "--expected-close", "2027-06-01").stdout)
    cli("follow-up", soon, "2026-12-02", "send proposal")
    cli("follow-up", far, "2026-11-20", "call back")  # overdue: still exported
    late = int(cli("add-lead", "Later").stdout)
    cli("follow-up", late, "2027-02-01", "check budget")  # beyond 30 days
    raw, cal = export(cli)
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and b"VERSION:2.0" in raw
    todos = {str(t["uid"]): t for t in cal.walk("VTODO")}
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    assert set(todos) == {f"follow-up-{soon}@pipecli", f"follow-up-{far}@pipecli"}
    todo = todos[f"follow-up-{soon}@pipecli"]
    assert str(todo["summary"]) == "send proposal: Acme (Acme Inc)"
    assert todo.decoded("due") == dt.date(2026, 12, 2)
    [alarm] = todo.walk("VALARM")
    assert alarm.decoded("trigger") == dt.timedelta(hours=9) and alarm["trigger"].params["RELATED"] == "END"
    assert set(events) == {f"close-{soon}@pipecli"}  # the far close date is beyond 30 days
    event = events[f"close-{soon}@pipecli"]
    assert event.decoded("dtstart") == dt.date(2026, 12, 15) and event.decoded("dtend") == dt.date(2026, 12, 16)
    # the same export again: the same UIDs (a calendar updates rather than duplicates)
    _, again = export(cli)
    assert {str(c["uid"]) for c in again.walk() if "uid" in c} == set(todos) | set(events)
    _, wide = export(cli, "--days", "365")
    assert {str(e["uid"]) for e in wide.walk("VEVENT")} == {f"close-{soon}@pipecli", f"close-{far}@pipecli"}
    assert f"follow-up-{late}@pipecli" in {str(t["uid"]) for t in wide.walk("VTODO")}


def test_closed_leads_are_left_out(cli):
    lead = int(cli("add-lead", "Won", "--expected-close", "2026-12-10").stdout)
    cli("follow-up", lead, "2026-12-01", "kickoff")
    cli("move", lead, "won")
    _, cal = export(cli)
    assert [c for c in cal.walk() if "uid" in c] == []


ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:past-1@example.com
DTSTAMP:20261101T000000Z
DTSTART:20261120T140000Z
DTEND:20261120T150000Z
SUMMARY:Demo with Acme
ORGANIZER:mailto:anna@example.com
ATTENDEE;CN=Wile:mailto:Wile@Acme.test
END:VEVENT
BEGIN:VEVENT
UID:future-1@example.com
DTSTAMP:20261101T000000Z
DTSTART:20261210T140000Z
SUMMARY:Next call
ATTENDEE:mailto:wile@acme.test
END:VEVENT
BEGIN:VEVENT
UID:nobody@example.com
DTSTAMP:20261101T000000Z
DTSTART:20261105T140000Z
SUMMARY:Internal
ATTENDEE:mailto:bob@example.com
END:VEVENT
END:VCALENDAR
"""


def test_import_logs_past_meetings_once(cli, tmp_path):
    lead = int(cli("add-lead", "Wile", "--email", "wile@acme.test").stdout)
    file = tmp_path / "meetings.ics"
    file.write_bytes(ICS.replace("\n", "\r\n").encode())
    first = cli("calendar", "import", str(file))
    assert "logged 1 meeting(s); 0 already logged, 1 in the future, 1 matching no lead (of 3 events)" in first.stderr
    cli("calendar", "import", str(file))  # again: nothing new
    rows = cli.sql("SELECT kind, note, at FROM activity WHERE lead_id = :l", l=lead)
    at = int(dt.datetime(2026, 11, 20, 14, tzinfo=dt.UTC).timestamp())
    assert rows == [("meeting", "Demo with Acme · UID: past-1@example.com", at)]


def test_import_matches_an_attendee_without_case_or_plus_tag(cli, tmp_path):
    """An invitation names `MAILTO:Wile+Demo@ACME.test` for the lead stored as `wile+crm@acme.test`: the same
    person, as `mail sync` reads them, so the meeting is logged on that lead (it was 'matching no lead')."""
    lead = int(cli("add-lead", "Wile", "--email", "wile+crm@acme.test").stdout)
    file = tmp_path / "meetings.ics"
    ics = ICS.replace("mailto:Wile@Acme.test", "MAILTO:Wile+Demo@ACME.test")
    file.write_bytes(ics.replace("\n", "\r\n").encode())
    result = cli("calendar", "import", str(file))
    assert "logged 1 meeting(s); 0 already logged, 1 in the future, 1 matching no lead (of 3 events)" in result.stderr
    rows = cli.sql("SELECT kind, note FROM activity WHERE lead_id = :l", l=lead)
    assert rows == [("meeting", "Demo with Acme · UID: past-1@example.com")]


def test_import_bad_file_is_one_line_and_changes_nothing(cli, tmp_path):
    cli("add-lead", "Wile", "--email", "wile@acme.test")
    before = cli.every_row()
    bad = tmp_path / "bad.ics"
    bad.write_text("this is not a calendar\n")
    result = cli("calendar", "import", str(bad), ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("pipecli: not an iCalendar file")
    assert len(result.stderr.splitlines()) == 1
    result = cli("calendar", "import", str(tmp_path / "missing.ics"), ok=False)
    assert result.exit_code == 1 and result.stderr.startswith("pipecli: cannot read")
    assert cli.every_row() == before
