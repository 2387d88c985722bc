"""Stale deals: how `pipecli clean` judges that an open deal needs attention, and what it does about it.

Six rules in two groups, each a finding row that says what, why, since when and against which threshold.
*Stale* rules (what `clean`, `--check` and the cron report count by default, and the only findings
`--close-lost` and `--archive` act on) say a deal has stopped moving; *hygiene* rules say its record
lacks something:

- **silent**: no activity and no stage change for longer than the stage's `stale_days` (else config
  `stale_days`, default 14), from the lead's cached `last_event_at`.
- **stuck**: in its stage longer than is normal *for that stage*: the `percentile` (config `[clean]
  percentile`, default 90) of how long past deals stayed in it (`stage_change.left_at - at`), by
  `reports.state.percentile`, the one definition `metrics` uses too (linear interpolation), over the stage's
  most recent `sample` completed stays (default 2000): recent stays say what is normal now, and the cost is
  the same on any size of history (an index range scan on `ix_stage_change_left`, grouped in SQL). With fewer than `min_history` past stays (default 10) it falls back to the
  stage's fixed limit (its silence limit); the row's `basis` says which applied.
- **overdue**: the expected close date has passed and the deal is still open.
- **incomplete** (hygiene): missing what a forecast needs (value, expected close) or what a follow-up
  needs (email or phone, owner).
- **no-next-step** (hygiene): no next step planned (`pipecli follow-up`).
- **duplicate** (hygiene): an open lead that `pipecli.identity`'s matcher finds likely to be the same person as
  an earlier open lead of the pipeline (same email ignoring case and `+tag`, same phone in E.164 and a similar
  name, same company without its legal form and a similar name); the later copies are reported, the first
  is the original.

Silent, stuck, overdue and incomplete are decided in one pass over the open leads, where SQL decides each
rule, writes each row's sentence and orders the rows (a big pipeline costs little more than reading its
open leads); duplicates are read in one more pass over the open leads and matched among those sharing
a stored block (`identity.MATCH_COLUMNS`). Archived leads and leads snoozed past the evaluation day are
left out. `as_of` (a date) evaluates the pipeline as it stood at the end of that day: each lead's stage
and last event are read from history (`stage_change`, `activity`) instead of the cache; value, dates and
contact details are the current ones (they have no history).

Acting on findings is `reports.clean_actions`.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, config, identity, pipelines
from pipecli.activities import engaging_sql
from pipecli.clock import DAY
from pipecli.config import setting
from pipecli.errors import NotFound, UsageError
from pipecli.history import column_at_sql
from pipecli.reports.state import percentile
from pipecli.store.columns import AS_OF_CONDITION
from pipecli.store.sql import case as sql_case
from pipecli.store.sql import fetch_rows
from pipecli.vocabulary import CLEAN_GROUPS, CLEAN_RULES

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

RULES = CLEAN_RULES
GROUPS = CLEAN_GROUPS
GROUP_OF = {rule: group for group, rules in GROUPS.items() for rule in rules}
ACTS_ON = GROUPS["stale"]  # the findings --close-lost and --archive may act on


def choose_rules(spec: str | None) -> tuple[str, ...]:
    """Return the rules `--rules` names (groups and rules, comma-separated: `stale,hygiene`,
    `silent,duplicate`), in report order; the stale group when `spec` is None."""
    if spec is None:
        return GROUPS["stale"]
    chosen: set[str] = set()
    for word in (w.strip().lower() for w in spec.split(",")):
        if word in GROUPS:
            chosen.update(GROUPS[word])
        elif word in RULES:
            chosen.add(word)
        elif word == "all":
            chosen.update(RULES)
        else:
            known = ", ".join([*GROUPS, "all", *RULES])
            raise UsageError(f"--rules: {word!r} is not a rule or group (known: {known})")
    return tuple(r for r in RULES if r in chosen)


@dataclass(frozen=True)
class CleanSection:
    """The `[clean]` config section."""

    percentile: float = setting(90.0, low=1, high=100)  # a stay longer than this share of past stays is "stuck"
    min_history: int = setting(10, low=1)  # fewer past stays than this use the fixed limit
    sample: int = setting(2000, low=1)  # how many of the most recent completed stays inform the percentile


@dataclass(frozen=True)
class Settings:
    """The thresholds `clean` judges by: top-level `stale_days` (the silence limit of stages that set
    none) and the `[clean]` section (see `CleanSection`)."""

    stale_days: int = config.TopLevel.stale_days
    percentile: float = CleanSection.percentile
    min_history: int = CleanSection.min_history
    sample: int = CleanSection.sample

    @classmethod
    def from_config(cls) -> Settings:
        """Return the settings in force: config values over the documented defaults, checked."""
        section = config.section("clean", CleanSection)
        return cls(config.top().stale_days, section.percentile, section.min_history, section.sample)


@dataclass(frozen=True)
class Finding:
    """One finding: a lead, the rule it broke and why, since when, against which threshold (`basis`: the
    stuck rule's percentile or fixed limit, the silent rule's stage or default limit); money in minor units."""

    lead_id: int
    name: str
    rule: str
    group: str  # the rule's group: stale or hygiene
    why: str
    since: int  # epoch seconds
    threshold: str | None
    basis: str | None
    value_minor: int | None
    owner: str | None
    stage: str
    original_id: int | None = None  # a duplicate's: the lead the report offers to merge it into (no column)


@dataclass
class Report:
    """What `find_stale` found: the rows, and the facts the summary line needs (computed once the rows
    are complete)."""

    pipeline: str
    as_of: int  # the moment evaluated (epoch seconds)
    day: _dt.date  # the calendar day evaluated
    rows: list[Finding] = field(default_factory=list)
    rules: tuple[str, ...] = GROUPS["stale"]  # the rules judged
    young: set[int] = field(default_factory=set)  # leads younger than their stage's stale limit
    since_last: int | None = None  # with `new_since`: when the previous report was made
    unchanged: int = 0  # with `new_since`: findings already in the previous report, left out

    def act_on(self, action: str) -> tuple[list[int], int]:
        """Return the leads an action may change, in id order, and how many found leads it must leave
        alone: `close-lost` and `archive` act only on stale findings of leads at least as old as their
        stage's stale limit (a deal created seconds ago is never closed by a rule); `snooze` on any."""
        if action == "snooze":
            return self.lead_ids, 0
        stale = {r.lead_id for r in self.rows if r.rule in ACTS_ON}
        ids = sorted(stale - self.young)
        return ids, len(self.lead_ids) - len(ids)

    @cached_property
    def lead_ids(self) -> list[int]:
        """Return the distinct leads found, in id order."""
        return sorted({r.lead_id for r in self.rows})

    @cached_property
    def value_minor(self) -> int:
        """Return the total value of the distinct leads found (exact, minor units)."""
        seen: dict[int, int] = {}
        for r in self.rows:
            seen[r.lead_id] = r.value_minor or 0
        return sum(seen.values())

    @cached_property
    def counts(self) -> dict[str, int]:
        """Return how many rows each rule found, in rule order, rules with none left out."""
        counts = dict.fromkeys(RULES, 0)  # every rule, so the summary keeps their order
        for r in self.rows:
            counts[r.rule] += 1
        return {k: v for k, v in counts.items() if v}


