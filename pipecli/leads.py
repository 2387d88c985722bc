"""Leads: adding, moving through stages, editing, showing, listing and deleting them.

Every stage change writes one `stage_change` row (history is the truth) and updates the lead's cached
current state in the same transaction. A move's time may be backdated (`--at`) but not to before the
lead entered its current stage, so history stays a straight line.

Every write here also leaves its events in the journal (`store.journal`): a creation event holding the
new lead's values, one event per field a change sets (`set_fields`, which every writer of a lead's
columns goes through), and the rows of its history, activities and extras as they are inserted or deleted.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, config, identity, pipelines, team
from pipecli.activities import activities_of, check_kind, engages
from pipecli.errors import PipecliError
from pipecli.history import lead_history
from pipecli.pipelines import UNKNOWN_PATH, forecast_category
from pipecli.scoring import score as scoring
from pipecli.store import journal
from pipecli.store.columns import SNAPSHOT_COLUMNS
from pipecli.store.sql import KEYED_IMPORT_LOCK, execute_in, serialise

# Something before the first @, a dot after it, no spaces (the shape check `add-lead` and `import` share).
EMAIL = re.compile(r"[^@\s]+@\S*\.\S*")
# An address email-validator surely accepts: a dot-atom of common characters, letter-digit-hyphen labels (no
# `--` in a label's third and fourth place, which IDNA reserves: `xn--`), a
# top-level domain of letters that is no special-use name, within the length limits. The import's test of
# every row (`is_email`), so the validator (about 60 µs an address) runs only on the rare address outside it.
# `[^\n]` rather than `.`, and no `$`: the fast path matches a whole column joined by line breaks at once.
PLAIN_EMAIL = re.compile(
    r"(?=[^@\n]{1,64}@)(?=[^\n]{3,254}(?![^\n]))"
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@"
    r"(?:(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?!(?i:arpa|invalid|local|localhost|onion)(?![^\n]))[A-Za-z]{2,63}"
)
# A row as the database gives it (column -> value), a lead's or another table's; the values are each
# column's own type (int, str, None, ...), so `Any`: the code reads the columns it knows by name.
Row = dict[str, Any]
EDITABLE = (
    "name",
    "company",
    "email",
    "phone",
    "value_minor",
    "source",
    "owner",
    "expected_close",
    "external_id",
    "forecast_category",
)


def _clean_text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def check_email(email: str | None) -> str | None:
    """Return the email trimmed (None when empty), or raise when it cannot be an address."""
    email = _clean_text(email)
    if email is None:
        return None
    if not EMAIL.fullmatch(email):
        raise PipecliError(f"--email: {email!r} is not an email address")
    identity.check_email(email)  # the full syntax check (`a@@b.c`, `x@.y`); the address is kept as typed
    return email


def is_email(email: str) -> bool:
    """Return True when `email` (trimmed) is an address, as `add-lead` checks it (email-validator's syntax:
    `a@@b.c` and `x@.y` are not); the common shape is told by a regex, the rest by the validator."""
    if PLAIN_EMAIL.fullmatch(email):
        return True
    try:
        identity.check_email(email)
    except PipecliError:
        return False
    return True


def get_lead(conn: Connection, lead_id: int, for_update: bool = False) -> Row:
    """Return the lead's row as a dict, or raise NotFound. `for_update` locks the row on PostgreSQL until
    the transaction ends, so two concurrent moves of one lead cannot both extend the same stay."""
    lock = " FOR UPDATE" if for_update and conn.dialect.name == "postgresql" else ""
    row = conn.execute(text(f"SELECT * FROM lead WHERE id = :i{lock}"), {"i": lead_id}).mappings().first()
    if row is None:
        # a lead the team's policies hide is refused naming its owner; a write connection carries a journal
        raise team.refuse(conn, lead_id, "change" if for_update or journal.KEY in conn.info else "see")
    return dict(row)


def snapshot(lead: Row) -> Row:
    """Return the values a lead's creation event holds (its row without the derived scores)."""
    return {name: lead.get(name) for name in SNAPSHOT_COLUMNS}


