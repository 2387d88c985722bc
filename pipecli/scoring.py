"""Lead scores: fit (who the lead is) plus engagement (what the lead did lately).

Fit is the sum of the points of the rules a lead matches; a rule looks at one field, a lead column or an
extra field kept by an import (`lead_extra`), and matches when it `equals` a value, is `in` a set of values
(text, compared case-insensitively) or is a number `at_least` a bound. Engagement is the sum of points per
activity kind, each halved every `half_life_days`, so a lead busy last spring and silent since cools down.
Total = fit + engagement; a lead at or above `hot_threshold` is hot.

Storage: each write that changes a lead or logs an activity calls `refresh`, which stores on the lead its
`fit_score`, its `engagement` as of `engagement_at` (its latest activity) and `score` = their sum then.
Reads decay the stored engagement to "now" in SQL (`total_sql`), one multiplication per row, so ranking
100,000 leads needs no activity scan. `recompute` rebuilds every lead after a rule change or a bulk import.

Config (`[scoring]`, every key optional):

    hot_threshold = 50
    half_life_days = 14
    [scoring.points]          # merged over DEFAULT_POINTS
    reply = 12
    [[scoring.rules]]         # when given, these replace DEFAULT_RULES
    field = "source"
    equals = "referral"
    points = 15
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

from sqlalchemy import text

from pipecli import clock, config
from pipecli.errors import PipecliError

DEFAULT_HOT_THRESHOLD = 50.0
DEFAULT_HALF_LIFE_DAYS = 14.0

# Points per activity kind: what the lead does counts more than what the seller does, and a request to
# buy (demo, quote, a finished trial) most of all.
DEFAULT_POINTS = {
    "demo_request": 30,
    "quote_request": 30,
    "trial_end": 25,
    "contract_sent": 20,
    "reply": 15,
    "meeting": 15,
    "trial_start": 15,
    "demo": 10,
    "quote": 10,
    "webinar": 8,
    "call": 5,
    "visit": 3,
    "email_opened": 2,
    "social": 2,
    "sms": 2,
    "email": 1,
    "note": 0,
}

DEFAULT_RULES = [
    {"field": "source", "equals": "referral", "points": 15},
    {"field": "source", "in": ["partner", "event", "webinar"], "points": 8},
    {"field": "value", "at_least": 10000, "points": 10},
    {"field": "company", "present": True, "points": 5},
]

# Lead columns a rule may name (`value` is the deal value in major units); any other name is an extra field.
# (Not the stage: moves do not recompute the fit, so a rule over it would go stale.)
LEAD_FIELDS = ("name", "company", "email", "phone", "value", "source", "owner", "external_id")


@dataclass(frozen=True)
class Rule:
    field: str
    op: str  # equals | in | at_least | present
    target: object
    points: float

    @property
    def label(self) -> str:
        if self.op == "equals":
            return f"{self.field} is {self.target}"
        if self.op == "in":
            return f"{self.field} in {', '.join(self.target)}"
        if self.op == "at_least":
            return f"{self.field} >= {self.target:g}"
        return f"{self.field} is set"

    def matches(self, value) -> bool:
        """Return True when a field's value (text, number or None) satisfies the rule."""
        if self.op == "present":
            return value is not None and str(value).strip() != ""
        if value is None:
            return False
        if self.op == "at_least":
            number = as_number(value)
            return number is not None and number >= self.target
        word = str(value).strip().lower()
        if self.op == "equals":
            return word == self.target.lower()
        return word in {t.lower() for t in self.target}


