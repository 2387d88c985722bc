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
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


def drawn() -> bool:
    """Return True when stdout is drawn for people with rich (tables, bars): on a terminal, or where
    FORCE_COLOR / CLICOLOR_FORCE asks for colour (`Context.colour_forced`)."""
    ctx = current()
    return ctx.stdout_tty or ctx.colour_forced


def stderr_is_tty() -> bool:
    """Return True when stderr is an interactive terminal (the invocation's context decides)."""
    return current().stderr_tty


def screen_width() -> int | None:
    """Return the terminal's width in columns when stdout is one (a screen to lay out for), else None."""
    ctx = current()
    return ctx.width if ctx.stdout_tty else None


def fit_cell(text: str, width: int) -> str:
    """Return `text` exactly `width` terminal columns wide: padded with spaces, or cut with `…` (a CJK
    character or an emoji counts as the two columns the terminal gives it)."""
    # rich's cell widths: only screens laid out for a terminal ask
    from rich.cells import cell_len, set_cell_size

    if cell_len(text) <= width:
        return text + " " * (width - cell_len(text))
    return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""


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

    from pipecli.formats import json_value, table_value, truncate_cell

    ctx = current()
    out = stream or ctx.stdout
    code = currency or ctx.currency
    rows = list(rows)
    if fmt == "json":
        data = [{c.name: json_value(r.get(c.key), c.kind, code) for c in columns} for r in rows]
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.name for c in columns])
        cell = csv_cells(code)
        for r in rows:
            writer.writerow([cell(r.get(c.key), c.kind) for c in columns])
        return
    if not rows and empty:
        message(empty)
        return
    cells = [[truncate_cell(table_value(r.get(c.key), c.kind, code)) for c in columns] for r in rows]
    if fmt == "markdown":
        _markdown_table(cells, columns, title, out)
    elif out is ctx.stdout and drawn():
        _rich_table(cells, columns, title)
    else:
        _plain_table(cells, columns, title, out)


def csv_cells(currency: str | None = None) -> Callable[[Any, str], str]:
    """Return how this command writes a value of a column kind as a CSV cell: `formats.csv_value`, and a
    text cell defused (`formats.defuse`: a stage or owner named =HYPERLINK(...) stays text) when the
    command has a `--raw` option and it was not given. Only text: numbers such as -5 are no formulas.
    The one rule of every CSV the command line writes (tables and the reports' long CSV alike)."""
    # on use: --version and every message go through this module
    from pipecli.formats import csv_value, defuse

    ctx = current()
    code = currency or ctx.currency
    if not ctx.defuse_csv:
        return lambda value, kind: csv_value(value, kind, code)

    def cell(value: Any, kind: str) -> str:
        text = csv_value(value, kind, code)
        return defuse(text) if kind == "text" else text

    return cell


def write_csv(rows: Iterable[Sequence[str]]) -> None:
    """Write rows of CSV cells, already in their CSV form (the header row first), to stdout."""
    # on use: --version and every message go through this module
    import csv

    csv.writer(current().stdout, lineterminator="\n").writerows(rows)


