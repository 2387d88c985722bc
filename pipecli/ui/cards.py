"""What the board screen reads: each open stage's header (count and value, aggregated in SQL), a window of
its cards (a page at a time, in the board's order: most valuable first), the marks a card carries and the
database's change counter.

Only what is on screen plus a margin is read, so a pipeline of 100,000 open deals opens as fast as one of
ten: the header is one GROUP BY over `ix_lead_open`, a window one LIMIT/OFFSET range of it. A filter cannot
use that index (a text is matched anywhere in a name), so a filtered board reads what it lets through once,
in one scan (`Matches`): the ids and values per stage in board order, from which its headers are counted and
its windows cut, instead of one scan per column for every window and every header. After a change to one
deal only that deal is read again (`place_of`) and only the stages it left and entered.

Matching a text in SQL costs a LIKE per name and company of every open deal (100 ms and more at 100,000
deals, every time the filter changes); so a board of at most SEARCH_LIMIT open deals reads their filter keys
once (`SearchIndex`: id, value, lowered name and company, owner, source in board order, about 16 MB at
100,000) and matches in Python, in a few milliseconds. Bigger boards match in SQL.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
import tempfile
import threading
from bisect import bisect_left, insort
from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, pipelines
from pipecli.errors import PipecliError
from pipecli.reports import clean
from pipecli.store.sql import execute_in, fetch_rows

CARD_COLUMNS = (
    "l.id, l.name, l.company, l.value_minor, l.owner, l.source, l.stage_entered_at, l.next_step, l.next_step_due"
)
ON_BOARD = "l.pipeline_id = :p AND l.status = 'open' AND l.archived_at IS NULL"  # the deals a board shows
ORDER = "l.value_minor DESC NULLS LAST, l.id"  # the board's order within a stage: most valuable first, then oldest
# a filter's keys as SearchIndex holds them (the expressions Filter.sql matches)
KEY_COLUMNS = (
    "l.stage_id, l.id, l.value_minor, lower(trim(l.name)), COALESCE(lower(trim(l.company)), ''), l.owner, l.source"
)
SEARCH_LIMIT = 250_000  # the most open deals whose filter keys are held in memory (SearchIndex)


def board_key(lead_id: int, value_minor: int | None) -> tuple[bool, int, int]:
    """Return a card's place in ORDER as a sort key, to put one changed card back without reading its
    stage again (the same order as ORDER: valued cards first, the larger value first, then the lower id)."""
    return (value_minor is None, -(value_minor or 0), lead_id)


@dataclass(frozen=True)
class Filter:
    """The `/` filter: a text in the name or company (any case), an owner, a source; None is no condition."""

    text: str | None = None
    owner: str | None = None
    source: str | None = None

    @property
    def active(self) -> bool:
        """True when the filter lets through less than everything."""
        return bool(self.text or self.owner or self.source)

    def sql(self, dialect: str = "") -> tuple[str, str, dict[str, Any]]:
        """Return the filter as an index hint for `FROM lead l` on SQLite ('' elsewhere), SQL conditions on
        `l` (each prefixed with AND) and their parameters.

        Without statistics SQLite walks ix_lead_open and reads every open row from the table, in that
        index's order (seconds at 100,000 deals under load); a text is matched instead on the compact
        ix_lead_dup_name (which holds lower(trim(name)), lower(trim(company)) of the open leads) and only
        the rows it matches are read; an owner or a source alone is fastest as one pass over the table."""
        parts, params = [], {}
        if self.text:
            # trim changes nothing here: a stripped text found in a name lies inside its trimmed part
            parts.append(
                "(lower(trim(l.name)) LIKE :f_text ESCAPE '\\' OR lower(trim(l.company)) LIKE :f_text ESCAPE '\\')"
            )
            typed = (self.needle or "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["f_text"] = f"%{typed}%"
        if self.owner:
            parts.append("l.owner = :f_owner")
            params["f_owner"] = self.owner
        if self.source:
            parts.append("l.source = :f_source")
            params["f_source"] = self.source
        hint = ""
        if dialect == "sqlite" and parts:
            hint = " INDEXED BY ix_lead_dup_name" if self.text else " NOT INDEXED"
        return hint, "".join(f" AND {p}" for p in parts), params

    @property
    def needle(self) -> str | None:
        """The text as it is looked for in the lowered, trimmed name and company (None: no text)."""
        return self.text.strip().lower() if self.text else None

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


class Matches:
    """The deals a filter lets through, per stage: rows (stage, id, value, ...) in board order, read in one scan, and
    each stage's count and total value (kept as deals come and go, so a header costs nothing)."""

    def __init__(self, by_stage: dict[int, list[tuple[Any, ...]]]):
        """`by_stage`: per stage, rows in board order whose second and third items are a deal's id and value
        (the rows `read` reads, or SearchIndex's own: their tuples are kept, not copied)."""
        self.by_stage = by_stage
        self.totals = {s: sum(filter(None, map(itemgetter(2), rows))) for s, rows in by_stage.items()}

    @classmethod
    def read(cls, conn: Connection, pipeline_id: int, flt: Filter) -> Matches:
        """Return the filtered board's deals, from one pass over the index or the table (`Filter.sql`)."""
        hint, where, params = flt.sql(conn.dialect.name)
        sql = f"SELECT l.stage_id, l.id, l.value_minor FROM lead l{hint} WHERE {ON_BOARD}{where}"
        rows = fetch_rows(conn, sql + f" ORDER BY l.stage_id, {ORDER}", {"p": pipeline_id, **params})
        # rows come by stage, in board order
        return cls({s: list(group) for s, group in groupby(rows, key=itemgetter(0))})

    def header(self, stage_id: int) -> tuple[int, int]:
        """Return the count and total value of the stage's filtered deals."""
        return len(self.by_stage.get(stage_id, [])), self.totals.get(stage_id, 0)

    def ids(self, stage_id: int, offset: int, limit: int) -> list[int]:
        """Return the ids of the stage's filtered deals from position `offset`, at most `limit` of them."""
        return [row[1] for row in self.by_stage.get(stage_id, [])[offset : offset + limit]]

    def place(
        self, lead_id: int, was: int | None, now: tuple[int, int | None] | None, value: int | None = None
    ) -> None:
        """Take the deal out of stage `was` (None: it was not on the board), where it had `value`, and put it,
        when `now` (its stage and value, `place_of`) says it is on the filtered board, at its place in that
        stage's order."""
        if was is not None:
            pairs = self.by_stage.get(was, [])
            at = _find(pairs, lead_id, value, _row_key)
            if at is not None:
                del pairs[at]
                self.totals[was] = self.totals.get(was, 0) - (value or 0)
        if now is not None:
            insort(self.by_stage.setdefault(now[0], []), (now[0], lead_id, now[1]), key=_row_key)
            self.totals[now[0]] = self.totals.get(now[0], 0) + (now[1] or 0)


