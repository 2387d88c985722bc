"""CSV import: leads from a spreadsheet, a shell pipeline or another CRM, streamed into pipecli.

The file is read as bytes, checked to be text (an .xlsx renamed .csv or a binary is refused with what it
looks like), decoded (UTF-8 with or without BOM by default, `encoding` otherwise) and parsed by the
standard csv module with the sniffed delimiter, a batch of rows at a time. A batch of the common shape is
validated column by column (`checked_columns`), any other row by row (`parse`), which reports each problem
with its line; valid rows are written with executemany (on SQLite through the raw DBAPI cursor of the
caller's connection) inside the caller's one write transaction, so memory stays flat however long the
file is and the import lands whole or not at all.

A big import into SQLite drops the secondary indexes and builds them again at the end (`_Writer`), and
reads and checks its rows in a second process (`pipecli.transfer.helper`) while this one writes: the helper runs
`_read_ahead` over the same batches and sends each one it accepted as `prepare`d, packed columns; the
others it sends as read, and they go through `batch` here, exactly as in a one-process import.

History is written exactly as `leads.add_lead` / `leads.move_lead` would have written it: an open row is
created in its stage at its created date; a won or lost row with a close date later than its created date
is created in the pipeline's first open stage and closed at the close date (two `stage_change` rows),
otherwise it is created directly in its outcome. Columns pipecli has no field for are kept per lead in
`lead_extra` under their original header; empty cells are empty, and no placeholder (`NA`, `Select`) is
changed unless `nulls` lists it.

With a `key` the import is an upsert: a row whose key matches an existing lead updates it (a new stage is
recorded as a move in history), and a file imported twice changes nothing the second time.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice, repeat
from operator import itemgetter
from typing import BinaryIO, NamedTuple, TextIO

from sqlalchemy import bindparam, text

from pipecli import clock, money, pipelines
from pipecli.errors import PipecliError, UsageError
from pipecli.formats import undefuse
from pipecli.leads import EMAIL
from pipecli.scoring import score as scoring
from pipecli.store.files import sniff_magic
from pipecli.transfer import helper as worker

BATCH = 5000
# rows per message from the helper process: with two processes' batches in flight, smaller batches keep
# the pair's memory down (PSS summed, a million rows, benchmarks/import.py: 5,000 rows 112 MB, 1,000 rows
# 96-98 MB, 500 rows 74 MB, at the same speed)
HELPER_BATCH = 500
BULK_ROWS = 20000  # from this many expected rows (and more than the table holds) indexes are rebuilt, not updated
BULK_BYTES = 2 << 20  # a file this big is imported through db.Store.bulk_write (a rollback journal)
# Indexes an import appends to in order (new lead ids are increasing): cheaper kept than rebuilt.
APPENDED_INDEXES = {"ix_stage_change_lead", "ix_activity_lead"}
SQLITE_CACHE_KB = 8192  # page cache for the bulk writes: random index inserts need it; keeps RSS < 100 MB
# With the indexes dropped: the page cache, and the memory of each sorter thread building them again (which
# SQLite sizes like the cache); keeps RSS < 100 MB with a sorter per core.
REBUILD_CACHE_KB = 2048
HEAD_BYTES = 1 << 20  # read up front to check the file is text, sniff the delimiter and the date order
DELIMITERS = (",", ";", "\t", "|")
EXTRA_PREFIX = "extra:"  # a header `extra:KEY` is kept as the extra field KEY (see exporter.extra_header)
csv.field_size_limit(1 << 24)

# field -> header synonyms, compared after `norm_header` (lower case, letters and digits only).
SYNONYMS = {
    "name": ("name", "fullname", "contact", "contactname", "leadname", "person", "personname"),
    "company": ("company", "account", "organization", "organisation", "companyname", "accountname"),
    "email": ("email", "emailaddress", "mail"),
    "phone": ("phone", "phonenumber", "telephone", "mobile", "tel"),
    "value": ("value", "amount", "dealvalue", "closevalue", "dealamount", "dealsize"),
    "stage": ("stage", "dealstage", "status", "pipelinestage", "leadstage"),
    "pipeline": ("pipeline",),
    "owner": ("owner", "salesagent", "agent", "rep", "salesrep", "salesperson", "assignedto", "leadowner", "dealowner"),
    "source": ("source", "leadsource"),
    "created": ("created", "createdat", "createddate", "createdon", "datecreated", "creationdate", "engagedate"),
    "close_date": ("closedate", "closedat", "closeddate", "dateclosed", "closingdate"),
    "expected_close": ("expectedclose", "expectedclosedate", "expectedclosingdate"),
    "external_id": ("externalid", "leadid", "dealid", "opportunityid", "crmid"),
    "lost_reason": ("lostreason", "reasonlost", "lossreason"),
    "note": ("note", "notes", "comment", "comments", "description"),
    "ignore": ("id",),  # pipecli's own id in an export: ids are given by the database imported into
}
FIELDS = tuple(f for f in SYNONYMS if f != "ignore")
KEY_COLUMNS = {"email": "email", "external_id": "external_id", "name": "name", "company": "company", "phone": "phone"}
# Stage values that mean an outcome whatever the pipeline calls it.
OUTCOME_WORDS = {"won": "won", "closedwon": "won", "win": "won", "lost": "lost", "closedlost": "lost"}
# Lead columns an update compares, by field.
_UPDATABLE = {
    "name": "name",
    "company": "company",
    "email": "email",
    "phone": "phone",
    "value": "value_minor",
    "source": "source",
    "owner": "owner",
    "external_id": "external_id",
}
# The columns an import binds for a new lead, and the rest. "?": a text column storing "" as NULL; "#": a
# nullable number or date, which the helper process sends as text ("" for None) on SQLite.
_LEAD_COLUMNS = (
    "id",
    "pipeline_id",
    "stage_id",
    "status",
    "name",
    "?company",
    "?email",
    "?phone",
    "#value_minor",
    "?source",
    "?owner",
    "#expected_close",
    "?external_id",
    "created_at",
    "#closed_at",
    "?lost_reason",
    "stage_entered_at",
    "#last_activity_at",
    "furthest_position",
    "fit_score",
    "#win_probability",
)
_LEAD_MORE = {  # as add_lead (a note earns no engagement)
    "last_event_at": "{stage_entered_at}",
    "score": "{fit_score}",
    "engagement": "0",
    "qualification": "'incomplete'",
}
# the columns `_write` takes, in the order of a `_Lead`'s parts
_WRITE_COLUMNS = (
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
    "note",
    "extras",
)
_CHANGE_COLUMNS = ("lead_id", "from_stage_id", "to_stage_id", "at", "left_at", "reason")


def _cents(amount: str) -> int:
    """Return a plain `4500.5` / `4500.50` as minor units of a two-decimal currency."""
    whole, frac = amount.split(".")
    return int(whole) * 100 + int(frac.ljust(2, "0"))


def norm_header(header: str) -> str:
    """Return a header as it is matched to fields: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", header.lower())


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