def _same(a: object, b: object) -> bool:
    return journal.encode(a) == journal.encode(b)


def set_fields(conn: Connection, lead: Row, values: Row, at: int | None = None) -> Row:
    """Write `values` (column -> new value) to the lead `lead` (its current row), recording one event per
    column that really changes, at `at` (default now); return the lead's row as it is after.

    The one way a lead's columns change after its creation, so its events always match its cached columns."""
    changed = _changes(lead, values)
    if changed:
        # the matcher's blocks follow the details they are computed from (derived: no events of their own)
        derived: dict[str, str | None] = {}
        if changed.keys() & {"email", "phone", "company"}:
            after = {**lead, **changed}
            derived = identity.match_columns(after.get("email"), after.get("phone"), after.get("company"))
        sets = ", ".join(f"{k} = :{k}" for k in {**changed, **derived})
        conn.execute(text(f"UPDATE lead SET {sets} WHERE id = :id__"), {**changed, **derived, "id__": lead["id"]})
        for key, new in changed.items():
            journal.record(conn, lead["id"], key, lead.get(key), new, at)
        return {**lead, **changed, **derived}
    return {**lead, **changed}


def _changes(lead: Row, values: Row) -> Row:
    """Return the `values` (column -> new value) that really change the lead `lead` (its current row)."""
    return {k: v for k, v in values.items() if not _same(lead.get(k), v)}


def add_lead(
    conn: Connection,
    name: str,
    *,
    company: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    value_minor: int | None = None,
    source: str | None = None,
    owner: str | None = None,
    expected_close: _dt.date | None = None,
    external_id: str | None = None,
    pipeline: str | None = None,
    stage: str | None = None,
    note: str | None = None,
    at: int | None = None,
) -> int:
    """Add a lead (to the default pipeline's first stage unless told otherwise); return its id.

    Holds the keyed imports' lock to the commit (PostgreSQL): a keyed import running meanwhile would not
    see this lead and add a second one for its e-mail; waits for it at most config `lock_wait` seconds."""
    serialise(conn, KEYED_IMPORT_LOCK, config.lock_wait)
    cleaned = _clean_text(name)
    if not cleaned:
        raise PipecliError("a lead needs a name")
    if value_minor is not None and value_minor < 0:
        raise PipecliError("--value must not be negative")
    owner = team.check_owner(conn, _clean_text(owner), adding=True)
    p = pipelines.get_pipeline(conn, pipeline)
    if stage is None:
        target = pipelines.stages(conn, p["id"], outcomes=False)[0]
    else:
        target = pipelines.find_stage(conn, p["id"], stage)
    at = clock.now_ts() if at is None else at
    closed = target["kind"] != "open"
    row = (
        conn.execute(
            text(
                "INSERT INTO lead (pipeline_id, stage_id, status, name, company, email, phone, value_minor,"
                " source, owner, expected_close, external_id, created_at, closed_at, stage_entered_at,"
                " last_event_at, furthest_position, fit_score, engagement, score, qualification,"
                " match_email, match_phone, match_company) "
                "VALUES (:p, :s, :st, :name, :company, :email, :phone, :value, :source, :owner, :close,"
                " :ext, :at, :closed, :at, :at, :furthest, 0, 0, 0, 'incomplete',"
                " :match_email, :match_phone, :match_company) RETURNING *"
            ),
            {
                "p": p["id"],
                "s": target["id"],
                "st": target["kind"],
                "name": cleaned,
                "company": _clean_text(company),
                "email": check_email(email),
                "phone": _clean_text(phone),
                "value": value_minor,
                "source": _clean_text(source),
                "owner": _clean_text(owner),
                "close": expected_close,
                "ext": _clean_text(external_id),
                "at": at,
                "closed": at if closed else None,
                "furthest": target["position"] or 1,
                **identity.match_columns(email, phone, company),
            },
        )
        .mappings()
        .one()
    )
    lead_id: int = row["id"]
    journal.record_row(conn, "lead", None, snapshot(dict(row)), lead_id, at)
    journal.insert_row(
        conn, "stage_change", {"lead_id": lead_id, "from_stage_id": None, "to_stage_id": target["id"], "at": at},
        lead_id, at,
    )  # fmt: skip
    if note:
        log_activity(conn, lead_id, "note", note, at)
    scoring.refresh(conn, lead_id)
    return lead_id


