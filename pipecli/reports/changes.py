"""What changed in a window: the pipeline waterfall, close-date movement, stage movement, and the deals.

The waterfall is balanced to the cent by construction. A lead counts towards the open value when it
exists, is open and is in scope (the pipeline and owner asked for); each of its events in the window
changes that contribution by an exact integer, attributed to the flow the event is (created, value
increased or decreased, won, lost, reopened, moved in or out, deleted). So

    open at the start + the sum of the flows = open at the end

for any window and filter. A lead's state at a moment is read from its events by the one rule the
reports' SQL follows too (`history.state_at`: the earliest change after the moment tells the value
before it), so nothing present is read for a past moment. Leads with no event after the window's start
are as they are now: their open value is one SQL aggregate, the same at both ends.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text

from pipecli import clock, history, pipelines
from pipecli.errors import PipecliError
from pipecli.history import history_since

TRACKED = ("status", "value_minor", "pipeline_id", "owner", "expected_close", "stage_id")
FLOWS = ("created", "value increased", "reopened", "moved in", "value decreased", "won", "lost", "moved out", "deleted")
_SPAN = re.compile(r"^\s*(\d+)\s*([dwm])\s*$")


def window_start(spec: str, until: int) -> int:
    """Return the moment `--since` names: `7d`, `2w`, `3m` (days, weeks, months back from `until`) or a date."""
    match = _SPAN.match(spec or "")
    if match:
        n, unit = int(match.group(1)), match.group(2)
        days = {"d": 1, "w": 7}.get(unit)
        if days is not None:
            return until - n * days * clock.DAY
        moment = clock.from_ts(until)
        month = moment.month - 1 - n
        year = moment.year + month // 12
        month = month % 12 + 1
        day = min(moment.day, [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
        return int(moment.replace(year=year, month=month, day=day).timestamp())
    return clock.parse_ts(spec, "--since")


@dataclass(frozen=True)
class DealChange:
    """One deal that changed in the window, with its one-line summary."""

    lead_id: int
    name: str
    stage: str | None
    value_start: int | None
    value_end: int | None
    pushed: int
    pushed_ever: int
    pulled: int
    forward: int
    backward: int
    outcome: str | None
    summary: str


@dataclass(frozen=True)
class ChangesReport:
    """The window, the waterfall (flows in minor units, in FLOWS order), and what moved."""

    since: int
    until: int
    pipeline: str | None
    owner: str | None
    open_start: int
    open_end: int
    flows: dict[str, int]
    counts: dict[str, int]
    pushed: int
    pulled: int
    overdue: int
    overdue_value: int
    forward: int
    backward: int
    deals: list[DealChange] = field(default_factory=list)
    history_since: int = 0

    @property
    def balanced(self) -> bool:
        """True when open at the start plus the flows is open at the end (always, by construction)."""
        return self.open_start + sum(self.flows.values()) == self.open_end


class _Lead:
    """One lead's tracked fields replayed over its events."""

    def __init__(self, row: dict | None, events: list[tuple]):
        self.events = events  # (at, field, old, new), oldest first
        self.row = row

    def state_at(self, moment: int) -> dict | None:
        """Return the tracked fields (as event text) at `moment`, or None when the lead did not exist then."""
        return history.state_at(self.events, TRACKED, moment, self.row)


def _contribution(state: dict | None, scope) -> int:
    if state is None or state["status"] != "open" or not scope(state):
        return 0
    return int(state["value_minor"] or 0)


