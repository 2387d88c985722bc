"""The calendar: the export, and the import of past meetings.

The export: follow-ups as VTODOs with a reminder and expected close dates as all-day events,
in one RFC 5545 iCalendar file (`icalendar`). UIDs are stable (the same lead's follow-up or close date
has the same UID on every export) so a calendar that re-imports the file updates instead of duplicating.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import icalendar
from sqlalchemy import text

from pipecli import clock
from pipecli.errors import PipecliError
from pipecli.store.matchkeys import email_key

PRODID = "-//pipecli//calendar export//EN"
UID_DOMAIN = "pipecli"


def export(conn: Any, days: int) -> bytes:
    """Return the iCalendar file of open, unarchived leads: each follow-up due within `days` days (or
    overdue) as a VTODO with a 09:00 reminder, each expected close date within `days` as an all-day VEVENT."""
    today = clock.today()
    horizon = today + _dt.timedelta(days=days)
    stamp = clock.now()
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    rows = conn.execute(
        text(
            "SELECT id, name, company, email, next_step, next_step_due, expected_close FROM lead "
            "WHERE status = 'open' AND archived_at IS NULL "
            "AND (next_step_due IS NOT NULL OR expected_close IS NOT NULL) ORDER BY id"
        )
    ).mappings()
    for row in rows:
        who = row["name"] + (f" ({row['company']})" if row["company"] else "")
        due = clock.as_date(row["next_step_due"]) if row["next_step_due"] is not None else None
        if due is not None and due <= horizon:
            todo = icalendar.Todo()
            todo.add("uid", f"follow-up-{row['id']}@{UID_DOMAIN}")
            todo.add("dtstamp", stamp)
            todo.add("summary", f"{row['next_step'] or 'Follow up'}: {who}")
            todo.add("due", due)
            todo.add("description", f"pipecli lead {row['id']}: {who}" + (f" <{row['email']}>" if row["email"] else ""))
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"Follow up: {who}")
            # relative to DUE (a VTODO's END), which is the due day's midnight: 09:00 that day
            alarm.add("trigger", _dt.timedelta(hours=9), parameters={"RELATED": "END"})
            todo.add_component(alarm)
            cal.add_component(todo)
        close = clock.as_date(row["expected_close"]) if row["expected_close"] is not None else None
        if close is not None and today <= close <= horizon:
            event = icalendar.Event()
            event.add("uid", f"close-{row['id']}@{UID_DOMAIN}")
            event.add("dtstamp", stamp)
            event.add("summary", f"Expected close: {who}")
            event.add("dtstart", close)
            event.add("dtend", close + _dt.timedelta(days=1))
            event.add("transp", "TRANSPARENT")
            cal.add_component(event)
    return bytes(cal.to_ical())


def import_meetings(conn: Any, data: bytes) -> dict[str, int]:
    """Log each past VEVENT of an iCalendar file whose attendees (or organizer) include an open or closed
    lead's address (compared as `mail sync` and the duplicate matcher compare them: without case or a
    `+tag`) as a `meeting` activity on that lead, at the event's start; return the counts.

    Idempotent by UID: the note ends `UID: ...`, and an event already logged on a lead is skipped."""
    # leads (and scoring with it) only for the import: the export stays light
    from pipecli import leads

    try:
        cal = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise PipecliError(f"not an iCalendar file: {' '.join(str(exc).split())}") from None
    by_email: dict[str, list[int]] = {}
    for lead_id, address in conn.execute(text("SELECT id, email FROM lead WHERE email IS NOT NULL")):
        key = email_key(address)
        if key is not None:
            by_email.setdefault(key, []).append(lead_id)
    now = clock.now_ts()
    counts = {"meetings": 0, "logged": 0, "already": 0, "future": 0, "unmatched": 0}
    for event in cal.walk("VEVENT"):
        counts["meetings"] += 1
        uid = str(event.get("uid", "")).strip()
        start = event.decoded("dtstart") if "dtstart" in event else None
        if not uid or start is None:
            counts["unmatched"] += 1
            continue
        if not isinstance(start, _dt.datetime):
            start = _dt.datetime.combine(start, _dt.time(), tzinfo=_dt.UTC)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=_dt.UTC)
        at = int(start.timestamp())
        if at > now:
            counts["future"] += 1
            continue
        people = event.get("attendee", [])
        people = people if isinstance(people, list) else [people]
        if "organizer" in event:
            people = [*people, event["organizer"]]
        addresses = {email_key(str(p).strip().lower().removeprefix("mailto:")) for p in people}
        lead_ids = sorted({i for a in addresses if a is not None for i in by_email.get(a, [])})
        if not lead_ids:
            counts["unmatched"] += 1
            continue
        note = f"{' '.join(str(event.get('summary', 'meeting')).split())} · UID: {uid}"
        for lead_id in lead_ids:
            seen = conn.execute(
                text("SELECT 1 FROM activity WHERE lead_id = :l AND kind = 'meeting' AND note LIKE :n"),
                {"l": lead_id, "n": f"% UID: {uid}"},
            ).first()
            if seen:
                counts["already"] += 1
                continue
            leads.log_activity(conn, lead_id, "meeting", note, at)
            counts["logged"] += 1
    return counts
