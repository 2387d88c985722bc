"""The one output layer: records in, table / CSV / JSON out.

Data goes to stdout, messages to stderr. On a terminal a table is a rich table (colour unless
`NO_COLOR`); piped, it is plain aligned text with no colour and no truncation. JSON is an array of
objects with snake_case keys, ISO 8601 times and money as numbers in major units; CSV has a header row.
Terminal control characters in values are shown escaped (`\\x1b`) in tables so a hostile name cannot
drive the terminal; CSV and JSON carry values unchanged.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from pipecli import clock, money

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class Column:
    """One output column: `name` is the JSON/CSV key, `source` the record key it reads (default `name`).

    kind: text | int | float | pct | money | ts (epoch seconds) | date | duration (seconds) | bool."""

    name: str
    header: str | None = None
    kind: str = "text"
    source: str | None = None

    @property
    def key(self) -> str:
        return self.source or self.name

    @property
    def title(self) -> str:
        return self.header or self.name.replace("_", " ")


def stdout_is_tty() -> bool:
    """Return True when stdout is an interactive terminal."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_is_tty() -> bool:
    """Return True when stderr is an interactive terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def colour_allowed() -> bool:
    """Return True when colour may be used on stdout (a terminal, and NO_COLOR not set)."""
    return stdout_is_tty() and not os.environ.get("NO_COLOR")


def neutralise(text: str) -> str:
    """Return `text` with terminal control characters escaped (`\\x1b`), safe to print in a table."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text)


def neutralise_lines(text: str) -> str:
    """Return multi-line `text` with control characters other than the line breaks escaped, checking
    the whole text at once (fast for long reports where nothing needs escaping)."""
    if text.replace("\n", "").isprintable():
        return text
    return "\n".join(neutralise(line) for line in text.split("\n"))


