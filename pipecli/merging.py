"""Merging two leads that are one person: `pipecli merge A B`, and the pairs worth merging (`pipecli duplicates`).

A merge folds lead B (the other) into lead A (the one kept), in the caller's one transaction:

- **rows**: B's activities (its mail threads with them, Message-IDs and all) move to A; B's extra fields
  and BANT answers move to A where A has none for that key or criterion; B's earlier merges become A's.
- **details** (`FIELDS`): a detail empty on A takes B's; one both have with different values keeps A's
  and is listed as a conflict, unless `take` names it (then B's wins). The next step and its due date are
  one detail (the follow-up). Extra fields and answers conflict the same way (`extra:KEY`,
  `answer:CRITERION`). A's stage, pipeline and stage history stay A's: `stage_change` is the path of one
  deal through one pipeline, one stay at a time, and the `--as-of` reports read it so; B's path stays
  readable in `pipecli history A` (below) and the stage B was in is listed as a conflict no `take` changes.
- **derived**: A's last activity and last event become the later of both, its qualification is judged
  again from its answers and its score recomputed from its activities.
- **record**: a `lead_merge` row on A names B's id and name and the details taken and kept; its event is
  the line `merged` of A's history, and `history.lead_history` shows B's own events up to the merge with
  A's. Then B is deleted with its remaining rows (each recorded whole).

Every change goes through the journal, so `pipecli undo` reverts the merge as one command: B comes back
with its rows, A's details and rows go back to what they were.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, identity, leads, qualify
from pipecli.errors import PipecliError
from pipecli.listing import LeadFilter
from pipecli.scoring import score as scoring
from pipecli.store import journal

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# The details a merge reconciles: the name given to `--take` and listed, and the lead columns it stands for.
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "company": ("company",),
    "email": ("email",),
    "phone": ("phone",),
    "value": ("value_minor",),
    "source": ("source",),
    "owner": ("owner",),
    "expected_close": ("expected_close",),
    "external_id": ("external_id",),
    "next_step": ("next_step", "next_step_due"),
}
STAGE = "stage"  # listed when the two differ; the kept lead's stays (a move is `pipecli move`)


@dataclass(frozen=True)
class Conflict:
    """A detail both leads have with different values: `kept` (the kept lead's) and `other` (B's)."""

    field: str
    kept: Any
    other: Any


@dataclass
class Plan:
    """What merging lead `other` into lead `into` does (or did): the details and rows it takes from the
    other lead, the conflicts it keeps the kept lead's value for, and the rows it moves."""

    into: dict[str, Any]
    other: dict[str, Any]
    took: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    activities: int = 0
    _taken_extras: dict[str, str | None] = field(default_factory=dict, repr=False)
    _taken_answers: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _new_extras: dict[str, str | None] = field(default_factory=dict, repr=False)
    _new_answers: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)


def _same(a: Any, b: Any) -> bool:
    return journal.encode(a) == journal.encode(b)


def _take_name(name: str) -> str:
    """Return a `--take` name as the plan lists it (`expected-close` -> `expected_close`, `Value` -> `value`)."""
    name = name.strip()
    head, colon, rest = name.partition(":")
    head = head.lower().replace("-", "_")
    return f"{head}:{rest}" if colon else head


def pair(conn: Connection, a_id: int, b_id: int, into: int | None) -> tuple[int, int]:
    """Return (kept lead id, merged lead id) for `merge A B [--into ID]`, or raise why they cannot merge:
    one lead named twice, `into` not one of the two, or two pipelines and no `into` saying which stays."""
    if a_id == b_id:
        raise PipecliError(f"lead {a_id} cannot be merged with itself: give two different leads")
    if into is not None and into not in (a_id, b_id):
        raise PipecliError(f"--into {into} is neither of the leads merged ({a_id}, {b_id})")
    a, b = leads.get_lead(conn, a_id), leads.get_lead(conn, b_id)
    if into is None and a["pipeline_id"] != b["pipeline_id"]:
        names: dict[int, str] = {r[0]: r[1] for r in conn.execute(text("SELECT id, name FROM pipeline"))}
        raise PipecliError(
            f"lead {a_id} is in pipeline {names[a['pipeline_id']]} and lead {b_id} in {names[b['pipeline_id']]}: "
            f"say which lead stays (and so its pipeline) with --into {a_id} or --into {b_id}"
        )
    return (a_id, b_id) if into in (None, a_id) else (b_id, a_id)