@dataclass
class RowError:
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

    columns: list[dict]  # {"column": header, "field": field | "extra" | "ignored"}
    delimiter: str
    encoding: str
    dry_run: bool = False
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    created_stages: list[str] = field(default_factory=list)

    @property
    def extras(self) -> list[str]:
        return [c["column"] for c in self.columns if c["field"] == "extra"]


class ImportFailed(PipecliError):
    """Invalid rows in an all-or-nothing import: nothing was written; `result` has the counts."""

    def __init__(self, result: ImportResult):
        super().__init__(
            f"{result.rejected} invalid row(s); nothing was imported "
            "(fix them, or pass --skip-invalid --rejects FILE to import the rest)"
        )
        self.result = result


class _Bad(Exception):
    """One cell's problem: (column, value, reason)."""


# --- reading -------------------------------------------------------------------------------------


class _Source(io.RawIOBase):
    """The already-read head, then the rest of the stream; counts the bytes handed on (for progress)."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.offset, self.rest, self.count = memoryview(head), 0, rest, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.offset < len(self.head):
            n = min(len(buffer), len(self.head) - self.offset)
            buffer[:n] = self.head[self.offset : self.offset + n]
            self.offset += n
        else:
            data = self.rest.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        return n


def read_head(stream: BinaryIO) -> bytes:
    """Return the first `HEAD_BYTES` of a stream (all of it when shorter), which `import_csv` checks and
    sniffs; a caller that reads them first (to size up stdin) passes them on as `head`."""
    chunks, size = [], 0
    while size < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _choose_encoding(head: bytes, encoding: str | None) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and encoding is None:
        return "utf-16"
    name = encoding or "utf-8"
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"--encoding: unknown encoding {name!r} (try utf-8, cp1252, latin-1, cp850)") from None
    return "utf-8-sig" if canonical in ("utf-8", "utf-8-sig") else canonical


def _check_text(head: bytes, encoding: str, label: str, complete: bool) -> str:
    """Return the decoded head, or raise saying what the file looks like when it is not text CSV."""
    what = sniff_magic(head)
    if what:
        raise PipecliError(f"{label} is not a CSV file: it looks like {what}; save it as CSV (UTF-8) first")
    if not encoding.startswith("utf-16") and b"\x00" in head[:65536]:
        raise PipecliError(f"{label} is not a CSV file: it looks like a binary file (it contains NUL bytes)")
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise PipecliError(
            f"{label} is not valid {encoding.replace('-sig', '')} text (byte {head[exc.start]:#04x} at offset "
            f"{exc.start}); pass --encoding (cp1252 for Excel on Windows, latin-1, cp850...)"
        ) from None


def _sample(head_text: str, delimiter: str, complete: bool, limit: int) -> list[list[str]]:
    rows = []
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        pass
    if not complete and rows and len(rows) <= limit:
        rows.pop()  # the head may end inside this row
    return [r for r in rows if r]


def sniff_delimiter(head_text: str, complete: bool) -> str:
    """Return the delimiter among , ; tab | that splits the head into the most consistent columns."""
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        rows = _sample(head_text, delimiter, complete, 50)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        score = (sum(1 for r in rows if len(r) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- values --------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
# A whole column of plain amounts (4500, 4500.5, 4500.50, or empty), joined by newlines: money.parse_amount's
# fast shape, checked for a batch in one call (the bulk import's fast path).
_PLAIN_AMOUNTS = re.compile(r"(?:[0-9]{1,13}(?:\.[0-9]{1,2})?)?(?:\n(?:[0-9]{1,13}(?:\.[0-9]{1,2})?)?)*")
# A whole column of emails or empty cells, joined by newlines (leads.EMAIL on each line).
_EMAILS = re.compile(f"(?:{EMAIL.pattern})?(?:\n(?:{EMAIL.pattern})?)*")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


class _DateOrder:
    """The file's order of dd/mm/yyyy vs mm/dd/yyyy dates, shared by its date columns: the flag, else
    the first value that settles it (a part above 12), in the sample read up front or later."""

    def __init__(self, dayfirst: bool | None):
        self.dayfirst = dayfirst

    def learn(self, columns: dict[str, list[str]]) -> None:
        """Settle the order from sample values; raise when slash dates are there and none settles it."""
        if self.dayfirst is not None:
            return
        ambiguous = None
        for header, values in columns.items():
            for value in values:
                m = _DMY.fullmatch(value.strip())
                if not m:
                    continue
                a, b = int(m.group(1)), int(m.group(2))
                if a > 12 >= b or b > 12 >= a:
                    self.dayfirst = a > 12
                    return
                if a != b:
                    ambiguous = ambiguous or (header, value)
        if ambiguous:
            raise PipecliError(
                f"column {ambiguous[0]!r} has dates like {ambiguous[1]!r} that read either day-first or "
                "month-first; pass --dayfirst or --monthfirst"
            )


class _DateColumn:
    """Parses one column's dates: ISO (with or without time and offset), or day-first / month-first."""

    def __init__(self, header: str, order: _DateOrder):
        self.header, self.order, self.cache = header, order, {}

    def parse(self, raw: str) -> tuple:
        """Return (datetime, epoch seconds, date) for `raw`; the datetime is aware when the text gives an
        offset, naive (local time) otherwise, and a date alone means midnight."""
        hit = self.cache.get(raw)
        if hit is not None:
            return hit
        result = self._parse(raw.strip())
        if len(self.cache) > 50000:
            self.cache.clear()
        self.cache[raw] = result
        return result

    def _parse(self, value: str) -> tuple:
        m = _ISO.fullmatch(value)
        tz = None
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            hh, mm, ss, off = m.group(4), m.group(5), m.group(6), m.group(7)
            if off:
                if off == "Z":
                    tz = _dt.UTC
                else:
                    sign = -1 if off[0] == "-" else 1
                    digits = off[1:].replace(":", "")
                    tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        else:
            m = _DMY.fullmatch(value)
            if not m:
                raise _Bad("not a date (use 2026-11-28, 28/11/2026 or 11/28/2026)")
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            hh, mm, ss = m.group(4), m.group(5), m.group(6)
            order = self.order
            if order.dayfirst is None:
                if a > 12 >= b or b > 12 >= a:
                    order.dayfirst = a > 12
                elif a != b:
                    raise _Bad("ambiguous date (day-first or month-first?); pass --dayfirst or --monthfirst")
            d, mo = (a, b) if order.dayfirst or order.dayfirst is None else (b, a)
        try:
            moment = _dt.datetime(y, mo, d, int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=tz)
        except ValueError:
            order = {True: " (read day-first)", False: " (read month-first)"}.get(self.order.dayfirst, "")
            raise _Bad(f"not a valid date{order}") from None
        return moment, int(moment.timestamp()), moment.date()


