"""Pipelines and their stages: an ordered list of open stages plus the two outcomes, won and lost.

Every function takes an open connection (inside the caller's transaction) and returns plain dicts.
Stage names are matched case-insensitively; `won` and `lost` name a pipeline's outcomes.

Every change of the setup is journaled (`_recorded`): the pipeline, stage and default-pipeline rows it
changed are recorded whole, before and after, so `undo` can put the setup back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection, RowMapping

from pipecli import clock
from pipecli.errors import NotFound, PipecliError, UsageError
from pipecli.store import journal

if TYPE_CHECKING:
    from pipecli.store.db import Store

# A lead's furthest position when no open stage it was in was ever observed (an imported won or lost deal
# without stage history): every figure that needs stage paths (reached, conversion, win probability by
# stage) leaves such a lead out, and time in stage never sees it (it has no stay in an open stage).
UNKNOWN_PATH = 0

F = TypeVar("F", bound=Callable[..., Any])
_RECORDING = "pipecli_recording_setup"


def _setup_rows(conn: Connection) -> dict[tuple[str, Any], dict[str, Any]]:
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for table, sql in (
        ("pipeline", "SELECT * FROM pipeline"),
        ("stage", "SELECT * FROM stage"),
        ("meta", "SELECT * FROM meta WHERE key = 'default_pipeline'"),
    ):
        for r in conn.execute(text(sql)).mappings():
            rows[(table, r["key"] if table == "meta" else r["id"])] = dict(r)
    return rows


# Deletions children first, then updates, then insertions parents first: undo inverts them in reverse.
_ORDER = {("delete", "stage"): 0, ("delete", "pipeline"): 1, ("delete", "meta"): 2}


def _recorded(fn: F) -> F:
    """Journal the setup rows `fn` changes (once, however the setup functions call each other)."""

    @functools.wraps(fn)
    def wrapper(conn: Connection, *args: Any, **kwargs: Any) -> Any:
        if conn.info.get(_RECORDING):
            return fn(conn, *args, **kwargs)
        conn.info[_RECORDING] = True
        try:
            before = _setup_rows(conn)
            result = fn(conn, *args, **kwargs)
            after = _setup_rows(conn)
        finally:
            conn.info.pop(_RECORDING, None)
        changes = []
        for key in before.keys() | after.keys():
            old, new = before.get(key), after.get(key)
            if old != new:
                kind = "delete" if new is None else "insert" if old is None else "update"
                rank = _ORDER.get(
                    (kind, key[0]), 3 if kind == "update" else 4 + ["pipeline", "stage", "meta"].index(key[0])
                )
                changes.append((rank, str(key[1]), key[0], old, new))
        for _, _, table, old, new in sorted(changes, key=lambda c: (c[0], c[1].zfill(20))):
            journal.record_row(conn, table, old, new, None, None)
        return result

    return wrapper  # type: ignore[return-value]


DEFAULT_NAME = "Sales"
# name, configured win probability, days of silence before a lead in it counts as stale
DEFAULT_STAGES: list[tuple[str, float | None, int | None]] = [
    ("Prospecting", 0.10, 21),
    ("Contact", 0.20, 14),
    ("Qualification", 0.35, 14),
    ("Meeting", 0.50, 10),
    ("Proposal", 0.70, 10),
]
OUTCOMES = ("won", "lost")
# A deal's forecast category, as sellers call their deals in a SaaS CRM's roll-up: commit (will close in its
# period), best (might), pipeline (too early to say; a deal without one), omit (left out of the roll-up). A
# stage may hold a default (`configure_stage`), which the forecast uses for its deals that have none.
FORECAST_CATEGORIES = ("commit", "best", "pipeline", "omit")
# How CRM exports spell them (Salesforce's ForecastCategoryName, HubSpot's Forecast category); a closed deal's
# "Closed" is no category: the forecast reads open deals only.
FORECAST_CATEGORY_ALIASES = {
    "best case": "best",
    "omitted": "omit",
    "not forecasted": "omit",
    "closed": None,
    "closed won": None,
    "closed lost": None,
}


def forecast_category(text_: str, crm: bool = False) -> str | None:
    """Return the forecast category `text_` names (any case; '' is None, no category), or raise naming the
    known ones: the one check of a category, for `edit`, the import and a stage's default. `crm` (the import)
    also reads the CRMs' spellings (FORECAST_CATEGORY_ALIASES)."""
    folded = " ".join(text_.lower().split())
    if crm and folded in FORECAST_CATEGORY_ALIASES:
        return FORECAST_CATEGORY_ALIASES[folded]
    if not folded:
        return None
    if folded not in FORECAST_CATEGORIES:
        says = f"forecast category {text_!r} is not one of {', '.join(FORECAST_CATEGORIES)}"
        # a typed option's value outside a fixed set is a usage error (exit 2); a file's, a row error
        raise PipecliError(says) if crm else UsageError(says)
    return folded


