"""Importing stage history: one row per stage a deal entered, so its real path is recorded.

The file has the shape `pipecli export --what history` writes: a deal key (`lead_id`, or `external_id`,
or `deal`), the deal's name (`lead` or `name`), optionally its `pipeline`, the stage it entered
(`to_stage` or `stage`), when (`at`), and optionally why (`reason`). Other columns (`from_stage`,
`left_at`) are ignored: a deal's rows, in time order, say where it came from and when it left.

A deal the database does not hold yet is created in its first row's stage at that row's time and moved
through the rest exactly as `add-lead --at` and `move --at` would record it, so the whole import is
journaled (and can be undone) like the commands. With `--key external_id`, a deal that is already in
the database (an earlier import of its final state) gets the file's path instead of the one it has, if
it has no recorded moves of its own; a deal with moves of its own is refused, never merged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, leads, pipelines
from pipecli.errors import PipecliError
from pipecli.store import journal
from pipecli.transfer.model import Record

KEY_COLUMNS = ("lead_id", "external_id", "deal", "deal_id", "id")
NAME_COLUMNS = ("lead", "name", "deal_name")
STAGE_COLUMNS = ("to_stage", "stage")
TIME_COLUMNS = ("at", "entered_at", "date")


@dataclass(frozen=True)
class HistoryImported:
    """What an import of stage history did: deals created, deals given their path, stage changes written."""

    created: int
    rebuilt: int
    stage_changes: int


@dataclass(frozen=True)
class _Row:
    line: int
    name: str
    pipeline: str | None
    stage: str
    at: int
    reason: str | None


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    """Return the index of the first of `names` among the header's columns, or None."""
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _column(header: list[str], names: tuple[str, ...], what: str) -> int:
    """Return the index of a column the file must have (the first of `names`), or raise naming it."""
    found = _find(header, names)
    if found is None:
        raise PipecliError(f"the history file needs a {what} column ({' or '.join(names)})")
    return found


def read_rows(lines: Iterable[str]) -> dict[str, list[_Row]]:
    """Return the file's rows grouped by deal key (in the order deals first appear), each deal's rows
    in time order; raise with the line number on the first bad row."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise PipecliError("the history file is empty")
    key = _column(header, KEY_COLUMNS, "deal key")
    name = _find(header, NAME_COLUMNS)
    pipeline = _find(header, ("pipeline",))
    stage = _column(header, STAGE_COLUMNS, "stage")
    when = _column(header, TIME_COLUMNS, "time")
    reason = _find(header, ("reason",))
    deals: dict[str, list[_Row]] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        cells += [""] * (len(header) - len(cells))
        deal = cells[key].strip()
        if not deal:
            raise PipecliError(f"line {line}: no deal key")
        if not cells[stage].strip():
            raise PipecliError(f"line {line}: no stage")
        at = clock.parse_ts(cells[when], f"line {line}: {header[when]}")
        deals.setdefault(deal, []).append(
            _Row(
                line,
                (cells[name].strip() if name is not None else "") or deal,
                (cells[pipeline].strip() or None) if pipeline is not None else None,
                cells[stage].strip(),
                at,
                (cells[reason].strip() or None) if reason is not None else None,
            )
        )
    for rows in deals.values():
        rows.sort(key=lambda r: r.at)
    return deals


def import_history(
    conn: Connection, lines: Iterable[str], pipeline: str | None = None, key: str | None = None
) -> HistoryImported:
    """Record the stage paths in `lines` (a CSV as `read_rows` reads it) in one transaction; with
    `key="external_id"`, deal keys name existing leads by external id. Return the counts."""
    if key not in (None, "external_id"):
        raise PipecliError("--key for a history import must be external_id")
    created = rebuilt = changes = 0
    for deal, rows in read_rows(lines).items():
        first = rows[0]
        p = pipelines.get_pipeline(conn, first.pipeline or pipeline)
        for row in rows:
            pipelines.find_stage(conn, p["id"], row.stage)  # every stage known before anything is written
        path = [r for i, r in enumerate(rows) if i == 0 or r.stage.lower() != rows[i - 1].stage.lower()]
        existing: int | None = None
        if key == "external_id":
            existing = conn.execute(text("SELECT id FROM lead WHERE external_id = :e"), {"e": deal}).scalar()
        if existing is None:
            lead_id = leads.add_lead(
                conn, first.name, pipeline=p["name"], stage=first.stage, at=first.at,
                external_id=deal if key == "external_id" else None,
            )  # fmt: skip
            created += 1
        else:
            lead_id = existing
            _restart(conn, lead_id, deal, pipelines.find_stage(conn, p["id"], first.stage), first.at)
            rebuilt += 1
        changes += 1
        for row in path[1:]:
            try:
                leads.move_lead(conn, lead_id, row.stage, row.at, row.reason, p["name"])
            except PipecliError as exc:
                raise PipecliError(f"line {row.line}: {exc}") from None
            changes += 1
    return HistoryImported(created, rebuilt, changes)


def _restart(conn: Connection, lead_id: int, deal: str, stage: Record, at: int) -> None:
    """Replace the path a final-state import recorded for `lead_id` (its creation, perhaps a close) by
    the file's first stage at `at`; refuse a lead with moves of its own."""
    moves = conn.execute(text("SELECT COUNT(*) FROM stage_change WHERE lead_id = :l"), {"l": lead_id}).scalar_one()
    if moves > 2:
        raise PipecliError(f"deal {deal} (lead {lead_id}) already has a stage history of its own; nothing was changed")
    journal.delete_rows(conn, "stage_change", {"lead_id": lead_id}, lead_id)
    journal.insert_row(
        conn, "stage_change", {"lead_id": lead_id, "from_stage_id": None, "to_stage_id": stage["id"], "at": at},
        lead_id, at,
    )  # fmt: skip
    lead = leads.get_lead(conn, lead_id)
    leads.set_fields(
        conn,
        lead,
        {
            "pipeline_id": stage["pipeline_id"],
            "stage_id": stage["id"],
            "status": stage["kind"],
            "created_at": min(lead["created_at"], at),
            "stage_entered_at": at,
            "closed_at": at if stage["kind"] != "open" else None,
            "furthest_position": stage["position"] or 1,
            "last_event_at": max(lead["last_event_at"], at),
        },
        at,
    )