# --- stages --------------------------------------------------------------------------------------


class _Stages:
    """Resolves a row's pipeline and stage value (through the stage map) to stage dicts, creating
    unknown stages when asked."""

    def __init__(self, conn, options: ImportOptions, created: list[str]):
        self.conn, self.options, self.created = conn, options, created
        self.default = pipelines.get_pipeline(conn, options.pipeline)
        self.pipelines: dict[str, dict] = {}
        self.cache: dict[tuple, dict] = {}
        self.by_pipeline: dict[int, dict] = {}

    def pipeline(self, name: str | None) -> dict:
        if not name:
            return self.default
        key = name.strip().lower()
        if key not in self.pipelines:
            try:
                self.pipelines[key] = pipelines.get_pipeline(self.conn, name.strip())
            except PipecliError as exc:
                raise _Bad(str(exc)) from None
        return self.pipelines[key]

    def _stages(self, pipeline_id: int) -> dict:
        if pipeline_id not in self.by_pipeline:
            rows = pipelines.stages(self.conn, pipeline_id)
            table = {s["name"].lower(): s for s in rows}
            table[""] = rows[0]  # no stage given: the first open stage
            table["\0first"] = rows[0]
            self.by_pipeline[pipeline_id] = table
        return self.by_pipeline[pipeline_id]

    def first(self, pipeline: dict) -> dict:
        return self._stages(pipeline["id"])["\0first"]

    def resolve(self, pipeline: dict, raw: str) -> dict:
        key = (pipeline["id"], raw)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        value = raw.strip()
        value = self.options.stage_map.get(value.lower(), value)
        table = self._stages(pipeline["id"])
        stage = table.get(value.lower()) or table.get(OUTCOME_WORDS.get(norm_header(value), "\0"))
        if stage is None:
            if not self.options.create_stages:
                names = ", ".join(s["name"] for k, s in table.items() if k and not k.startswith("\0"))
                raise _Bad(
                    f"unknown stage in pipeline {pipeline['name']} (stages: {names}); "
                    "map it with --stage-map or pass --create-stages"
                )
            if self.options.dry_run:
                position = 1 + max(s["position"] or 0 for s in table.values())
                stage = {"id": None, "name": value, "kind": "open", "position": position}
            else:
                stage = pipelines.add_stage(self.conn, pipeline["name"], value)
            table[value.lower()] = stage
            self.created.append(f"{pipeline['name']}/{value}")
        self.cache[key] = stage
        return stage


# --- the import ----------------------------------------------------------------------------------


class _Lead(NamedTuple):
    line: int
    cells: list[str]  # as read, for the rejects file
    fields: dict  # every field -> its stripped text ("" when empty); value as minor units or None
    pipeline: dict
    stage: dict
    created: int
    closed: int | None
    expected_close: _dt.date | None
    extras: list[tuple[str, str]]


class _Writer:
    """Bulk inserts: the raw sqlite3 cursor on SQLite (fast), SQLAlchemy executemany elsewhere.

    On SQLite, a big import into a smaller table drops the secondary indexes of the tables it fills and
    builds them again at the end (`finish`), in the same transaction: one sort per index instead of a
    random B-tree insert per row and index. It does so up front when the file's size says it is big,
    else once it has written as many rows as the table held (a stream on stdin)."""

    def __init__(self, conn, expected_rows: int | None, keep: set[str]):
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.bulk = False  # a big import into a smaller table: indexes dropped, and built again at the end
        self.indexes: list[str] = []
        if self.sqlite:
            self.cursor = conn.connection.driver_connection.cursor()
            self.cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
            self.cursor.execute("PRAGMA mmap_size = 0")  # pages read through a mapping would count in RSS
            self.next_id = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM lead")).scalar_one() + 1
            self.keep, self.held = keep, self.next_id - 1
            if expected_rows and expected_rows >= max(BULK_ROWS, self.held):
                self._go_bulk()

    def _go_bulk(self) -> None:
        self.bulk = True
        self._drop_indexes(self.keep | APPENDED_INDEXES)
        # the index builds sort on the other cores too (about a third faster on two)
        self.cursor.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1) - 1}")
        self.cursor.execute(f"PRAGMA cache_size = -{REBUILD_CACHE_KB}")

    def _drop_indexes(self, keep: set[str]) -> None:
        rows = self.cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('lead', 'stage_change', 'activity', 'lead_extra')"
        ).fetchall()
        for name, sql in rows:
            if name not in keep:
                self.cursor.execute(f'DROP INDEX "{name}"')
                self.indexes.append(sql)

    def finish(self) -> None:
        """Build again the indexes dropped for the bulk load."""
        for sql in self.indexes:
            self.cursor.execute(sql)
        self.indexes = []

    def ids(self, n: int) -> list[int]:
        """Return `n` fresh lead ids (this transaction holds the write lock on SQLite; a sequence elsewhere)."""
        if self.sqlite:
            start, self.next_id = self.next_id, self.next_id + n
            if not self.bulk and start - 1 - self.held >= max(BULK_ROWS, self.held):
                self._go_bulk()  # a stream of unknown length that has outgrown the table (stdin)
            return list(range(start, start + n))
        return list(
            self.conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('lead', 'id')) FROM generate_series(1, :n)"), {"n": n}
            ).scalars()
        )

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple], more: dict | None = None) -> None:
        """Insert `rows` (tuples in `columns` order, a column named `?name` storing "" as NULL, `#name`
        too on SQLite); `more` maps more columns to SQL: literals, or `{column}` for the value bound to
        another column."""
        if not rows:
            return
        names = [c.lstrip("?#") for c in columns]
        if self.sqlite:
            marks = {c: f"?{i}" for i, c in enumerate(names, 1)}  # numbered: a value bound once serves twice
        else:
            marks = {c: f":{c}" for c in names}
        empty = ("?", "#") if self.sqlite else ("?",)
        values = [f"NULLIF({marks[n]}, '')" if c.startswith(empty) else marks[n] for c, n in zip(columns, names)]
        values += [sql.format(**marks) for sql in (more or {}).values()]
        sql = f"INSERT INTO {table} ({', '.join(names + list(more or {}))}) VALUES ({', '.join(values)})"
        if self.sqlite:
            self.cursor.executemany(sql, rows)
        else:
            self.conn.execute(text(sql), [dict(zip(names, r)) for r in rows])


