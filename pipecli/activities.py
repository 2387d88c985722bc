"""Activities: the touches between a seller and a lead (calls, emails, demos...).

They are what "gone silent" and the engagement score are measured from. Logging one keeps the lead's
cached `last_activity_at` / `last_event_at` current.
"""

from __future__ import annotations

from sqlalchemy import text

from pipecli import clock
from pipecli.errors import PipecliError

# kind -> what it means; `pipecli log --help` and the README list these.
KINDS = {
    "call": "a phone call",
    "email": "an email sent to the lead",
    "email_opened": "the lead opened an email",
    "reply": "the lead replied",
    "meeting": "a meeting held",
    "demo_request": "the lead asked for a demo",
    "demo": "a demo given",
    "quote_request": "the lead asked for a quote",
    "quote": "a quote or proposal sent",
    "trial_start": "a trial started",
    "trial_end": "a trial finished",
    "visit": "a website or store visit",
    "webinar": "the lead attended a webinar",
    "social": "a social-media touch (LinkedIn message, comment)",
    "sms": "a text or chat message",
    "contract_sent": "a contract sent for signature",
    "note": "a note for the record",
}


def check_kind(kind: str) -> str:
    """Return the normalised activity kind, or raise listing the valid kinds."""
    key = kind.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in KINDS:
        raise PipecliError(f"unknown activity kind {kind!r}; kinds: {', '.join(KINDS)}")
    return key


def log_activity(conn, lead_id: int, kind: str, note: str | None = None, at: int | None = None) -> int:
    """Record an activity on a lead at `at` (epoch seconds, default now); return the activity's id."""
    from pipecli.leads import get_lead

    kind = check_kind(kind)
    get_lead(conn, lead_id)
    at = clock.now_ts() if at is None else at
    activity_id = conn.execute(
        text("INSERT INTO activity (lead_id, kind, note, at) VALUES (:l, :k, :n, :a) RETURNING id"),
        {"l": lead_id, "k": kind, "n": note, "a": at},
    ).scalar_one()
    conn.execute(
        text(
            "UPDATE lead SET "
            " last_activity_at = CASE WHEN last_activity_at IS NULL OR last_activity_at < :a THEN :a ELSE last_activity_at END,"
            " last_event_at = CASE WHEN last_event_at < :a THEN :a ELSE last_event_at END "
            "WHERE id = :l"
        ),
        {"a": at, "l": lead_id},
    )
    from pipecli import scoring

    scoring.refresh(conn, lead_id)
    return activity_id


def activities_of(conn, lead_id: int) -> list[dict]:
    """Return a lead's activities, oldest first."""
    rows = conn.execute(
        text("SELECT id, kind, note, at FROM activity WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
    ).mappings()
    return [dict(r) for r in rows]
