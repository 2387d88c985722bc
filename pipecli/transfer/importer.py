"""CSV import: leads from a spreadsheet, a shell pipeline or another CRM, streamed into pipecli.

The orchestration of the `transfer` modules, and the one place that decides whether an import is big:
`source` opens the file (bytes checked to be text, decoded, delimiter sniffed) and reads it a batch of rows
at a time; `columns` maps its header to fields. A batch of the common shape is checked column by column
(`fastpath`), any other row by row (`rows`), which reports each problem with its line; stages are resolved
by `stages`. Valid new rows are written by the bulk writer (`writer`) inside the caller's one write
transaction, so memory stays flat however long the file is and the import lands whole or not at all; with
a `key` the import is an upsert (`upsert`), and a file imported twice changes nothing the second time.

A big import (`is_bulk` for the transaction; `_bulk_due` for the indexes; `_Import.two_processes` for the
helper) into SQLite drops the secondary indexes and builds them again at the end, and reads and checks its
rows in a second process (`helper`) while this one writes: the helper runs `_read_ahead` over the same
batches and sends each one it accepted as `writer.prepare`d, packed columns; the others it sends as read,
and they go through `_Import.batch` here, exactly as in a one-process import.

History and its events are written as `leads.add_lead` / `leads.move_lead` would have written them, under
the invocation's journal entry (so `undo` removes an import's leads): an open row is created in its stage
at its created date; a won or lost row is created at its created date in a stage nobody observed and
enters its outcome at its close date (`leads.UNKNOWN_PATH`: no invented passage through the first stage),
unless stage-date columns (`Date entered "Proposal"`, `proposal date`) give its path. Columns pipecli has no field for are kept per lead in
`lead_extra` under their original header; empty cells are empty, and no placeholder (`NA`, `Select`) is
changed unless `nulls` lists it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, TextIO

from sqlalchemy import Connection, text

from pipecli import clock, money, team
from pipecli.errors import PipecliError
from pipecli.scoring import score as scoring
from pipecli.store import access
from pipecli.store.faults import kill_point
from pipecli.transfer import helper, profiles
from pipecli.transfer.columns import DATE_FIELDS, FIELDS, Columns, norm_header
from pipecli.transfer.fastpath import WRITE_COLUMNS, Cols, ColumnChecker
from pipecli.transfer.model import ImportFailed, ImportOptions, ImportResult, RowError
from pipecli.transfer.rows import Lead, RowReader
from pipecli.transfer.source import (
    HEAD_BYTES,
    CsvFile,
    Message,
    non_blank,
    open_csv,
    read_chunks,
    read_head,
    row_starts,
)
from pipecli.transfer.stages import Stages, stage_date_columns
from pipecli.transfer.upsert import Upserter
from pipecli.transfer.writer import Prepared, Writer, pack, prepare, unpack

__all__ = [
    "FIELDS",
    "ImportFailed",
    "ImportOptions",
    "ImportResult",
    "RowError",
    "import_csv",
    "is_bulk",
    "read_head",
]

BATCH = 5000
# rows per message from the helper process: with two processes' batches in flight, smaller batches keep
# the pair's memory down (PSS summed, a million rows, benchmarks/import.py: 5,000 rows 112 MB, 1,000 rows
# 96-98 MB, 500 rows 74 MB, at the same speed)
HELPER_BATCH = 500
BULK_ROWS = 20000  # from this many expected rows (and more than the table holds) indexes are rebuilt, not updated
BULK_BYTES = 2 << 20  # a file this big is imported through db.Store.bulk_write (a rollback journal)


def is_bulk(size: int | None, head: bytes | None = None) -> bool:
    """Return True when a file of `size` bytes is big enough to be imported through `Store.bulk_write`;
    for a stream of unknown size (stdin), when its `read_head` filled up."""
    if size is None:
        return head is not None and len(head) >= HEAD_BYTES
    return size >= BULK_BYTES


def _bulk_due(rows: int | None, held: int) -> bool:
    """Return True when `rows` (expected, or written so far) make an import big for a table of `held`
    leads: then rebuilding its indexes once beats updating them row by row."""
    return bool(rows) and rows is not None and rows >= max(BULK_ROWS, held)


def _expected_rows(file: CsvFile, size: int | None) -> int | None:
    """Return how many rows the file holds, estimated from its size and the head's lines; BULK_ROWS for a
    stream that filled the head (big, as far as a small table is concerned); None when nothing says."""
    head = file.head
    if size is None and file.complete:
        size = len(head)  # a stream that ended within the head
    if size is not None:
        return int(size / (len(head) / max(1, head.count(b"\n"))))
    return BULK_ROWS if is_bulk(None, head) else None


class _Import:
    """One import of one file into the caller's transaction: counts in `result`, rows through `batch`
    (as read) or `take` (prepared in the helper process), then `finish`."""

    def __init__(
        self,
        conn: Connection,
        file: CsvFile,
        options: ImportOptions,
        label: str,
        on_error: Callable[[RowError], None] | None,
        rejects: TextIO | None,
        size: int | None,
    ):
        self.conn, self.options, self.on_error = conn, options, on_error
        self.now = clock.now_ts()
        self.columns = columns = Columns(file.raw_header, options.mapping, options.key, label)
        self.stages = Stages(conn, options)
        self.order = clock.day_order(options.dayfirst, for_file=True)
        dates = {f: clock.DateColumn(columns.column(f), self.order) for f in DATE_FIELDS if f in columns.index}
        self.order.learn(columns.dates(file.sample()))
        self.rows = RowReader(columns, dates, self.stages, options, self.now)
        self.checker = ColumnChecker(columns, dates, self.order, self.stages, options.currency)
        self.upserter = Upserter(conn, columns, self.now, options.dry_run) if columns.key else None
        self.scorer = scoring.batch_scorer(conn)  # new leads scored as add_lead scores them
        self.minor_unit: int = 10 ** money.exponent(options.currency)
        self.owners = team.owner_checker(conn)  # with a team on PostgreSQL each row's owner must be a member
        # the column-wise path covers new leads in the default pipeline, no placeholders, amounts that
        # are not decimal-comma
        self.fast = (
            not columns.key
            and not options.nulls
            and "pipeline" not in columns.index
            and options.decimal_comma is not True
            and self.owners is None
        )
        keep = {norm_header(k) for k, v in options.mapping.items() if v == "extra"}
        stage_dates = stage_date_columns(columns.columns, self.stages, keep)
        if stage_dates:  # a stage path per row: read row by row
            columns.take({i for i, _, _ in stage_dates}, "stage date")
            self.rows.stage_dates = [(i, stage, clock.DateColumn(h, self.order)) for i, h, stage in stage_dates]
            self.fast = False
        self.pending: list[Lead] = []
        self.pending_keys: set[str] = set()
        self.failed = False
        self.result = ImportResult(
            columns=columns.mapped(),
            delimiter=file.delimiter,
            encoding=file.encoding_name,
            dry_run=options.dry_run,
            created_stages=self.stages.created,
        )
        self.writer: Writer | None = None
        # Kept during a bulk load: the index the upsert looks keys up in, and indexes whose new entries
        # all share one key (a column the file lacks) and so only append.
        self.keep = {{"email": "ix_lead_email", "external_id": "ix_lead_external"}.get(columns.key or "", "")}
        self.keep |= {
            ix for f, ix in (("email", "ix_lead_email"), ("external_id", "ix_lead_external")) if f not in columns.index
        }
        if not options.dry_run:
            self.writer = Writer(conn)
            if _bulk_due(_expected_rows(file, size), self.writer.held):
                self.writer.go_bulk(self.keep)
        self.rejects = self.rejects_quoted = None
        if rejects is not None:
            ending = file.line_ending
            self.rejects = csv.writer(rejects, delimiter=file.delimiter, lineterminator=ending)
            # a "\n"-terminated writer leaves a bare CR unquoted, and the row would split when read back
            self.rejects_quoted = csv.writer(
                rejects, delimiter=file.delimiter, lineterminator=ending, quoting=csv.QUOTE_ALL
            )
            self.rejects.writerow(file.raw_header + ["reason"])

    def two_processes(self) -> bool:
        """Return True once the import is big enough to hand its reading to the helper process."""
        writer = self.writer
        return (
            writer is not None and writer.bulk and self.fast and not self.options.create_stages and helper.available()
        )

    # -- rows --

    def batch(self, chunk: list[list[str]], first_line: int) -> None:
        """Import a chunk of rows as read (blank ones included; the first begins on line `first_line`): by
        columns when they all allow it, else row by row."""
        rows = non_blank(chunk)
        cols = self.checker.check(rows, self.now) if self.fast else None
        if cols is not None:
            self.take(self.prepare(cols) if self.writer is not None else None, len(rows))
            return
        parse, reject, add = self.rows.parse, self.reject, self.add
        for start, cells in row_starts(chunk, first_line):
            parsed = parse(start, cells)
            if isinstance(parsed, list):  # its problems (a Lead is a tuple)
                reject(parsed, cells)
            else:
                add(parsed)
        self.flush()

    def checked(self, rows: list[list[str]]) -> Prepared | None:
        """Return non-blank rows checked and prepared column-wise, or None when they need row-wise reading;
        the helper process's part of a batch (reads no database)."""
        cols = self.checker.check(rows, self.now)
        return self.prepare(cols) if cols is not None else None

    def reject(self, errors: list[RowError], cells: list[str]) -> None:
        """Count a rejected row, report its problems, and write it to the rejects file (with a reason)."""
        self.result.rejected += 1
        for error in errors:
            if self.on_error:
                self.on_error(error)
        if self.rejects is not None and self.rejects_quoted is not None:
            row = list(cells) + ["; ".join(str(e) for e in errors)]
            (self.rejects_quoted if any("\r" in c for c in row) else self.rejects).writerow(row)
        if not self.options.skip_invalid:
            self.failed = True

    def add(self, lead: Lead) -> None:
        """Queue a valid row; a batch is written when full, or before a row repeating a queued key."""
        if self.owners is not None:
            try:
                lead.fields["owner"] = self.owners(lead.fields["owner"])
            except PipecliError as exc:
                self.reject([RowError(lead.line, "owner", lead.fields["owner"], str(exc))], lead.cells)
                return
        if self.upserter is not None:
            k = self.upserter.key_of(lead)
            if k in self.pending_keys:
                self.flush()
            self.pending_keys.add(k)
        self.pending.append(lead)
        if len(self.pending) >= BATCH:
            self.flush()

    # -- writing --

    def flush(self) -> None:
        """Write the queued rows: updates of the leads their keys match, inserts of the others."""
        batch, self.pending, self.pending_keys = self.pending, [], set()
        if not batch or self.failed:
            return
        upserter = self.upserter
        existing = upserter.existing(batch) if upserter is not None else {}
        inserts = []
        for lead in batch:
            found = existing.get(upserter.key_of(lead)) if upserter is not None else None
            if not found or upserter is None:
                inserts.append(lead)
            elif len(found) > 1:
                error = RowError(
                    lead.line,
                    self.options.key or "",
                    lead.fields[upserter.key],
                    f"matches {len(found)} leads; the key must be unique",
                )
                self.reject([error], lead.cells)
            else:
                try:
                    changed = upserter.update(found[0], lead)
                except PipecliError as exc:
                    self.reject([RowError(lead.line, "", "", str(exc))], lead.cells)
                    continue
                if changed:
                    self.result.updated += 1
                else:
                    self.result.unchanged += 1
        self.result.inserted += len(inserts)
        if inserts and self.writer is not None and not self.failed:
            self._store(self.prepare(_as_columns(inserts)))

    def take(self, prepared: Prepared | None, n: int) -> None:
        """Count `n` valid new leads and store them (`prepare`'s output; None on a dry run)."""
        if self.failed:
            return  # an invalid row makes the import fail: the rest is only checked
        self.result.inserted += n
        if prepared is not None:
            self._store(prepared)

    def prepare(self, cols: Cols) -> Prepared:
        """Return new leads (`fastpath.WRITE_COLUMNS` columns) as the writer stores them (`writer.prepare`)."""
        sqlite = self.writer is not None and self.writer.sqlite
        return prepare(cols, sqlite=sqlite, scores=self._scores)

    def _store(self, prepared: Prepared) -> None:
        writer = self.writer
        if writer is None:
            return
        if not writer.bulk and _bulk_due(writer.written, writer.held):
            writer.go_bulk(self.keep)  # a stream of unknown length that has outgrown the table (stdin)
        writer.store(prepared)
        kill_point("import:batch-stored")

    def _scores(self, cols: Cols, kinds: list[str]) -> tuple[list[Any], list[Any]]:
        """Return (fits, win probabilities) of new leads given as columns with their statuses (`kinds`),
        as add_lead scores them."""
        n = len(cols["name"])
        if self.scorer is None:
            return [0.0] * n, [None] * n
        unit = self.minor_unit
        columns = {f: cols[f] for f in ("name", "company", "email", "phone", "source", "owner", "external_id")}
        columns["value"] = [None if v is None else v / unit for v in cols["value"]]
        fits, probabilities = self.scorer(columns, cols["extras"], kinds)
        return fits, probabilities

    def finish(self) -> None:
        """Build again the indexes a bulk load dropped, unless the import failed (and rolls back)."""
        if self.writer is not None and not self.failed:
            self.writer.finish()