class _Importer:
    def __init__(self, conn, options: ImportOptions, header: list[str], label: str, on_error, rejects):
        self.conn, self.options, self.label = conn, options, label
        self.on_error, self.rejects = on_error, rejects
        self.now = clock.now_ts()
        self.header = header
        self.columns = self._map_columns(header)
        self.result: ImportResult | None = None
        self.index = {f: i for i, (h, f) in enumerate(self.columns) if f in FIELDS}
        self.present = tuple(self.index)
        self.blank = dict.fromkeys(FIELDS, "")
        positions = [self.index[f] for f in self.present]
        single = positions[0] if len(positions) == 1 else None
        self.getter = (
            (lambda cells: (cells[single],))
            if single is not None
            else (itemgetter(*positions) if positions else (lambda cells: ()))
        )
        self.width = len(header)
        self.currency, self.decimal_comma = options.currency, options.decimal_comma
        self.extra_columns = [
            (i, undefuse(h[len(EXTRA_PREFIX) :] if h.startswith(EXTRA_PREFIX) else h))
            for i, (h, f) in enumerate(self.columns)
            if f == "extra"
        ]
        self.date_order = _DateOrder(options.dayfirst)
        self.dates = {
            f: _DateColumn(header[self.index[f]], self.date_order)
            for f in ("created", "close_date", "expected_close")
            if f in self.index
        }
        self.date_items = list(self.dates.items())
        self.key = self._key_field(options.key)
        self.created_stages: list[str] = []
        self.stages = _Stages(conn, options, self.created_stages)
        self.stage_cache = self.stages.cache
        self.default_pipeline = self.stages.default
        self.nulls = set(options.nulls)
        self.pending: list[_Lead] = []
        self.pending_keys: set = set()
        self.failed = False
        self.writer = None
        self.scorer = scoring.batch_scorer(conn)  # new leads are scored as add_lead scores them
        self.minor_unit = 10 ** money.exponent(self.currency)
        self.has_extras = bool(self.extra_columns) or "lost_reason" in self.index
        # the column-wise path (`checked_columns`) covers new leads in the default pipeline, amounts in a
        # two-decimal currency, no placeholders
        self.fast = (
            not self.key
            and not self.nulls
            and "pipeline" not in self.index
            and options.decimal_comma is not True
            and money.exponent(self.currency) == 2
        )

    def _map_columns(self, header: list[str]) -> list[tuple[str, str]]:
        synonyms = {s: f for f, names in SYNONYMS.items() for s in names}
        explicit = {norm_header(k): v for k, v in self.options.mapping.items()}
        unknown = set(explicit) - {norm_header(h) for h in header}
        if unknown:
            missing = [k for k in self.options.mapping if norm_header(k) in unknown]
            raise UsageError(
                f"--map: no column named {', '.join(map(repr, missing))} in {self.label} (columns: {', '.join(header)})"
            )
        columns, taken = [], {}
        for h in header:
            n = norm_header(h)
            f = explicit.get(n) or ("extra" if h.startswith(EXTRA_PREFIX) else synonyms.get(n, "extra"))
            if f in FIELDS:
                if f in taken:
                    if n in explicit and taken[f][1] not in explicit:
                        columns[taken[f][0]] = (columns[taken[f][0]][0], "extra")
                    else:
                        f = "extra"
                if f != "extra":
                    taken[f] = (len(columns), n)
            columns.append((h, f))
        return columns

    def _key_field(self, key: str | None) -> str | None:
        if key is None:
            return None
        n = norm_header(key)
        f = key if key in FIELDS else next((f for h, f in self.columns if norm_header(h) == n), None)
        f = {"externalid": "external_id"}.get(n, f)
        if f not in KEY_COLUMNS:
            raise UsageError(f"--key must be one of {', '.join(KEY_COLUMNS)} (or a column mapped to one), not {key!r}")
        if f not in self.index and not (f == "name" and "external_id" in self.index):
            raise UsageError(f"--key {key}: the file has no column mapped to {f}")
        return f

    # -- rows --

    def parse(self, line: int, cells: list[str]) -> _Lead | list[RowError]:
        """Return the row as a _Lead, or its problems."""
        original = cells
        if len(cells) != self.width:
            if len(cells) < self.width or any(c.strip() for c in cells[self.width :]):
                return [RowError(line, "", "", f"has {len(cells)} fields, the header has {self.width}")]
            cells = cells[: self.width]
        if self.nulls:
            cells = ["" if c in self.nulls else c for c in cells]
        joined = "\0".join(cells)
        if joined[:1] == "'" or "\0'" in joined:
            cells = [undefuse(c) for c in cells]
        # every field, "" when empty or not in the file
        got = self.blank.copy()
        got.update(zip(self.present, map(str.strip, self.getter(cells))))
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
                errors.append(RowError(line, self.column("value"), value, str(exc)))
        email = got["email"]
        if email and not EMAIL.fullmatch(email):
            errors.append(RowError(line, self.column("email"), email, "not an email address"))
        if not got["name"]:
            got["name"] = got["external_id"] or got["company"] or got["email"]
            if not got["name"]:
                errors.append(
                    RowError(line, self.column("name"), "", "a lead needs a name (or an external id, company or email)")
                )
        created = closed = close_moment = expected = None
        for f, parser in self.date_items:
            raw = got[f]
            if not raw:
                continue
            try:
                moment = parser.parse(raw)
            except _Bad as exc:
                errors.append(RowError(line, parser.header, raw, str(exc)))
                continue
            if f == "created":
                created = moment[1]
            elif f == "close_date":
                close_moment = moment
            else:
                expected = moment[2]
        pipeline = self.default_pipeline
        if got["pipeline"]:
            try:
                pipeline = self.stages.pipeline(got["pipeline"])
            except _Bad as exc:
                errors.append(RowError(line, self.column("pipeline"), got["pipeline"], str(exc)))
                pipeline = None
        stage = None
        if pipeline is not None:
            raw_stage = got["stage"]
            stage = self.stage_cache.get((pipeline["id"], raw_stage))
            if stage is None:
                try:
                    stage = self.stages.resolve(pipeline, raw_stage)
                except _Bad as exc:
                    errors.append(RowError(line, self.column("stage"), raw_stage, str(exc)))
        if self.key and not got[self.key]:
            errors.append(RowError(line, self.column(self.key) or self.key, "", "the --key column is empty"))
        if errors:
            return errors
        if stage["kind"] != "open":
            closed = close_moment[1] if close_moment is not None else None
            if created is None:
                created = closed if closed is not None else self.now
            if closed is None:
                closed = created
            if closed < created:
                return [RowError(line, self.column("close_date"), got["close_date"], "closed before it was created")]
        else:
            if created is None:
                created = self.now
            if expected is None and close_moment is not None:
                expected = close_moment[2]
        extras = [(h, v) for i, h in self.extra_columns if (v := cells[i]) and v.strip()] if self.extra_columns else []
        if got["lost_reason"] and stage["kind"] != "lost":
            extras.append((self.column("lost_reason"), got["lost_reason"]))
            got["lost_reason"] = ""
        return _Lead(line, original, got, pipeline, stage, created, closed, expected, extras)

    def batch(self, chunk: list[list[str]], first_line: int) -> None:
        """Import a chunk of rows as read (blank ones included; the first begins on line `first_line`): by
        columns when they all allow it, else row by row."""
        rows = _non_blank(chunk)
        cols = self.checked_columns(rows) if self.fast else None
        if cols is not None:
            self.take(self.prepare(cols) if self.writer is not None else None, len(rows))
            return
        parse, reject, add = self.parse, self.reject, self.add
        for start, cells in _row_starts(chunk, first_line):
            parsed = parse(start, cells)
            if type(parsed) is list:
                reject(parsed, cells)
            else:
                add(parsed)
        self.flush()

    def checked_columns(self, rows: list[list[str]]) -> dict | None:
        """Return a batch of rows validated column by column, as `_write` columns, when every row has the
        common shape: as many cells as the header, a name, a valid email, a plain amount, dates and stages
        already seen or readable, no quoted-formula cells. Return None when any row is not: the batch
        then goes through `parse` row by row, which reports the problems exactly. Reads no database."""
        width, index = self.width, self.index
        if set(map(len, rows)) != {width} or "\0'" in "\0" + "\0".join(map("\0".join, rows)):
            return None
        n = len(rows)
        columns = list(zip(*rows))
        strip, blank = str.strip, [""] * n

        def column(f: str):
            return list(map(strip, columns[index[f]])) if f in index else blank

        names = column("name")
        if names is blank or "" in names:
            return None
        emails = column("email")
        if emails is not blank:
            joined = "\n".join(emails)  # one match for the batch (EMAIL matches no line break)
            if joined.count("\n") != n - 1 or not _EMAILS.fullmatch(joined):
                return None
        values = column("value")
        if values is blank:
            values = [None] * n
        else:
            joined = "\n".join(values)
            if joined.count("\n") != n - 1 or not _PLAIN_AMOUNTS.fullmatch(joined):
                return None
            values = [(int(v) * 100 if "." not in v else _cents(v)) if v else None for v in values]
        moments = {}
        for f, parser in self.date_items:
            raws = column(f)
            found = list(map(parser.cache.get, raws))
            if None in found:
                for i, raw in enumerate(raws):
                    if raw and found[i] is None:
                        if self.date_order.dayfirst is None and not _ISO.fullmatch(raw):
                            return None  # may settle the day order: row by row, in the file's order
                        try:
                            found[i] = parser.parse(raw)
                        except _Bad:
                            return None
            moments[f] = found
        pipeline = self.default_pipeline
        raw_stages = column("stage")
        resolved = {}
        for raw in dict.fromkeys(raw_stages):
            try:
                resolved[raw] = self.stage_cache.get((pipeline["id"], raw)) or self.stages.resolve(pipeline, raw)
            except _Bad:
                return None
        none = [None] * n
        created_at, closed_at, expected_at = (moments.get(f, none) for f in ("created", "close_date", "expected_close"))
        stages = list(map(resolved.__getitem__, raw_stages))
        kinds = [stage["kind"] for stage in stages]
        now = self.now
        created = [m[1] if m is not None else None for m in created_at]
        closed = [None if kind == "open" else (m[1] if m is not None else None) for kind, m in zip(kinds, closed_at)]
        if None in created or None in closed:  # defaults: a closed row without dates closed when created, or now
            for i, kind in enumerate(kinds):
                if kind != "open":
                    created[i] = closed[i] if created[i] is None else created[i]
                    created[i] = now if created[i] is None else created[i]
                    closed[i] = created[i] if closed[i] is None else closed[i]
                elif created[i] is None:
                    created[i] = now
        if any(c is not None and c < o for o, c in zip(created, closed)):
            return None  # closed before it was created: reported by `parse`
        # an open row's close date is its expected close
        expected = [
            (e if e is not None else (c if kind == "open" else None))
            for kind, e, c in zip(kinds, expected_at, closed_at)
        ]
        expected = [e[2] if e is not None else None for e in expected]
        extras: list = [None] * n
        if self.extra_columns:
            extra_columns = self.extra_columns
            extras = [[(h, v) for i, h in extra_columns if (v := cells[i]) and v.strip()] or None for cells in rows]
        reasons = column("lost_reason")
        if reasons is not blank and any(r and kind != "lost" for r, kind in zip(reasons, kinds)):
            reasons, lost_header = list(reasons), self.column("lost_reason")
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
            "note": column("note"),
            "extras": extras,
        }

    def column(self, f: str) -> str:
        """Return the header of the column mapped to field `f` ('' when none is)."""
        return self.header[self.index[f]] if f in self.index else ""

    def reject(self, errors: list[RowError], cells: list[str]) -> None:
        self.result.rejected += 1
        for error in errors:
            if self.on_error:
                self.on_error(error)
        if self.rejects is not None:
            row = list(cells) + ["; ".join(str(e) for e in errors)]
            # a "\n"-terminated writer leaves a bare CR unquoted, and the row would split when read back
            (self.rejects_quoted if any("\r" in c for c in row) else self.rejects).writerow(row)
        if not self.options.skip_invalid:
            self.failed = True

    def add(self, lead: _Lead) -> None:
        if self.key:
            k = lead.fields[self.key]
            if k in self.pending_keys:
                self.flush()
            self.pending_keys.add(k)
        self.pending.append(lead)
        if len(self.pending) >= BATCH:
            self.flush()

    # -- writing --

    def flush(self) -> None:
        batch, self.pending, self.pending_keys = self.pending, [], set()
        if not batch or self.failed:
            return
        existing = self._existing(batch) if self.key else {}
        inserts = []
        for lead in batch:
            found = existing.get(lead.fields[self.key]) if self.key else None
            if not found:
                inserts.append(lead)
            elif len(found) > 1:
                self.reject(
                    [
                        RowError(
                            lead.line,
                            self.options.key,
                            lead.fields[self.key],
                            f"matches {len(found)} leads; the key must be unique",
                        )
                    ],
                    lead.cells,
                )
            else:
                try:
                    changed = self._update(found[0], lead)
                except PipecliError as exc:
                    self.reject([RowError(lead.line, "", "", str(exc))], lead.cells)
                    continue
                if changed:
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1
        self.result.inserted += len(inserts)
        if inserts and self.writer is not None and not self.failed:
            self._insert(inserts)

    def _existing(self, batch: list[_Lead]) -> dict:
        column = KEY_COLUMNS[self.key]
        keys = list({lead.fields[self.key] for lead in batch})
        found: dict = {}
        query = text(f"SELECT * FROM lead WHERE {column} IN :keys").bindparams(bindparam("keys", expanding=True))
        for start in range(0, len(keys), 500):
            for row in self.conn.execute(query, {"keys": keys[start : start + 500]}).mappings():
                found.setdefault(row[column], []).append(dict(row))
        return found

    def _insert(self, batch: list[_Lead]) -> None:
        rows = [
            (
                lead.pipeline,
                lead.stage,
                lead.created,
                lead.closed,
                lead.expected_close,
                f["name"],
                f["company"],
                f["email"],
                f["phone"],
                f["value"],
                f["source"],
                f["owner"],
                f["external_id"],
                f["lost_reason"],
                f["note"],
                lead.extras,
            )
            for lead in batch
            for f in (lead.fields,)
        ]
        self._write(dict(zip(_WRITE_COLUMNS, map(list, zip(*rows)))))

    def _write(self, cols: dict[str, list]) -> None:
        """Insert new leads with their history, notes and extras, given by columns (`_WRITE_COLUMNS`, a
        value per lead): pipeline and stage dicts, created and closed as epoch seconds (closed None for
        an open lead), expected close as a date, text fields stripped ("" when empty), value in minor
        units, extras as (key, value) pairs or None."""
        self.store(self.prepare(cols))

    def take(self, prepared: dict | None, n: int) -> None:
        """Count `n` valid new leads and store them (`prepare`'s output; None on a dry run)."""
        if self.failed:
            return  # an invalid row makes the import fail: the rest is only checked
        self.result.inserted += n
        if prepared is not None:
            self.store(prepared)

    def prepare(self, cols: dict[str, list]) -> dict:
        """Return new leads (`_write` columns) as what `store` inserts, without their ids: the lead
        columns after the id (`_LEAD_COLUMNS`), the notes and the extras as (row offsets, ...) columns,
        and each pipeline's first open stage. Reads no database (the stages are cached)."""
        created, closed, notes, stages = cols["created"], cols["closed"], cols["note"], cols["stage"]
        kinds = [s["kind"] for s in stages]
        fits, probabilities = self._scores(cols, kinds)
        first_position = {}  # pipeline id -> position of its first open stage: where a lead closed later began
        firsts = {}
        for pipeline in {id(p): p for p in cols["pipeline"]}.values():
            first = self.stages.first(pipeline)
            first_position[pipeline["id"]], firsts[pipeline["id"]] = first["position"], first["id"]
        pipeline_ids = [p["id"] for p in cols["pipeline"]]
        entered = [o if c is None else c for o, c in zip(created, closed)]  # also the last event
        furthest = [
            s["position"] if c is None else (1 if c == o else first_position[p])
            for s, o, c, p in zip(stages, created, closed, pipeline_ids)
        ]
        expected = cols["expected"]
        if self.writer.sqlite:  # SQLite stores a date as its ISO text
            iso: dict = {}
            expected = [
                None if e is None else (iso[e] if e in iso else iso.setdefault(e, e.isoformat())) for e in expected
            ]
        noted = [i for i, n in enumerate(notes) if n]
        extras = [(i, k, v) for i, pairs in enumerate(cols["extras"]) if pairs for k, v in pairs]
        return {
            "n": len(created),
            "lead": [
                pipeline_ids,
                [s["id"] for s in stages],
                kinds,
                cols["name"],
                cols["company"],
                cols["email"],
                cols["phone"],
                cols["value"],
                cols["source"],
                cols["owner"],
                expected,
                cols["external_id"],
                created,
                closed,
                cols["lost_reason"],
                entered,
                [o if n else None for o, n in zip(created, notes)],
                furthest,
                fits,
                probabilities,
            ],
            "notes": [noted, [notes[i] for i in noted], [created[i] for i in noted]],
            "extras": [list(c) for c in zip(*extras)] if extras else [[], [], []],
            "firsts": firsts,
        }

    def store(self, prepared: dict) -> None:
        """Insert `prepare`'s leads under fresh ids, with their history, notes and extras."""
        ids = self.writer.ids(prepared["n"])
        self.writer.insert("lead", _LEAD_COLUMNS, list(zip(ids, *prepared["lead"])), _LEAD_MORE)
        self._write_history(ids, prepared["firsts"])
        offsets, texts, at = prepared["notes"]
        self.writer.insert(
            "activity",
            ("lead_id", "kind", "note", "at"),
            list(zip([ids[i] for i in offsets], repeat("note"), texts, at)),
        )
        offsets, keys, values = prepared["extras"]
        self.writer.insert(
            "lead_extra", ("lead_id", "key", "value"), list(zip([ids[i] for i in offsets], keys, values))
        )

    def _scores(self, cols: dict[str, list], kinds: list[str]) -> tuple[list, list]:
        """Return (fits, win probabilities) of new leads given as `_write` columns with their statuses
        (`kinds`), as add_lead scores them."""
        n = len(cols["name"])
        if self.scorer is None:
            return [0.0] * n, [None] * n
        unit = self.minor_unit
        columns = {f: cols[f] for f in ("name", "company", "email", "phone", "source", "owner", "external_id")}
        columns["value"] = [None if v is None else v / unit for v in cols["value"]]
        return self.scorer(columns, cols["extras"], kinds)

    def _write_history(self, ids: list[int], firsts: dict[int, int]) -> None:
        """Record the history of the just inserted leads `ids`, from their rows, in one set-based insert
        (as add_lead / move_lead would: an open lead, or one closed when created, is created in its stage;
        one closed later is created in its pipeline's first open stage (`firsts`) and moved to its outcome
        at closed_at), in lead order."""
        first = " ".join(f"WHEN {p} THEN {f}" for p, f in firsts.items())
        # typed NULLs: PostgreSQL gives an untyped NULL in a UNION the type text
        first = f"CAST(CASE l.pipeline_id {first} END AS INTEGER)" if first else "CAST(NULL AS INTEGER)"
        if self.writer.sqlite:
            batch, params = "l.id BETWEEN :lo AND :hi", {"lo": ids[0], "hi": ids[-1]}  # consecutive under the lock
        else:
            batch, params = "l.id = ANY(:ids)", {"ids": ids}
        later = "l.status <> 'open' AND l.closed_at <> l.created_at"
        self.conn.execute(
            text(
                f"INSERT INTO stage_change ({', '.join(_CHANGE_COLUMNS)}) "
                "SELECT id, from_stage_id, to_stage_id, at, left_at, reason FROM ("
                f" SELECT l.id, 0 AS seq, CAST(NULL AS INTEGER) AS from_stage_id, CASE WHEN {later} THEN {first} ELSE l.stage_id END AS to_stage_id,"
                f" l.created_at AS at, CASE WHEN {later} THEN l.closed_at END AS left_at,"
                f" CASE WHEN {later} THEN NULL ELSE l.lost_reason END AS reason FROM lead l WHERE {batch}"
                f" UNION ALL SELECT l.id, 1, {first}, l.stage_id, l.closed_at, NULL, l.lost_reason FROM lead l"
                f" WHERE {batch} AND {later}"
                ") changes ORDER BY id, seq"
            ),
            params,
        )

    def _update(self, current: dict, lead: _Lead) -> bool:
        """Bring an existing lead in line with its row; return True when anything changed."""
        # local by history only (no cycle, no start-up cost): may move to the top
        from pipecli import leads

        lead_id, changed = current["id"], False
        if lead.pipeline["id"] != current["pipeline_id"]:
            raise PipecliError(f"lead {lead_id} is in another pipeline; move it there first")
        if "stage" in self.index and lead.stage["id"] != current["stage_id"]:
            if not self.options.dry_run:
                at = lead.closed if lead.stage["kind"] != "open" and "close_date" in self.index else self.now
                leads.move_lead(
                    self.conn,
                    lead_id,
                    lead.stage["name"],
                    max(at, current["stage_entered_at"]),
                    lead.fields["lost_reason"] or None,
                )
            changed = True
        sets = {}
        for f, column in _UPDATABLE.items():
            if f in self.index or f == "name":
                new = lead.fields[f] if f == "value" else lead.fields[f] or None
                if new != current[column]:
                    sets[column] = new
        if "expected_close" in self.index or ("close_date" in self.index and lead.stage["kind"] == "open"):
            old = current["expected_close"]
            if (None if old is None else str(old)) != (
                None if lead.expected_close is None else str(lead.expected_close)
            ):
                sets["expected_close"] = lead.expected_close
        if sets:
            changed = True
            if not self.options.dry_run:
                assigns = ", ".join(f"{c} = :{c}" for c in sets)
                self.conn.execute(text(f"UPDATE lead SET {assigns} WHERE id = :id"), {**sets, "id": lead_id})
        if self.has_extras:
            changed = self._update_extras(lead_id, lead) or changed
        if changed and not self.options.dry_run:
            scoring.refresh(self.conn, lead_id)
        return changed

    def _update_extras(self, lead_id: int, lead: _Lead) -> bool:
        old = dict(
            self.conn.execute(text("SELECT key, value FROM lead_extra WHERE lead_id = :l"), {"l": lead_id}).all()
        )
        new = dict(lead.extras)
        managed = {h for _, h in self.extra_columns}
        if "lost_reason" in self.index:
            managed.add(self.header[self.index["lost_reason"]])
        upserts = [{"l": lead_id, "k": k, "v": v} for k, v in new.items() if old.get(k) != v]
        deletes = [{"l": lead_id, "k": k} for k in old if k in managed and k not in new]
        if not self.options.dry_run:
            if upserts:
                self.conn.execute(
                    text(
                        "INSERT INTO lead_extra (lead_id, key, value) VALUES (:l, :k, :v) "
                        "ON CONFLICT (lead_id, key) DO UPDATE SET value = excluded.value"
                    ),
                    upserts,
                )
            if deletes:
                self.conn.execute(text("DELETE FROM lead_extra WHERE lead_id = :l AND key = :k"), deletes)
        return bool(upserts or deletes)


