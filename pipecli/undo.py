"""Undo: revert one command invocation's changes, all of them, in one transaction.

Each journal entry's events say what its command changed (`store.journal`). Undoing an entry applies
their inverses newest first — a field set back to its old value, an inserted row deleted, a deleted row
put back with its own id — as a new journal entry that `undoes` it, its events dated now (what was
observed before the undo stays observed: `changes` over an earlier window still says what it said); the entry is marked `reverted_by`
that undo. Because the undo is an entry like any other, undoing it redoes the command.

An entry can be undone only when nothing later still depends on what it changed: a later entry that
touched the same leads (or the pipeline setup, for a setup change) and whose effect still stands is in
the way, and the refusal names it. A later command and its undo cancel out and are not in the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import identity
from pipecli.errors import NotFound, PipecliError
from pipecli.scoring import score as scoring
from pipecli.store import journal

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Entry:
    """One journal entry as `undo --list` shows it."""

    id: int
    at: int
    actor: str
    command: str
    undoes: int | None
    reverted_by: int | None
    changes: int
    leads: int


@dataclass(frozen=True)
class Undone:
    """What an undo did: the entry it reverted, the new entry that records the undo, how many changes."""

    reverted: Entry
    entry_id: int
    changes: int
    redo: bool


_ENTRY_SQL = (
    "SELECT j.id, j.at, j.actor, j.command, j.undoes, j.reverted_by, COUNT(e.id), COUNT(DISTINCT e.lead_id) "
    "FROM journal j JOIN event e ON e.journal_id = j.id "
)


def recent(conn: Connection, limit: int = 20) -> list[Entry]:
    """Return the latest `limit` journal entries that changed something, newest first."""
    ids = conn.execute(
        text(
            "SELECT id FROM journal j WHERE EXISTS (SELECT 1 FROM event e WHERE e.journal_id = j.id) "
            "ORDER BY id DESC LIMIT :n"
        ),
        {"n": limit},
    ).scalars()
    return [_entry(conn, i) for i in list(ids)]


def _entry(conn: Connection, entry_id: int) -> Entry:
    row = conn.execute(
        text(_ENTRY_SQL + "WHERE j.id = :i GROUP BY j.id, j.at, j.actor, j.command, j.undoes, j.reverted_by"),
        {"i": entry_id},
    ).first()
    if row is None:
        raise NotFound(f"no command {entry_id} changed anything (see `pipecli undo --list`)")
    return Entry(*row)


def _latest(conn: Connection) -> Entry:
    row = conn.execute(
        text(
            "SELECT j.id FROM journal j WHERE j.reverted_by IS NULL AND j.command NOT LIKE 'migration to schema%' "
            "AND EXISTS (SELECT 1 FROM event e WHERE e.journal_id = j.id) ORDER BY j.id DESC LIMIT 1"
        )
    ).first()
    if row is None:
        raise PipecliError("nothing to undo: no command has changed anything yet")
    return _entry(conn, row[0])


def in_the_way(conn: Connection, entry: Entry) -> list[Entry]:
    """Return the later entries whose standing effect touches what `entry` changed (oldest first)."""
    later = conn.execute(text("SELECT id, undoes FROM journal WHERE id > :i ORDER BY id"), {"i": entry.id}).all()
    base: dict[int, int] = {}
    chains: dict[int, list[int]] = {}
    for entry_id, undoes in later:
        root = entry_id if undoes is None else base.get(undoes, undoes)
        base[entry_id] = root
        chains.setdefault(root, []).append(entry_id)
    # the later entries that touched a lead this one touched, or the setup when this one changed it
    touching = set(
        conn.execute(
            text(
                "SELECT DISTINCT journal_id FROM event WHERE journal_id > :i AND ("
                " lead_id IN (SELECT lead_id FROM event WHERE journal_id = :i AND lead_id IS NOT NULL)"
                " OR (lead_id IS NULL AND EXISTS (SELECT 1 FROM event WHERE journal_id = :i AND lead_id IS NULL)))"
            ),
            {"i": entry.id},
        ).scalars()
    )
    blocking = []
    for root, ids in chains.items():
        # A chain that starts after `entry` stands when it has an odd length (done, undone, redone...);
        # one that starts at or before it is a later undo or redo of older work, and always counts.
        stands = root <= entry.id or len(ids) % 2 == 1
        if stands and any(i in touching for i in ids):
            blocking.append(_entry(conn, ids[-1]))
    return sorted(blocking, key=lambda e: e.id)


def _current(conn: Connection, lead_id: int, field: str) -> Any:
    row = conn.execute(text(f"SELECT {field} FROM lead WHERE id = :l"), {"l": lead_id}).first()
    return None if row is None else row[0]


def choose(conn: Connection, entry_id: int | None = None) -> Entry:
    """Return the entry `undo` would revert (the latest standing one, or `entry_id`), or raise why not."""
    entry = _latest(conn) if entry_id is None else _entry(conn, entry_id)
    if entry.command.startswith("migration to schema"):
        raise PipecliError("the migration that started history cannot be undone")
    if entry.reverted_by is not None:
        raise PipecliError(
            f"command {entry.id} was already undone by command {entry.reverted_by}; "
            f"`pipecli undo {entry.reverted_by}` redoes it"
        )
    blocking = in_the_way(conn, entry)
    if blocking:
        names = ", ".join(f"{b.id} ({b.command})" for b in blocking[:3])
        raise PipecliError(
            f"command {entry.id} cannot be undone: later commands changed the same records: {names}; undo those first"
        )
    for lead_id, field, new in conn.execute(
        text(
            "SELECT lead_id, field, new FROM event e WHERE journal_id = :j AND field NOT LIKE 'row:%' "
            "AND id = (SELECT MAX(id) FROM event x WHERE x.journal_id = e.journal_id AND x.lead_id = e.lead_id "
            "AND x.field = e.field)"
        ),
        {"j": entry.id},
    ):
        if journal.encode(_current(conn, lead_id, field)) != new:
            raise PipecliError(
                f"command {entry.id} cannot be undone: lead {lead_id}'s {field} was changed since, "
                "by something the journal did not record (an import?)"
            )
    return entry


def undo(conn: Connection, entry_id: int | None = None) -> Undone:
    """Revert the latest standing journal entry (or `entry_id`) in this transaction; return what was done."""
    from pipecli.leads import remove_rows  # leads imports the scoring that this refreshes

    entry = choose(conn, entry_id)
    own = journal.journal_of(conn)
    own.undoes = entry.id
    events = conn.execute(
        text("SELECT lead_id, field, old, new FROM event WHERE journal_id = :j ORDER BY id DESC"),
        {"j": entry.id},
    ).all()
    touched: set[int] = set()
    # leads the entry created: their later changes in the same entry go with them (a lead imported
    # closed was created in a stage nobody observed, a NULL its row cannot hold)
    created = {lead_id for lead_id, field, old, _ in events if field == "row:lead" and old is None}
    for lead_id, field, old, new in events:
        if lead_id in created and not field.startswith("row:"):
            continue
        if field.startswith("row:"):
            table = field[4:]
            before, after = journal.load_row(table, old), journal.load_row(table, new)
            pk = journal.primary_key(table)
            if before is None:  # inserted: delete it
                assert after is not None  # an insertion's event holds the row
                keys = {k: journal.decode(table, k, after[k]) for k in pk}
                if table == "lead":
                    remove_rows(conn, keys["id"])
                else:
                    journal.delete_rows(conn, table, keys, lead_id)
            elif after is None:  # deleted: put it back
                journal.restore_row(conn, table, before)
            else:  # updated: set it back
                keys = {k: journal.decode(table, k, before[k]) for k in pk}
                sets = {k: journal.decode(table, k, v) for k, v in before.items() if k not in pk}
                journal.update_rows(conn, table, keys, sets, lead_id)
        else:
            value = journal.decode("lead", field, old)
            current = _current(conn, lead_id, field)
            conn.execute(text(f"UPDATE lead SET {field} = :v WHERE id = :l"), {"v": value, "l": lead_id})
            journal.record(conn, lead_id, field, current, value)
        if lead_id is not None:
            touched.add(lead_id)
    undo_id = own.entry_id(conn)
    conn.execute(text("UPDATE journal SET reverted_by = :u WHERE id = :j"), {"u": undo_id, "j": entry.id})
    conn.execute(text("UPDATE journal SET undoes = :j WHERE id = :u"), {"u": undo_id, "j": entry.id})
    for lead_id in sorted(touched):
        if conn.execute(text("SELECT 1 FROM lead WHERE id = :l"), {"l": lead_id}).first():
            identity.refresh_blocks(conn, lead_id)  # derived from the details set back above
            scoring.refresh(conn, lead_id)
    return Undone(entry, undo_id, len(events), redo=entry.undoes is not None)