def json_value(value: Any, kind: str, currency: str) -> Any:
    """Return a value as it goes into JSON for a column of `kind`."""
    if value is None:
        return None
    if kind == "money":
        amount = money.to_decimal(value, currency)
        return int(amount) if amount == amount.to_integral_value() else float(amount)
    if kind == "ts":
        return clock.iso(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


def csv_value(value: Any, kind: str, currency: str) -> str:
    """Return a value as it goes into a CSV cell for a column of `kind`."""
    if value is None:
        return ""
    if kind == "money":
        return str(money.to_decimal(value, currency))
    if kind == "ts":
        return clock.iso(value)
    if kind == "bool":
        return "true" if value else "false"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table_value(value: Any, kind: str, currency: str) -> str:
    """Return a value as people read it in a table cell."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return money.fmt(value, currency)
    if kind == "ts":
        return clock.show(value)
    if kind == "duration":
        return clock.human_duration(value)
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "float":
        return f"{value:.2f}"
    if kind == "bool":
        return "yes" if value else ""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return neutralise(str(value))


def _numeric(kind: str) -> bool:
    return kind in ("int", "float", "pct", "money", "duration")


def render(
    rows: Iterable[dict],
    columns: list[Column],
    fmt: str = "table",
    *,
    title: str | None = None,
    currency: str | None = None,
    stream=None,
    empty: str | None = None,
) -> None:
    """Write `rows` to `stream` (stdout) as a table, CSV, JSON or a Markdown table. `empty` is said on stderr when there
    are no rows and the format is a table."""
    stream = stream or sys.stdout
    currency = currency or _currency()
    rows = list(rows)
    if fmt == "json":
        data = [{c.name: json_value(r.get(c.key), c.kind, currency) for c in columns} for r in rows]
        stream.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        for r in rows:
            writer.writerow([csv_value(r.get(c.key), c.kind, currency) for c in columns])
        return
    if not rows and empty:
        message(empty)
        return
    cells = [[table_value(r.get(c.key), c.kind, currency) for c in columns] for r in rows]
    if fmt == "markdown":
        _markdown_table(cells, columns, title, stream)
        return
    if stream is sys.stdout and stdout_is_tty():
        _rich_table(cells, columns, title)
    else:
        _plain_table(cells, columns, title, stream)


def _plain_table(cells: list[list[str]], columns: list[Column], title: str | None, stream) -> None:
    headers = [c.title for c in columns]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if title:
        stream.write(neutralise(title) + "\n")

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if _numeric(c.kind) else v.ljust(w) for v, w, c in zip(values, widths, columns)
        ]
        return "  ".join(parts).rstrip()

    stream.write(line(headers) + "\n")
    for row in cells:
        stream.write(line(row) + "\n")


def _markdown_table(cells: list[list[str]], columns: list[Column], title: str | None, stream) -> None:
    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    if title:
        stream.write(neutralise(title) + "\n\n")
    stream.write(line([c.title for c in columns]) + "\n")
    stream.write("|" + "|".join("---:" if _numeric(c.kind) else "---" for c in columns) + "|\n")
    for row in cells:
        stream.write(line(row) + "\n")


def console(stderr: bool = False):
    """Return a rich Console for stdout (or stderr), coloured only when allowed."""
    from rich.console import Console

    tty = stderr_is_tty() if stderr else stdout_is_tty()
    return Console(stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")) or not tty, highlight=False)


def _rich_table(cells: list[list[str]], columns: list[Column], title: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(neutralise(title)) if title else None, title_justify="left", header_style="bold cyan")
    for c in columns:
        table.add_column(c.title, justify="right" if _numeric(c.kind) else "left", overflow="fold")
    for row in cells:
        table.add_row(*(Text(v) for v in row))
    console().print(table)


def render_record(record: dict, columns: list[Column], fmt: str, *, title: str | None = None) -> None:
    """Write one record: as a `field: value` block in table format, else as a one-element CSV/JSON."""
    if fmt != "table":
        render([record], columns, fmt)
        return
    currency = _currency()
    pairs = [(c.title, table_value(record.get(c.key), c.kind, currency)) for c in columns]
    width = max(len(k) for k, _ in pairs)
    out = sys.stdout
    if title:
        out.write(neutralise(title) + "\n")
    for key, value in pairs:
        if value:
            out.write(f"{key.rjust(width)}: {value}\n")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: str) -> str:
    """Return a CSV cell a spreadsheet will not run as a formula: one starting with = + - @ (or tab,
    carriage return) gets a leading apostrophe, which spreadsheets hide and `pipecli import` removes."""
    return "'" + cell if cell[:1] in FORMULA_STARTS and cell else cell


def undefuse(cell: str) -> str:
    """Return a cell as it was before `defuse`."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS and len(cell) > 1 else cell


def write_stream(rows: Iterable[dict], columns: list[Column], fmt: str, *, raw: bool = False, stream=None) -> int:
    """Write records one at a time as csv, json (an array) or jsonl (an object per line); return how many.

    CSV cells that a spreadsheet would run as formulas are defused (see `defuse`) unless `raw`."""
    stream = stream or sys.stdout
    currency = _currency()
    count = 0
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        clean = (lambda cell: cell) if raw else defuse
        writer.writerow([clean(c.name) for c in columns])
        for r in rows:
            writer.writerow([clean(csv_value(r.get(c.key), c.kind, currency)) for c in columns])
            count += 1
        return count
    lines = fmt == "jsonl"
    stream.write("" if lines else "[")
    for r in rows:
        item = json.dumps({c.name: json_value(r.get(c.key), c.kind, currency) for c in columns}, ensure_ascii=False)
        stream.write(f"{item}\n" if lines else f"{',' if count else ''}\n  {item}")
        count += 1
    stream.write("" if lines else ("\n]\n" if count else "]\n"))
    return count


def write_json(data: Any) -> None:
    """Write any JSON-ready structure to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def message(text: str) -> None:
    """Write a message for people to stderr."""
    sys.stderr.write(neutralise_lines(text) + "\n")


def _currency() -> str:
    from pipecli import config

    return config.currency()
