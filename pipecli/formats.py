"""How values are written, whatever writes them: one `Column` description, a value's form in a table cell,
a CSV cell or JSON, CSV/JSON streaming, escaping control characters and defusing spreadsheet formulas.

Pure functions of their arguments (the currency is passed in): the core's exporter and the command
line's output layer both write through here, so a value reads the same in every output.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from pipecli import clock, money


@dataclass(frozen=True)
class Column:
    """One output column: `name` is the JSON/CSV key, `source` the record key it reads (default `name`).

    kind: text | int | float | pct | money | ts (epoch seconds) | day (epoch seconds, shown as the date in
    tables, the time in CSV and JSON) | date | duration (seconds) | bool (a mark: `yes` or nothing) | verdict
    (a yes/no answer, `yes` or `no` in tables; true/false in CSV and JSON).

    `wrap`: free text (a note) wraps onto more lines in a terminal table; other text is cut with `…`."""

    name: str
    header: str | None = None
    kind: str = "text"
    source: str | None = None
    wrap: bool = False

    @property
    def key(self) -> str:
        return self.source or self.name

    @property
    def title(self) -> str:
        return self.header or self.name.replace("_", " ")


def neutralise(text: str, keep_newlines: bool = False) -> str:
    """Return `text` safe to print on a terminal: every character that is not printable is shown as its
    escape (`\\x1b`, `\\x9b`, `\\u202e`); with `keep_newlines`, line breaks stay (for a whole report).

    The one escaping function of every human-readable output (tables, text reports, prompts, messages,
    errors): it exists so a name written by anyone (another client, another tool on the SQLite file) cannot
    drive the terminal or forge lines. Escaped: the C0 controls incl. ESC, tab and newline, DEL, the C1
    controls incl. CSI `\\x9b`, the bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) and
    every other format, separator or unassigned character `str.isprintable` refuses. Checks the whole text
    at once first, so text with nothing to escape costs one scan."""
    if text.isprintable() or (keep_newlines and text.replace("\n", "").isprintable()):
        return text
    if keep_newlines:
        return "\n".join(neutralise(line) for line in text.split("\n"))
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text)


def neutralise_lines(text: str) -> str:
    """Return multi-line `text` with control characters other than the line breaks escaped:
    `neutralise(text, keep_newlines=True)`."""
    return neutralise(text, keep_newlines=True)


MAX_CELL = 200  # characters of one table cell people read; CSV and JSON carry the whole value


def truncate_cell(cell: str, limit: int = MAX_CELL) -> str:
    """Return a table cell cut to `limit` characters, ending in `…` when cut: one 100 KB company name
    must not make a listing 30 MB (human output only)."""
    return cell if len(cell) <= limit else cell[: limit - 1] + "…"


def json_value(value: Any, kind: str, currency: str) -> Any:
    """Return a value as it goes into JSON for a column of `kind`."""
    if value is None:
        return None
    if kind == "money":
        amount = money.to_decimal(value, currency)
        return int(amount) if amount == amount.to_integral_value() else float(amount)
    if kind in ("ts", "day"):
        return clock.iso(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if kind in ("bool", "verdict"):
        return bool(value)
    return value


def csv_value(value: Any, kind: str, currency: str) -> str:
    """Return a value as it goes into a CSV cell for a column of `kind`."""
    if value is None:
        return ""
    if kind == "money":
        return str(money.to_decimal(value, currency))
    if kind in ("ts", "day"):
        stamp: str = clock.iso(value)
        return stamp
    if kind in ("bool", "verdict"):
        return "true" if value else "false"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


_locale_memo: list[Any] = [None, None, None]


def _settings() -> list[Any]:
    """Return [key, locale, date display pattern], read once per settings file and environment: a table
    asks once per cell."""
    # the settings file is read only when people's output is written: --version and --help stay light
    from pipecli import config

    key = (id(config.load()), *(os.environ.get(v) for v in ("LC_ALL", "LC_MONETARY", "LANG")))
    if _locale_memo[0] != key:
        name = config.locale()
        order = config.date_order() if name is not None else None
        pattern = {"dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y"}.get(order or "")
        _locale_memo[:] = [key, name, pattern]
    return _locale_memo


def locale() -> str | None:
    """Return the locale people's output is written in (`config.locale`)."""
    found: str | None = _settings()[1]
    return found


def date_text(day: _dt.date) -> str:
    """Return a date as people read it: in the locale's order (`28/11/2026` in it_IT, `11/28/2026` in
    en_US), ISO when no locale is set. JSON and CSV keep ISO dates."""
    pattern: str | None = _settings()[2]
    return day.isoformat() if pattern is None else day.strftime(pattern)


def time_text(ts: int) -> str:
    """Return epoch seconds as people read them in a table: `2026-11-28 14:30`, the date part in the
    locale's order (`28/11/2026 14:30`)."""
    pattern: str | None = _settings()[2]
    return clock.show(ts) if pattern is None else clock.from_ts(ts).strftime(f"{pattern} %H:%M")


def money_text(minor: int | None, currency: str) -> str:
    """Return an amount as people read it: in the locale's form (`4.500,50 €` in it_IT), see `money.fmt`.
    JSON and CSV never go through here: they stay machine-readable whatever the locale."""
    return money.fmt(minor, currency, locale=locale())


def table_value(value: Any, kind: str, currency: str) -> str:
    """Return a value as people read it in a table cell."""
    if value is None or value == "":
        return ""
    if kind == "money":
        return money_text(value, currency)
    if kind == "ts":
        return time_text(value)
    if kind == "day":
        return date_text(clock.from_ts(value).date())
    if kind == "duration":
        return clock.human_duration(value)
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "float":
        return f"{value:.2f}"
    if kind == "bool":
        return "yes" if value else ""
    if kind == "verdict":
        return "yes" if value else "no"
    if kind == "date" and isinstance(value, str | _dt.date) and not isinstance(value, _dt.datetime):
        try:
            return date_text(clock.as_date(value))  # SQLite gives ISO text, PostgreSQL a date
        except ValueError:
            return neutralise(str(value))
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return date_text(value)
    return neutralise(str(value))


def _numeric(kind: str) -> bool:
    return kind in ("int", "float", "pct", "money", "duration")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(cell: str) -> str:
    """Return a CSV cell a spreadsheet will not run as a formula: one starting with = + - @ (or tab,
    carriage return) gets a leading apostrophe, which spreadsheets hide and `pipecli import` removes."""
    return "'" + cell if cell[:1] in FORMULA_STARTS and cell else cell


def undefuse(cell: str) -> str:
    """Return a cell as it was before `defuse`."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS and len(cell) > 1 else cell


def write_stream(
    rows: Iterable[Mapping[str, Any]],
    columns: list[Column],
    fmt: str,
    stream: IO[str],
    currency: str,
    *,
    raw: bool = False,
) -> int:
    """Write records one at a time as csv, json (an array) or jsonl (an object per line); return how many.

    CSV cells that a spreadsheet would run as formulas are defused (see `defuse`) unless `raw`."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        clean: Callable[[str], str] = (lambda cell: cell) if raw else defuse
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


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
