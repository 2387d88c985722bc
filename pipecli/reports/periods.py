"""Calendar periods (month, quarter, ISO week): where one starts, the next one, and its name. Quarters
are the fiscal year's: they start in the month the shared setting `fiscal_year_start` names (default
January, the calendar quarters; April gives Apr-Jun as Q1, named by the year the fiscal year ends in)."""

from __future__ import annotations

import datetime as _dt

from pipecli import config

PERIODS = ("month", "quarter", "week")


def period_start(day: _dt.date, period: str) -> _dt.date:
    """Return the first day of the period (month, fiscal quarter, ISO week) that holds `day`."""
    if period == "week":
        return day - _dt.timedelta(days=day.weekday())
    if period == "quarter":
        into = (day.month - config.top().fiscal_year_start) % 3  # months since the quarter began
        total = day.year * 12 + day.month - 1 - into
        return _dt.date(total // 12, total % 12 + 1, 1)
    return day.replace(day=1)


def next_start(start: _dt.date, period: str, step: int = 1) -> _dt.date:
    """Return the first day of the period `step` periods after (negative: before) the one starting on `start`."""
    if period == "week":
        return start + _dt.timedelta(days=7 * step)
    months = (3 if period == "quarter" else 1) * step
    total = start.year * 12 + start.month - 1 + months
    return _dt.date(total // 12, total % 12 + 1, 1)


def label(start: _dt.date, period: str) -> str:
    """Return a period's name: 2026-11, 2026-Q4, 2026-W48; with a fiscal year starting in April, the
    quarter starting 2026-10-01 is FY2027-Q3 (the fiscal year April 2026 to March 2027)."""
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "quarter":
        first = config.top().fiscal_year_start
        quarter = (start.month - first) % 12 // 3 + 1
        if first == 1:
            return f"{start.year}-Q{quarter}"
        ends = start.year + (1 if start.month >= first else 0)  # the calendar year the fiscal year ends in
        return f"FY{ends}-Q{quarter}"
    return f"{start.year}-{start.month:02d}"