def find_stale(
    conn: Connection,
    pipeline: str | None = None,
    owner: str | None = None,
    as_of: _dt.date | None = None,
    settings: Settings | None = None,
    rules: tuple[str, ...] | None = None,
    stage: str | None = None,
) -> Report:
    """Return the findings of `rules` (default: the stale group) in `pipeline` (default: the default
    pipeline), optionally one owner's or one open stage's, now or as they stood at the end of the day
    `as_of`, in a stable order (rule, since, lead id). An owner or stage that matches nothing is an
    error naming the known ones: a typo must not report a clean pipeline."""
    settings = settings or Settings.from_config()
    rules = GROUPS["stale"] if rules is None else rules
    p = pipelines.get_pipeline(conn, pipeline)
    if as_of is None:
        moment, day = clock.now_ts(), clock.today()
    else:
        moment, day = clock.end_of_day_ts(as_of), as_of
    day = _dt.date(day.year, day.month, day.day)  # a plain date binds on every driver
    stages = {s["id"]: s for s in pipelines.stages(conn, p["id"], outcomes=False)}
    stage_id = None if stage is None else _open_stage(conn, p, stage, stages)
    if owner is not None:
        _check_owner(conn, p, owner, as_of is not None)
    scope = _Scope(p["id"], owner, moment, day, as_of is not None, stage_id, conn.dialect.name)
    report = Report(p["name"], moment, day, rules=rules)
    limits = {sid: (s["stale_days"] or settings.stale_days) * DAY for sid, s in stages.items()}
    if not limits:
        return report
    own = {sid for sid, s in stages.items() if s["stale_days"]}
    thresholds = stuck_thresholds(conn, stages, limits, moment, settings)
    found = _rules(conn, scope, limits, own, thresholds) if set(rules) - {"duplicate"} else []
    if "duplicate" in rules:
        found += _duplicates(conn, scope)
    report.rows = [r for r in found if r.rule in rules]
    report.young = _young(conn, report.lead_ids, limits, moment)
    return report


