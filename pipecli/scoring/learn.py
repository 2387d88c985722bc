"""Learned win probability: a logistic regression of P(won) over a lead's field values, fitted on the
database's own closed leads.

Each field becomes a few buckets: a text field one bucket per frequent value (rare values share
"(other)"), a number field one bucket per decile of the training values, and an empty or placeholder
value ("", "Select", "nan"...) its own "(missing)" bucket. The model is one weight per field bucket plus
an intercept, so a lead's probability is explained by the few weights it picks up, and predicting needs
no library: it is a sum of looked-up weights (`predict`), cheap enough to run on every lead write.
Fitting (Newton's method with a small L2 penalty) uses numpy, imported only by `learn`.

Quality is measured honestly before the final fit: the newest fifth of the closed leads is held out when
their closing dates differ (a seeded random fifth otherwise), the model is fitted on the rest, and its
AUC on the held-out leads is reported. The final model is then fitted on all closed leads, stored in
`meta` (key `win_model`, JSON) and applied to every open lead's `win_probability`.
"""

from __future__ import annotations

import bisect
import json
import math
import random
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock
from pipecli.errors import PipecliError
from pipecli.scoring.fields import LEAD_FIELDS, as_number, field_values, lookup

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

META_KEY = "win_model"
MIN_PER_OUTCOME = 10  # refuse to learn from fewer won (or lost) leads than this
HOLD_OUT = 0.2
SEED = 20261128
DEFAULT_LEAD_FIELDS = ("source", "owner", "value")
MISSING = {"", "select", "nan", "null", "none", "n/a", "na", "-", "unknown"}
MIN_COUNT = 5  # a text value seen fewer times in training joins "(other)"
MAX_VALUES = 40  # at most this many distinct text values per field
BINS = 10
PENALTY = 1.0  # L2 penalty on the weights (not the intercept)


def _key(pipeline_id: int | None) -> str:
    """Return the meta key of the model of pipeline `pipeline_id` (None: the model of every pipeline)."""
    return META_KEY if pipeline_id is None else f"{META_KEY}:{int(pipeline_id)}"


def models(conn: Connection) -> dict[int | None, dict[str, Any]]:
    """Return every stored model by the pipeline it was fitted on (None: on every pipeline's leads)."""
    out: dict[int | None, dict[str, Any]] = {}
    for key, raw in conn.execute(
        text("SELECT key, value FROM meta WHERE key = :k OR key LIKE :per"), {"k": META_KEY, "per": f"{META_KEY}:%"}
    ):
        out[None if key == META_KEY else int(key.split(":", 1)[1])] = json.loads(raw)
    return out


def model_for(stored: dict[int | None, dict[str, Any]], pipeline_id: int | None) -> dict[str, Any] | None:
    """Return the model that scores a lead of pipeline `pipeline_id`: its pipeline's own (`score --learn
    --pipeline`) when there is one, else the one fitted on every pipeline, else None."""
    return stored.get(pipeline_id) if pipeline_id in stored else stored.get(None)


def load_model(conn: Connection, pipeline_id: int | None = None) -> dict[str, Any] | None:
    """Return the stored model that scores leads of `pipeline_id` (see `model_for`; without it, the model of
    every pipeline), or None when `score --learn` has not been run."""
    return model_for(models(conn), pipeline_id)


def bucket(encoder: dict[str, Any], value: object) -> str:
    """Return the bucket a field's value falls in under `encoder`."""
    if value is None or str(value).strip().lower() in MISSING:
        return "(missing)"
    if encoder["kind"] == "number":
        number = as_number(value)
        if number is None:
            return "(missing)"
        return f"bin{bisect.bisect_right(encoder['edges'], number)}"
    word = str(value).strip().lower()
    return word if word in encoder["values"] else "(other)"