def _rows(conn: Connection, table: str, key: str, lead_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(text(f"SELECT * FROM {table} WHERE lead_id = :l"), {"l": lead_id}).mappings()
    return {r[key]: dict(r) for r in rows}


def plan(conn: Connection, into_id: int, other_id: int, take: tuple[str, ...] = (), lock: bool = False) -> Plan:
    """Return what merging lead `other_id` into lead `into_id` would do (nothing is written), or raise
    when `take` names a detail that is no conflict of these two leads (saying which are)."""
    a = leads.get_lead(conn, into_id, for_update=lock)
    b = leads.get_lead(conn, other_id, for_update=lock)
    stages: dict[int, str] = dict(
        conn.execute(
            text("SELECT id, name FROM stage WHERE id IN (:a, :b)"), {"a": a["stage_id"], "b": b["stage_id"]}
        ).all()
    )
    a["stage"], b["stage"] = stages[a["stage_id"]], stages[b["stage_id"]]
    result = Plan(a, b)
    wanted = {_take_name(t) for t in take}
    for name, columns in FIELDS.items():
        ours, theirs = tuple(a[c] for c in columns), tuple(b[c] for c in columns)
        if all(v is None for v in theirs) or _same(ours, theirs):
            continue
        if all(v is None for v in ours) or name in wanted:
            result.took.append(name)
        else:
            result.conflicts.append(Conflict(name, ours[0], theirs[0]))
    extras_a, extras_b = _rows(conn, "lead_extra", "key", into_id), _rows(conn, "lead_extra", "key", other_id)
    for key, row in extras_b.items():
        name = f"extra:{key}"
        if key not in extras_a:
            result._new_extras[key] = row["value"]
            result.took.append(name)
        elif not _same(extras_a[key]["value"], row["value"]):
            if name in wanted:
                result._taken_extras[key] = row["value"]
                result.took.append(name)
            else:
                result.conflicts.append(Conflict(name, extras_a[key]["value"], row["value"]))
    answers_a, answers_b = (
        _rows(conn, "qualification", "criterion", into_id),
        _rows(conn, "qualification", "criterion", other_id),
    )
    for criterion, row in answers_b.items():
        name = f"answer:{criterion}"
        values = {"answer": row["answer"], "verdict": row["verdict"], "at": row["at"]}
        if criterion not in answers_a:
            result._new_answers[criterion] = values
            result.took.append(name)
        elif not _same(answers_a[criterion]["answer"], row["answer"]):
            if name in wanted:
                result._taken_answers[criterion] = values
                result.took.append(name)
            else:
                result.conflicts.append(Conflict(name, answers_a[criterion]["answer"], row["answer"]))
    if a["stage_id"] != b["stage_id"]:
        result.conflicts.append(Conflict(STAGE, a["stage"], b["stage"]))
    result.activities = conn.execute(
        text("SELECT COUNT(*) FROM activity WHERE lead_id = :l"), {"l": other_id}
    ).scalar_one()
    stray = wanted - set(result.took)
    if stray:
        named = sorted(stray)[0]
        if named == STAGE:
            raise PipecliError(
                f"--take {STAGE}: a merge keeps lead {into_id}'s stage ({a['stage']}); move it with `pipecli move` after"
            )
        takeable = [c.field for c in result.conflicts if c.field != STAGE]
        raise PipecliError(
            f"--take {named}: not a conflicting detail of leads {into_id} and {other_id} "
            f"(conflicts: {', '.join(takeable) or 'none'})"
        )
    return result


def merge(conn: Connection, into_id: int, other_id: int, take: tuple[str, ...] = ()) -> Plan:
    """Merge lead `other_id` into lead `into_id` in this transaction (see the module docstring); return
    the plan it carried out. The merged lead is deleted; `undo` puts it back."""
    done = plan(conn, into_id, other_id, take, lock=True)
    a, b = done.into, done.other
    now = clock.now_ts()
    journal.update_rows(conn, "activity", {"lead_id": other_id}, {"lead_id": into_id}, into_id)
    journal.update_rows(conn, "lead_merge", {"lead_id": other_id}, {"lead_id": into_id}, into_id)
    for key, value in done._new_extras.items():
        journal.delete_rows(conn, "lead_extra", {"lead_id": other_id, "key": key}, other_id)
        journal.insert_row(conn, "lead_extra", {"lead_id": into_id, "key": key, "value": value}, into_id)
    for key, value in done._taken_extras.items():
        journal.update_rows(conn, "lead_extra", {"lead_id": into_id, "key": key}, {"value": value}, into_id)
    for criterion, answer in done._new_answers.items():
        journal.delete_rows(conn, "qualification", {"lead_id": other_id, "criterion": criterion}, other_id)
        journal.insert_row(conn, "qualification", {"lead_id": into_id, "criterion": criterion, **answer}, into_id)
    for criterion, answer in done._taken_answers.items():
        journal.update_rows(conn, "qualification", {"lead_id": into_id, "criterion": criterion}, answer, into_id)
    values: dict[str, Any] = {c: b[c] for name in done.took if name in FIELDS for c in FIELDS[name]}
    touched = [t for t in (a["last_activity_at"], b["last_activity_at"]) if t is not None]
    values["last_activity_at"] = max(touched) if touched else None
    values["last_event_at"] = max(a["last_event_at"], b["last_activity_at"] or a["last_event_at"])
    values["qualification"] = qualify.current_status(conn, into_id)
    lead = {k: v for k, v in a.items() if k != "stage"}
    leads.set_fields(conn, lead, values)
    journal.insert_row(
        conn,
        "lead_merge",
        {
            "lead_id": into_id,
            "merged_id": other_id,
            "merged_name": b["name"],
            "journal_id": journal.journal_of(conn).entry_id(conn),
            "at": now,
            "fields": json.dumps({"took": done.took, "kept": [c.field for c in done.conflicts]}),
        },
        into_id,
        now,
    )
    leads.remove_rows(conn, other_id)
    scoring.refresh(conn, into_id)
    return done


def highest_lead_id(conn: Connection) -> int:
    """Return the highest lead id stored (0 with none): the leads an import adds next are above it."""
    return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar_one())