def as_number(value) -> float | None:
    """Return `value` as a float when it reads as a number ("1,200" and "15.5" do), else None."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _settings() -> dict:
    return config.section("scoring")


def _float_setting(key: str, default: float, positive: bool = True) -> float:
    raw = _settings().get(key, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise PipecliError(f"config [scoring] {key} must be a number, not {raw!r}") from None
    if positive and number <= 0:
        raise PipecliError(f"config [scoring] {key} must be above 0")
    return number


def hot_threshold() -> float:
    """Return the total at or above which a lead is hot (config `[scoring] hot_threshold`)."""
    return _float_setting("hot_threshold", DEFAULT_HOT_THRESHOLD, positive=False)


def half_life_seconds() -> float:
    """Return the engagement half-life in seconds (config `[scoring] half_life_days`)."""
    return _float_setting("half_life_days", DEFAULT_HALF_LIFE_DAYS) * 86400


def points() -> dict[str, float]:
    """Return the points per activity kind in force: DEFAULT_POINTS with config `[scoring.points]` over them."""
    from pipecli.activities import check_kind

    merged = dict(DEFAULT_POINTS)
    for kind, value in _settings().get("points", {}).items():
        number = as_number(value)
        if number is None:
            raise PipecliError(f"config [scoring.points] {kind} must be a number, not {value!r}")
        merged[check_kind(kind)] = number
    return merged


def rules() -> list[Rule]:
    """Return the fit rules in force: config `[[scoring.rules]]` when given, else DEFAULT_RULES."""
    raw = _settings().get("rules", DEFAULT_RULES)
    if not isinstance(raw, list):
        raise PipecliError("config [scoring] rules must be an array of tables ([[scoring.rules]])")
    return [_rule(r, i) for i, r in enumerate(raw, start=1)]


def _rule(raw, number: int) -> Rule:
    where = f"config [[scoring.rules]] #{number}"
    if not isinstance(raw, dict) or not str(raw.get("field", "")).strip():
        raise PipecliError(f"{where} needs a `field`")
    ops = [op for op in ("equals", "in", "at_least", "present") if op in raw]
    if len(ops) != 1:
        raise PipecliError(f"{where} needs exactly one of equals, in, at_least, present")
    op = ops[0]
    target = raw[op]
    if op == "in":
        if not isinstance(target, list) or not target:
            raise PipecliError(f"{where}: `in` must be a non-empty list")
        target = tuple(str(t).strip() for t in target)
    elif op == "at_least":
        target = as_number(target)
        if target is None:
            raise PipecliError(f"{where}: `at_least` must be a number")
    elif op == "equals":
        target = str(target).strip()
    pts = as_number(raw.get("points"))
    if pts is None:
        raise PipecliError(f"{where} needs a number of `points`")
    return Rule(str(raw["field"]).strip(), op, target, pts)


# --- computing ---------------------------------------------------------------------------------


def execute_in(conn, sql: str, **params):
    """Execute `sql`; parameters given as lists fill `IN :name` (one bound value per item)."""
    from sqlalchemy import bindparam

    lists = [k for k, v in params.items() if isinstance(v, list)]
    stmt = text(sql).bindparams(*(bindparam(k, expanding=True) for k in lists))
    return conn.execute(stmt, params)


def field_values(conn, lead_ids: list[int] | None, fields: set[str]) -> dict[int, dict]:
    """Return {lead_id: {field: value}} with every lead column rules may name plus the wanted extra
    fields (keys lower-cased), for the given leads (all when None)."""
    only = {} if lead_ids is None else {"ids": list(lead_ids)}
    out: dict[int, dict] = {}
    for r in execute_in(
        conn,
        "SELECT l.id, l.status, l.name, l.company, l.email, l.phone, l.value_minor, l.source, l.owner, l.external_id"
        " FROM lead l" + (" WHERE l.id IN :ids" if only else ""),
        **only,
    ).mappings():
        values = dict(r)
        values["value"] = None if r["value_minor"] is None else _major(r["value_minor"])
        out[r["id"]] = values
    extra = sorted({f.lower() for f in fields if f not in LEAD_FIELDS})
    if extra and out:
        rows = execute_in(
            conn,
            "SELECT lead_id, key, value FROM lead_extra WHERE lower(key) IN :keys"
            + (" AND lead_id IN :ids" if only else ""),
            keys=extra, **only,
        )
        for lead_id, key, value in rows:
            if lead_id in out:
                out[lead_id].setdefault(key.lower(), value)
    return out


def _major(minor: int) -> float:
    from pipecli import money

    return float(money.to_decimal(minor, config.currency()))


def lookup(values: dict, field: str):
    """Return a field's value from `field_values` output: a lead column, else an extra field by name."""
    if field in LEAD_FIELDS:
        return values.get(field)
    return values.get(field.lower())


def fit_of(values: dict, rule_list: list[Rule]) -> list[tuple[Rule, object, float]]:
    """Return each rule with the lead's value for its field and the points it earns (0 when unmatched)."""
    out = []
    for rule in rule_list:
        value = lookup(values, rule.field)
        out.append((rule, value, rule.points if rule.matches(value) else 0.0))
    return out


