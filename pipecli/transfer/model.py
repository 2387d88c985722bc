"""What an import is asked to do and what it reports: the vocabulary the transfer modules share.

`ImportOptions` are the `pipecli import` options, `ImportResult` the counts, `RowError` one problem of one
row (with its line), `BadCell` one cell's problem while a row is read, `ImportFailed` the all-or-nothing
refusal. Everything here is plain data: no database, no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecli.errors import PipecliError
from pipecli.transfer.columns import EXTRA_PREFIX

# A pipeline or stage as `pipelines` returns it (id, name, kind, position...).
Record = dict[str, Any]


@dataclass
class ImportOptions:
    """How to read the file and what to do with it (the `pipecli import` options)."""

    delimiter: str | None = None
    encoding: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)  # header -> field (or "extra" / "ignore")
    decimal_comma: bool | None = None
    dayfirst: bool | None = None  # True day-first, False month-first, None: decided from the column
    nulls: tuple[str, ...] = ()
    stage_map: dict[str, str] = field(default_factory=dict)  # lower-case value -> stage name
    create_stages: bool = False
    pipeline: str | None = None
    key: str | None = None
    skip_invalid: bool = False
    dry_run: bool = False
    currency: str = "EUR"
    profile: str | None = None  # `--from`: a vendor profile, "csv", or None to recognise one by the header


@dataclass
class RowError:
    """One problem of one row: where (line, and the column and value when one cell is to blame) and why."""

    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column:
            where += f", column {self.column!r}, value {self.value!r}"
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """What an import did (or, dry, would do)."""

    columns: list[dict[str, str]]  # {"column": header, "field": field | "extra" | "ignored"}
    delimiter: str
    encoding: str
    dry_run: bool = False
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    created_stages: list[str] = field(default_factory=list)
    profile: str = "csv"  # the vendor profile the file was read with

    @property
    def extras(self) -> list[str]:
        """Return the names of the extra fields the columns are kept as (a header `extra:KEY`, which a profile
        writes for a vendor's column named like a pipecli field, is the field KEY)."""
        return [c["column"].removeprefix(EXTRA_PREFIX) for c in self.columns if c["field"] == "extra"]


class ImportFailed(PipecliError):
    """Invalid rows in an all-or-nothing import: nothing was written; `result` has the counts."""

    def __init__(self, result: ImportResult):
        super().__init__(
            f"{result.rejected} invalid row(s); nothing was imported "
            "(fix them, or pass --skip-invalid --rejects FILE to import the rest)"
        )
        self.result = result


class BadCell(Exception):
    """One cell's problem while a row is read (its reason), reported as a RowError on the row's line."""