class SearchIndex:
    """The filter keys (KEY_COLUMNS) of a pipeline's open deals, per stage in board order, read once; a
    filter is matched on them in Python (`matches`), and a change to one deal here updates its row alone
    (`update`)."""

    def __init__(self, rows: list[tuple[Any, ...]]):
        self.by_stage = {s: list(group) for s, group in groupby(rows, key=itemgetter(0))}  # rows come by stage

    @classmethod
    def read(cls, conn: Connection, pipeline_id: int) -> SearchIndex | None:
        """Return the keys of the pipeline's open deals, or None when there are over SEARCH_LIMIT of them
        (their filters are matched in SQL)."""
        count = conn.execute(text(f"SELECT COUNT(*) FROM lead l WHERE {ON_BOARD}"), {"p": pipeline_id}).scalar_one()
        if count > SEARCH_LIMIT:
            return None
        sql = f"SELECT {KEY_COLUMNS} FROM lead l WHERE {ON_BOARD} ORDER BY l.stage_id, {ORDER}"
        return cls(fetch_rows(conn, sql, {"p": pipeline_id}))

    def header(self, stage_id: int) -> tuple[int, int]:
        """Return the count and total value of the stage's open deals (the unfiltered board's header, as
        `stages` counts it in SQL)."""
        rows = self.by_stage.get(stage_id, [])
        return len(rows), sum(filter(None, map(itemgetter(2), rows)))

    def matches(self, flt: Filter) -> Matches:
        """Return what `flt` lets through, as `Matches.read` would read it (`Filter.sql`'s conditions: the
        needle inside the name or company, the owner, the source; a missing company matches no text)."""
        needle, owner, source = flt.needle, flt.owner, flt.source
        by_stage = {}
        for stage_id, rows in self.by_stage.items():  # one comprehension per condition: no call per row
            if needle is not None:
                rows = [r for r in rows if needle in r[3] or needle in r[4]]
            if owner:
                rows = [r for r in rows if r[5] == owner]
            if source:
                rows = [r for r in rows if r[6] == source]
            by_stage[stage_id] = rows if rows is not self.by_stage[stage_id] else list(rows)
        return Matches(by_stage)

    def update(
        self, conn: Connection, pipeline_id: int, lead_id: int, was: int | None, value: int | None = None
    ) -> None:
        """Read one deal's keys again after a change to it (it was in stage `was` with `value`; None when not
        on the board)."""
        if was is not None:
            rows = self.by_stage.get(was, [])
            at = _find(rows, lead_id, value, _row_key)
            if at is not None:
                del rows[at]
        row = conn.execute(
            text(f"SELECT {KEY_COLUMNS} FROM lead l WHERE l.id = :i AND {ON_BOARD}"), {"i": lead_id, "p": pipeline_id}
        ).first()
        if row is not None:
            insort(self.by_stage.setdefault(row[0], []), tuple(row), key=_row_key)