def changes(
    conn, since: int, until: int | None = None, pipeline: str | None = None, owner: str | None = None
) -> ChangesReport:
    """Return what changed between `since` and `until` (default now) in `pipeline` (default all) for
    `owner` (default everyone)."""

    until = clock.now_ts() if until is None else until
    if since > until:
        raise PipecliError(f"--since {clock.show(since)} is after --until {clock.show(until)}")
    if until > clock.now_ts():
        raise PipecliError(f"--until {clock.show(until)} is in the future")
    begun = history_since(conn)
    pipeline_id = pipelines.get_pipeline(conn, pipeline)["id"] if pipeline else None
    owner = owner.strip() if owner else None

    def scope(state: dict) -> bool:
        if pipeline_id is not None and state["pipeline_id"] != str(pipeline_id):
            return False
        return owner is None or state["owner"] == owner

    ids = list(
        conn.execute(
            text("SELECT DISTINCT lead_id FROM event WHERE at > :s AND lead_id IS NOT NULL"), {"s": since}
        ).scalars()
    )
    where, params = "l.status = 'open'", {"s": since}
    if pipeline_id is not None:
        where += " AND l.pipeline_id = :p"
        params["p"] = pipeline_id
    if owner is not None:
        where += " AND l.owner = :o"
        params["o"] = owner
    quiet = " AND NOT EXISTS (SELECT 1 FROM event e WHERE e.lead_id = l.id AND e.at > :s)"
    static = conn.execute(
        text(f"SELECT COALESCE(SUM(l.value_minor), 0) FROM lead l WHERE {where} AND l.created_at <= :s{quiet}"),
        params,
    ).scalar_one()
    today = clock.from_ts(until).date()
    overdue_sql = (
        f"SELECT COUNT(*), COALESCE(SUM(l.value_minor), 0) FROM lead l WHERE {where} AND l.expected_close < :d{quiet}"
    )
    overdue, overdue_value = conn.execute(text(overdue_sql), {**params, "d": today}).one()
    events: dict[int, list[tuple]] = defaultdict(list)
    rows: dict[int, dict] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        marks = ", ".join(f":i{i}" for i in range(len(part)))
        bind = {f"i{i}": v for i, v in enumerate(part)}
        for lead_id, at, name, old, new in conn.execute(
            text(
                f"SELECT lead_id, at, field, old, new FROM event WHERE lead_id IN ({marks}) "
                f"ORDER BY {', '.join(history.EVENT_ORDER)}"
            ),
            bind,
        ):
            events[lead_id].append((at, name, old, new))
        for r in conn.execute(text(f"SELECT * FROM lead WHERE id IN ({marks})"), bind).mappings():
            rows[r["id"]] = dict(r)
    stage_rows = conn.execute(text("SELECT id, name, kind, position FROM stage")).all()
    stage_names = {str(r[0]): r[1] for r in stage_rows}
    positions = {str(r[0]): r[3] for r in stage_rows}

    flows = dict.fromkeys(FLOWS, 0)
    counts = dict.fromkeys(FLOWS, 0)
    open_start = open_end = static
    pushed = pulled = forward = backward = 0
    deals = []
    for lead_id in ids:
        lead = _Lead(rows.get(lead_id), events[lead_id])
        state = lead.state_at(since)
        start_state = state
        open_start += _contribution(state, scope)
        d_pushed = d_pulled = d_forward = d_backward = 0
        touched = False
        outcome = None
        for at, name, old, new in lead.events:
            if at <= since or at > until:
                continue
            if name == "row:lead":
                after = lead.state_at(at)  # the row as created or deleted then
                after = None if new is None else after
                kind = "created" if new is not None else "deleted"
            elif name in TRACKED and state is not None:
                after = {**state, name: new}
                kind = None
            else:
                continue
            before_value = _contribution(state, scope)
            after_value = _contribution(after, scope)
            if state is not None and after is not None and (scope(state) or scope(after)):
                touched = True
                if name == "expected_close" and old and new and state["status"] == "open":
                    if new > old:
                        d_pushed += 1
                    elif new < old:
                        d_pulled += 1
                if name == "stage_id" and old and new:
                    a, b = positions.get(old), positions.get(new)
                    if a is not None and b is not None:
                        d_forward += b > a
                        d_backward += b < a
                if name == "status" and new in ("won", "lost"):
                    outcome = new
            elif after is not None and scope(after):
                touched = True
            delta = after_value - before_value
            if delta:
                if kind is None:
                    if name == "status":
                        kind = "won" if new == "won" else "lost" if new == "lost" else "reopened"
                    elif name == "value_minor":
                        kind = "value increased" if delta > 0 else "value decreased"
                    else:
                        kind = "moved in" if delta > 0 else "moved out"
                flows[kind] += delta
                counts[kind] += 1
            state = after
        open_end += _contribution(state, scope)
        if state is not None and state["status"] == "open" and scope(state) and state["expected_close"]:
            if _dt.date.fromisoformat(state["expected_close"]) < today:
                overdue += 1
                overdue_value += int(state["value_minor"] or 0)
        pushed += d_pushed
        pulled += d_pulled
        forward += d_forward
        backward += d_backward
        if touched:
            ever = sum(1 for _, n, o, nw in lead.events if n == "expected_close" and o and nw and nw > o)
            deals.append(_deal(lead_id, rows.get(lead_id), start_state, state, stage_names,
                               (d_pushed, ever, d_pulled, d_forward, d_backward), outcome))  # fmt: skip
    return ChangesReport(
        since, until, pipeline, owner, open_start, open_end, flows, counts, pushed, pulled, overdue,
        int(overdue_value), forward, backward, sorted(deals, key=lambda d: d.lead_id), begun,
    )  # fmt: skip


def _deal(lead_id, row, start, end, stage_names, moves, outcome) -> DealChange:
    pushed, ever, pulled, forward, backward = moves
    v0 = int(start["value_minor"]) if start and start["value_minor"] else None
    v1 = int(end["value_minor"]) if end and end["value_minor"] else None
    parts = []
    if start is None:
        parts.append("new")
    if end is None:
        parts.append("deleted")
    if pushed:
        parts.append(f"pushed {pushed}×" + (f" ({ever}× in all)" if ever > pushed else ""))
    if pulled:
        parts.append(f"pulled in {pulled}×")
    if v0 and v1 and v0 != v1:
        pct = (v1 - v0) * 100 / v0
        parts.append(f"{'+' if pct > 0 else '−'}{abs(pct):.0f} %")
    if forward:
        parts.append(f"forward {forward} stage{'s' if forward > 1 else ''}")
    if backward:
        parts.append(f"back {backward} stage{'s' if backward > 1 else ''}")
    if outcome:
        parts.append(outcome)
    if start and end and start["status"] != "open" and end["status"] == "open":
        parts.append("reopened")
    name = row["name"] if row else "(deleted)"
    stage = stage_names.get(end["stage_id"]) if end else None
    return DealChange(lead_id, name, stage, v0, v1, pushed, ever, pulled, forward, backward, outcome,
                      ", ".join(parts) or "details changed")  # fmt: skip
