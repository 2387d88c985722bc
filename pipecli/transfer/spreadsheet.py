"""Spreadsheets (.xlsx, .xlsm, .xls, .ods) read with python-calamine, as the CSV the import reads.

A sheet (the first, or the one named) is written as UTF-8 CSV into a spooled temporary file that the
import then reads exactly as a CSV file, so mapping, rejects, upserts and all-or-nothing stay one code
path. Cells keep their types' plain text: a date cell is its ISO date (or date and time), a whole number
has no `.0`, text is as typed.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import tempfile
from typing import IO

from pipecli.errors import PipecliError

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
SPOOL_BYTES = 64 << 20  # the sheet's CSV stays in memory up to this size, then goes to a temporary file


def is_spreadsheet(path: str) -> bool:
    """Return True when `path` names a workbook by its suffix (read by `open_sheet`, not as CSV)."""
    return path.lower().endswith(SUFFIXES)


def _text(value: object) -> str:
    """Return a cell as the CSV import reads it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ") if (value.hour, value.minute, value.second) != (0, 0, 0) else str(value.date())
    if isinstance(value, (_dt.date, _dt.time, _dt.timedelta)):
        return str(value)
    return str(value)


def open_sheet(path: str, sheet: str | None) -> tuple[IO[bytes], int]:
    """Return (the sheet as UTF-8 CSV bytes, rewound; their size), or raise a one-line PipecliError for a
    workbook that cannot be read (corrupt, password-protected), a sheet it lacks, or an empty sheet."""
    # imported when a workbook is imported, so other commands never load the Rust reader
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_path(path)
    except OSError as exc:
        raise PipecliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # calamine's errors (zip, xml, encryption) have no common public base
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "password" in reason.lower() or "encrypt" in reason.lower():
            reason = "it is password-protected; save an unprotected copy first"
        raise PipecliError(f"{path} is not a readable workbook: {reason}") from None
    names = workbook.sheet_names
    if sheet is not None and sheet not in names:
        raise PipecliError(f"{path} has no sheet {sheet!r} (sheets: {', '.join(names)})")
    if not names:
        raise PipecliError(f"{path} has no sheets")
    name = sheet if sheet is not None else names[0]
    try:
        rows = workbook.get_sheet_by_name(name).iter_rows()
    except Exception as exc:  # as above: a damaged sheet
        raise PipecliError(f"{path}, sheet {name!r}: cannot be read: {exc}") from None
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    written, width = 0, 0
    for row in rows:
        cells = [_text(v) for v in row]
        if not any(cells):
            continue  # a blank row, as a blank CSV line
        if not written:
            while cells and not cells[-1]:
                cells.pop()
            width = len(cells)  # the header's: a sheet's rows all span its used range
        elif len(cells) > width and not any(cells[width:]):
            cells = cells[:width]
        writer.writerow(cells)
        written += 1
    if not written:
        raise PipecliError(f"{path}: sheet {name!r} is empty: expected a header row and rows of leads")
    text.flush()
    size = out.tell()
    text.detach()
    out.seek(0)
    return out, size
