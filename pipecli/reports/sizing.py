"""Sizing: what a revenue target needs — deals, leads, leads per seller, leads held in each stage, and
how the open pipeline covers it.

deals = target ÷ average deal; leads = deals ÷ close rate; per seller = leads ÷ sellers. Each division is
exact (Decimal) and rounded UP to a whole deal or lead (half a deal cannot be won). A figure left out comes
from the pipeline's history: the average won deal, the win rate (won ÷ closed) and the number of distinct
lead owners in the database (the team); the result says which figures came from where. With the stage
conversion rates of the funnel (see `metrics`), the leads each later stage must hold = deals ÷ (product of
the conversions from that stage to won), at most the leads needed; the first stage, where every lead
starts, holds the leads needed: one "leads needed" figure on the whole screen. Coverage = open pipeline
value ÷ target; the pipeline needed = target ÷ close rate; `pipeline_covered` says yes or no.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sqlalchemy import text

from pipecli import pipelines
from pipecli.errors import PipecliError
from pipecli.money import round_minor
from pipecli.reports import metrics, state

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class StageNeed:
    """An open stage: the share of its leads that go on to win (`to_won`, the product of the conversions
    from it to won) and the leads it must hold (`needed`; None when no lead of it has ever won)."""

    position: int
    stage: str
    to_won: float | None
    needed: int | None
    open: int | None


@dataclass(frozen=True)
class Sizing:
    """What a target needs (see the module docstring); money in minor units. Each `*_source` is `history`
    or `given`."""

    pipeline: str
    period: None  # sizing has no period: the JSON key stays for scripts, always null
    target_minor: int
    avg_deal_minor: int
    avg_deal_source: str
    close_rate: float
    close_rate_source: str
    reps: int
    reps_source: str
    deals_needed: int
    leads_needed: int
    leads_per_rep: int
    open_value_minor: int
    coverage: float
    pipeline_needed_minor: int
    pipeline_covered: bool
    stages: list[StageNeed]


def parse_rate(value: str | None) -> Decimal | None:
    """Return a close rate given as `0.8` or `80%` as a Decimal in (0, 1], or None when not given."""
    if value is None or not str(value).strip():
        return None
    raw = str(value).strip()
    try:
        rate = Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise PipecliError(f"--close-rate: cannot read {raw!r} (use 0.8 or 80%)") from None
    if not 0 < rate <= 1:
        raise PipecliError(f"--close-rate must be above 0 and at most 1 (or 100%), not {raw}")
    return rate


def ceil(value: Decimal) -> int:
    """Return `value` rounded up to a whole number."""
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def size(
    conn: Connection,
    target: int,
    avg_deal: int | None = None,
    close_rate: Decimal | None = None,
    reps: int | None = None,
    pipeline: str | None = None,
) -> Sizing:
    """Return what `target` (minor units) needs; see the module docstring."""
    if target <= 0:
        raise PipecliError("--target must be above zero")
    if avg_deal is not None and avg_deal <= 0:
        raise PipecliError("--avg-deal must be above zero")
    if reps is not None and reps < 1:
        raise PipecliError("--reps must be at least 1")
    p = pipelines.get_pipeline(conn, pipeline)
    fun = metrics.funnel(conn, p["name"])
    rel, params = state.lead_state(p["id"], None)
    closed = state.closed_summary(conn, rel, {**params, "t": fun.as_of}, False)
    won_n, won_sum, won_valued, _ = closed["won"]
    sources: dict[str, str] = {}
    if avg_deal is None:
        if not won_valued:
            raise PipecliError("no won deal with a value in the history yet: give --avg-deal")
        avg = Decimal(won_sum) / Decimal(won_valued)
        sources["avg_deal"] = "history"
    else:
        avg, sources["avg_deal"] = Decimal(avg_deal), "given"
    if close_rate is None:
        decided = won_n + closed["lost"][0]
        if not won_n:
            raise PipecliError("no won deal in the history yet: give --close-rate")
        close_rate, sources["close_rate"] = Decimal(won_n) / Decimal(decided), "history"
    else:
        sources["close_rate"] = "given"
    if reps is None:
        reps = conn.execute(text("SELECT COUNT(DISTINCT owner) FROM lead WHERE owner IS NOT NULL")).scalar_one()
        sources["reps"] = "history"
        if not reps:
            raise PipecliError("no lead has an owner yet: give --reps")
    else:
        sources["reps"] = "given"
    deals = ceil(Decimal(target) / avg)
    leads = ceil(Decimal(deals) / close_rate)
    open_stages = [s for s in fun.stages if s.position is not None]
    chains: list[float | None] = []
    chain: float | None = 1.0
    for s in reversed(open_stages):
        chain = chain * s.conversion if (chain is not None and s.conversion) else None
        chains.append(chain)
    chains.reverse()
    stages = []
    for i, (s, to_won) in enumerate(zip(open_stages, chains)):
        assert s.position is not None  # open stages only
        needed = math.ceil(deals / to_won - 1e-9) if to_won else None
        # one leads-needed figure: the first stage's is the headline's, no later stage needs more
        needed = leads if i == 0 else (None if needed is None else min(needed, leads))
        stages.append(StageNeed(s.position, s.stage, to_won, needed, s.open))
    open_value = sum(s.open_value_minor for s in open_stages)
    needed_pipeline = round_minor(Decimal(target) / close_rate)
    return Sizing(
        pipeline=p["name"],
        period=None,
        target_minor=target,
        avg_deal_minor=round_minor(avg),
        avg_deal_source=sources["avg_deal"],
        close_rate=float(close_rate),
        close_rate_source=sources["close_rate"],
        reps=reps,
        reps_source=sources["reps"],
        deals_needed=deals,
        leads_needed=leads,
        leads_per_rep=ceil(Decimal(leads) / Decimal(reps)),
        open_value_minor=open_value,
        coverage=float(Decimal(open_value) / Decimal(target)),
        pipeline_needed_minor=needed_pipeline,
        pipeline_covered=open_value >= needed_pipeline,
        stages=stages,
    )
