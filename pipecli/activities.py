"""Activities: the touches between a seller and a lead (calls, emails, demos...).

They are what "gone silent" and the engagement score are measured from. This module is a leaf: the kinds
and reading a lead's activities. Logging one (which also updates the lead's cached columns and score) is a
write to a lead, in `leads.log_activity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

from sqlalchemy import text

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


def activities_of(conn: Connection, lead_id: int) -> list[dict[str, Any]]:
    """Return a lead's activities, oldest first."""
    rows = conn.execute(
        text("SELECT id, kind, note, at FROM activity WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
    ).mappings()
    return [dict(r) for r in rows]
