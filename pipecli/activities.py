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
from pipecli.vocabulary import KINDS, kind_key

# Kinds logged for the record that are no sign of life from the lead: they neither reset "gone silent"
# (the lead's last activity and last event) nor earn engagement points. The one list of them.
NOT_ENGAGEMENT = frozenset({"auto_reply"})


def engages(kind: str) -> bool:
    """Return whether an activity of `kind` counts as a touch: it resets "silent" and earns engagement."""
    return kind not in NOT_ENGAGEMENT


def engaging_sql(alias: str = "a") -> str:
    """Return the SQL condition true for the activities (table alias `alias`) that count as a touch,
    for the reports that read activities rather than the lead's cached last activity."""
    kinds = ", ".join(f"'{k}'" for k in sorted(NOT_ENGAGEMENT))
    return f"{alias}.kind NOT IN ({kinds})"


def check_kind(kind: str) -> str:
    """Return the normalised activity kind, or raise listing the valid kinds."""
    key = kind_key(kind)
    if key not in KINDS:
        raise PipecliError(f"unknown activity kind {kind!r}; kinds: {', '.join(KINDS)}")
    return key


def activities_of(conn: Connection, lead_id: int) -> list[dict[str, Any]]:
    """Return a lead's activities, oldest first."""
    rows = conn.execute(
        text("SELECT id, kind, note, at FROM activity WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
    ).mappings()
    return [dict(r) for r in rows]