def _open_stage(conn: Connection, p: dict[str, Any], name: str, stages: dict[int, dict[str, Any]]) -> int:
    """Return the id of the open stage `name` of pipeline `p`, or raise naming its open stages."""
    for sid, s in stages.items():
        if s["name"].lower() == name.strip().lower():
            return sid
    known = ", ".join(s["name"] for s in stages.values())
    raise NotFound(f"--stage: no open stage {name!r} in {p['name']}; open stages: {known}")


def _check_owner(conn: Connection, p: dict[str, Any], owner: str, historic: bool = False) -> None:
    """Raise NotFound naming the owners of the pipeline's leads when none is `owner` (any case); for a past
    moment (`historic`) an owner a lead had before counts too."""
    before = (
        " UNION SELECT e.old FROM event e JOIN lead l ON l.id = e.lead_id"
        f" WHERE e.{AS_OF_CONDITION} AND e.field = 'owner' AND l.pipeline_id = :p AND e.old IS NOT NULL"
    )
    known = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT DISTINCT owner FROM lead WHERE pipeline_id = :p AND owner IS NOT NULL"
                + (before if historic else "")
                + " ORDER BY 1"  # in the database's collation, as before owners of then were counted
            ),
            {"p": p["id"]},
        )
    ]
    if owner.strip().lower() not in {k.lower() for k in known}:
        names = ", ".join(known) if known else "none: no lead has an owner"
        raise NotFound(f"--owner: no lead in {p['name']} is owned by {owner!r}; owners: {names}")


def _young(conn: Connection, lead_ids: list[int], limits: dict[int, int], moment: int) -> set[int]:
    """Return the leads among `lead_ids` created less than their current stage's stale limit ago."""
    young: set[int] = set()
    for start in range(0, len(lead_ids), 500):
        chunk = lead_ids[start : start + 500]
        marks = ", ".join(f":i{n}" for n in range(len(chunk)))
        rows = conn.execute(
            text(f"SELECT id, stage_id, created_at FROM lead WHERE id IN ({marks})"),
            {f"i{n}": lead_id for n, lead_id in enumerate(chunk)},
        )
        young.update(r.id for r in rows if moment - r.created_at < limits.get(r.stage_id, 0))
    return young


