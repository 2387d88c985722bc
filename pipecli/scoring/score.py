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

The settings (rules, points, half-life, hot threshold) are read in `scoring.rules`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, pipelines
from pipecli.activities import engages
from pipecli.errors import NotFound
from pipecli.scoring import learn
from pipecli.scoring.fields import LEAD_FIELDS, field_values
from pipecli.scoring.rules import fit_of, half_life_seconds, hot_threshold, points, rules
from pipecli.store.sql import execute_in

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def engagement_of(activities: list[tuple[str, int]], pts: dict[str, Any], half_life: float) -> tuple[float, int | None]:
    """Return (engagement as of the latest activity, that activity's time) for (kind, at) pairs."""
    activities = [(kind, at) for kind, at in activities if engages(kind)]
    if not activities:
        return 0.0, None
    latest = max(at for _, at in activities)
    total = sum(pts.get(kind, 0) * 0.5 ** ((latest - at) / half_life) for kind, at in activities)
    return total, latest


# (columns, extras, statuses) -> (fits, win probabilities): see `batch_scorer`
BatchScorer = Callable[[dict[str, list[Any]], list[Any], list[str]], tuple[list[float], list[float | None]]]


def batch_scorer(conn: Connection) -> BatchScorer | None:
    """Return a function scoring a batch of new leads column by column, for bulk writers that insert
    leads without `add_lead`; None when no rule and no learned model could give a lead anything.

    The function takes `columns` ({lead field: one value per lead}, `value` in major units, "" or None
    when empty), `extras` (per lead, its (key, value) extra fields or None) and `statuses`, and returns
    (fits, win probabilities: None for a closed lead or without a model), one per lead."""
    rule_list, model = rules(), learn.load_model(conn)
    if not rule_list and model is None:
        return None

    def extra_column(name: str, extras: list[Any]) -> list[Any]:
        key = name.lower()
        return [next((v for k, v in pairs if k.lower() == key), None) if pairs else None for pairs in extras]

    def score(
        columns: dict[str, list[Any]], extras: list[Any], statuses: list[str]
    ) -> tuple[list[float], list[float | None]]:
        fits = [0.0] * len(statuses)
        for rule in rule_list:
            values = columns[rule.field] if rule.field in LEAD_FIELDS else extra_column(rule.field, extras)
            memo: dict[Any, float] = {}  # a batch repeats its sources, companies and amounts
            points = [
                memo[v] if v in memo else memo.setdefault(v, rule.points if rule.matches(v) else 0.0) for v in values
            ]
            fits = list(map(operator.add, fits, points))
        probabilities: list[float | None] = [None] * len(statuses)
        if model is not None:
            for i, status in enumerate(statuses):
                if status == "open":
                    lead: dict[str, Any] = {f: columns[f][i] or None for f in LEAD_FIELDS}
                    lead["value"], lead["status"] = columns["value"][i], status
                    for k, v in extras[i] or ():
                        lead.setdefault(k.lower(), v)
                    probabilities[i] = learn.predict(model, lead)
        return fits, probabilities

    return score


CHUNK = 5000  # leads per query when recomputing a list of leads (SQLite caps bound parameters)


def refresh(conn: Connection, lead_id: int) -> None:
    """Recompute and store one lead's fit, engagement and score (and win probability when a model exists);
    called by every write that changes the lead's fields or activities."""
    recompute(conn, [lead_id])


def recompute(conn: Connection, lead_ids: list[int] | None = None) -> int:
    """Recompute fit, engagement and score of the given leads (all when None); return how many.

    Run after changing rules in the config or after a bulk import wrote leads and extra fields."""
    if lead_ids is not None and len(lead_ids) > CHUNK:
        return sum(recompute(conn, lead_ids[i : i + CHUNK]) for i in range(0, len(lead_ids), CHUNK))

    rule_list, pts, half_life = rules(), points(), half_life_seconds()
    stored = learn.models(conn)
    wanted = {r.field for r in rule_list} | {f for m in stored.values() for f in m["fields"]}
    values = field_values(conn, lead_ids, wanted)
    only = {} if lead_ids is None else {"ids": list(lead_ids)}
    acts: dict[int, list[tuple[str, int]]] = {}
    for lead_id, kind, at in execute_in(
        conn, "SELECT lead_id, kind, at FROM activity" + (" WHERE lead_id IN :ids" if only else ""), **only
    ):
        acts.setdefault(lead_id, []).append((kind, at))
    rows = []
    for lead_id, vals in values.items():
        model = learn.model_for(stored, vals["pipeline_id"])
        fit = sum(p for _, _, p in fit_of(vals, rule_list))
        engagement, at = engagement_of(acts.get(lead_id, []), pts, half_life)
        rows.append(
            {
                "i": lead_id,
                "f": fit,
                "e": engagement,
                "a": at,
                "s": fit + engagement,
                "w": learn.predict(model, vals) if model and vals["status"] == "open" else None,
            }
        )
    if rows:
        conn.execute(
            text(
                "UPDATE lead SET fit_score = :f, engagement = :e, engagement_at = :a, score = :s"
                + (", win_probability = :w" if stored else "")
                + " WHERE id = :i"
            ),
            rows,
        )
    return len(rows)


