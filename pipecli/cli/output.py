"""The one output layer: the only code that writes to stdout and stderr.

Data goes to stdout, messages and errors to stderr, and what is a terminal, whether colour is on, how
wide the screen is and which currency amounts are in all come from the invocation's context
(`cli.context`). On a terminal a table is a rich table (colour unless `NO_COLOR`); piped, it is plain
aligned text with no colour and no truncation. JSON is an array of objects with snake_case keys, ISO 8601
times and money as numbers in major units; CSV has a header row. Terminal control characters in values
are shown escaped (`\\x1b`) in tables and messages so a hostile name cannot drive the terminal; CSV and
JSON carry values unchanged.

Views (`cli.views`) compose these into a command's screens; commands call views, never `print`.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from pipecli.cli.context import current

if TYPE_CHECKING:
    from pipecli.formats import Column

# `pipecli.formats` (with the clock and money modules), csv and json are imported by the functions that
# use them, not here: `pipecli --version` writes through this module and stays as light as typer.


def json_value(value: Any, kind: str, currency: str) -> Any:
    """Return a value as it goes into JSON for a column of `kind`: `formats.json_value`, under the name the
    commands import from here."""
    # on use: --version and every message go through this module
    from pipecli import formats

    return formats.json_value(value, kind, currency)


def stdout_is_tty() -> bool:
    """Return True when stdout is an interactive terminal (the invocation's context decides)."""
    return current().stdout_tty


def stderr_is_tty() -> bool:
    """Return True when stderr is an interactive terminal (the invocation's context decides)."""
    return current().stderr_tty


def currency() -> str:
    """Return the currency amounts are shown in: the invocation's."""
    return current().currency


def _currency() -> str:
    """Return `currency()`; the name commands used before the context existed."""
    return currency()


def money(minor: int | None, short: bool = False) -> str:
    """Return an amount in minor units for people, in the invocation's currency: `€4,500.00` (`€4.5k` short)."""
    # on use: --version and every message go through this module
    from pipecli import formats
    from pipecli import money as amounts

    return amounts.fmt_short(minor, currency()) if short else formats.money_text(minor, currency())


def record(row: Mapping[str, Any], columns: Sequence[Column]) -> dict[str, Any]:
    """Return one row as a JSON object: each column's `name` with its value in JSON form."""
    # on use: --version and every message go through this module
    from pipecli.formats import json_value

    code = currency()
    return {c.name: json_value(row.get(c.key), c.kind, code) for c in columns}


def records(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> list[dict[str, Any]]:
    """Return rows as JSON objects (see `record`)."""
    # on use: --version and every message go through this module
    from pipecli.formats import json_value

    code = currency()
    return [{c.name: json_value(r.get(c.key), c.kind, code) for c in columns} for r in rows]


def render(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: str = "table",
    *,
    title: str | None = None,
    currency: str | None = None,
    stream: IO[str] | None = None,
    empty: str | None = None,
) -> None:
    """Write `rows` to `stream` (stdout) as a table, CSV, JSON or a Markdown table. `empty` is said on stderr when there
    are no rows and the format is a table."""
    # on use: --version and every message go through this module
    import csv
    import json

    from pipecli.formats import csv_value, json_value, table_value, truncate_cell

    ctx = current()
    out = stream or ctx.stdout
    code = currency or ctx.currency
    rows = list(rows)
    if fmt == "json":
        data = [{c.name: json_value(r.get(c.key), c.kind, code) for c in columns} for r in rows]
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        # on use: --version and every message go through this module
        from pipecli.formats import defuse

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        texts = [ctx.defuse_csv and c.kind == "text" for c in columns]  # numbers such as -5 are no formulas
        for r in rows:
            values = [csv_value(r.get(c.key), c.kind, code) for c in columns]
            writer.writerow([defuse(v) if text else v for v, text in zip(values, texts)])
        return
    if not rows and empty:
        message(empty)
        return
    cells = [[truncate_cell(table_value(r.get(c.key), c.kind, code)) for c in columns] for r in rows]
    if fmt == "markdown":
        _markdown_table(cells, columns, title, out)
    elif out is ctx.stdout and ctx.stdout_tty:
        _rich_table(cells, columns, title)
    else:
        _plain_table(cells, columns, title, out)


def _plain_table(cells: list[list[str]], columns: Sequence[Column], title: str | None, stream: IO[str]) -> None:
    # on use: --version and every message go through this module
    from pipecli.formats import _numeric, neutralise

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


def _markdown_table(cells: list[list[str]], columns: Sequence[Column], title: str | None, stream: IO[str]) -> None:
    # on use: --version and every message go through this module
    from pipecli.formats import _numeric, neutralise

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    if title:
        stream.write(neutralise(title) + "\n\n")
    stream.write(line([c.title for c in columns]) + "\n")
    stream.write("|" + "|".join("---:" if _numeric(c.kind) else "---" for c in columns) + "|\n")
    for row in cells:
        stream.write(line(row) + "\n")


def console(stderr: bool = False) -> Any:
    """Return a rich Console on stdout (or stderr): a terminal, its width and its colour as the context says."""
    # rich only when a table is drawn for a terminal
    from rich.console import Console

    ctx = current()
    tty = ctx.stderr_tty if stderr else ctx.stdout_tty
    return Console(
        file=ctx.stderr if stderr else ctx.stdout,
        force_terminal=tty,
        no_color=not ctx.colour(stderr),
        width=ctx.width if tty else None,
        highlight=False,
    )


def _rich_table(cells: list[list[str]], columns: Sequence[Column], title: str | None) -> None:
    # rich only when a table is drawn for a terminal
    from rich.table import Table
    from rich.text import Text

    from pipecli.formats import _numeric, neutralise

    table = Table(title=Text(neutralise(title)) if title else None, title_justify="left", header_style="bold cyan")
    for c in columns:
        table.add_column(c.title, justify="right" if _numeric(c.kind) else "left", overflow="fold")
    for row in cells:
        table.add_row(*(Text(v) for v in row))
    console().print(table)


def render_record(record: Mapping[str, Any], columns: Sequence[Column], fmt: str, *, title: str | None = None) -> None:
    """Write one record: as a `field: value` block in table format, else as a one-element CSV/JSON."""
    if fmt != "table":
        render([record], columns, fmt)
        return
    # on use: --version and every message go through this module
    from pipecli.formats import neutralise, table_value, truncate_cell

    code = currency()
    pairs = [(c.title, truncate_cell(table_value(record.get(c.key), c.kind, code))) for c in columns]
    width = max(len(k) for k, _ in pairs)
    lines = [neutralise(title)] if title else []
    lines += [f"{key.rjust(width)}: {value}" for key, value in pairs if value]
    write("".join(f"{line}\n" for line in lines))


def write_json(data: Any) -> None:
    """Write any JSON-ready structure to stdout (values unchanged: JSON escapes what it must)."""
    # on use: --version and every message go through this module
    import json

    from pipecli.formats import _json_default

    current().stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def write(text: str) -> None:
    """Write text for people to stdout, control characters other than line breaks escaped (`neutralise`),
    whatever the caller escaped already: a value from the data may hold its own line breaks, so callers
    composing lines escape each value too."""
    if text.replace("\n", "").isprintable():  # nothing to escape: `--version` writes without loading formats
        current().stdout.write(text)
        return
    # on use: --version and every message go through this module
    from pipecli.formats import neutralise

    current().stdout.write(neutralise(text, keep_newlines=True))


def line(text: str = "") -> None:
    """Write one line of text for people to stdout (escaped as `write` does)."""
    write(text + "\n")


def message(text: str) -> None:
    """Write a message for people to stderr, after the data written so far (control characters escaped)."""
    # on use: --version and every message go through this module
    from pipecli.formats import neutralise

    ctx = current()
    try:
        ctx.stdout.flush()  # so a message follows the data it is about, also when both streams go to one file
    except (BrokenPipeError, ValueError):  # the reader left, or stdout is closed: the message still goes out
        pass
    ctx.stderr.write(neutralise(text, keep_newlines=True) + "\n")


def error(text: str) -> None:
    """Write a command's failure to stderr: one line `pipecli: ...`, every control character escaped, line
    breaks too (a lead name holding a newline cannot forge a second line)."""
    # on use: --version and every message go through this module
    from pipecli.formats import neutralise

    message(f"pipecli: {neutralise(text)}")


def ask(question: str) -> bool:
    """Ask a yes/no question on the terminal (stderr, answered on stdin); return the answer (default no).
    The question is escaped: it names leads."""
    # on use: --version and every message go through this module
    import typer

    from pipecli.formats import neutralise

    return typer.confirm(neutralise(question), default=False, err=True)


@contextmanager
def captured() -> Iterator[io.StringIO]:
    """Send what the command writes to stdout into a string instead, while the block runs (a report that
    is mailed rather than printed: `clean --mail-to`)."""
    ctx = current()
    saved = ctx._stdout
    buffer = io.StringIO()
    ctx._stdout = buffer
    try:
        yield buffer
    finally:
        ctx._stdout = saved


def write_bytes(data: bytes) -> None:
    """Write a file's bytes to stdout unchanged (an iCalendar export): through the binary buffer when the
    stream has one, else as UTF-8 text."""
    stream = current().stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8"))


def ask_text(question: str) -> str:
    """Ask for a line of text on the terminal (stderr, answered on stdin); return it stripped (empty when
    the user just pressed Enter). The question is escaped: it names leads."""
    # on use: --version and every message go through this module
    import typer

    from pipecli.formats import neutralise

    answer: str = typer.prompt(neutralise(question), default="", show_default=False, err=True)
    return answer.strip()
