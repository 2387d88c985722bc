"""The column lists a lead's creation event is written and read by (`journal`), as plain names: reading a
creation event (a lead's history in `show`) needs none of the models. The models (`schema`) are the
declaration of the tables; a test holds these lists to them."""

from __future__ import annotations

# The lead columns a creation event carries (what `leads.snapshot` writes), in one order for both backends:
# the lead table's but its derived scores.
SNAPSHOT_COLUMNS = (
    "id", "pipeline_id", "stage_id", "status", "name", "company", "email", "phone", "value_minor", "source",
    "owner", "expected_close", "external_id", "created_at", "closed_at", "lost_reason", "stage_entered_at",
    "last_activity_at", "last_event_at", "furthest_position", "next_step", "next_step_due", "snoozed_until",
    "snooze_reason", "archived_at", "qualification", "forecast_category",
)  # fmt: skip

# The columns of a row nested in a creation event (`WITH_ROWS`), in the array's order: the table's
# but `lead_id`.
NESTED_COLUMNS = {
    "stage_change": ("id", "from_stage_id", "to_stage_id", "at", "left_at", "reason"),
    "activity": ("id", "kind", "note", "at", "message_id", "direction", "subject", "body"),
    "lead_extra": ("key", "value"),
}

# The lead columns a past moment's reports read that change by events other than moves (`history`'s rule):
# the events of these fields have an index of their own (`schema.Event`, `ix_event_as_of`).
AS_OF_FIELDS = ("value_minor", "owner", "source", "expected_close", "archived_at", "forecast_category")
AS_OF_CONDITION = "field IN (" + ", ".join(f"'{f}'" for f in AS_OF_FIELDS) + ")"  # which events ix_event_as_of holds