def default_probability(position: int, count: int) -> float:
    """Return the win probability a new pipeline's stage gets when none is given: evenly spaced between
    lost (0) and won (1) by position, `position / (count + 1)` rounded to 2 places (three stages: 0.25,
    0.5, 0.75), so a new pipeline's forecast is not 0 until someone sets them."""
    return round(position / (count + 1), 2)


def _check_name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name:
        raise PipecliError(f"{what} name must not be empty")
    if any(ord(ch) < 32 for ch in name):
        raise PipecliError(f"{what} name must not contain control characters")
    return name


@_recorded
def create_pipeline(conn: Connection, name: str, stages: list[tuple[str, float | None, int | None]]) -> int:
    """Create a pipeline with the given open stages (name, probability, stale days) plus won and lost;
    return its id."""
    return _create_pipeline(conn, name, stages)


def _create_pipeline(conn: Connection, name: str, stages: list[tuple[str, float | None, int | None]]) -> int:
    name = _check_name(name, "pipeline")
    if _find_pipeline(conn, name) is not None:
        raise PipecliError(f"a pipeline named {name!r} already exists")
    seen: set[str] = set()
    for stage_name, *_ in stages:
        key = _check_name(stage_name, "stage").lower()
        if key in OUTCOMES:
            raise PipecliError(f"'{stage_name}' is an outcome, not an open stage (won and lost exist already)")
        if key in seen:
            raise PipecliError(f"stage {stage_name!r} is listed twice")
        seen.add(key)
    if not stages:
        raise PipecliError("a pipeline needs at least one open stage")
    pid = conn.execute(
        text("INSERT INTO pipeline (name, created_at) VALUES (:n, :t) RETURNING id"),
        {"n": name, "t": clock.now_ts()},
    ).scalar_one()
    rows = [
        {
            "p": pid,
            "n": s.strip(),
            "k": "open",
            "pos": i,
            "prob": default_probability(i, len(stages)) if prob is None else prob,
            "sd": sd,
        }
        for i, (s, prob, sd) in enumerate(stages, start=1)
    ]
    rows += [
        {"p": pid, "n": "won", "k": "won", "pos": None, "prob": 1.0, "sd": None},
        {"p": pid, "n": "lost", "k": "lost", "pos": None, "prob": 0.0, "sd": None},
    ]
    conn.execute(
        text(
            "INSERT INTO stage (pipeline_id, name, kind, position, probability, stale_days, removed) "
            "VALUES (:p, :n, :k, :pos, :prob, :sd, false)"
        ),
        rows,
    )
    qual = conn.execute(
        text(
            "SELECT id FROM stage WHERE pipeline_id = :p AND kind = 'open' "
            "AND lower(name) LIKE 'qualif%' ORDER BY position LIMIT 1"
        ),
        {"p": pid},
    ).scalar()
    if qual is not None:
        conn.execute(text("UPDATE pipeline SET qualification_stage_id = :s WHERE id = :p"), {"s": qual, "p": pid})
    return int(pid)


def create_default(conn: Connection) -> int:
    """Create the default pipeline (Sales: Prospecting, Contact, Qualification, Meeting, Proposal)."""
    pid = _create_pipeline(conn, DEFAULT_NAME, DEFAULT_STAGES)  # a new database's start: not a change to undo
    conn.execute(text("INSERT INTO meta (key, value) VALUES ('default_pipeline', :p)"), {"p": str(pid)})
    return pid


def open_store(target: str, migrate: bool = True, create: bool = False) -> Store:
    """Return the open `Store` for `target`; with `create`, a database created by this call starts with
    the default pipeline (without it, a missing one raises `errors.NoDatabase`). Every command opens its
    database here: the store layer knows tables, not pipelines."""
    # local by history only (no cycle, no start-up cost): may move to the top
    from pipecli.store.db import Store

    return Store.open(target, migrate=migrate, seed=create_default, create=create)


def _find_pipeline(conn: Connection, name: str) -> RowMapping | None:
    return (
        conn.execute(text("SELECT * FROM pipeline WHERE lower(name) = lower(:n)"), {"n": name.strip()})
        .mappings()
        .first()
    )


