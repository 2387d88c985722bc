"""Acting on what `clean` found: close as lost, snooze or archive, each change recorded in history with
its reason, inside the caller's transaction. The judging is in `reports.clean`; this is its only writer.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock
from pipecli.errors import PipecliError
from pipecli.leads import get_lead, log_activity, move_lead, set_fields

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ACTIONS = ("close-lost", "snooze", "archive")


def snooze(
    conn: Connection, lead_id: int, until: _dt.date | None, reason: str | None, at: int | None = None
) -> dict[str, Any]:
    """Snooze a lead until `until` (left out of `clean` until that day) with a reason, or clear its
    snooze (`until` None); record it as a note in the lead's activities. Return the lead."""
    lead = get_lead(conn, lead_id)
    if until is None:
        if lead["snoozed_until"] is None:
            raise PipecliError(f"lead {lead_id} is not snoozed")
        note = "snooze cleared" + (f": {reason}" if reason else "")
        reason = None
    else:
        reason = (reason or "").strip()
        if not reason:
            raise PipecliError("--reason is required: say why the deal is stalled")
        until = _dt.date(until.year, until.month, until.day)
        if until <= clock.today():
            raise PipecliError(f"--until {until.isoformat()} is not in the future")
        note = f"snoozed until {until.isoformat()}: {reason}"
    set_fields(conn, lead, {"snoozed_until": until, "snooze_reason": reason}, at)
    log_activity(conn, lead_id, "note", note, at)
    return get_lead(conn, lead_id)


def snooze_end(days: int) -> _dt.date:
    """Return the day a snooze of `days` days from today ends."""
    today = clock.today()
    return _dt.date(today.year, today.month, today.day) + _dt.timedelta(days=days)


def apply(conn: Connection, lead_ids: list[int], action: str, reason: str, days: int | None = None) -> list[int]:
    """Act on the leads found by `clean` (each once, in id order): `close-lost` moves them to lost with
    `reason`; `snooze` snoozes them for `days`; `archive` archives them, recording a note with the reason.
    Leads no longer open (changed since they were shown) are skipped. Return the ids changed."""
    if action not in ACTIONS:
        raise PipecliError(f"unknown action {action!r}")
    reason = (reason or "").strip()
    if not reason:
        raise PipecliError("--reason must not be empty: it is recorded in history")
    now = clock.now_ts()
    done = []
    for lead_id in sorted(set(lead_ids)):
        state = conn.execute(text("SELECT status, archived_at FROM lead WHERE id = :l"), {"l": lead_id}).first()
        if state is None or state.status != "open" or state.archived_at is not None:
            continue
        if action == "close-lost":
            move_lead(conn, lead_id, "lost", now, reason)
        elif action == "snooze":
            if days is None or days < 1:
                raise PipecliError("--snooze DAYS must be at least 1")
            snooze(conn, lead_id, snooze_end(days), reason, now)
        else:
            log_activity(conn, lead_id, "note", f"archived by clean: {reason}", now)
            set_fields(conn, get_lead(conn, lead_id), {"archived_at": now}, now)
        done.append(lead_id)
    return done