def _as_columns(batch: list[Lead]) -> Cols:
    """Return valid rows as `fastpath.WRITE_COLUMNS` columns, as the column-wise path gives them."""
    rows = [
        (
            lead.path,
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
            f["forecast_category"],
            f["note"],
            lead.extras,
        )
        for lead in batch
        for f in (lead.fields,)
    ]
    return dict(zip(("path", *WRITE_COLUMNS), map(list, zip(*rows))))


def _read_ahead(job: _Import, messages: Iterable[Message], send: Callable[[object], None]) -> None:
    """The helper process's part of a big import (see `helper`): pass `read_chunks`' messages on, a batch
    the column-wise check accepts as ("packed", its prepared leads, row count, bytes read) instead."""
    for kind, a, b, count in messages:
        if kind == "rows":
            rows = non_blank(a)
            prepared = job.checked(rows)
            packed = pack(prepared) if prepared is not None else None
            if packed is not None:
                send(("packed", packed, len(rows), count))
                continue
        send((kind, a, b, count))


def _consume(
    job: _Import,
    messages: Iterable[Any],
    label: str,
    encoding: str,
    on_progress: Callable[[int], None] | None,
    until: Callable[[], bool] | None = None,
) -> tuple[int, bool]:
    """Import what `read_chunks` (or `_read_ahead`) sends, stopping early when `until()` turns true;
    return (the bytes read, whether it stopped early)."""
    count = 0
    stream = iter(messages)
    while until is None or not until():
        message = next(stream, None)
        if message is None:
            return count, False
        kind, a, b, count = message
        if kind == "rows":
            job.batch(a, b)
        elif kind == "packed":
            job.take(unpack(a), b)
        elif kind == "csv_error":
            raise PipecliError(f"{label}, line {b + 1}: cannot read CSV: {a}")
        else:
            raise PipecliError(
                f"{label}, near line {b + 1}: not valid {encoding} text; "
                "pass --encoding (cp1252 for Excel on Windows, latin-1, cp850...)"
            )
        if on_progress is not None:
            on_progress(count)
    return count, True