def default_pipeline_id(conn: Connection) -> int:
    """Return the id of the default pipeline."""
    value = conn.execute(text("SELECT value FROM meta WHERE key = 'default_pipeline'")).scalar()
    if value is None:
        raise NotFound("no default pipeline; create one with `pipecli pipeline add NAME --stages ...`")
    return int(value)


def get_pipeline(conn: Connection, name: str | None = None) -> dict[str, Any]:
    """Return the pipeline called `name` (case-insensitive), or the default one when `name` is None."""
    if name is None:
        row = (
            conn.execute(text("SELECT * FROM pipeline WHERE id = :p"), {"p": default_pipeline_id(conn)})
            .mappings()
            .first()
        )
    else:
        row = _find_pipeline(conn, name)
    if row is None:
        names = ", ".join(r[0] for r in conn.execute(text("SELECT name FROM pipeline ORDER BY id")))
        raise NotFound(f"unknown pipeline {name!r}; pipelines: {names}")
    return dict(row)


def get_pipeline_by_id(conn: Connection, pipeline_id: int) -> dict[str, Any]:
    """Return the pipeline with this id."""
    return dict(conn.execute(text("SELECT * FROM pipeline WHERE id = :p"), {"p": pipeline_id}).mappings().one())


def stages(conn: Connection, pipeline_id: int, outcomes: bool = True) -> list[dict[str, Any]]:
    """Return the pipeline's current stages: open ones by position, then won and lost."""
    rows = conn.execute(
        text(
            "SELECT * FROM stage WHERE pipeline_id = :p AND removed = false "
            "ORDER BY CASE kind WHEN 'open' THEN 0 WHEN 'won' THEN 1 ELSE 2 END, position"
        ),
        {"p": pipeline_id},
    ).mappings()
    return [dict(r) for r in rows if outcomes or r["kind"] == "open"]


def find_stage(conn: Connection, pipeline_id: int, name: str) -> dict[str, Any]:
    """Return the stage of the pipeline called `name` (case-insensitive; `won`/`lost` are outcomes)."""
    row = (
        conn.execute(
            text("SELECT * FROM stage WHERE pipeline_id = :p AND removed = false AND lower(name) = lower(:n)"),
            {"p": pipeline_id, "n": name.strip()},
        )
        .mappings()
        .first()
    )
    if row is None:
        pipeline = get_pipeline_by_id(conn, pipeline_id)["name"]
        valid = ", ".join(s["name"] for s in stages(conn, pipeline_id))
        raise NotFound(f"unknown stage {name!r} in pipeline {pipeline}; stages: {valid}")
    return dict(row)


def list_pipelines(conn: Connection) -> list[dict[str, Any]]:
    """Return every pipeline with its open stage count, open lead count and open value (minor units)."""
    default = default_pipeline_id(conn)
    rows = conn.execute(
        text(
            "SELECT p.id, p.name, "
            " (SELECT COUNT(*) FROM stage s WHERE s.pipeline_id = p.id AND s.kind = 'open' AND s.removed = false) AS stages, "
            " (SELECT COUNT(*) FROM lead l WHERE l.pipeline_id = p.id AND l.status = 'open') AS open_leads, "
            " (SELECT SUM(l.value_minor) FROM lead l WHERE l.pipeline_id = p.id AND l.status = 'open') AS open_value "
            "FROM pipeline p ORDER BY p.id"
        )
    ).mappings()
    return [{**dict(r), "default": r["id"] == default} for r in rows]


def show_pipeline(conn: Connection, name: str | None) -> list[dict[str, Any]]:
    """Return the pipeline's stages with order, probability, stale-after days, triggers and lead counts."""
    pipeline = get_pipeline(conn, name)
    counts: dict[int, int] = dict(
        conn.execute(
            text("SELECT stage_id, COUNT(*) FROM lead WHERE pipeline_id = :p GROUP BY stage_id"),
            {"p": pipeline["id"]},
        ).all()
    )
    return [
        {
            "pipeline": pipeline["name"],
            "position": s["position"],
            "stage": s["name"],
            "kind": s["kind"],
            "probability": s["probability"],
            "stale_days": s["stale_days"],
            "triggers": s["triggers"],
            "qualification_stage": s["id"] == pipeline["qualification_stage_id"],
            "leads": counts.get(s["id"], 0),
        }
        for s in stages(conn, pipeline["id"])
    ]


