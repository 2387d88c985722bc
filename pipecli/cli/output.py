"""The one output layer: records in, table / CSV / JSON out.

Data goes to stdout, messages to stderr. On a terminal a table is a rich table (colour unless
`NO_COLOR`); piped, it is plain aligned text with no colour and no truncation. JSON is an array of
objects with snake_case keys, ISO 8601 times and money as numbers in major units; CSV has a header row.
Terminal control characters in values are shown escaped (`\\x1b`) in tables so a hostile name cannot
drive the terminal; CSV and JSON carry values unchanged.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from pipecli.formats import (
    Column,
    _json_default,
    _numeric,
    csv_value,
    json_value,
    neutralise,
    neutralise_lines,
    table_value,
)


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
        parts = [v.rjust(w) if _numeric(c.kind) else v.ljust(w) for v, w, c in zip(values, widths, columns)]
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


def write_json(data: Any) -> None:
    """Write any JSON-ready structure to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def message(text: str) -> None:
    """Write a message for people to stderr."""
    sys.stderr.write(neutralise_lines(text) + "\n")


def _currency() -> str:
    from pipecli import config

    return config.currency()