@dataclass
class _Scope:
    """Which leads are looked at, and the SQL that gives their state (cached now, or from history)."""

    pipeline_id: int
    owner: str | None
    moment: int
    day: _dt.date
    historic: bool
    stage_id: int | None = None
    dialect: str = "sqlite"

    def sql(self, columns: str) -> str:
        """Return a query over the scope's open, unarchived, unsnoozed leads (alias `l`) with their stage
        `s`; `{stage_id}`, `{entered}` and `{last_event}` in `columns` name the lead's state."""
        if self.historic:
            state = {"stage_id": "st.stage_id", "entered": "st.entered", "last_event": "st.last_event"}
            # the stay each lead was in at `moment`: entered by then and not left by then (two index
            # ranges of ix_stage_change_left per open stage, rather than all of history)
            # (`+c.at`: so that SQLite ranges over left_at, the selective column, not over at)
            stay = (
                "SELECT c.lead_id, c.to_stage_id AS stage_id, c.at AS entered FROM stage_change c "
                "WHERE c.to_stage_id IN (SELECT id FROM stage WHERE pipeline_id = :pipeline AND kind = 'open') "
                "AND +c.at <= :moment AND "
            )
            source = (
                "(SELECT y.lead_id, y.stage_id, y.entered, "
                f" COALESCE((SELECT MAX(a.at) FROM activity a WHERE a.lead_id = y.lead_id AND a.at <= :moment"
                f" AND {engaging_sql('a')}"
                " AND a.at > y.entered), y.entered) AS last_event "
                f" FROM ({stay} c.left_at IS NULL UNION ALL {stay} c.left_at > :moment) y) st "
                f"JOIN {self._lead_then()} l ON l.id = st.lead_id"
            )
            live = "l.archived_at IS NULL"  # archived then (the stay's stage already says the pipeline then)
        else:
            state = {"stage_id": "l.stage_id", "entered": "l.stage_entered_at", "last_event": "l.last_event_at"}
            source = "lead l"
            live = "l.status = 'open' AND l.archived_at IS NULL"
        where = [live, "(l.snoozed_until IS NULL OR l.snoozed_until <= :day)"]
        if not self.historic:
            where.append("l.pipeline_id = :pipeline")
        if self.owner is not None:
            where.append("lower(l.owner) = lower(:owner)")
        if self.stage_id is not None:
            where.append(f"{state['stage_id']} = :stage")
        return (
            f"SELECT l.id AS lead_id, l.name, l.owner, l.value_minor, s.name AS stage, "
            f"{columns.format(**state)} "
            f"FROM {source} JOIN stage s ON s.id = {state['stage_id']} AND s.kind = 'open' "
            f"WHERE {' AND '.join(where)}"
        )

    def _lead_then(self) -> str:
        """Return the lead table as it stood at `:moment` (alias it): every detail a rule reads or a finding
        shows, by the history's one rule (`history.column_at_sql`), so no finding of the past shows a present
        value; archived only when archived by then."""
        details = ("name", "company", "email", "phone", "owner", "value_minor", "expected_close", "next_step",
                   "snoozed_until", "archived_at")  # fmt: skip
        then = ", ".join(column_at_sql(f, "d", ":moment", self.dialect) for f in details)
        blocks = ", ".join(f"d.{c}" for c in identity.MATCH_COLUMNS)
        return f"(SELECT d.id, d.created_at, {then}, {blocks} FROM lead d)"

    def params(self, **extra: Any) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline_id,
            "owner": self.owner,
            "moment": self.moment,
            "day": self.day,
            "stage": self.stage_id,
            **extra,
        }


def stuck_thresholds(
    conn: Connection, stages: dict[int, dict[str, Any]], limits: dict[int, int], moment: int, settings: Settings
) -> dict[int, tuple[int, str, str]]:
    """Return, per open stage id, (threshold seconds, basis, why): the configured percentile of the most
    recent completed stays up to `moment`, or the stage's fixed limit when fewer than `min_history`
    stays inform it. The stays are read grouped by duration over `ix_stage_change_left` (at most `sample`
    rows a stage) and the percentile is `state.percentile`'s, so `metrics` and `clean` agree on a stage."""
    sql = text(
        "SELECT d, COUNT(*) FROM (SELECT left_at - at AS d FROM stage_change "
        " WHERE to_stage_id = :s AND left_at <= :moment ORDER BY left_at DESC LIMIT :sample) recent GROUP BY d"
    )
    pct = settings.percentile
    out = {}
    for sid in sorted(stages):
        stays = [
            (int(d), int(n)) for d, n in conn.execute(sql, {"s": sid, "moment": moment, "sample": settings.sample})
        ]
        n = sum(count for _, count in stays)
        if n >= settings.min_history:
            d = round(percentile(stays, pct / 100) or 0)
            out[sid] = (d, "percentile", f"the {_ordinal(pct)} percentile of {n} past stays, {clock.human_duration(d)}")
        else:
            d = limits[sid]
            out[sid] = (d, "fixed limit", f"the stage's fixed limit of {clock.human_duration(d)} (only {n} past stays)")
    return out


def _ordinal(number: float) -> str:
    if number != int(number):
        return f"{number:g}th"
    n = int(number)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_MISSING = (
    ("value", "l.value_minor IS NULL"),
    ("expected close", "l.expected_close IS NULL"),
    ("email or phone", "(l.email IS NULL AND l.phone IS NULL)"),
    ("owner", "l.owner IS NULL"),
)