@_recorded
def configure_stage(
    conn: Connection,
    pipeline: str | None,
    stage: str,
    probability: float | None = None,
    stale_days: int | None = None,
    triggers: str | None = None,
    rename: str | None = None,
    qualification: bool = False,
    forecast_category_: str | None = None,
) -> dict[str, Any]:
    """Set a stage's probability, stale-after days, triggers, name or default forecast category ('' clears
    it); return the updated stage."""
    p = get_pipeline(conn, pipeline)
    s = find_stage(conn, p["id"], stage)
    changes: dict[str, Any] = {}
    if probability is not None:
        if not 0 <= probability <= 1:
            raise PipecliError(f"--probability must be between 0 and 1, not {probability}")
        changes["probability"] = probability
    if stale_days is not None:
        if stale_days < 1:
            raise PipecliError("--stale-days must be at least 1")
        changes["stale_days"] = stale_days
    if triggers is not None:
        # local by history only (no cycle, no start-up cost): may move to the top
        from pipecli.activities import check_kind

        kinds = [check_kind(k) for k in triggers.split(",") if k.strip()]
        changes["triggers"] = ",".join(kinds) or None
    if forecast_category_ is not None:
        if s["kind"] != "open":
            raise PipecliError("only an open stage has a forecast category: won and lost deals are not forecast")
        changes["forecast_category"] = forecast_category(forecast_category_)
    if rename is not None:
        new = _check_name(rename, "stage")
        if s["kind"] != "open":
            raise PipecliError("the outcomes won and lost cannot be renamed")
        if new.lower() in OUTCOMES:
            raise PipecliError(f"'{new}' is reserved for an outcome")
        clash = conn.execute(
            text("SELECT id FROM stage WHERE pipeline_id = :p AND lower(name) = lower(:n) AND id <> :s"),
            {"p": p["id"], "n": new, "s": s["id"]},
        ).first()
        if clash:
            raise PipecliError(f"pipeline {p['name']} already has a stage named {new!r}")
        changes["name"] = new
    if qualification:
        if s["kind"] != "open":
            raise PipecliError("the qualification stage must be an open stage")
        conn.execute(
            text("UPDATE pipeline SET qualification_stage_id = :s WHERE id = :p"), {"s": s["id"], "p": p["id"]}
        )
    if changes:
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        conn.execute(text(f"UPDATE stage SET {sets} WHERE id = :id"), {**changes, "id": s["id"]})
    return dict(conn.execute(text("SELECT * FROM stage WHERE id = :s"), {"s": s["id"]}).mappings().one())


def _renumber(conn: Connection, pipeline_id: int, ordered_ids: list[int]) -> None:
    """Give the open stages positions 1..n in `ordered_ids` order and recompute each lead's furthest
    position, which is expressed in positions."""
    conn.execute(
        text("UPDATE stage SET position = :pos WHERE id = :id"),
        [{"pos": i, "id": sid} for i, sid in enumerate(ordered_ids, start=1)],
    )
    furthest = (
        "COALESCE((SELECT MAX(s.position) FROM stage_change c JOIN stage s ON s.id = c.to_stage_id"
        " WHERE c.lead_id = lead.id AND s.kind = 'open' AND s.position IS NOT NULL), 1)"
    )
    changed = conn.execute(
        text(
            f"SELECT id, furthest_position, {furthest} FROM lead WHERE pipeline_id = :p AND furthest_position <> {furthest}"
        ),
        {"p": pipeline_id},
    ).all()
    for lead_id, old, new in changed:
        conn.execute(text("UPDATE lead SET furthest_position = :f WHERE id = :l"), {"f": new, "l": lead_id})
        journal.record(conn, lead_id, "furthest_position", old, new)


def _open_ids(conn: Connection, pipeline_id: int) -> list[int]:
    return [s["id"] for s in stages(conn, pipeline_id, outcomes=False)]


def _place(ids: list[int], stage_id: int, position: int | None) -> list[int]:
    rest = [i for i in ids if i != stage_id]
    if position is None:
        position = len(rest) + 1
    if not 1 <= position <= len(rest) + 1:
        raise PipecliError(f"position must be between 1 and {len(rest) + 1}")
    rest.insert(position - 1, stage_id)
    return rest


