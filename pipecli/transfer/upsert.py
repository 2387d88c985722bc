"""Upserts: with `--key`, a row whose key matches an existing lead updates it instead of adding one.

An update changes only what differs (fields the file has, extras it manages), each change an event of the
import's journal entry at the import's time (`leads.set_fields`, `store.journal`), records a new stage as a
move in history (`leads.move_lead`, at the row's close date for an outcome, else now, never before the lead
entered its current stage) and scores the lead again; a lead that stays lost takes the row's lost reason
as `edit --lost-reason` would. So an upsert leaves the events and stage history `move` and `edit` would
have left, and a file imported twice changes nothing, and records nothing, the second time. On a dry run
nothing is written and the counts are the same. Keys are looked up, then inserted: on PostgreSQL a keyed
import holds an advisory lock (`sql.KEYED_IMPORT_LOCK`) for its transaction, so two concurrent ones
with the same keys run one after the other and the second updates what the first added.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, text

from pipecli import leads
from pipecli.errors import PipecliError
from pipecli.scoring import score as scoring
from pipecli.store import journal
from pipecli.store.matchkeys import address_key
from pipecli.store.sql import KEYED_IMPORT_LOCK, serialise
from pipecli.transfer.columns import KEY_COLUMNS, Columns
from pipecli.transfer.rows import Lead

# Lead columns an update compares, by field.
_UPDATABLE = {
    "name": "name",
    "company": "company",
    "email": "email",
    "phone": "phone",
    "value": "value_minor",
    "source": "source",
    "owner": "owner",
    "external_id": "external_id",
    "forecast_category": "forecast_category",
}
_LOOKUP_CHUNK = 500  # keys per IN list


def key_form(key: str, value: Any) -> Any:
    """Return a key's value as keys are compared: an address trimmed and in lower case
    (`matchkeys.address_key`: `ANA@Example.com ` finds the lead `ana@example.com`, its `+tag` and dots
    kept), any other key as it is."""
    return address_key(value) if key == "email" else value


class Upserter:
    """Finds the leads a batch's keys match (`existing`) and brings one in line with its row (`update`)."""

    def __init__(self, conn: Connection, columns: Columns, now: int, dry_run: bool):
        self.conn, self.columns, self.now, self.dry_run = conn, columns, now, dry_run
        if columns.key is None:
            raise ValueError("an upsert needs a key")
        self.key: str = columns.key
        if not dry_run:
            # held to the commit: a concurrent keyed import waits, then finds the keys this one inserts
            serialise(conn, KEYED_IMPORT_LOCK)

    def key_of(self, lead: Lead) -> Any:
        """Return the row's key in the form leads are looked up by (`key_form`)."""
        return key_form(self.key, lead.fields[self.key])

    def existing(self, batch: list[Lead]) -> dict[Any, list[dict[str, Any]]]:
        """Return key (`key_of`) -> the lead rows holding it, for the keys of `batch`."""
        column = KEY_COLUMNS[self.key]
        keys = list({self.key_of(lead) for lead in batch})
        found: dict[Any, list[dict[str, Any]]] = {}
        # an address in any case (as `ix_lead_email` holds it); any other key as typed
        compared = "email IS NOT NULL AND lower(email)" if self.key == "email" else column
        query = text(f"SELECT * FROM lead WHERE {compared} IN :keys").bindparams(bindparam("keys", expanding=True))
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            for row in self.conn.execute(query, {"keys": keys[start : start + _LOOKUP_CHUNK]}).mappings():
                found.setdefault(key_form(self.key, row[column]), []).append(dict(row))
        return found

    def update(self, current: dict[str, Any], lead: Lead) -> bool:
        """Bring an existing lead in line with its row; return True when anything changed (or, dry, would)."""
        index = self.columns.index
        lead_id, changed = current["id"], False
        if lead.pipeline["id"] != current["pipeline_id"]:
            raise PipecliError(f"lead {lead_id} is in another pipeline; move it there first")
        if "stage" in index and lead.stage["id"] != current["stage_id"]:
            if not self.dry_run:
                at = lead.closed if lead.stage["kind"] != "open" and "close_date" in index else self.now
                leads.move_lead(
                    self.conn,
                    lead_id,
                    lead.stage["name"],
                    max(at or 0, current["stage_entered_at"]),
                    lead.fields["lost_reason"] or None,
                )
            changed = True
        sets = {}
        for f, column in _UPDATABLE.items():
            if f in index:  # only what the file carries (a row without a name is named by its key only when new)
                new = lead.fields[f] if f == "value" else lead.fields[f] or None
                if new != current[column] and not (f == self.key and key_form(f, new) == key_form(f, current[column])):
                    sets[column] = new
        if "lost_reason" in index and lead.stage["kind"] == "lost" and current["status"] == "lost":
            new = lead.fields["lost_reason"] or None  # still lost: the reason as `edit --lost-reason` sets it
            if new != current["lost_reason"]:
                sets["lost_reason"] = new
        if "expected_close" in index or ("close_date" in index and lead.stage["kind"] == "open"):
            old = current["expected_close"]
            if (None if old is None else str(old)) != (
                None if lead.expected_close is None else str(lead.expected_close)
            ):
                sets["expected_close"] = lead.expected_close
        if sets:
            changed = True
            if not self.dry_run:  # one event per changed column, at the import's time
                leads.set_fields(self.conn, leads.get_lead(self.conn, lead_id), sets, self.now)
        if self.columns.has_extras:
            changed = self._update_extras(lead_id, lead) or changed
        if changed and not self.dry_run:
            scoring.refresh(self.conn, lead_id)
        return changed

    def _update_extras(self, lead_id: int, lead: Lead) -> bool:
        old: dict[str, str] = dict(
            self.conn.execute(text("SELECT key, value FROM lead_extra WHERE lead_id = :l"), {"l": lead_id}).all()
        )
        new = dict(lead.extras)
        managed = {h for _, h in self.columns.extra_columns}
        if "lost_reason" in self.columns.index:
            managed.add(self.columns.column("lost_reason"))
        upserts = [{"l": lead_id, "k": k, "v": v} for k, v in new.items() if old.get(k) != v]
        deletes = [{"l": lead_id, "k": k} for k in old if k in managed and k not in new]
        if not self.dry_run:  # each recorded as a row event (`store.journal`), so `undo` restores them
            for row in upserts:
                keys = {"lead_id": lead_id, "key": row["k"]}
                if row["k"] in old:
                    journal.update_rows(self.conn, "lead_extra", keys, {"value": row["v"]}, lead_id, self.now)
                else:
                    journal.insert_row(self.conn, "lead_extra", {**keys, "value": row["v"]}, lead_id, self.now)
            for row in deletes:
                journal.delete_rows(self.conn, "lead_extra", {"lead_id": lead_id, "key": row["k"]}, lead_id, self.now)
        return bool(upserts or deletes)