def engagement_of(activities: list[tuple[str, int]], pts: dict, half_life: float) -> tuple[float, int | None]:
    """Return (engagement as of the latest activity, that activity's time) for (kind, at) pairs."""
    if not activities:
        return 0.0, None
    latest = max(at for _, at in activities)
    total = sum(pts.get(kind, 0) * 0.5 ** ((latest - at) / half_life) for kind, at in activities)
    return total, latest


def batch_scorer(conn):
    """Return a function scoring a batch of new leads column by column, for bulk writers that insert
    leads without `add_lead`; None when no rule and no learned model could give a lead anything.

    The function takes `columns` ({lead field: one value per lead}, `value` in major units, "" or None
    when empty), `extras` (per lead, its (key, value) extra fields or None) and `statuses`, and returns
    (fits, win probabilities: None for a closed lead or without a model), one per lead."""
    from pipecli import learn

    rule_list, model = rules(), learn.load_model(conn)
    if not rule_list and model is None:
        return None

    def extra_column(name: str, extras: list) -> list:
        key = name.lower()
        return [next((v for k, v in pairs if k.lower() == key), None) if pairs else None for pairs in extras]

    def score(columns: dict[str, list], extras: list, statuses: list[str]) -> tuple[list[float], list]:
        fits = [0.0] * len(statuses)
        for rule in rule_list:
            values = columns[rule.field] if rule.field in LEAD_FIELDS else extra_column(rule.field, extras)
            memo: dict = {}  # a batch repeats its sources, companies and amounts
            points = [
                memo[v] if v in memo else memo.setdefault(v, rule.points if rule.matches(v) else 0.0) for v in values
            ]
            fits = list(map(operator.add, fits, points))
        probabilities: list = [None] * len(statuses)
        if model is not None:
            for i, status in enumerate(statuses):
                if status == "open":
                    values = {f: columns[f][i] or None for f in LEAD_FIELDS}
                    values["value"], values["status"] = columns["value"][i], status
                    for k, v in extras[i] or ():
                        values.setdefault(k.lower(), v)
                    probabilities[i] = learn.predict(model, values)
        return fits, probabilities

    return score


CHUNK = 5000  # leads per query when recomputing a list of leads (SQLite caps bound parameters)


def refresh(conn, lead_id: int) -> None:
    """Recompute and store one lead's fit, engagement and score (and win probability when a model exists);
    called by every write that changes the lead's fields or activities."""
    recompute(conn, [lead_id])


def recompute(conn, lead_ids: list[int] | None = None) -> int:
    """Recompute fit, engagement and score of the given leads (all when None); return how many.

    Run after changing rules in the config or after a bulk import wrote leads and extra fields."""
    from pipecli import learn

    if lead_ids is not None and len(lead_ids) > CHUNK:
        return sum(recompute(conn, lead_ids[i : i + CHUNK]) for i in range(0, len(lead_ids), CHUNK))

    rule_list, pts, half_life = rules(), points(), half_life_seconds()
    model = learn.load_model(conn)
    wanted = {r.field for r in rule_list} | set(model["fields"] if model else ())
    values = field_values(conn, lead_ids, wanted)
    only = {} if lead_ids is None else {"ids": list(lead_ids)}
    acts: dict[int, list] = {}
    for lead_id, kind, at in execute_in(
        conn, "SELECT lead_id, kind, at FROM activity" + (" WHERE lead_id IN :ids" if only else ""), **only
    ):
        acts.setdefault(lead_id, []).append((kind, at))
    rows = []
    for lead_id, vals in values.items():
        fit = sum(p for _, _, p in fit_of(vals, rule_list))
        engagement, at = engagement_of(acts.get(lead_id, []), pts, half_life)
        rows.append(
            {
                "i": lead_id, "f": fit, "e": engagement, "a": at, "s": fit + engagement,
                "w": learn.predict(model, vals) if model and vals["status"] == "open" else None,
            }
        )
    if rows:
        conn.execute(
            text(
                "UPDATE lead SET fit_score = :f, engagement = :e, engagement_at = :a, score = :s"
                + (", win_probability = :w" if model else "")
                + " WHERE id = :i"
            ),
            rows,
        )
    return len(rows)