@_recorded
def add_stage(
    conn: Connection,
    pipeline: str | None,
    name: str,
    position: int | None = None,
    probability: float | None = None,
    stale_days: int | None = None,
) -> dict[str, Any]:
    """Add an open stage at `position` (1-based; default last); return the new stage."""
    p = get_pipeline(conn, pipeline)
    name = _check_name(name, "stage")
    if name.lower() in OUTCOMES:
        raise PipecliError(f"'{name}' is reserved for an outcome")
    existing = conn.execute(
        text("SELECT id, removed FROM stage WHERE pipeline_id = :p AND lower(name) = lower(:n)"),
        {"p": p["id"], "n": name},
    ).first()
    if existing and not existing[1]:
        raise PipecliError(f"pipeline {p['name']} already has a stage named {name!r}")
    if existing:  # a removed stage of that name comes back, with its history
        sid = existing[0]
        conn.execute(text("UPDATE stage SET removed = false, name = :n WHERE id = :s"), {"s": sid, "n": name})
    else:
        sid = conn.execute(
            text(
                "INSERT INTO stage (pipeline_id, name, kind, position, removed) "
                "VALUES (:p, :n, 'open', NULL, false) RETURNING id"
            ),
            {"p": p["id"], "n": name},
        ).scalar_one()
    _renumber(conn, p["id"], _place(_open_ids(conn, p["id"]), sid, position))
    return configure_stage(conn, p["name"], name, probability=probability, stale_days=stale_days)


@_recorded
def move_stage(conn: Connection, pipeline: str | None, stage: str, position: int) -> list[dict[str, Any]]:
    """Move an open stage to `position` (1-based); return the pipeline's stages in their new order."""
    p = get_pipeline(conn, pipeline)
    s = find_stage(conn, p["id"], stage)
    if s["kind"] != "open":
        raise PipecliError("won and lost are outcomes and have no position")
    _renumber(conn, p["id"], _place(_open_ids(conn, p["id"]), s["id"], position))
    return stages(conn, p["id"])


@_recorded
def remove_stage(conn: Connection, pipeline: str | None, stage: str) -> None:
    """Remove an open stage; refused while any lead is in it. History that passed through it is kept."""
    p = get_pipeline(conn, pipeline)
    s = find_stage(conn, p["id"], stage)
    if s["kind"] != "open":
        raise PipecliError("won and lost are outcomes and cannot be removed")
    held = conn.execute(text("SELECT COUNT(*) FROM lead WHERE stage_id = :s"), {"s": s["id"]}).scalar()
    if held:
        raise PipecliError(
            f"stage {s['name']} still holds {held} lead(s); move them first "
            f"(pipecli list --pipeline {p['name']!r} --stage {s['name']!r})"
        )
    ids = [i for i in _open_ids(conn, p["id"]) if i != s["id"]]
    if not ids:
        raise PipecliError("a pipeline needs at least one open stage")
    if p["qualification_stage_id"] == s["id"]:
        conn.execute(text("UPDATE pipeline SET qualification_stage_id = NULL WHERE id = :p"), {"p": p["id"]})
    used = conn.execute(
        text("SELECT 1 FROM stage_change WHERE to_stage_id = :s OR from_stage_id = :s LIMIT 1"), {"s": s["id"]}
    ).first()
    if used:
        conn.execute(text("UPDATE stage SET removed = true, position = NULL WHERE id = :s"), {"s": s["id"]})
    else:
        conn.execute(text("DELETE FROM stage WHERE id = :s"), {"s": s["id"]})
    _renumber(conn, p["id"], ids)


@_recorded
def rename_pipeline(conn: Connection, old: str, new: str) -> dict[str, Any]:
    """Rename a pipeline; return it."""
    p = get_pipeline(conn, old)
    new = _check_name(new, "pipeline")
    clash = _find_pipeline(conn, new)
    if clash is not None and clash["id"] != p["id"]:
        raise PipecliError(f"a pipeline named {new!r} already exists")
    conn.execute(text("UPDATE pipeline SET name = :n WHERE id = :p"), {"n": new, "p": p["id"]})
    return get_pipeline_by_id(conn, p["id"])


@_recorded
def set_default(conn: Connection, name: str) -> dict[str, Any]:
    """Make `name` the default pipeline (used when a command names none); return it."""
    p = get_pipeline(conn, name)
    conn.execute(text("UPDATE meta SET value = :p WHERE key = 'default_pipeline'"), {"p": str(p["id"])})
    return p


@_recorded
def delete_pipeline(conn: Connection, name: str) -> None:
    """Delete an empty pipeline; refused while it holds leads or is the default."""
    p = get_pipeline(conn, name)
    if p["id"] == default_pipeline_id(conn):
        raise PipecliError(f"{p['name']} is the default pipeline; make another the default first")
    held = conn.execute(text("SELECT COUNT(*) FROM lead WHERE pipeline_id = :p"), {"p": p["id"]}).scalar()
    if held:
        raise PipecliError(f"pipeline {p['name']} still holds {held} lead(s)")
    conn.execute(text("DELETE FROM stage WHERE pipeline_id = :p"), {"p": p["id"]})
    conn.execute(text("DELETE FROM pipeline WHERE id = :p"), {"p": p["id"]})