def _read(reader, source: _Source, batch: int):
    """Yield the file as (kind, a, b, bytes read so far) messages: ("rows", chunk of `batch` rows as read,
    the line it begins on); after rows that cannot be read on, ("csv_error", what, line) or
    ("decode_error", "", line)."""
    while True:
        first_line, chunk = reader.line_num + 1, []
        try:
            chunk.extend(islice(reader, batch))  # on a reading error, keeps the rows read before it
        except csv.Error as exc:
            yield "rows", chunk, first_line, source.count  # the rows before it are checked (and reported) too
            yield "csv_error", str(exc), reader.line_num, source.count
            return
        except UnicodeDecodeError:
            yield "rows", chunk, first_line, source.count
            yield "decode_error", "", reader.line_num, source.count
            return
        if not chunk:
            return
        yield "rows", chunk, first_line, source.count


def _read_ahead(importer: _Importer, messages, send) -> None:
    """The helper process's part of a big import (see `worker`): pass `_read`'s messages on, a batch the
    column-wise check accepts as ("packed", its prepared leads, row count, bytes read) instead."""
    for kind, a, b, count in messages:
        if kind == "rows":
            rows = _non_blank(a)
            cols = importer.checked_columns(rows)
            packed = _pack(importer.prepare(cols)) if cols is not None else None
            if packed is not None:
                send(("packed", packed, len(rows), count))
                continue
        send((kind, a, b, count))