@dataclass
class Added:
    """A lead just added, and the stored leads it looks like (`identity.likely_duplicates`)."""

    lead_id: int
    duplicates: list[Row]


class Details(TypedDict, total=False):
    """The details `add_lead` takes besides the name, as keywords (what `add_checked` passes on)."""

    company: str | None
    email: str | None
    phone: str | None
    value_minor: int | None
    source: str | None
    owner: str | None
    expected_close: _dt.date | None
    external_id: str | None
    pipeline: str | None
    stage: str | None
    note: str | None
    at: int | None


def add_checked(conn: Connection, name: str, *, unique: bool = False, **details: Unpack[Details]) -> Added:
    """Add a lead as `add_lead` does after looking for likely duplicates among the stored leads; return
    its id with them. With `unique`, a likely duplicate refuses the lead (nothing is written).

    The look and the insert run under the keyed imports' lock, as an import's own do: a keyed import
    running meanwhile either commits first (and its leads are found here) or waits (and finds this one);
    waiting for one longer than config `lock_wait` seconds raises PipecliError, nothing written."""
    serialise(conn, KEYED_IMPORT_LOCK, config.lock_wait)
    contact = identity.Contact(name, details.get("company"), check_email(details.get("email")), details.get("phone"))
    found = identity.likely_duplicates(conn, contact)
    if unique and found:
        first = found[0]
        company = f", {first['company']}" if first["company"] else ""
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise PipecliError(
            f"--unique: {name!r} looks like lead {first['id']} ({first['name']}{company}: {first['why']}){more};"
            " nothing was added"
        )
    return Added(add_lead(conn, name, **details), found)


@dataclass
class Move:
    lead_id: int
    from_stage: str
    to_stage: str
    status: str
    at: int


def move_lead(
    conn: Connection,
    lead_id: int,
    stage: str,
    at: int | None = None,
    reason: str | None = None,
    pipeline: str | None = None,
) -> Move:
    """Move a lead to `stage` (an open stage, `won` or `lost`; of `pipeline` when given, which may be another
    pipeline than the lead's) at `at`; return what changed.

    Backwards moves and reopening a closed lead are allowed and recorded like any other move."""
    lead = get_lead(conn, lead_id, for_update=True)
    target_pipeline = lead["pipeline_id"] if pipeline is None else pipelines.get_pipeline(conn, pipeline)["id"]
    target = pipelines.find_stage(conn, target_pipeline, stage)
    current = conn.execute(text("SELECT name FROM stage WHERE id = :s"), {"s": lead["stage_id"]}).scalar_one()
    if target["id"] == lead["stage_id"]:
        raise PipecliError(f"lead {lead_id} is already in {current}")
    at = clock.now_ts() if at is None else at
    if at < lead["stage_entered_at"]:
        raise PipecliError(
            f"--at {clock.show(at)} is before lead {lead_id} entered {current} "
            f"({clock.show(lead['stage_entered_at'])}); record moves in the order they happened"
        )
    closing = target["kind"] != "open"
    open_stays = conn.execute(
        text("SELECT id FROM stage_change WHERE lead_id = :l AND left_at IS NULL"), {"l": lead_id}
    ).scalars()
    for stay in list(open_stays):
        journal.update_rows(conn, "stage_change", {"id": stay}, {"left_at": at}, lead_id, at)
    journal.insert_row(
        conn,
        "stage_change",
        {
            "lead_id": lead_id,
            "from_stage_id": lead["stage_id"],
            "to_stage_id": target["id"],
            "at": at,
            "reason": reason,
        },
        lead_id,
        at,
    )
    furthest = lead["furthest_position"] if target_pipeline == lead["pipeline_id"] else 1
    if target["position"] is not None:
        furthest = max(furthest, target["position"])
    set_fields(
        conn,
        lead,
        {
            "pipeline_id": target_pipeline,
            "stage_id": target["id"],
            "status": target["kind"],
            "stage_entered_at": at,
            "closed_at": at if closing else None,
            "lost_reason": reason if target["kind"] == "lost" else None,
            "furthest_position": furthest,
            "archived_at": None,
            "last_event_at": max(lead["last_event_at"], at),
        },
        at,
    )
    return Move(lead_id, current, target["name"], target["kind"], at)


