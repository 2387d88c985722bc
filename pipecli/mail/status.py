"""`mail status`: per mailbox, when it last synced, what that sync logged and matched, and its last error.

It exists because a sync that fails in silence is the complaint users of synced CRMs make most: the
time of the last good sync and the last error are kept on each `mail_source` row by `mail.sync`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text


def statuses(conn: Any) -> list[dict[str, Any]]:
    """Return one row per mail source, in the order they were first synced."""
    rows = conn.execute(
        text(
            "SELECT url AS source, kind, last_sync_at, logged_total, last_scanned, last_logged, last_matched, "
            "last_unmatched, last_error, last_error_at, last_uid FROM mail_source ORDER BY id"
        )
    ).mappings()
    return [dict(r) for r in rows]