def _row_key(row: tuple[Any, ...]) -> tuple[bool, int, int]:
    """Return the board_key of a Matches or SearchIndex row (its id and value second and third)."""
    return board_key(row[1], row[2])


def _find(rows: list[Any], lead_id: int, value: int | None, key: Callable[[Any], tuple[bool, int, int]]) -> int | None:
    """Return the index of deal `lead_id` in `rows` (in board order; `key` their board_key), found by its
    `value` in a binary search, or else by looking at each; None when it is not there."""
    at = bisect_left(rows, board_key(lead_id, value), key=key)
    if at < len(rows) and key(rows[at])[2] == lead_id:
        return at
    return next((i for i, row in enumerate(rows) if key(row)[2] == lead_id), None)


def place_of(conn: Connection, pipeline_id: int, lead_id: int, flt: Filter) -> tuple[int, int | None] | None:
    """Return the stage and value of one deal when the filtered board shows it (None when it left: closed,
    archived, in another pipeline or no longer matching), to update the board after a change to it."""
    _, where, params = flt.sql()
    row = conn.execute(
        text(f"SELECT l.stage_id, l.value_minor FROM lead l WHERE l.id = :i AND {ON_BOARD}{where}"),
        {"i": lead_id, "p": pipeline_id, **params},
    ).first()
    return None if row is None else (int(row[0]), row[1])


def stages(
    conn: Connection,
    pipeline_id: int,
    flt: Filter,
    matches: Matches | None = None,
    only: Collection[int] | None = None,
) -> list[Stage]:
    """Return the pipeline's open stages in order (those in `only` when given), each with its filtered open
    deals' count and value: counted from `matches` when the board is filtered, else one GROUP BY over
    ix_lead_open's covering range (restricted to the stages in `only`)."""
    totals: dict[int, tuple[int, int | None]] = {}
    if matches is not None:
        totals = {s: matches.header(s) for s in matches.by_stage if only is None or s in only}
    else:
        hint, where, params = flt.sql(conn.dialect.name)
        chosen = " AND l.stage_id IN :only" if only is not None else ""
        sql = f"SELECT l.stage_id, COUNT(*), SUM(l.value_minor) FROM lead l{hint} WHERE {ON_BOARD}{chosen}{where}"
        extra = {"only": list(only)} if only is not None else {}
        totals = {
            r[0]: (r[1], r[2]) for r in execute_in(conn, sql + " GROUP BY l.stage_id", p=pipeline_id, **params, **extra)
        }
    out = []
    for s in pipelines.stages(conn, pipeline_id, outcomes=False):
        if only is not None and s["id"] not in only:
            continue
        count, value = totals.get(s["id"], (0, None))
        out.append(Stage(s["id"], s["name"], s["position"], int(count), int(value or 0)))
    return out