def edit_lead(conn: Connection, lead_id: int, changes: Row, at: int | None = None) -> list[str]:
    """Change any of a lead's details (keys of EDITABLE; None clears a field) as of `at` (default now; not
    before the lead was created); return the names of the details that really changed, sorted (empty when
    the lead already had every value given: no event is recorded then). `lost_reason` may be edited on a
    lost lead."""
    lead = get_lead(conn, lead_id, for_update=True)
    if at is not None and at < lead["created_at"]:
        raise PipecliError(
            f"--at {clock.show(at)} is before lead {lead_id} was created ({clock.show(lead['created_at'])})"
        )
    if "lost_reason" in changes and lead["status"] != "lost":
        raise PipecliError(f"lead {lead_id} is not lost: only a lost lead has a lost reason")
    unknown = set(changes) - set(EDITABLE) - {"lost_reason"}
    if unknown:
        raise PipecliError(f"cannot edit {', '.join(sorted(unknown))}")
    if not changes:
        raise PipecliError("nothing to change: give at least one option (see `pipecli edit --help`)")
    values = dict(changes)
    if "name" in values:
        values["name"] = _clean_text(values["name"])
        if not values["name"]:
            raise PipecliError("a lead needs a name")
    if "email" in values:
        values["email"] = check_email(values["email"])
    for key in ("company", "phone", "source", "owner", "external_id", "lost_reason"):
        if key in values:
            values[key] = _clean_text(values[key])
    if "owner" in values:
        values["owner"] = team.check_owner(conn, values["owner"], adding=False)
    if values.get("value_minor") is not None and values["value_minor"] < 0:
        raise PipecliError("--value must not be negative")
    if values.get("forecast_category") is not None:
        values["forecast_category"] = forecast_category(values["forecast_category"])
    changed = sorted(_changes(lead, values))  # by set_fields' own rule of what really changes
    set_fields(conn, lead, values, at)
    scoring.refresh(conn, lead_id)
    return changed


def delete_lead(conn: Connection, lead_id: int) -> Row:
    """Delete a lead with its history, activities and extra fields; return the deleted row."""
    lead = get_lead(conn, lead_id, for_update=True)
    remove_rows(conn, lead_id)
    return lead


def remove_rows(conn: Connection, lead_id: int) -> None:
    """Delete a lead and every row that belongs to it, each recorded whole (so `undo` can put it back)."""
    # the models (SQLModel classes, a tenth of a second) only for a write: `show` and `list` never build them
    from pipecli.store.schema import lead_tables

    for table in lead_tables():
        journal.delete_rows(conn, table, {"lead_id": lead_id}, lead_id)
    journal.delete_rows(conn, "lead", {"id": lead_id}, lead_id)


def history_of(conn: Connection, lead_id: int, now: int | None = None) -> list[Row]:
    """Return a lead's stage history, oldest first, each row with the time spent in that stage
    (up to now for the current one; None once the lead is closed in it)."""
    now = clock.now_ts() if now is None else now
    rows = conn.execute(
        text(
            "SELECT c.at, c.left_at, c.reason, f.name AS from_stage, t.name AS to_stage, t.kind "
            "FROM stage_change c LEFT JOIN stage f ON f.id = c.from_stage_id JOIN stage t ON t.id = c.to_stage_id "
            "WHERE c.lead_id = :l ORDER BY c.at, c.id"
        ),
        {"l": lead_id},
    ).mappings()
    out: list[Row] = []
    for r in rows:
        end = r["left_at"] if r["left_at"] is not None else (now if r["kind"] == "open" else None)
        out.append({**dict(r), "seconds_in_stage": None if end is None else end - r["at"]})
    return out