def _consume(importer: _Importer, messages, label: str, encoding: str, on_progress, until=None) -> tuple[int, bool]:
    """Import what `_read` (or `_read_ahead`) sends, stopping early when `until()` turns true; return
    (the bytes read, whether it stopped early)."""
    count = 0
    messages = iter(messages)
    while until is None or not until():
        message = next(messages, None)
        if message is None:
            return count, False
        kind, a, b, count = message
        if kind == "rows":
            importer.batch(a, b)
        elif kind == "packed":
            importer.take(_unpack(a), b)
        elif kind == "csv_error":
            raise PipecliError(f"{label}, line {b + 1}: cannot read CSV: {a}")
        else:
            raise PipecliError(
                f"{label}, near line {b + 1}: not valid {encoding.replace('-sig', '')} text; "
                "pass --encoding (cp1252 for Excel on Windows, latin-1, cp850...)"
            )
        if on_progress is not None:
            on_progress(count)
    return count, True


# Which of `prepare`'s lead columns hold only strings (the others: numbers, ISO dates, None).
_LEAD_TEXT = tuple(
    c.lstrip("?#") in ("status", "name", "company", "email", "phone", "source", "owner", "external_id", "lost_reason")
    for c in _LEAD_COLUMNS[1:]
)


def _pack(prepared: dict) -> dict | None:
    """Return `prepare`'s output as texts to send to the other process (`worker.pack_column`); None when a
    text holds NUL. Numbers go as digits, which SQLite's column affinity stores as numbers again."""

    def column(values: list, is_text: bool):
        return worker.pack_column(values, is_text) if values else None

    lead = [column(values, is_text) for values, is_text in zip(prepared["lead"], _LEAD_TEXT)]
    notes = [
        column(prepared["notes"][0], False),
        column(prepared["notes"][1], True),
        column(prepared["notes"][2], False),
    ]
    extras = [
        column(prepared["extras"][0], False),
        column(prepared["extras"][1], True),
        column(prepared["extras"][2], True),
    ]
    if None in lead or (prepared["notes"][0] and None in notes) or (prepared["extras"][0] and None in extras):
        return None
    return {"n": prepared["n"], "lead": lead, "notes": notes, "extras": extras, "firsts": prepared["firsts"]}