IMPORT_BLOCKS = ("match_email", "match_phone")  # the stored blocks an import's new leads are checked in


def added_duplicates(conn: Connection, since_id: int) -> list[dict[str, Any]]:
    """Return, for each lead with an id above `since_id` (the leads an import added) that shares a stored
    e-mail or phone block with an older lead it matches (`identity.match`), the oldest such lead: `id`,
    `name`, `company`, `duplicate_id`, `why`. What `import` warns about, as add-lead warns.

    Only the pairs sharing one of those blocks are compared, so the cost follows the few leads that share
    an address or a phone, never one company's thousands of leads (`duplicate_pairs` reads that block).
    Matching those is no longer quadratic (`identity.duplicates`), but reading and keying every lead of
    the companies a file names still costs too much for an import: on benchmarks/import.py's 100,000 rows
    (13 companies) it made the import 63 % slower, beyond issue 15's 15 %."""
    where, params = LeadFilter().where(conn)
    # the blocks a new lead shares with another: every shared block when all leads are new (one pass of
    # the index), else a seek per new lead, so a small import into a big database reads little
    shared = {
        c: f"l.{c} IN (SELECT {c} FROM lead WHERE {c} IS NOT NULL GROUP BY {c} HAVING COUNT(*) > 1)"
        if since_id == 0
        else f"l.{c} IN (SELECT n.{c} FROM lead n WHERE n.id > :since_id AND n.{c} IS NOT NULL"
        f" AND EXISTS (SELECT 1 FROM lead o WHERE o.{c} = n.{c} AND o.id <> n.id))"
        for c in IMPORT_BLOCKS
    }
    region = identity.resolved_region()
    found: dict[int, tuple[Any, str]] = {}  # new lead id: (the oldest lead it matches, why)
    # One block column at a time, in (block, id) order: one block's leads are in memory at a time, not every
    # lead sharing one (36,590 rows of a 200,000-row import: 33 MB more at its peak), and a new lead's
    # oldest match is the oldest over its e-mail and its phone block alike.
    streamed = conn.execution_options(stream_results=True)  # PostgreSQL: rows as read, not all at once
    for column in IMPORT_BLOCKS:
        rows = streamed.execute(
            text(
                f"SELECT l.id, l.name, l.company, l.email, l.phone, l.match_email, l.{column} AS block "
                f"FROM lead l WHERE {where} AND {shared[column]} ORDER BY l.{column}, l.id"
            ),
            {**params, "since_id": since_id},
        )
        for _, group in itertools.groupby(rows, key=lambda r: r.block):
            earlier: list[Any] = []
            for r in group:
                if r.id > since_id and earlier:
                    match = _oldest_match(r, earlier, region)
                    if match is not None and (r.id not in found or match[0].id < found[r.id][0].id):
                        found[r.id] = match
                earlier.append(r)
    return [
        {"id": e.id, "name": e.name, "company": e.company, "duplicate_id": lead_id, "why": why}
        for lead_id, (e, why) in sorted(found.items())
    ]