def show_lead(conn: Connection, lead_id: int) -> Row:
    """Return everything about one lead: its details, pipeline and stage names, stage history with
    durations, activities, extra fields and qualification answers."""
    lead = get_lead(conn, lead_id)
    score, score_params = scoring.total_sql("l")
    lead["score"] = conn.execute(
        text(f"SELECT {score} FROM lead l WHERE l.id = :i"), {**score_params, "i": lead_id}
    ).scalar()
    names = conn.execute(
        text("SELECT p.name, s.name FROM pipeline p JOIN stage s ON s.pipeline_id = p.id WHERE s.id = :s"),
        {"s": lead["stage_id"]},
    ).one()
    extras = conn.execute(
        text("SELECT key, value FROM lead_extra WHERE lead_id = :l ORDER BY key"), {"l": lead_id}
    ).all()
    answers = conn.execute(
        text("SELECT criterion, answer, verdict, at FROM qualification WHERE lead_id = :l ORDER BY criterion"),
        {"l": lead_id},
    ).mappings()
    return {
        "lead": {**lead, "pipeline": names[0], "stage": names[1]},
        "history": history_of(conn, lead_id),
        "recent_changes": lead_history(conn, lead_id, limit=5),
        "activities": activities_of(conn, lead_id),
        "extra": dict(extras),
        "qualification": [dict(a) for a in answers],
    }


def log_activity(conn: Connection, lead_id: int, kind: str, note: str | None = None, at: int | None = None) -> int:
    """Record an activity on a lead at `at` (epoch seconds, default now); return the activity's id."""
    return log_activities(conn, lead_id, [{"kind": kind, "note": note, "at": at}])[0]


# The activity columns a logged activity may carry besides kind, note and time (captured mail's).
ACTIVITY_DETAILS = ("message_id", "direction", "subject", "body")


def log_many(conn: Connection, items_by_lead: dict[int, list[Row]]) -> int:
    """Record activities on many leads ({lead id: items as `log_activities` takes them}); return how many.

    What `log_activities` lead by lead would write (the same rows, ids and events, in the same order), in a
    few statements for all of them: the leads read in one query, the activities inserted in one
    executemany, the changed leads updated in one per set of columns, the events written in one; the
    scores recomputed once for all the leads. `mail sync` logs thousands of messages this way."""
    if not items_by_lead:
        return 0
    now = clock.now_ts()
    ids = list(items_by_lead)
    found: dict[int, Row] = {}
    for i in range(0, len(ids), 500):  # well below any backend's limit of bound values
        read = execute_in(
            conn, "SELECT id, last_activity_at, last_event_at FROM lead WHERE id IN :ids", ids=ids[i : i + 500]
        )
        found.update((r["id"], dict(r)) for r in read.mappings())
    plans: list[tuple[Row, list[Row], Row, int | None]] = []
    for lead_id, items in items_by_lead.items():
        # a lead not read (none such, or one the team's policies hide) is refused as one at a time would be
        lead = found[lead_id] if lead_id in found else get_lead(conn, lead_id)
        plans.append((lead, *_plan(lead, items, now)))
    every = [dict.fromkeys(("lead_id", "kind", "note", "at", *ACTIVITY_DETAILS)) | row for p in plans for row in p[1]]
    inserted = iter(journal.insert_many(conn, "activity", every))
    events: list[Row] = []
    updates: dict[tuple[str, ...], list[Row]] = {}
    for lead, rows, fields, newest in plans:
        events += [journal.row_event("activity", next(inserted), lead["id"], row["at"]) for row in rows]
        changed = _changes(lead, fields)
        updates.setdefault(tuple(changed), []).append({**changed, "id__": lead["id"]})
        events += [
            journal.event_values(lead["id"], k, journal.encode(lead[k]), journal.encode(v), newest)
            for k, v in changed.items()
        ]
    for columns, params in updates.items():
        if columns:
            sets = ", ".join(f"{k} = :{k}" for k in columns)
            conn.execute(text(f"UPDATE lead SET {sets} WHERE id = :id__"), params)
    journal.insert_events(conn, events)
    scoring.recompute(conn, ids)
    return len(every)