def _unpack(packed: dict) -> dict:
    """Return `_pack`'s output as `store` takes it."""

    def column(text: str | None) -> list:
        return [] if text is None else worker.unpack_column(text)

    notes, extras = packed["notes"], packed["extras"]
    return {
        "n": packed["n"],
        "lead": [column(text) for text in packed["lead"]],
        "notes": [list(map(int, column(notes[0]))), column(notes[1]), column(notes[2])],
        "extras": [list(map(int, column(extras[0]))), column(extras[1]), column(extras[2])],
        "firsts": packed["firsts"],
    }


def _non_blank(chunk: list[list[str]]) -> list[list[str]]:
    """Return the rows of a chunk that hold something (a blank line reads as [] or [""])."""
    return [cells for cells in chunk if len(cells) > 1 or (cells and cells[0].strip())]


def _row_starts(chunk: list[list[str]], line: int):
    """Yield (the line it begins on, cells) for each non-blank row of `chunk`, whose first row begins on
    `line`: a row spans one line plus the line breaks inside its quoted cells, as the reader counts them."""
    for cells in chunk:
        if len(cells) > 1 or (cells and cells[0].strip()):
            yield line, cells
        text = "".join(cells)
        line += 1 + text.count("\n") + text.count("\r") - text.count("\r\n")


