"""Column-wise reading: a whole batch of rows of the common shape checked and converted a column at a time.

A bulk import spends its time here, so a batch is checked with one regex match per column where it can
(emails, amounts through `money.parse_plain_column`) and dates and stages come from their caches. It takes
a batch only when every row is plain (as many cells as the header, a name, a valid email, a plain amount,
readable dates and stages, no quoted-formula cells) and says None otherwise: the batch then goes through
`rows.RowReader` row by row, which reports each problem exactly. The result is the same either way.
"""

from __future__ import annotations

import re
from typing import Any

from pipecli import clock, money
from pipecli.errors import PipecliError
from pipecli.leads import PLAIN_EMAIL
from pipecli.pipelines import forecast_category
from pipecli.transfer.columns import Columns
from pipecli.transfer.model import BadCell, Record
from pipecli.transfer.stages import Stages

# A whole column of emails or empty cells, joined by newlines (leads.PLAIN_EMAIL on each line); a batch
# holding any other address goes row by row, where the validator judges it (`leads.is_email`).
_EMAILS = re.compile(f"(?:{PLAIN_EMAIL.pattern})?(?:\n(?:{PLAIN_EMAIL.pattern})?)*")

# The columns `check` returns (and `writer.prepare` takes), a list of one value per lead each.
WRITE_COLUMNS = (
    "pipeline",
    "stage",
    "created",
    "closed",
    "expected",
    "name",
    "company",
    "email",
    "phone",
    "value",
    "source",
    "owner",
    "external_id",
    "lost_reason",
    "forecast_category",
    "note",
    "extras",
)
Cols = dict[str, list[Any]]


class ColumnChecker:
    """Checks and converts batches of new leads for the default pipeline column by column (`check`)."""

    def __init__(
        self, columns: Columns, dates: dict[str, clock.DateColumn], order: clock.DayOrder, stages: Stages, currency: str
    ):
        self.columns, self.order, self.stages, self.currency = columns, order, stages, currency
        self.date_items = list(dates.items())
        self.pipeline: Record = stages.default

    def check(self, rows: list[list[str]], now: int) -> Cols | None:
        """Return a batch of non-blank rows as `WRITE_COLUMNS` columns, or None when any row is not of
        the common shape (see the module docstring). Reads no database unless a stage is new to it."""
        columns = self.columns
        width, index = columns.width, columns.index
        joined = "\0" + "\0".join(map("\0".join, rows))
        # n x width separators, more when a cell holds a NUL (refused row by row)
        if set(map(len, rows)) != {width} or "\0'" in joined or joined.count("\0") != len(rows) * width:
            return None
        n = len(rows)
        by_column = list(zip(*rows))
        strip, blank = str.strip, [""] * n

        def column(f: str) -> list[str]:
            return list(map(strip, by_column[index[f]])) if f in index else blank

        names = column("name")
        if names is blank or "" in names:
            return None
        emails = column("email")
        if emails is not blank:
            joined = "\n".join(emails)  # one match for the batch (PLAIN_EMAIL matches no line break)
            if joined.count("\n") != n - 1 or not _EMAILS.fullmatch(joined):
                return None
        amounts = column("value")
        values: list[int | None] = [None] * n
        if amounts is not blank:
            minors = money.parse_plain_column(amounts, self.currency)
            if minors is None:
                return None
            values = minors
        moments: dict[str, list[clock.Moment | None]] = {}
        for f, parser in self.date_items:
            raws = column(f)
            found = list(map(parser.cache.get, raws))
            if None in found:
                for i, raw in enumerate(raws):
                    if raw and found[i] is None:
                        if self.order.dayfirst is None and not clock.is_iso_date(raw):
                            return None  # may settle the day order: row by row, in the file's order
                        try:
                            found[i] = parser.parse(raw)
                        except clock.BadDate:
                            return None
            moments[f] = found
        categories = column("forecast_category")
        if categories is not blank:
            try:  # each distinct spelling checked once; a bad one is reported row by row
                canonical = {c: forecast_category(c, crm=True) or "" for c in set(categories)}
            except PipecliError:
                return None
            categories = list(map(canonical.__getitem__, categories))
        pipeline = self.pipeline
        raw_stages = column("stage")
        resolved = {}
        stage_cache = self.stages.cache
        for raw in dict.fromkeys(raw_stages):
            try:
                resolved[raw] = stage_cache.get((pipeline["id"], raw)) or self.stages.resolve(pipeline, raw)
            except BadCell:
                return None
        none: list[clock.Moment | None] = [None] * n
        created_at, closed_at, expected_at = (moments.get(f, none) for f in ("created", "close_date", "expected_close"))
        stages = list(map(resolved.__getitem__, raw_stages))
        kinds = [stage["kind"] for stage in stages]
        created = [m.ts if m is not None else None for m in created_at]
        closed = [None if kind == "open" else (m.ts if m is not None else None) for kind, m in zip(kinds, closed_at)]
        if None in created or None in closed:  # defaults: a closed row without dates closed when created, or now
            for i, kind in enumerate(kinds):
                if kind != "open":
                    created[i] = closed[i] if created[i] is None else created[i]
                    created[i] = now if created[i] is None else created[i]
                    closed[i] = created[i] if closed[i] is None else closed[i]
                elif created[i] is None:
                    created[i] = now
        if any(c is not None and o is not None and c < o for o, c in zip(created, closed)):
            return None  # closed before it was created: reported row by row
        # an open row's close date is its expected close
        expected_moments = [
            (e if e is not None else (c if kind == "open" else None))
            for kind, e, c in zip(kinds, expected_at, closed_at)
        ]
        expected = [e.date if e is not None else None for e in expected_moments]
        extras: list[list[tuple[str, str]] | None] = [None] * n
        if columns.extra_columns:
            extra_columns = columns.extra_columns
            extras = [[(h, v) for i, h in extra_columns if (v := row[i]) and v.strip()] or None for row in rows]
        reasons = column("lost_reason")
        if reasons is not blank and any(r and kind != "lost" for r, kind in zip(reasons, kinds)):
            reasons, lost_header = list(reasons), columns.column("lost_reason")
            for i, (r, kind) in enumerate(zip(reasons, kinds)):
                if r and kind != "lost":  # a reason on a row that is not lost is kept as an extra field
                    extras[i] = (extras[i] or []) + [(lost_header, r)]
                    reasons[i] = ""
        return {
            "pipeline": [pipeline] * n,
            "stage": stages,
            "created": created,
            "closed": closed,
            "expected": expected,
            "name": names,
            "company": column("company"),
            "email": emails,
            "phone": column("phone"),
            "value": values,
            "source": column("source"),
            "owner": column("owner"),
            "external_id": column("external_id"),
            "lost_reason": reasons,
            "forecast_category": categories,
            "note": column("note"),
            "extras": extras,
        }