def log_activities(conn: Connection, lead_id: int, items: list[Row]) -> list[int]:
    """Record activities on one lead (each a dict: `kind`, optional `note`, `at` (default now) and the
    ACTIVITY_DETAILS); return their ids in order. The lead's last activity, last event and score are
    updated once for all of them.

    Kinds that are no sign of life (`activities.engages`) leave the last activity and last event alone."""
    ids = _log(conn, lead_id, items)
    scoring.refresh(conn, lead_id)
    return ids


def _log(conn: Connection, lead_id: int, items: list[Row]) -> list[int]:
    lead = get_lead(conn, lead_id)
    rows, fields, newest = _plan(lead, items, clock.now_ts())
    ids = [journal.insert_row(conn, "activity", row, lead_id, row["at"])["id"] for row in rows]
    set_fields(conn, lead, fields, newest)
    return ids


def _plan(lead: Row, items: list[Row], now: int) -> tuple[list[Row], Row, int | None]:
    """Return what logging `items` on `lead` (its row) writes: the activity rows (their columns given), the
    lead's last activity and last event after them, and the time of the newest (when the lead's change is)."""
    rows: list[Row] = []
    last: int | None = lead["last_activity_at"]
    latest_event: int = lead["last_event_at"]
    newest: int | None = None
    for item in items:
        kind = check_kind(item["kind"])
        at = now if item.get("at") is None else item["at"]
        newest = at if newest is None else max(newest, at)
        row = {"lead_id": lead["id"], "kind": kind, "note": item.get("note"), "at": at}
        row.update({k: item[k] for k in ACTIVITY_DETAILS if item.get(k) is not None})
        rows.append(row)
        if engages(kind):
            last = at if last is None or last < at else last
            latest_event = max(latest_event, at)
    return rows, {"last_activity_at": last, "last_event_at": latest_event}, newest


# --- what a new lead is written as: one definition for `add_lead` and the import's bulk writer ----------

# A new lead's derived columns, as SQL over the columns it is inserted with (`{column}`): its last event is
# its entry into its stage, its score its fit, no engagement yet, its qualification not begun.
NEW_LEAD_DERIVED = {
    "last_event_at": "{stage_entered_at}",
    "score": "{fit_score}",
    "engagement": "0",
    "qualification": "'incomplete'",
}
STAGE_CHANGE_COLUMNS = ("lead_id", "from_stage_id", "to_stage_id", "at", "left_at", "reason")


def opening_changes_sql(leads: str) -> str:
    """Return the INSERT of the stage_change rows that begin the history of the new leads matching
    `leads` (a condition on `l`, their lead rows), in lead order: one row each, into the stage the lead
    is in, when it entered it (`stage_entered_at`), with its lost reason.

    An open lead was created in its stage. A won or lost lead whose path is not known (an imported final
    state) entered its outcome at its close date from a stage nobody observed: no row says where it was
    before, so no report counts that time as time in a stage (its `furthest_position` is 0, `UNKNOWN_PATH`).
    It exists so that every way of creating leads writes their history the same way, one at a time or a
    million in one statement."""
    return (
        f"INSERT INTO stage_change ({', '.join(STAGE_CHANGE_COLUMNS)}) "
        "SELECT l.id, CAST(NULL AS INTEGER), l.stage_id, l.stage_entered_at, CAST(NULL AS BIGINT), l.lost_reason "
        f"FROM lead l WHERE {leads} ORDER BY l.id"
    )


# The columns a move sets on a lead (`move_lead`), which a new lead that entered its stage after it was
# created has changed since its creation: (column, its value at the creation as SQL over `l`); an event
# is recorded only where it changed to a value.
_MOVED = (
    ("status", "'open'"),
    ("stage_id", "CAST(NULL AS INTEGER)"),
    ("stage_entered_at", "l.created_at"),
    ("last_event_at", "l.created_at"),
    ("closed_at", "CAST(NULL AS BIGINT)"),
    ("lost_reason", "CAST(NULL AS TEXT)"),
    ("furthest_position", str(UNKNOWN_PATH)),
)