def _duration_sql(seconds: str) -> str:
    """Return SQL that writes `seconds` as `clock.human_duration` does (`3d 4h`, `5h 10m`, `45m`)."""

    def part(divisor: int, unit: str, modulo: int | None = None) -> str:
        value = f"(({seconds}) / {divisor})" if modulo is None else f"((({seconds}) % {modulo}) / {divisor})"
        return f"(CAST({value} AS TEXT) || '{unit}')"

    def unit(big: str, small: str, small_value: str) -> str:
        return f"({big} || CASE WHEN {small_value} > 0 THEN (' ' || {small}) ELSE '' END)"

    return (
        f"CASE WHEN ({seconds}) >= 86400 THEN {unit(part(86400, 'd'), part(3600, 'h', 86400), f'((({seconds}) % 86400) / 3600)')} "
        f"WHEN ({seconds}) >= 3600 THEN {unit(part(3600, 'h'), part(60, 'm', 3600), f'((({seconds}) % 3600) / 60)')} "
        f"ELSE {part(60, 'm')} END"
    )


def _rules(
    conn: Connection, scope: _Scope, limits: dict[int, int], own: set[int], thresholds: dict[int, tuple[int, str, str]]
) -> list[Finding]:
    """Return the silent, stuck, overdue and incomplete findings in report order, from one pass over the
    scope: SQL decides each rule, writes each row (its sentence too) and orders them, so a big pipeline
    costs little more than reading its open leads."""
    human = clock.human_duration
    params: dict[str, Any] = {}

    def case(mapping: dict[int, Any], prefix: str, column: str = "x.stage_id") -> str:
        sql, more = sql_case(column, mapping, prefix)
        params.update(more)
        return sql

    silent_limit = dict(limits.items())
    stuck_limit = {sid: t[0] for sid, t in thresholds.items()}
    missing = " || ".join(f"CASE WHEN {cond} THEN ', {what}' ELSE '' END" for what, cond in _MISSING)
    inner = scope.sql(
        "{stage_id} AS stage_id, {entered} AS entered, {last_event} AS last_event, l.expected_close, l.created_at, "
        f"CASE WHEN {{last_event}} < :moment - {case(silent_limit, 'sl', '{stage_id}')} THEN 1 ELSE 0 END AS f_silent, "
        f"CASE WHEN {{entered}} < :moment - {case(stuck_limit, 'su', '{stage_id}')} THEN 1 ELSE 0 END AS f_stuck, "
        "CASE WHEN l.expected_close < :day THEN 1 ELSE 0 END AS f_overdue, "
        f"substr({missing}, 3) AS missing, "
        "CASE WHEN l.next_step IS NULL THEN 1 ELSE 0 END AS f_no_step"
    )
    common = "x.value_minor, x.owner, x.stage"
    sql = (
        f"WITH x AS ({inner}) "
        "SELECT 0 AS ord, x.lead_id, x.name, 'silent' AS rule, 'stale' AS grp, "
        f" ('no activity or stage change for ' || {_duration_sql(':moment - x.last_event')} || ' (limit ' || "
        f" {case({k: human(v) for k, v in silent_limit.items()}, 'slt')} || ' in ' || x.stage || ')') AS why, "
        f" x.last_event AS since, {case({k: human(v) for k, v in silent_limit.items()}, 'slt')} AS threshold, "
        f" {case({k: 'stage limit' if k in own else 'default limit' for k in limits}, 'slb')} AS basis, {common}, NULL AS close "
        "FROM x WHERE x.f_silent = 1 "
        "UNION ALL SELECT 1, x.lead_id, x.name, 'stuck', 'stale', "
        f" ('in ' || x.stage || ' for ' || {_duration_sql(':moment - x.entered')} || ', longer than ' || "
        f" {case({k: t[2] for k, t in thresholds.items()}, 'suw')}), x.entered, "
        f" {case({k: human(v) for k, v in stuck_limit.items()}, 'sut')}, {case({k: t[1] for k, t in thresholds.items()}, 'sub')}, "
        f" {common}, NULL FROM x WHERE x.f_stuck = 1 "
        "UNION ALL SELECT 2, x.lead_id, x.name, 'overdue', 'stale', NULL, NULL, NULL, NULL, "
        f" {common}, CAST(x.expected_close AS TEXT) FROM x WHERE x.f_overdue = 1 "
        "UNION ALL SELECT 3, x.lead_id, x.name, 'incomplete', 'hygiene', ('missing ' || x.missing), x.created_at, "
        f" NULL, NULL, {common}, NULL FROM x WHERE x.missing <> '' "
        "UNION ALL SELECT 4, x.lead_id, x.name, 'no-next-step', 'hygiene', "
        " 'no next step planned (pipecli follow-up ID DATE TEXT)', x.last_event, NULL, NULL, "
        f" {common}, NULL FROM x WHERE x.f_no_step = 1 "
        "ORDER BY 1, 7, 13, 2"
    )
    rows = fetch_rows(conn, sql, scope.params(**params))
    day = scope.day

    def overdue(r: Any) -> Finding:  # dates are local calendar days, so written here
        close = clock.as_date(r[12])
        days = (day - close).days
        why = f"expected to close on {close.isoformat()}, {days} day{'s' * (days != 1)} ago, still open"
        since = clock.day_start_ts(close + _dt.timedelta(days=1))
        return Finding(r[1], r[2], r[3], r[4], why, since, close.isoformat(), r[8], r[9], r[10], r[11])

    return [overdue(r) if r[0] == 2 else Finding(*r[1:12]) for r in rows]