def total_sql(alias: str = "l") -> tuple[str, dict[str, Any]]:
    """Return a SQL expression of the lead's total score decayed to now, and its parameters."""
    expr = (
        f"({alias}.fit_score + CASE WHEN {alias}.engagement_at IS NULL THEN 0 ELSE {alias}.engagement * "
        f"power(0.5, (CASE WHEN :sc_now > {alias}.engagement_at THEN :sc_now - {alias}.engagement_at ELSE 0 END)"
        f" / :sc_half_life) END)"
    )
    return expr, {"sc_now": clock.now_ts(), "sc_half_life": half_life_seconds()}


def hot_sql(alias: str = "l") -> tuple[str, dict[str, Any]]:
    """Return a SQL condition true for hot leads, and its parameters."""
    expr, params = total_sql(alias)
    return f"{expr} >= :sc_hot", {**params, "sc_hot": hot_threshold()}


def explain(conn: Connection, lead_id: int) -> dict[str, Any]:
    """Return how a lead's score is made now: each rule's and each activity's contribution and the totals."""
    lead = conn.execute(text("SELECT name, win_probability FROM lead WHERE id = :i"), {"i": lead_id}).mappings().first()
    if lead is None:
        raise NotFound(f"no lead with id {lead_id} (see `pipecli list`)")
    rule_list, pts, half_life = rules(), points(), half_life_seconds()
    pipeline_id = conn.execute(text("SELECT pipeline_id FROM lead WHERE id = :i"), {"i": lead_id}).scalar()
    model = learn.load_model(conn, pipeline_id)
    values = field_values(conn, [lead_id], {r.field for r in rule_list} | set(model["fields"] if model else ()))[
        lead_id
    ]
    now = clock.now_ts()
    rule_rows: list[dict[str, Any]] = [
        {"rule": rule.label, "value": _shown(value), "points": rule.points, "contribution": got}
        for rule, value, got in fit_of(values, rule_list)
    ]
    acts = conn.execute(
        text("SELECT kind, at, note FROM activity WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
    ).all()
    latest = max((a.at for a in acts), default=now)
    activity_rows: list[dict[str, Any]] = []
    for a in acts:
        # Decay to the latest activity, then from it to now (never negative), exactly as total_sql reads it.
        factor = 0.5 ** ((latest - a.at) / half_life) * 0.5 ** (max(now - latest, 0) / half_life)
        activity_rows.append(
            {
                "at": a.at,
                "kind": a.kind,
                "points": pts.get(a.kind, 0),
                "age_days": (now - a.at) / clock.DAY,
                "contribution": pts.get(a.kind, 0) * factor,
            }
        )
    fit = sum(r["contribution"] for r in rule_rows)
    engagement = sum(r["contribution"] for r in activity_rows)
    threshold = hot_threshold()
    return {
        "lead_id": lead_id,
        "name": lead["name"],
        "rules": rule_rows,
        "activities": activity_rows,
        "fit": fit,
        "engagement": engagement,
        "total": fit + engagement,
        "hot_threshold": threshold,
        "hot": fit + engagement >= threshold,
        "half_life_days": half_life / clock.DAY,
        "win_probability": lead["win_probability"],
        "win_factors": sorted(learn.contributions(model, values), key=lambda c: -abs(c["weight"])) if model else [],
    }


def _shown(value: object) -> str | None:
    if isinstance(value, float):
        return f"{value:g}"
    return None if value is None else str(value)


def learn_and_rescore(conn: Connection, fields: list[str] | None = None, pipeline: str | None = None) -> dict[str, Any]:
    """Fit and store the win model (`learn.learn`; on pipeline `pipeline`'s leads only when given), then write
    the `win_probability` of every open lead it scores; return learn's report with `pipeline` (None: every
    pipeline) and `open_leads`, how many leads were rescored."""
    chosen = None if pipeline is None else pipelines.get_pipeline(conn, pipeline)
    pipeline_id = None if chosen is None else chosen["id"]
    report = learn.learn(conn, fields, pipeline_id)
    one = "" if pipeline_id is None else " AND pipeline_id = :p"
    open_ids = [i for (i,) in conn.execute(text(f"SELECT id FROM lead WHERE status = 'open'{one}"), {"p": pipeline_id})]
    recompute(conn, open_ids)
    return {**report, "pipeline": None if chosen is None else chosen["name"], "open_leads": len(open_ids)}