def import_csv(
    conn: Connection,
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
    file = open_csv(stream, options.delimiter, options.encoding, label, head)
    profile = profiles.choose(options.profile, file.raw_header, label)
    if profile is not None:
        file.reshape(*profiles.plan(profile, file.raw_header))
    job = _Import(conn, file, options, label, on_error, rejects, size)
    # read here until the import proves big (at once when the file's size says so), then hand the
    # reading to a second process that checks the rows while this one writes them
    # (a stream of unknown length in the helper's smaller batches: it may turn big, and fork this process)
    if profile is not None:
        job.result.profile = profile.name
    keep = {norm_header(k) for k, v in options.mapping.items() if v == "extra"}
    keep |= {norm_header(h) for h in (profile.extras if profile is not None else ())}
    profiles.guard(job.result.columns, file.sample(), keep)
    batch = HELPER_BATCH if size is None else BATCH
    encoding = file.encoding_name
    done, big = _consume(job, read_chunks(file, batch), label, encoding, on_progress, until=job.two_processes)
    if big:
        job.stages.preload()  # cached before the fork: the child reads no database
        reader = helper.Worker(lambda send: _read_ahead(job, read_chunks(file, HELPER_BATCH), send))
        try:
            done = _consume(job, reader, label, encoding, on_progress)[0] or done
        finally:
            reader.close()
    job.finish()
    if on_progress is not None:
        on_progress(done)
    if job.failed:
        raise ImportFailed(job.result)
    return job.result


# --- the same file imported twice without --key -------------------------------------------------------
# No import table: the meta key `imported_file:<digest>` holds when the file was imported and how many leads
# it added, so a second import of the same bytes without --key is refused before it duplicates them.

_IMPORTED = "imported_file:"


def file_digest(path: str) -> str:
    """Return the BLAKE2 digest of the file's bytes (read in 1 MiB blocks): the same file, whatever its name."""
    import hashlib

    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_reimport(conn: Connection, digest: str, label: str) -> None:
    """Raise PipecliError when the file with `digest` was imported before without --key: importing it again
    would add each of its leads a second time."""
    row = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": _IMPORTED + digest}).first()
    if row is None:
        return
    at, _, count = row[0].partition(" ")
    n = int(count or 0)
    if not n:
        return
    raise PipecliError(
        f"{label} was imported on {clock.show(int(at))} ({n} lead{'s' * (n != 1)}); importing it again without "
        f"--key would duplicate {n} lead{'s' * (n != 1)}: pass --key email (or external_id) to update them, "
        "or --allow-duplicates"
    )


def remember_import(conn: Connection, digest: str, inserted: int) -> None:
    """Record in meta that the file with `digest` was imported now, adding `inserted` leads (not for a seller
    or manager on PostgreSQL, whose role only reads meta: their imports are not recorded)."""
    if not access.may_change_settings(conn):
        return
    conn.execute(text("DELETE FROM meta WHERE key = :k"), {"k": _IMPORTED + digest})
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES (:k, :v)"),
        {"k": _IMPORTED + digest, "v": f"{clock.now_ts()} {inserted}"},
    )