def _duplicates(conn: Connection, scope: _Scope) -> list[Finding]:
    """Return the later copies among the scope's open leads: each lead that `identity.match` finds to be
    likely the same person as an earlier one (same email, same phone and a similar name, same company and
    a similar name), against the first such lead, the original.

    SQL reads only the scope's open leads, the four details the matcher compares and their stored blocks
    (`identity.MATCH_COLUMNS`); only a lead sharing a block with another of the scope can match one, so the
    matcher compares only those, within the blocks they share (`identity.duplicates`): the cost grows
    with the number of open leads, not with its square, and a lead sharing nothing costs no Python work."""
    blocks = ", ".join(f"l.{c}" for c in identity.MATCH_COLUMNS)
    sql = scope.sql(f"l.created_at, l.company, l.email, l.phone, {blocks}") + " ORDER BY l.created_at, l.id"
    rows = {r.lead_id: r for r in conn.execute(text(sql), scope.params())}
    width = len(identity.MATCH_COLUMNS)
    held = Counter((k, block) for r in rows.values() for k, block in enumerate(r[-width:]) if block)
    contacts = (
        identity.Contact(r.name, r.company, r.email, r.phone, r.lead_id)
        for r in rows.values()
        if any(held[k, block] > 1 for k, block in enumerate(r[-width:]) if block)
    )
    out = []
    for first, copy, why in identity.duplicates(contacts):
        r = rows[copy.id or 0]
        why = f"{why} as lead {first.id} ({first.name})"
        group = GROUP_OF["duplicate"]
        out.append(
            Finding(
                r.lead_id,
                r.name,
                "duplicate",
                group,
                why,
                r.created_at,
                None,
                None,
                r.value_minor,
                r.owner,
                r.stage,
                original_id=first.id,
            )
        )
    return out


def _last_report_key(report: Report, owner: str | None, stage: str | None) -> str:
    """Return the meta key of the previous report of the same pipeline, filters and rules."""
    parts = [report.pipeline.lower(), (owner or "").lower(), (stage or "").lower(), ",".join(report.rules)]
    return "clean_last_report:" + "|".join(parts)


def keep_new(conn: Connection, report: Report, owner: str | None = None, stage: str | None = None) -> Report:
    """Return `report` narrowed to the findings that were not in the previous `--since-last` report of
    the same pipeline, filters and rules (all of them the first time), and remember this one's findings
    in meta (inside the caller's write transaction): a daily mail then says only what changed.

    A finding is a lead and a rule: a deal still silent tomorrow is not new; one that became stuck is."""
    key = _last_report_key(report, owner, stage)
    row = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).first()
    seen: set[tuple[int, str]] = set()
    if row is not None:
        previous = json.loads(row[0])
        report.since_last = int(previous["at"])
        seen = {(int(lead), str(rule)) for lead, rule in previous["seen"]}
    found = [[r.lead_id, r.rule] for r in report.rows]
    value = json.dumps({"at": report.as_of, "seen": found}, separators=(",", ":"))
    conn.execute(text("DELETE FROM meta WHERE key = :k"), {"k": key})
    conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value})
    fresh = [r for r in report.rows if (r.lead_id, r.rule) not in seen]
    narrowed = Report(report.pipeline, report.as_of, report.day, fresh, report.rules, report.young)
    narrowed.since_last, narrowed.unchanged = report.since_last, len(report.rows) - len(fresh)
    return narrowed
