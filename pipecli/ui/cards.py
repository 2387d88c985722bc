"""What the board screen reads: each open stage's header (count and value, aggregated in SQL), a window of
its cards (a page at a time, in the board's order: most valuable first), the marks a card carries and the
database's change counter.

Only what is on screen plus a margin is read, so a pipeline of 100,000 open deals opens as fast as one of
ten: the header is one GROUP BY over `ix_lead_open`, a window one LIMIT/OFFSET range of it.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, pipelines
from pipecli.errors import PipecliError
from pipecli.reports import clean

CARD_COLUMNS = (
    "l.id, l.name, l.company, l.value_minor, l.owner, l.source, l.stage_entered_at, l.next_step, l.next_step_due"
)


@dataclass(frozen=True)
class Filter:
    """The `/` filter: a text in the name or company (any case), an owner, a source; None is no condition."""

    text: str | None = None
    owner: str | None = None
    source: str | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """Return the filter as SQL conditions on `l` (each prefixed with AND) and their parameters."""
        parts, params = [], {}
        if self.text:
            parts.append("(LOWER(l.name) LIKE :f_text OR LOWER(COALESCE(l.company, '')) LIKE :f_text)")
            params["f_text"] = f"%{self.text.lower()}%"
        if self.owner:
            parts.append("l.owner = :f_owner")
            params["f_owner"] = self.owner
        if self.source:
            parts.append("l.source = :f_source")
            params["f_source"] = self.source
        return "".join(f" AND {p}" for p in parts), params

    def describe(self) -> str:
        """Return the filter as the status bar shows it ('' when there is none)."""
        shown = [f"{k}={v}" for k, v in (("text", self.text), ("owner", self.owner), ("source", self.source)) if v]
        return " ".join(shown)


@dataclass(frozen=True)
class Stage:
    """One column's header: an open stage with how many filtered open deals it holds and their value."""

    id: int
    name: str
    position: int
    count: int
    value_minor: int


@dataclass(frozen=True)
class Card:
    """One deal as a card shows it, with its marks."""

    id: int
    name: str
    company: str | None
    value_minor: int | None
    owner: str | None
    source: str | None
    days_in_stage: int
    next_step: str | None
    next_step_due: _dt.date | None
    overdue: bool  # the next step's date has passed

    @property
    def no_next_step(self) -> bool:
        """True when nothing is planned: Pipedrive's yellow mark."""
        return self.next_step is None


def pipeline_of(conn: Connection, name: str | None) -> dict[str, Any]:
    """Return the pipeline the board shows (the default one when `name` is None), or raise NotFound."""
    return pipelines.get_pipeline(conn, name)


def stages(conn: Connection, pipeline_id: int, flt: Filter) -> list[Stage]:
    """Return the pipeline's open stages in order, each with its filtered open deals' count and value."""
    where, params = flt.sql()
    totals = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            text(
                "SELECT l.stage_id, COUNT(*), SUM(l.value_minor) FROM lead l WHERE l.pipeline_id = :p"
                f" AND l.status = 'open' AND l.archived_at IS NULL{where} GROUP BY l.stage_id"
            ),
            {"p": pipeline_id, **params},
        )
    }
    out = []
    for s in pipelines.stages(conn, pipeline_id, outcomes=False):
        count, value = totals.get(s["id"], (0, None))
        out.append(Stage(s["id"], s["name"], s["position"], int(count), int(value or 0)))
    return out


def window(conn: Connection, pipeline_id: int, stage_id: int, flt: Filter, offset: int, limit: int) -> list[Card]:
    """Return `limit` cards of one stage from position `offset`, most valuable first (then oldest id)."""
    where, params = flt.sql()
    rows = conn.execute(
        text(
            f"SELECT {CARD_COLUMNS} FROM lead l WHERE l.pipeline_id = :p AND l.status = 'open'"
            f" AND l.stage_id = :s AND l.archived_at IS NULL{where}"
            " ORDER BY l.value_minor DESC NULLS LAST, l.id LIMIT :n OFFSET :o"
        ),
        {"p": pipeline_id, "s": stage_id, "n": limit, "o": offset, **params},
    ).mappings()
    now, today = clock.now_ts(), clock.today()
    cards = []
    for r in rows:
        due = clock.as_date(r["next_step_due"]) if r["next_step_due"] is not None else None
        cards.append(
            Card(
                r["id"],
                r["name"],
                r["company"],
                r["value_minor"],
                r["owner"],
                r["source"],
                max(0, (now - r["stage_entered_at"]) // clock.DAY),
                r["next_step"],
                due,
                due is not None and due < today,
            )
        )
    return cards


def stale_ids(conn: Connection, pipeline: str, owner: str | None = None) -> set[int]:
    """Return the pipeline's deals that `clean` finds stale (its "stale" group: silent, stuck or past their
    close date; the hygiene findings are about the record, not the deal's health)."""
    report = clean.find_stale(conn, pipeline, owner, rules=clean.GROUPS["stale"])
    return {r["lead_id"] for r in report.rows}


def stale_ids_in(target: str, pipeline: str) -> set[int]:
    """Return `stale_ids` of the database at `target` computed in a separate process (`python -m
    pipecli.ui.cards TARGET PIPELINE`), so a big pipeline's judgement (seconds of Python over its rows)
    never holds the interpreter, and with it the app's keys."""
    command = [sys.executable, "-m", "pipecli.ui.cards", target, pipeline]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if done.returncode != 0:
        raise PipecliError((done.stderr.strip().splitlines() or ["clean failed"])[-1])
    return {int(word) for word in done.stdout.split()}


def _print_stale(target: str, pipeline: str) -> None:
    store = pipelines.open_store(target)
    try:
        with store.read() as conn:
            print(" ".join(map(str, sorted(stale_ids(conn, pipeline)))))
    finally:
        store.dispose()


def change_counter(conn: Connection) -> tuple[int, ...]:
    """Return a value that changes whenever any command changes the database: the latest journal entry,
    event and lead ids (every write through the core leaves a journal event; an import adds leads)."""
    row = conn.execute(
        text(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM journal), (SELECT COALESCE(MAX(id), 0) FROM event),"
            " (SELECT COALESCE(MAX(id), 0) FROM lead)"
        )
    ).one()
    return tuple(int(v) for v in row)


if __name__ == "__main__":
    try:
        _print_stale(sys.argv[1], sys.argv[2])
    except PipecliError as exc:
        sys.exit(f"pipecli: {exc}")
