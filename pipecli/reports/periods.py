"""Calendar periods (month, quarter, ISO week): where one starts, the next one, and its name."""

from __future__ import annotations

import datetime as _dt

PERIODS = ("month", "quarter", "week")


def period_start(day: _dt.date, period: str) -> _dt.date:
    """Return the first day of the period (month, quarter, ISO week) that holds `day`."""
    if period == "week":
        return day - _dt.timedelta(days=day.weekday())
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(day=1)


def next_start(start: _dt.date, period: str, step: int = 1) -> _dt.date:
    """Return the first day of the period `step` periods after (negative: before) the one starting on `start`."""
    if period == "week":
        return start + _dt.timedelta(days=7 * step)
    months = (3 if period == "quarter" else 1) * step
    total = start.year * 12 + start.month - 1 + months
    return _dt.date(total // 12, total % 12 + 1, 1)


def label(start: _dt.date, period: str) -> str:
    """Return a period's name: 2026-11, 2026-Q4, 2026-W48."""
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"