def total_sql(alias: str = "l") -> tuple[str, dict]:
    """Return a SQL expression of the lead's total score decayed to now, and its parameters."""
    expr = (
        f"({alias}.fit_score + CASE WHEN {alias}.engagement_at IS NULL THEN 0 ELSE {alias}.engagement * "
        f"power(0.5, (CASE WHEN :sc_now > {alias}.engagement_at THEN :sc_now - {alias}.engagement_at ELSE 0 END)"
        f" / :sc_half_life) END)"
    )
    return expr, {"sc_now": clock.now_ts(), "sc_half_life": half_life_seconds()}


def hot_sql(alias: str = "l") -> tuple[str, dict]:
    """Return a SQL condition true for hot leads, and its parameters."""
    expr, params = total_sql(alias)
    return f"{expr} >= :sc_hot", {**params, "sc_hot": hot_threshold()}


def ranked(conn, pipeline: str | None = None, limit: int | None = None, hot_only: bool = False) -> list[dict]:
    """Return open leads ranked by total score now, with fit, engagement now, total, hot and win probability."""
    from pipecli.leads import LeadFilter

    where, params = LeadFilter(pipeline=pipeline, status="open", hot=hot_only).where(conn)
    expr, score_params = total_sql("l")
    if limit is not None and limit < 0:
        raise PipecliError("--limit must not be negative")
    sql = (
        f"SELECT l.id, l.name, l.company, s.name AS stage, l.fit_score AS fit, {expr} AS total,"
        f" l.win_probability, l.next_step FROM lead l JOIN stage s ON s.id = l.stage_id WHERE {where}"
        " ORDER BY total DESC, l.id" + (" LIMIT :limit" if limit is not None else "")
    )
    rows = conn.execute(text(sql), {**params, **score_params, "limit": limit}).mappings()
    threshold = hot_threshold()
    return [{**dict(r), "engagement": r["total"] - r["fit"], "hot": r["total"] >= threshold} for r in rows]


def explain(conn, lead_id: int) -> dict:
    """Return how a lead's score is made now: each rule's and each activity's contribution and the totals."""
    from pipecli.leads import get_lead

    from pipecli import learn

    lead = get_lead(conn, lead_id)
    rule_list, pts, half_life = rules(), points(), half_life_seconds()
    model = learn.load_model(conn)
    values = field_values(conn, [lead_id], {r.field for r in rule_list} | set(model["fields"] if model else ()))[lead_id]
    now = clock.now_ts()
    rule_rows = [
        {"rule": rule.label, "value": _shown(value), "points": rule.points, "contribution": got}
        for rule, value, got in fit_of(values, rule_list)
    ]
    acts = conn.execute(
        text("SELECT kind, at, note FROM activity WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
    ).all()
    latest = max((a.at for a in acts), default=now)
    activity_rows = []
    for a in acts:
        # Decay to the latest activity, then from it to now (never negative), exactly as total_sql reads it.
        factor = 0.5 ** ((latest - a.at) / half_life) * 0.5 ** (max(now - latest, 0) / half_life)
        activity_rows.append(
            {
                "at": a.at, "kind": a.kind, "points": pts.get(a.kind, 0),
                "age_days": (now - a.at) / 86400, "contribution": pts.get(a.kind, 0) * factor,
            }
        )
    fit = sum(r["contribution"] for r in rule_rows)
    engagement = sum(r["contribution"] for r in activity_rows)
    threshold = hot_threshold()
    return {
        "lead_id": lead_id, "name": lead["name"], "rules": rule_rows, "activities": activity_rows,
        "fit": fit, "engagement": engagement, "total": fit + engagement, "hot_threshold": threshold,
        "hot": fit + engagement >= threshold, "half_life_days": half_life / 86400,
        "win_probability": lead["win_probability"],
        "win_factors": sorted(learn.contributions(model, values), key=lambda c: -abs(c["weight"])) if model else [],
    }


def _shown(value) -> str | None:
    if isinstance(value, float):
        return f"{value:g}"
    return None if value is None else str(value)


def rules_in_force() -> dict:
    """Return the fit rules, activity points, half-life and hot threshold in force (for `score --rules`)."""
    return {
        "rules": [{"rule": r.label, "field": r.field, "points": r.points} for r in rules()],
        "points": [{"kind": k, "points": v} for k, v in sorted(points().items(), key=lambda kv: -kv[1])],
        "half_life_days": half_life_seconds() / 86400,
        "hot_threshold": hot_threshold(),
        "custom_rules": "rules" in _settings(),
    }