def opening_events_sql(
    batch: Callable[[str], str], dialect: str, *, paths: bool = True, notes: bool = True, extras: bool = True
) -> list[str]:
    """Return the INSERTs of the events of new leads with their rows (`batch(column)`: the condition on
    a lead id column selecting them; `:j` binds the journal entry), in the order `add_lead` and `move_lead`
    record them. Without `paths` every lead has one history row, without `notes` no note, without
    `extras` no extra field: the statements are then cheaper (joins instead of subqueries).

    Each lead gets one creation event at its created date holding its row and, under `journal.WITH_ROWS`,
    the rows inserted with it (history, notes, extras): one event per lead rather than four keeps a
    million-row import near its speed without history. A lead that entered its stage after it was created
    (an imported won or lost deal, or a path rebuilt from stage dates) was created in a stage nobody
    observed (stage_id null, furthest position UNKNOWN_PATH) and moved at `stage_entered_at`: one event per
    column the move changed, at the move's time, as `move_lead` records them."""
    # the models (SQLModel classes, a tenth of a second) only for a write: `show` and `list` never build them
    from pipecli.store.schema import row_json_sql, rows_json_sql

    later = "l.stage_entered_at <> l.created_at"
    overrides = {name: f"CASE WHEN {later} THEN {then} ELSE l.{name} END" for name, then in _MOVED}
    array = "json_array" if dialect == "sqlite" else "json_build_array"

    def nested(table: str, alias: str | None) -> str:
        # the rows of `table` inserted with each lead: by a join (`alias`, at most one row) or a subquery
        columns = tuple(journal.nested_columns(table))
        if alias is None:
            return rows_json_sql(dialect, table, "r.lead_id = l.id", columns)
        row = row_json_sql(dialect, table, alias, columns, as_text=False, as_array=True)
        return f"CASE WHEN {alias}.id IS NULL THEN {array}() ELSE {array}({row}) END"

    joins = "" if paths else " JOIN stage_change sc ON sc.lead_id = l.id"
    joins += " LEFT JOIN activity ac ON ac.lead_id = l.id" if notes else ""  # an import notes a lead once
    rows = {
        "stage_change": nested("stage_change", None if paths else "sc"),
        "activity": nested("activity", "ac") if notes else f"{array}()",
        "lead_extra": nested("lead_extra", None) if extras else f"{array}()",
    }
    members = ", ".join(f"'{t}', {sql}" for t, sql in rows.items())
    kept = f"{'json_object' if dialect == 'sqlite' else 'json_build_object'}({members})"
    snapshot = row_json_sql(
        dialect, "lead", "l", SNAPSHOT_COLUMNS, overrides=overrides, more={journal.WITH_ROWS: kept}, as_array=True
    )
    insert = "INSERT INTO event (journal_id, lead_id, at, field, old, new) "
    # one pass over the leads, crossed with the moved columns: a row per column that changed
    columns = " UNION ALL ".join(f"SELECT {k} AS k, '{name}' AS field" for k, (name, _) in enumerate(_MOVED))
    before = " ".join(f"WHEN {k} THEN CAST({then} AS TEXT)" for k, (_, then) in enumerate(_MOVED))
    after = " ".join(f"WHEN {k} THEN CAST(l.{name} AS TEXT)" for k, (name, _) in enumerate(_MOVED))
    moved = (
        f"SELECT l.id AS lead_id, l.stage_entered_at AS at, f.field, CASE f.k {before} END AS old,"
        f" CASE f.k {after} END AS new FROM lead l CROSS JOIN ({columns}) f WHERE {batch('l.id')} AND {later}"
    )
    return [
        f"{insert}SELECT :j, l.id, l.created_at, 'row:lead', CAST(NULL AS TEXT), {snapshot} FROM lead l{joins} "
        f"WHERE {batch('l.id')} ORDER BY l.id",
        f"{insert}SELECT :j, lead_id, at, field, old, new FROM ({moved}) moved "
        "WHERE new IS NOT NULL AND (old IS NULL OR old <> new)",
    ]
