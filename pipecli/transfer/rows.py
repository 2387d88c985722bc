"""Row-wise reading: one row's cells to a `Lead` ready to write, or every problem it has, each with its line.

This is the exact path: every row the column-wise fast path (`fastpath`) does not take goes through here,
and a problem is reported with the line, column, value and reason. A name falls back to the external id,
the company, the email or the `--key` column; a won or lost row without dates is closed when created (or now); an open row's
close date is its expected close; a lost reason on a row that is not lost is kept as an extra field.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, NamedTuple

from pipecli import clock, money
from pipecli.errors import PipecliError
from pipecli.formats import NUL_REFUSED, undefuse
from pipecli.leads import is_email
from pipecli.pipelines import forecast_category
from pipecli.transfer.columns import FIELDS, Columns
from pipecli.transfer.model import BadCell, ImportOptions, Record, RowError
from pipecli.transfer.stages import Stages


class Lead(NamedTuple):
    """A valid row, as the import writes it (a new lead) or compares it (an upsert)."""

    line: int
    cells: list[str]  # as read, for the rejects file
    fields: dict[str, Any]  # every field -> its stripped text ("" when empty); value as minor units or None
    pipeline: Record
    stage: Record
    created: int
    closed: int | None
    expected_close: _dt.date | None
    extras: list[tuple[str, str]]
    path: list[tuple[int, int, int | None]] | None = None  # (stage id, entered at, position), from stage dates


class RowReader:
    """Reads rows one by one against a file's columns, date columns and stages (`parse`)."""

    def __init__(
        self,
        columns: Columns,
        dates: dict[str, clock.DateColumn],
        stages: Stages,
        options: ImportOptions,
        now: int,
    ):
        self.columns, self.stages, self.now = columns, stages, now
        self.date_items = list(dates.items())
        self.currency, self.decimal_comma = options.currency, options.decimal_comma
        self.nulls = set(options.nulls)
        self.blank = dict.fromkeys(FIELDS, "")
        # the stage-date columns (`stages.stage_date_columns`), each with its date reader
        self.stage_dates: list[tuple[int, Record, clock.DateColumn]] = []

    def parse(self, line: int, cells: list[str]) -> Lead | list[RowError]:
        """Return the row beginning on `line` as a Lead, or its problems."""
        columns = self.columns
        column, width = columns.column, columns.width
        original = cells
        if len(cells) != width:
            if len(cells) < width or any(c.strip() for c in cells[width:]):
                return [RowError(line, "", "", f"has {len(cells)} fields, the header has {width}")]
            cells = cells[:width]
        if self.nulls:
            cells = ["" if c in self.nulls else c for c in cells]
        joined = "\0".join(cells)
        if joined.count("\0") != len(cells) - 1:  # a NUL inside a cell: no text field holds one (PostgreSQL refuses it)
            return [
                RowError(line, columns.header[i], cell, NUL_REFUSED) for i, cell in enumerate(cells) if "\0" in cell
            ]
        if joined[:1] == "'" or "\0'" in joined:
            cells = [undefuse(c) for c in cells]
        # every field, "" when empty or not in the file
        got: dict[str, Any] = self.blank.copy()
        got.update(zip(columns.present, map(str.strip, columns.getter(cells))))
        errors: list[RowError] = []
        value = got["value"]
        if not value:
            got["value"] = None
        else:
            try:
                got["value"] = money.parse_amount(value, self.currency, self.decimal_comma)
                if got["value"] < 0:
                    raise PipecliError("a value must not be negative")
            except PipecliError as exc:
                errors.append(RowError(line, column("value"), value, str(exc)))
        if got["forecast_category"]:
            try:  # stored as its canonical name ("" for none, as every text field)
                got["forecast_category"] = forecast_category(got["forecast_category"], crm=True) or ""
            except PipecliError as exc:
                errors.append(RowError(line, column("forecast_category"), got["forecast_category"], str(exc)))
        email = got["email"]
        if email and not is_email(email):
            errors.append(RowError(line, column("email"), email, "not an email address"))
        if not got["name"]:
            # or the key's (a phone): an upsert leaves a matched lead's name alone when the file has none
            got["name"] = (
                got["external_id"] or got["company"] or got["email"] or (got[columns.key] if columns.key else "")
            )
            if not got["name"]:
                errors.append(
                    RowError(line, column("name"), "", "a lead needs a name (or an external id, company or email)")
                )
        created: int | None = None
        close_moment: clock.Moment | None = None
        expected: _dt.date | None = None
        for f, parser in self.date_items:
            raw = got[f]
            if not raw:
                continue
            try:
                moment = parser.parse(raw)
            except clock.BadDate as exc:
                errors.append(RowError(line, parser.header, raw, str(exc)))
                continue
            if f == "created":
                created = moment.ts
            elif f == "close_date":
                close_moment = moment
            else:
                expected = moment.date
        pipeline: Record | None = self.stages.default
        if got["pipeline"]:
            try:
                pipeline = self.stages.pipeline(got["pipeline"])
            except BadCell as exc:
                errors.append(RowError(line, column("pipeline"), got["pipeline"], str(exc)))
                pipeline = None
        stage = None
        if pipeline is not None:
            raw_stage = got["stage"]
            stage = self.stages.cache.get((pipeline["id"], raw_stage))
            if stage is None:
                try:
                    stage = self.stages.resolve(pipeline, raw_stage)
                except BadCell as exc:
                    errors.append(RowError(line, column("stage"), raw_stage, str(exc)))
        key = columns.key
        if key and not got[key]:
            errors.append(RowError(line, column(key) or key, "", "the --key column is empty"))
        if errors or pipeline is None or stage is None:
            return errors
        closed: int | None = None
        if stage["kind"] != "open":
            closed = close_moment.ts if close_moment is not None else None
            if created is None:
                created = closed if closed is not None else self.now
            if closed is None:
                closed = created
            if closed < created:
                return [RowError(line, column("close_date"), got["close_date"], "closed before it was created")]
        else:
            if created is None:
                created = self.now
            if expected is None and close_moment is not None:
                expected = close_moment.date
        extras = (
            [(h, v) for i, h in columns.extra_columns if (v := cells[i]) and v.strip()] if columns.extra_columns else []
        )
        if got["lost_reason"] and stage["kind"] != "lost":
            extras.append((column("lost_reason"), got["lost_reason"]))
            got["lost_reason"] = ""
        path = None
        if self.stage_dates:
            path = self._path(line, cells, stage, closed, errors)
            if errors:
                return errors
            if path and path[0][1] < created:
                created = path[0][1]  # the deal existed when it entered its first dated stage
        return Lead(line, original, got, pipeline, stage, created, closed, expected, extras, path)

    def _path(
        self, line: int, cells: list[str], stage: Record, closed: int | None, errors: list[RowError]
    ) -> list[tuple[int, int, int | None]] | None:
        """Return a row's stage path from its stage-date cells, in time order, ending in its stage (at its
        close date when closed, else when the last dated stage was entered unless its own date is given);
        None when it has no stage dates. Problems are appended to `errors`."""
        entries: list[tuple[int, Record]] = []
        for i, dated, parser in self.stage_dates:
            raw = cells[i].strip()
            if not raw:
                continue
            try:
                entries.append((parser.parse(raw).ts, dated))
            except clock.BadDate as exc:
                errors.append(RowError(line, parser.header, raw, str(exc)))
        if not entries or errors:
            return None
        entries.sort(key=lambda e: e[0])
        path: list[tuple[int, int, int | None]] = []
        for at, dated in entries:
            if not path or path[-1][0] != dated["id"]:
                path.append((dated["id"], at, dated["position"]))
        last = path[-1][1]
        if closed is not None:
            if closed < last:
                errors.append(RowError(line, "", "", f"closed before it entered a stage ({clock.show(last)})"))
                return None
            path.append((stage["id"], closed, None))
        elif path[-1][0] != stage["id"]:
            path.append((stage["id"], last, stage["position"]))
        return path