def is_bulk(size: int | None, head: bytes | None = None) -> bool:
    """Return True when a file of `size` bytes is big enough to be imported through `Store.bulk_write`;
    for a stream of unknown size (stdin), when its `read_head` filled up."""
    if size is None:
        return head is not None and len(head) >= HEAD_BYTES
    return size >= BULK_BYTES


def _unique_headers(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h.strip() or f"column {i + 1}"
        if h.lower() in seen:
            seen[h.lower()] += 1
            h = f"{h} ({seen[h.lower()]})"
        seen.setdefault(h.lower(), 1)
        out.append(h)
    return out


def import_csv(
    conn,
    stream: BinaryIO,
    options: ImportOptions,
    *,
    label: str = "-",
    on_error: Callable[[RowError], None] | None = None,
    rejects: TextIO | None = None,
    on_progress: Callable[[int], None] | None = None,
    size: int | None = None,
    head: bytes | None = None,
) -> ImportResult:
    """Import the CSV read from the binary `stream` into the database behind `conn`; return the counts.

    Every invalid row is passed to `on_error`; without `options.skip_invalid` any invalid row makes the
    import raise ImportFailed after the whole file was checked (the caller's transaction rolls back).
    With it, invalid rows are written to `rejects` (as read, plus a reason column) and the rest imported.
    `on_progress` is called after each batch with the number of bytes read so far; `size` (the file's
    size, when known) lets a big import into a small table rebuild indexes instead of updating them.
    `head`: the stream's first bytes when the caller already read them (`read_head`)."""
    head = read_head(stream) if head is None else head
    encoding = _choose_encoding(head, options.encoding)
    complete = len(head) < HEAD_BYTES
    head_text = _check_text(head, encoding, label, complete)
    if not head_text.strip():
        raise PipecliError(f"{label} is empty: expected a header row and rows of leads")
    delimiter = options.delimiter or sniff_delimiter(head_text, complete)
    source = _Source(head, stream)
    reader = csv.reader(
        io.TextIOWrapper(io.BufferedReader(source, 1 << 16), encoding=encoding, newline=""), delimiter=delimiter
    )
    try:
        raw_header = next(reader)
    except (StopIteration, csv.Error, UnicodeDecodeError):
        raise PipecliError(f"{label} has no readable header row") from None
    header = _unique_headers(raw_header)
    importer = _Importer(conn, options, header, label, on_error, None)
    sample = _sample(head_text, delimiter, complete, 2000)[1:]
    importer.date_order.learn(
        {
            p.header: [r[importer.index[f]] for r in sample if len(r) > importer.index[f]]
            for f, p in importer.dates.items()
        }
    )
    result = ImportResult(
        columns=[{"column": h, "field": {"ignore": "ignored"}.get(f, f)} for h, f in importer.columns],
        delimiter=delimiter,
        encoding=encoding.replace("-sig", ""),
        dry_run=options.dry_run,
        created_stages=importer.created_stages,
    )
    importer.result = result
    if not options.dry_run:
        expected = None
        if size is None and complete:
            size = len(head)  # a stream that ended within the head
        if size is not None:
            expected = int(size / (len(head) / max(1, head.count(b"\n"))))
        elif is_bulk(None, head):
            expected = BULK_ROWS  # a stream that filled the head: big, as far as a small table is concerned
        # Kept during a bulk load: the index the upsert looks keys up in, and indexes whose new entries
        # all share one key (a column the file lacks) and so only append.
        keep = {{"email": "ix_lead_email", "external_id": "ix_lead_external"}.get(importer.key, "")}
        keep |= {
            ix for f, ix in (("email", "ix_lead_email"), ("external_id", "ix_lead_external")) if f not in importer.index
        }
        importer.writer = _Writer(conn, expected, keep)
    if rejects is not None:
        ending = "\r\n" if "\r\n" in head_text[:65536] else "\n"
        importer.rejects = csv.writer(rejects, delimiter=delimiter, lineterminator=ending)
        importer.rejects_quoted = csv.writer(rejects, delimiter=delimiter, lineterminator=ending, quoting=csv.QUOTE_ALL)
        importer.rejects.writerow(raw_header + ["reason"])
    writer = importer.writer

    def two_processes() -> bool:
        return writer is not None and writer.bulk and importer.fast and not options.create_stages and worker.available()

    # read here until the import proves big (at once when the file's size says so), then hand the
    # reading to a second process that checks the rows while this one writes them
    # (a stream of unknown length in the helper's smaller batches: it may turn big, and fork this process)
    batch = HELPER_BATCH if size is None else BATCH
    done, big = _consume(importer, _read(reader, source, batch), label, encoding, on_progress, until=two_processes)
    if big:
        importer.stages.first(importer.default_pipeline)  # cached before the fork: the child reads no database
        helper = worker.Worker(lambda send: _read_ahead(importer, _read(reader, source, HELPER_BATCH), send))
        try:
            done = _consume(importer, helper, label, encoding, on_progress)[0] or done
        finally:
            helper.close()
    if writer is not None and not importer.failed:
        writer.finish()
    if on_progress is not None:
        on_progress(done)
    if importer.failed:
        raise ImportFailed(result)
    return result