def contributions(model: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """Return, per model field, the bucket a lead's value falls in and that bucket's weight (log-odds)."""
    out = []
    for field in model["fields"]:
        name = bucket(model["encoders"][field], lookup(values, field))
        out.append({"field": field, "bucket": name, "weight": model["weights"][field].get(name, 0.0)})
    return out


def predict(model: dict[str, Any], values: dict[str, Any]) -> float:
    """Return P(won) for a lead's field values ({field: value}, as scoring's field reader gives them)."""
    logit = model["intercept"] + sum(c["weight"] for c in contributions(model, values))
    return 1.0 / (1.0 + math.exp(-max(min(logit, 40.0), -40.0)))


def _encoder(values: list[Any]) -> dict[str, Any] | None:
    """Return the encoder of one field from its training values, or None when it cannot help
    (constant, or an identifier with a different value on nearly every lead)."""
    present = [str(v).strip() for v in values if v is not None and str(v).strip().lower() not in MISSING]
    if not present:
        return None
    numbers = [as_number(v) for v in present]
    distinct = len(set(present))
    if sum(n is not None for n in numbers) >= 0.95 * len(present) and distinct > BINS:
        if distinct == len(present) and all(n is not None and n == int(n) for n in numbers):
            return None  # a running number (an id), not a measure
        ordered = sorted(n for n in numbers if n is not None)
        edges = sorted({ordered[min(len(ordered) - 1, (len(ordered) * k) // BINS)] for k in range(1, BINS)})
        return {"kind": "number", "edges": edges}
    if distinct > max(20, len(present) // 2):
        return None  # free text or identifiers
    counts: dict[str, int] = {}
    for v in present:
        counts[v.lower()] = counts.get(v.lower(), 0) + 1
    if len(counts) == 1 and len(present) == len(values):
        return None  # the same value on every lead
    frequent = sorted((w for w, c in counts.items() if c >= MIN_COUNT), key=lambda w: -counts[w])[:MAX_VALUES]
    return {"kind": "text", "values": sorted(frequent)}


def _fit(rows: list[dict[str, Any]], outcomes: list[int], fields: list[str]) -> dict[str, Any]:
    """Return a model (encoders, weights, intercept) fitted on `rows` with numpy."""
    # numpy (slow to import) only when a model is fitted: every command loads this module
    import numpy as np

    encoders, used = {}, []
    for field in fields:
        enc = _encoder([lookup(r, field) for r in rows])
        if enc is not None:
            encoders[field] = enc
            used.append(field)
    columns: dict[tuple[str, str], int] = {}
    hits = []
    for r in rows:
        row = []
        for field in used:
            key = (field, bucket(encoders[field], lookup(r, field)))
            row.append(columns.setdefault(key, len(columns)))
        hits.append(row)
    # Every row has exactly one bucket per field plus the intercept, so the design matrix is kept as
    # the column index of its ones: products with it are gathers, and the Hessian is one bincount.
    m = len(columns) + 1
    idx = np.asarray([row + [m - 1] for row in hits], dtype=np.int64).reshape(len(rows), len(used) + 1)
    pairs = (idx[:, :, None] * m + idx[:, None, :]).reshape(len(rows), -1)
    y = np.asarray(outcomes, dtype=float)
    w = np.zeros(m)
    ridge = np.full(m, PENALTY)
    ridge[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(w[idx].sum(axis=1), -40, 40)))
        grad = np.bincount(idx.ravel(), weights=np.repeat(p - y, idx.shape[1]), minlength=m) + ridge * w
        curvature = np.repeat(p * (1 - p), pairs.shape[1])
        hess = np.bincount(pairs.ravel(), weights=curvature, minlength=m * m).reshape(m, m) + np.diag(ridge + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-7:
            break
    weights: dict[str, dict[str, float]] = {f: {} for f in used}
    for (field, name), j in columns.items():
        weights[field][name] = float(w[j])
    return {"fields": used, "encoders": encoders, "weights": weights, "intercept": float(w[-1])}


def auc(scores: list[float], outcomes: list[int]) -> float | None:
    """Return the area under the ROC curve (ties count half), or None without both outcomes."""
    pos = sum(outcomes)
    neg = len(outcomes) - pos
    if not pos or not neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        rank_sum += sum(average for k in range(i, j + 1) if outcomes[order[k]])
        i = j + 1
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def _available_fields(conn: Connection) -> list[str]:
    keys = [k for (k,) in conn.execute(text("SELECT DISTINCT key FROM lead_extra ORDER BY key"))]
    return list(DEFAULT_LEAD_FIELDS) + keys


def learn(conn: Connection, fields: list[str] | None = None, pipeline_id: int | None = None) -> dict[str, Any]:
    """Fit P(won) on the closed leads (of pipeline `pipeline_id` only, when given: pipelines sell differently)
    over `fields` (default: source, owner, value and every extra field), report its held-out AUC and store
    it; return the report (`score.learn_and_rescore` applies it)."""
    available = _available_fields(conn)
    if fields:
        known = {f.lower() for f in available} | set(LEAD_FIELDS)
        unknown = [f for f in fields if f.lower() not in known and f not in known]
        if unknown:
            raise PipecliError(
                f"unknown field(s) {', '.join(unknown)}; lead fields: {', '.join(LEAD_FIELDS)}"
                + (f"; extra fields: {', '.join(available[len(DEFAULT_LEAD_FIELDS) :])}" if len(available) > 3 else "")
            )
    chosen = list(fields) if fields else available
    one = "" if pipeline_id is None else " AND pipeline_id = :p"
    closed = conn.execute(
        text(f"SELECT id, status, closed_at FROM lead WHERE status IN ('won', 'lost'){one} ORDER BY closed_at, id"),
        {"p": pipeline_id},
    ).all()
    won = sum(1 for c in closed if c.status == "won")
    lost = len(closed) - won
    if won < MIN_PER_OUTCOME or lost < MIN_PER_OUTCOME:
        raise PipecliError(
            f"too few closed leads to learn from: {won} won and {lost} lost; need at least "
            f"{MIN_PER_OUTCOME} of each (close more leads, or import past deals with their outcome)"
        )
    values = field_values(conn, [c.id for c in closed], set(chosen))
    rows = [values[c.id] for c in closed]
    outcomes = [1 if c.status == "won" else 0 for c in closed]
    n_test = max(1, round(len(rows) * HOLD_OUT))
    if len({c.closed_at for c in closed}) > 1:
        split, test = "newest", list(range(len(rows) - n_test, len(rows)))
    else:
        split, test = "random", sorted(random.Random(SEED).sample(range(len(rows)), n_test))
    held = set(test)
    train = [i for i in range(len(rows)) if i not in held]
    trial = _fit([rows[i] for i in train], [outcomes[i] for i in train], chosen)
    held_auc = auc([predict(trial, rows[i]) for i in test], [outcomes[i] for i in test])
    model = _fit(rows, outcomes, chosen)
    model.update(
        {
            "method": "logistic regression",
            "auc": held_auc,
            "split": split,
            "held_out": len(test),
            "trained_on": len(train),
            "learned_from": len(rows),
            "won": won,
            "lost": lost,
            "learned_at": clock.now_ts(),
        }
    )
    stored = json.dumps(model)
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
        {"k": _key(pipeline_id), "v": stored},
    )
    skipped = [f for f in chosen if f not in model["fields"]]
    factors = sorted(
        ((f, b, w) for f in model["fields"] for b, w in model["weights"][f].items()), key=lambda t: -abs(t[2])
    )[:8]
    return {
        **{k: model[k] for k in ("method", "auc", "split", "held_out", "trained_on", "learned_from", "won", "lost")},
        "fields": model["fields"],
        "skipped": skipped,
        "top_factors": [{"field": f, "value": b, "weight": w} for f, b, w in factors],
    }
