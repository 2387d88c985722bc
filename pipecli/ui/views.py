"""The app's text renderings: a card's three lines, and the lines of the deal, today, clean and forecast
screens. Plain functions of the core's results (no textual), so they are tested apart from the app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipecli import clock, money
from pipecli.formats import neutralise
from pipecli.ui.cards import Card

if TYPE_CHECKING:
    from pipecli.reports.clean import Finding
    from pipecli.reports.forecast import Forecast

CARD_HEIGHT = 3  # the lines of one card


def fit(text: str, width: int) -> str:
    """Return `text` made safe for the terminal and cut to `width` cells (an ellipsis marks the cut)."""
    text = neutralise(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def marks(card: Card, stale: bool) -> str:
    """Return a card's marks as words, so they read without colour (NO_COLOR): stale, overdue, no next step."""
    out = []
    if stale:
        out.append("STALE")
    if card.overdue:
        out.append("OVERDUE")
    if card.no_next_step:
        out.append("no-next")
    return " ".join(out)


def card_lines(card: Card, stale: bool, width: int, currency: str) -> list[str]:
    """Return a card's lines: `#id name`; company and value; days in stage, next step date and marks."""
    value = money.fmt_short(card.value_minor, currency) if card.value_minor is not None else "-"
    nxt = f"next {card.next_step_due.isoformat()[5:]}" if card.next_step_due is not None else ""
    third = " ".join(p for p in (f"{card.days_in_stage}d", nxt, marks(card, stale)) if p)
    company = card.company or ""
    room = max(width - len(value) - 1, 0)
    return [
        fit(f"#{card.id} {card.name}", width),
        f"{fit(company, room):<{room}} {value}"[:width],
        fit(third, width),
    ]


def _amount(minor: int | None, currency: str) -> str:
    return money.fmt(minor, currency) if minor is not None else "-"


def deal_lines(info: Mapping[str, Any], explained: Mapping[str, Any], currency: str) -> list[str]:
    """Return the deal screen: details, stage history, field history, activities, score and win probability."""
    lead = info["lead"]
    lines = [
        f"#{lead['id']} {lead['name']}" + (f" ({lead['company']})" if lead["company"] else ""),
        f"{lead['pipeline']} / {lead['stage']} · {lead['status']} · {_amount(lead['value_minor'], currency)}",
    ]
    for key in ("email", "phone", "owner", "source", "expected_close", "next_step", "next_step_due", "snoozed_until"):
        if lead.get(key) is not None:
            lines.append(f"  {key}: {lead[key]}")
    lines += ["", "Stage history"]
    for h in info["history"]:
        spent = clock.human_duration(h["seconds_in_stage"]) if h["seconds_in_stage"] is not None else ""
        lines.append(f"  {clock.show(h['at'])}  {h['from_stage'] or '(new)'} → {h['to_stage']}  {spent}")
    lines += ["", "Recent changes"]
    for c in info["recent_changes"]:
        lines.append(f"  {clock.show(c.at)}  {c.field}: {c.old} → {c.new}  ({c.actor})")
    lines += ["", "Activities"]
    for a in info["activities"]:
        lines.append(f"  {clock.show(a['at'])}  {a['kind']}  {a['note'] or ''}".rstrip())
    lines += [
        "",
        f"Score {explained['total']:.1f} (fit {explained['fit']:.1f} + engagement {explained['engagement']:.1f})"
        + (" · hot" if explained["hot"] else ""),
    ]
    for r in explained["rules"]:
        lines.append(f"  {r['rule']}: {r['value']} → {r['contribution']:+.1f}")
    for r in explained["activities"]:
        lines.append(f"  {r['kind']} {r['age_days']:.0f}d ago → {r['contribution']:+.1f}")
    p = explained["win_probability"]
    lines.append(
        f"Win probability: {p:.0%}" if p is not None else "Win probability: not learned (pipecli score --learn)"
    )
    return [neutralise(line) for line in lines]


def today_lines(work: Mapping[str, Any]) -> list[str]:
    """Return the today screen: follow-ups due or overdue, hot leads with no next step, leads ready to advance."""
    lines = [f"Follow-ups due ({len(work['follow_ups'])})"]
    for r in work["follow_ups"]:
        late = f" ({r['days_overdue']}d overdue)" if r["days_overdue"] else ""
        lines.append(f"  #{r['id']} {r['name']} · {r['stage']} · {r['next_step']}{late}")
    lines += ["", f"Hot, no next step ({len(work['hot_without_next_step'])})"]
    for r in work["hot_without_next_step"]:
        lines.append(f"  #{r['id']} {r['name']} · {r['stage']} · score {r['score']:.0f}")
    lines += ["", f"Ready to advance ({len(work['ready'])})"]
    for r in work["ready"]:
        lines.append(f"  #{r['id']} {r['name']} · {r['stage']} → {r['suggested']} ({r['trigger']})")
    return [neutralise(line) for line in lines]


def clean_lines(rows: list[Finding], currency: str) -> list[str]:
    """Return the clean queue: a count, then one line per finding as `clean` words it (the rows of `Queue`)."""
    if not rows:
        return ["Nothing stale: the pipeline is clean."]
    lines = [f"{len(rows)} finding(s)"]
    for r in rows:
        lines.append(f"  #{r.lead_id} {r.name} · {r.stage} · {r.rule}: {r.why}")
    return [neutralise(line) for line in lines]


def forecast_lines(result: Forecast, currency: str) -> list[str]:
    """Return the forecast screen: per period the deals, weighted value and P10–P90 range."""
    lines = [f"Forecast of {result.pipeline} ({result.probabilities} probabilities)"]
    for p in result.periods:
        lines.append(
            f"  {p.period}: {p.deals} deals · weighted {_amount(p.weighted_minor, currency)}"
            f" · P10 {_amount(p.p10_minor, currency)} – P90 {_amount(p.p90_minor, currency)}"
        )
    if result.later_deals:
        lines.append(f"  later: {result.later_deals} deals · {_amount(result.later_value_minor, currency)}")
    return [neutralise(line) for line in lines]
