"""The calendar export: follow-ups as VTODOs with a reminder and expected close dates as all-day events,
in one RFC 5545 iCalendar file (`icalendar`). UIDs are stable (the same lead's follow-up or close date
has the same UID on every export) so a calendar that re-imports the file updates instead of duplicating.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import icalendar
from sqlalchemy import text

from pipecli import clock

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