def window(conn: Connection, pipeline_id: int, stage_id: int, flt: Filter, offset: int, limit: int) -> list[Card]:
    """Return `limit` cards of one stage from position `offset`, in board order (ORDER)."""
    _, where, params = flt.sql()
    rows = conn.execute(
        text(
            f"SELECT {CARD_COLUMNS} FROM lead l WHERE {ON_BOARD} AND l.stage_id = :s{where}"
            f" ORDER BY {ORDER} LIMIT :n OFFSET :o"
        ),
        {"p": pipeline_id, "s": stage_id, "n": limit, "o": offset, **params},
    ).mappings()
    return _cards(rows)


def cards_by_id(conn: Connection, ids: list[int]) -> list[Card]:
    """Return the cards of the deals `ids`, in that order (a window of a filtered board, cut from `Matches`)."""
    if not ids:
        return []
    rows = execute_in(conn, f"SELECT {CARD_COLUMNS} FROM lead l WHERE l.id IN :ids", ids=ids).mappings()
    got = {c.id: c for c in _cards(rows)}
    return [got[i] for i in ids if i in got]


def _cards(rows: Any) -> list[Card]:
    """Return the cards of `CARD_COLUMNS` rows, their age in stage and overdue mark by the one clock."""
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
    return {r.lead_id for r in report.rows}


class StaleJudge:
    """`stale_ids` of a database computed in a separate process (`python -m pipecli.ui.cards TARGET
    PIPELINE ANSWER`), so a big pipeline's judgement (seconds of Python over its rows) never holds the
    app's interpreter, and with it the keys; one at a time: a new judgement (a later change) stops the one
    still running, whose answer is out of date, instead of leaving it to burn a core for seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: subprocess.Popen[str] | None = None

    def ids(self, target: str, pipeline: str) -> set[int] | None:
        """Return the stale deals' ids, or None when a later judgement (or `stop`) stopped this one."""
        with tempfile.TemporaryDirectory() as folder:
            answer = Path(folder) / "stale"  # the answer comes back in a file: only cli/output.py writes to stdout
            command = [sys.executable, "-m", "pipecli.ui.cards", target, pipeline, str(answer)]
            with self.lock:
                self._stop()
                process = self.running = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                )
            try:
                _, err = process.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise PipecliError("clean's judgement ran over 600 s and was stopped") from None
            finally:
                with self.lock:
                    if self.running is process:
                        self.running = None
            if process.returncode < 0:  # killed: a later judgement replaced it
                return None
            if process.returncode != 0:
                raise PipecliError((err.strip().splitlines() or ["clean failed"])[-1])
            return {int(word) for word in answer.read_text().split()}

    def stop(self) -> None:
        """Stop the judgement running, if any (the app is closing)."""
        with self.lock:
            self._stop()

    def _stop(self) -> None:
        if self.running is not None and self.running.poll() is None:
            self.running.kill()


def stale_ids_in(target: str, pipeline: str) -> set[int]:
    """Return `stale_ids` of the database at `target`, computed in a separate process (`StaleJudge`)."""
    found = StaleJudge().ids(target, pipeline)
    assert found is not None  # nothing else knows this judge, so nothing stopped it
    return found


def _write_stale(target: str, pipeline: str, answer: str) -> None:
    store = pipelines.open_store(target)
    try:
        with store.read() as conn:
            Path(answer).write_text(" ".join(map(str, sorted(stale_ids(conn, pipeline)))))
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
        _write_stale(sys.argv[1], sys.argv[2], sys.argv[3])
    except PipecliError as exc:
        sys.exit(f"pipecli: {exc}")