def _plain_table(cells: list[list[str]], columns: Sequence[Column], title: str | None, stream: IO[str]) -> None:
    # on use: --version and every message go through this module
    from rich.cells import cell_len

    from pipecli.formats import _numeric, neutralise

    headers = [c.title for c in columns]
    widths = [max([cell_len(h)] + [cell_len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    if title:
        stream.write(neutralise(title) + "\n")

    def pad(value: str, width: int, right: bool) -> str:
        room = " " * (width - cell_len(value))  # a CJK character or an emoji takes two columns
        return room + value if right else value + room

    def line(values: list[str]) -> str:
        return "  ".join(pad(v, w, _numeric(c.kind)) for v, w, c in zip(values, widths, columns)).rstrip()

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
    tty = ctx.stderr_tty if stderr else ctx.stdout_tty or ctx.colour_forced
    return Console(
        file=ctx.stderr if stderr else ctx.stdout,
        force_terminal=tty,
        no_color=not ctx.colour(stderr),
        width=ctx.width if tty else None,
        color_system="auto" if not ctx.colour_forced else "standard",
        highlight=False,
    )


GAP = 2  # the columns between two table columns (one space of padding, one of separator)
TEXT_FLOOR = 8  # a text column is cut (`Anna Ros…`) no narrower than this or its header's longest word


def _fixed(column: Column) -> bool:
    """True when a column's cells are never cut nor wrapped: numbers, money, dates and times, yes/no."""
    # on use: --version and every message go through this module
    from pipecli.formats import _numeric

    return _numeric(column.kind) or column.kind in ("ts", "date", "day", "bool", "verdict")


def table_layout(cells: list[list[str]], columns: Sequence[Column], width: int) -> list[tuple[list[int], list[int]]]:
    """Return how a table fits `width` terminal columns: blocks of (column indexes, widths), one block when
    everything fits. Exists so numbers, money and dates keep their whole cell at any width: text columns
    give up room first (cut with `…`, or wrapped when the column wraps), down to `TEXT_FLOOR`; when even
    that does not fit, the columns are split into blocks shown one under the other, each repeating the
    row's key (the first column, and the second when the first is a number such as an id). Widths are
    measured as the terminal shows them (`rich.cells.cell_len`: a CJK character or an emoji takes two)."""
    # rich only when a table is drawn for a terminal
    from rich.cells import cell_len

    from pipecli.formats import _numeric

    fixed = [_fixed(c) for c in columns]
    want: list[int] = []
    least: list[int] = []
    for i, c in enumerate(columns):
        body = max((cell_len(row[i]) for row in cells), default=0)
        word = max((cell_len(w) for w in c.title.split()), default=0)  # a header wraps between its words
        want.append(max(body, cell_len(c.title)))
        least.append(max(body, word) if fixed[i] else min(want[i], max(TEXT_FLOOR, word)))

    def need(idx: list[int]) -> int:
        return sum(least[i] for i in idx) + GAP * (len(idx) - 1)

    def widths(idx: list[int]) -> list[int]:
        room = width - GAP * (len(idx) - 1)
        if sum(want[i] for i in idx) <= room:
            return [want[i] for i in idx]
        spare = max(0, room - sum(least[i] for i in idx))
        short = {i: want[i] - least[i] for i in idx if not fixed[i]}
        total = sum(short.values()) or 1
        given = {i: spare * s // total for i, s in short.items()}
        for i in sorted(short, key=lambda i: short[i] - given[i], reverse=True)[: spare - sum(given.values())]:
            given[i] += 1  # the room left by rounding down, to the columns that lost most
        return [least[i] + min(given.get(i, 0), want[i] - least[i]) for i in idx]

    every = list(range(len(columns)))
    if need(every) <= width or len(columns) < 3:
        return [(every, widths(every))]
    keys = [0, 1] if _numeric(columns[0].kind) and not fixed[1] else [0]
    blocks: list[list[int]] = []
    block = list(keys)
    for i in every[len(keys) :]:
        if len(block) > len(keys) and need([*block, i]) > width:
            blocks.append(block)
            block = list(keys)
        block.append(i)
    blocks.append(block)
    return [(idx, widths(idx)) for idx in blocks]


def _rich_table(cells: list[list[str]], columns: Sequence[Column], title: str | None) -> None:
    # rich only when a table is drawn for a terminal
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from pipecli.formats import _numeric, neutralise

    out = console()
    if title:
        out.print(Text(neutralise(title)))
    for n, (idx, widths) in enumerate(table_layout(cells, columns, out.width)):
        if n:
            out.print()
        table = Table(
            box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold cyan"
        )
        for i, w in zip(idx, widths):
            c = columns[i]
            wraps = c.wrap and not _fixed(c)
            table.add_column(
                Text(c.title, no_wrap=False, overflow="fold"),  # a header wraps between its words
                justify="right" if _numeric(c.kind) else "left",
                width=w,
                no_wrap=not wraps,
                overflow="fold" if wraps else "ellipsis",
            )
        for row in cells:
            table.add_row(*(Text(row[i]) for i in idx))
        out.print(table)


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


def write_stream(rows: Iterable[Mapping[str, Any]], columns: list[Column], fmt: str, *, raw: bool = False) -> int:
    """Write records one at a time to stdout as csv, json or jsonl in the invocation's currency (an
    export: `formats.write_stream`, every CSV cell a spreadsheet would run defused unless `raw`); return
    how many."""
    # on use: --version and every message go through this module
    from pipecli import formats

    return formats.write_stream(rows, columns, fmt, current().stdout, currency(), raw=raw)


def write_json(data: Any) -> None:
    """Write any JSON-ready structure to stdout (values unchanged: JSON escapes what it must)."""
    # on use: --version and every message go through this module
    import json

    from pipecli.formats import _json_default

    current().stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


def write(text: str) -> None:
    """Write text for people to stdout, control characters other than line breaks escaped (`neutralise`),
    whatever the caller escaped already: a value from the data may hold its own line breaks, so callers
    composing lines escape each value too. On a terminal a line wider than the screen is wrapped between
    words (`fit_lines`), so an amount is never split by the terminal's own wrapping."""
    ctx = current()
    if not text.replace("\n", "").isprintable():  # something to escape (`--version` loads no formats)
        # on use: --version and every message go through this module
        from pipecli.formats import neutralise

        text = neutralise(text, keep_newlines=True)
    if ctx.stdout_tty:
        text = fit_lines(text, ctx.width)
    ctx.stdout.write(text)


def fit_lines(text: str, width: int) -> str:
    """Return `text` with each line wider than `width` terminal columns wrapped between words, the
    continuation indented as the line was; a word wider than the screen is the only thing cut."""
    if all(2 * len(line) <= width for line in text.split("\n")):  # no line can be too wide: nothing to measure
        return text
    # rich's cell widths only when a line may be too wide (a CJK character or an emoji takes two columns)
    from rich.cells import cell_len, chop_cells

    out: list[str] = []
    for line in text.split("\n"):
        if cell_len(line) <= width:
            out.append(line)
            continue
        indent = " " * min(len(line) - len(line.lstrip(" ")), width // 2)
        current = ""
        for word in line.split(" "):
            candidate = f"{current} {word}" if current.strip() else f"{current}{word}"
            if cell_len(candidate) <= width or not current.strip():
                current = candidate
            else:
                out.append(current.rstrip())
                current = indent + word
            while cell_len(current) > width:  # one word wider than the screen: cut it where the screen ends
                head, *_ = chop_cells(current, width)
                out.append(head)
                current = indent + current[len(head) :]
        out.append(current.rstrip())
    return "\n".join(out)


def line(text: str = "") -> None:
    """Write one line of text for people to stdout (escaped as `write` does)."""
    write(text + "\n")


def message(text: str) -> None:
    """Write a message for people to stderr, after the data written so far (control characters escaped)."""
    # on use: --version and every message go through this module
    from pipecli.formats import neutralise

    ctx = current()
    if isinstance(ctx.spool, _Spool):  # held with the data, in order, while the pager may still take it
        ctx.spool.chunks.append((False, neutralise(text, keep_newlines=True) + "\n"))
        return
    try:
        ctx.stdout.flush()  # so a message follows the data it is about, also when both streams go to one file
    except (BrokenPipeError, ValueError):  # the reader left, or stdout is closed: the message still goes out
        pass
    ctx.stderr.write(neutralise(text, keep_newlines=True) + "\n")


def finish(text: str | None = None) -> bool:
    """Write `text` (a `sys.exit("...")` message, as Python reports it) to stderr and flush both streams,
    for a process about to end without the interpreter's teardown (`os._exit`, a TAB); return False when
    the reader went away (nothing can be reported then)."""
    try:
        if text is not None:
            print(text, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return False
    return True


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

    end_paging()
    return typer.confirm(neutralise(question), default=False, err=True)


@contextmanager
def captured() -> Iterator[io.StringIO]:
    """Send what the command writes to stdout into a string instead, while the block runs (a report that
    is mailed rather than printed: `clean --mail-to`)."""
    ctx = current()
    saved = ctx._stdout, ctx._ttys["stdout"]
    buffer = io.StringIO()
    ctx._stdout, ctx._ttys["stdout"] = buffer, False  # a mail is no terminal, whatever stdout is
    try:
        yield buffer
    finally:
        ctx._stdout, ctx._ttys["stdout"] = saved


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

    end_paging()
    answer: str = typer.prompt(neutralise(question), default="", show_default=False, err=True)
    return answer.strip()


# --- the pager -------------------------------------------------------------------------------------------


class _Spool(io.StringIO):
    """What a command writes while it may still go through the pager: stdout text and messages, in order
    (`chunks` of (is stdout, text)). While it holds stdout the context says stdout is a terminal, so the
    output is drawn for the screen."""

    def __init__(self, restore: tuple[IO[str] | None, bool | None]) -> None:
        super().__init__()
        self.chunks: list[tuple[bool, str]] = []
        self.restore = restore  # the context's stdout and its told TTY-ness, put back when paging ends

    def write(self, text: str) -> int:
        self.chunks.append((True, text))
        return len(text)


def start_paging() -> None:
    """Hold the command's output for the pager, when the context pages (`Context.pager_command`): output
    taller than the terminal then goes through it when the command ends (`end_paging`)."""
    ctx = current()
    if ctx.spool is not None or ctx.pager_command() is None:
        return
    spool = _Spool(restore=(ctx._stdout, ctx._ttys["stdout"]))
    ctx._stdout, ctx._ttys["stdout"] = spool, True
    ctx.spool = spool


def end_paging() -> None:
    """Let out what the command wrote so far and stop holding it: through the pager when it is taller than
    the terminal, else as it was written (stdout and messages in their order); messages held while the
    pager ran follow it, so they stay on the screen. Called when the command ends, before a question is
    asked, and by commands that take the whole terminal (`ui`)."""
    ctx = current()
    spool = ctx.spool
    if not isinstance(spool, _Spool):
        return
    ctx.spool = None
    ctx._stdout, ctx._ttys["stdout"] = spool.restore
    data = "".join(text for out, text in spool.chunks if out)
    command = ctx.pager_command()
    if command is not None and data.count("\n") >= ctx.height and _run_pager(command, data):
        for out, text in spool.chunks:
            if not out:
                ctx.stderr.write(text)
        return
    for out, text in spool.chunks:
        (ctx.stdout if out else ctx.stderr).write(text)
        if not out:
            ctx.stderr.flush()
    ctx.stdout.flush()


def _run_pager(command: str, data: str) -> bool:
    """Show `data` through the shell command `command`; return False when the pager could not start
    (then the caller writes it directly). Ctrl-C belongs to the pager while it runs."""
    import signal
    import subprocess

    ctx = current()
    ctx.stdout.flush()
    env = {**os.environ}
    env.setdefault("LESS", "FRX")  # a bare `less` in $PAGER still quits on one screen and keeps colours
    env.setdefault("LV", "-c")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        done = subprocess.run(command, shell=True, input=data.encode("utf-8", "replace"), env=env, check=False)
    except OSError:
        return False
    finally:
        signal.signal(signal.SIGINT, previous)
    return done.returncode != 127  # 127: the shell found no such command