def _oldest_match(r: Any, earlier: list[Any], region: str) -> tuple[Any, str] | None:
    """Return the oldest of `earlier` (in id order) that `identity.match` finds to be lead `r`, and why."""
    contact = identity.Contact(r.name, r.company, r.email, r.phone, r.id)
    for e in earlier:
        if (r.match_email is None or e.match_email != r.match_email) and identity.name_similarity(e.name, r.name) < min(
            identity.NAME_LOOSE, identity.NAME_STRICT
        ):
            continue  # no shared address: every other rule of `match` wants alike names (cheap first)
        why = identity.match(identity.Contact(e.name, e.company, e.email, e.phone, e.id), contact, region)
        if why is not None:
            return e, why
    return None


def duplicate_pairs(conn: Connection, pipeline: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Return the likely duplicates among the stored leads (not archived; of `pipeline` and with `status`
    when given), one row per later copy: its original (`id`, the oldest lead it matches), the copy
    (`duplicate_id`), why `identity.match` finds them one person, and whether they share a pipeline (a
    merge of two pipelines' leads must say which stays). What `pipecli duplicates` lists with the merge
    command of each pair."""
    where, params = LeadFilter(pipeline, status=status).where(conn)
    # Only a lead sharing a block with another can match one (`identity.blocks`): SQL keeps the leads whose
    # stored block (`match_*`) another lead of the same selection holds too, and the matcher compares those.
    shared = " OR ".join(
        f"l.{c} IN (SELECT l.{c} FROM lead l WHERE {where} AND l.{c} IS NOT NULL GROUP BY l.{c} HAVING COUNT(*) > 1)"
        for c in identity.MATCH_COLUMNS
    )
    rows = {
        r.id: r
        for r in conn.execute(
            text(
                "SELECT l.id, l.name, l.company, l.email, l.phone, l.pipeline_id, p.name AS pipeline FROM lead l "
                f"JOIN pipeline p ON p.id = l.pipeline_id WHERE {where} AND ({shared}) ORDER BY l.id"
            ),
            params,
        )
    }
    contacts = (identity.Contact(r.name, r.company, r.email, r.phone, r.id) for r in rows.values())
    out = []
    for first, copy, why in identity.duplicates(contacts):
        original, duplicate = rows[first.id or 0], rows[copy.id or 0]
        out.append(
            {
                "id": original.id,
                "name": original.name,
                "company": original.company,
                "duplicate_id": duplicate.id,
                "duplicate_name": duplicate.name,
                "duplicate_company": duplicate.company,
                "why": why,
                "same_pipeline": original.pipeline_id == duplicate.pipeline_id,
                "pipeline": original.pipeline,
                "duplicate_pipeline": duplicate.pipeline,
            }
        )
    return out
