"""Moving leads in and out: `import` (CSV from a file or stdin) and `export` (CSV, JSON, JSON lines)."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

import contextlib
import sys
from typing import Annotated

import typer

from pipecli import vocabulary
from pipecli.cli.common import OwnerOpt, PipelineOpt, SourceOpt, StageOpt, StatusOpt, one_of, store
from pipecli.errors import PipecliError, UsageError


def _pairs(values: list[str], what: str) -> dict[str, str]:
    """Return `A=b` options (each may hold several, comma-separated) as a dict."""
    out: dict[str, str] = {}
    for value in values:
        for part in value.split(",") if what == "--stage-map" else [value]:
            left, eq, right = part.partition("=")
            if not eq or not left.strip() or not right.strip():
                raise UsageError(f"{what} expects COLUMN=FIELD pairs like 'Deal Value=value', not {part!r}")
            out[left.strip()] = right.strip()
    return out


def _import_history(file: str, pipeline: str | None, key: str | None, encoding: str | None) -> None:
    """Import stage history from `file` (or stdin) in one transaction and say what was done."""
    # imported when the command runs, so --help and --version stay light
    import io

    from pipecli.cli.common import db_target
    from pipecli.cli.output import message
    from pipecli.store.target import is_url
    from pipecli.transfer.source import choose_encoding
    from pipecli.transfer.stage_history import import_history

    if encoding is not None:
        choose_encoding(b"", encoding)  # an unknown --encoding is a usage error, named as such
    with contextlib.ExitStack() as stack:
        try:
            if file == "-":
                # on PostgreSQL kept in a temporary file, to be read again if a concurrent write aborts it
                raw = stack.enter_context(_spooled_stdin()) if is_url(db_target()) else sys.stdin.buffer
                text = io.TextIOWrapper(raw, encoding=encoding or "utf-8-sig", newline="")
            else:
                text = stack.enter_context(open(file, encoding=encoding or "utf-8-sig", newline=""))
        except (OSError, LookupError, UnicodeError) as exc:  # UnicodeError: an --encoding name not text
            raise UsageError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
        attempts = 0

        def work(conn):  # run again from the file's start when PostgreSQL aborts it for a concurrent write
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                text.seek(0)
            return import_history(conn, text, pipeline, key)

        try:
            done = store(create=True).write(work)
        except UnicodeError:  # a byte that is not text, or UTF-16 without its byte-order mark
            raise PipecliError(f"{file} is not {encoding or 'UTF-8'} text (pass --encoding)") from None
    message(
        f"history: {done.created} deals created, {done.rebuilt} given their path, {done.stage_changes} stage changes"
    )


def import_(
    file: Annotated[
        str, typer.Argument(metavar="FILE|-", help="A CSV file, a workbook (.xlsx .xlsm .xls .ods), or - for stdin.")
    ],
    map_: Annotated[
        list[str],
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help="Map a column to a field: 'Deal Value=value' (repeatable). Fields: name company email phone value stage pipeline owner source created close_date expected_close external_id lost_reason note, or extra / ignore.",
        ),
    ] = [],
    stage_map: Annotated[
        list[str],
        typer.Option(
            "--stage-map",
            metavar="VALUE=STAGE,...",
            help="Translate stage values: 'Engaging=Contact,Closed Won=won' (repeatable, case-insensitive).",
        ),
    ] = [],
    create_stages: Annotated[
        bool,
        typer.Option("--create-stages", help="Add unknown stages to the pipeline instead of rejecting their rows."),
    ] = False,
    pipeline: PipelineOpt = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", help="Upsert on this field: email, external_id, or a column mapped to name/company/phone."
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option("--delimiter", help="Field separator (default: detected among , ; tab |). 'tab' for a tab."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding", help="Text encoding (default UTF-8, with or without BOM): cp1252, latin-1, cp850..."
        ),
    ] = None,
    decimal_comma: Annotated[
        bool | None,
        typer.Option(
            "--decimal-comma/--decimal-point",
            help="Which separator is decimal in amounts, when the shape leaves it ambiguous.",
        ),
    ] = None,
    dayfirst: Annotated[bool, typer.Option("--dayfirst", help="Read 05/06/2026 as 5 June.")] = False,
    monthfirst: Annotated[bool, typer.Option("--monthfirst", help="Read 05/06/2026 as May 6.")] = False,
    null: Annotated[
        list[str],
        typer.Option(
            "--null", metavar="VALUE", help="Treat cells equal to VALUE as empty (repeatable): --null NA --null Select."
        ),
    ] = [],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows and write the others to --rejects.")
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            metavar="FILE",
            help="Where --skip-invalid writes rejected rows, unchanged, with a reason column.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the column mapping and the counts; write nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --rejects file.")] = False,
    from_: Annotated[
        one_of(vocabulary.IMPORT_PROFILES) | None,
        typer.Option(
            "--from",
            case_sensitive=False,
            help="Read FILE as this CRM's export (default: recognised by its header, else plain CSV).",
        ),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            metavar="NAME",
            help="The sheet of a workbook (.xlsx .xlsm .xls .ods) to read (default: the first).",
        ),
    ] = None,
    allow_duplicates: Annotated[
        bool,
        typer.Option("--allow-duplicates", help="Import a file imported before without --key again (its leads twice)."),
    ] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="FILE is stage history, one row per stage a deal entered (deal, stage, at; as `export --what "
            "history` writes): deals are created along their real path, or with --key external_id given it.",
        ),
    ] = False,
) -> None:
    """Import leads from CSV: a file, or - for stdin.

    All or nothing by default: if any row is invalid, each bad row is reported on stderr (line, column,
    value, reason) and nothing is written. Examples:

      pipecli import leads.csv --dry-run

      other-crm export | pipecli import - --map "Deal Value=value" --stage-map "Engaging=Contact,Closed Won=won"

      pipecli import leads.csv --key email --skip-invalid --rejects bad.csv

      pipecli import stages.csv --history --key external_id
    """
    if history:
        _import_history(file, pipeline, key, encoding)
        return
    # imported when the command runs, so --help and --version stay light
    import os

    from pipecli import config, formats, merging
    from pipecli.cli import output
    from pipecli.cli.common import db_target
    from pipecli.store.sql import KEYED_IMPORT_LOCK
    from pipecli.store.target import is_url
    from pipecli.transfer import importer, spreadsheet, vcard

    if dayfirst and monthfirst:
        raise UsageError("pass only one of --dayfirst and --monthfirst")
    if skip_invalid and not rejects:
        raise UsageError("--skip-invalid needs --rejects FILE, so no rejected row is lost")
    if delimiter is not None:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UsageError("--delimiter must be one character (or 'tab')")
    options = importer.ImportOptions(
        delimiter=delimiter,
        encoding=encoding,
        mapping=_pairs(map_, "--map"),
        decimal_comma=decimal_comma,
        dayfirst=True if dayfirst else (False if monthfirst else None),
        nulls=tuple(null),
        stage_map={k.lower(): v for k, v in _pairs(stage_map, "--stage-map").items()},
        create_stages=create_stages,
        pipeline=pipeline,
        key=key,
        skip_invalid=skip_invalid,
        dry_run=dry_run,
        currency=config.currency(),
        profile=from_,
    )
    for column, field in options.mapping.items():
        if field not in importer.FIELDS + ("extra", "ignore"):
            raise UsageError(
                f"--map {column}={field}: unknown field; fields: {', '.join(importer.FIELDS)}, extra, ignore"
            )

    shown = [0, 0]  # the row problems reported so far, and those of the attempt running
    found: list[dict[str, object]] = []  # the likely duplicates among the leads the import added

    def report(error) -> None:
        # an attempt run again after a concurrent write (see below) meets the same rows' problems again
        shown[1] += 1
        if shown[1] > shown[0]:
            shown[0] = shown[1]
            output.message(f"pipecli: {label}: {error}")

    label = "stdin" if file == "-" else file
    # On PostgreSQL a transaction the server aborts for a concurrent write runs again from the file's start
    # (Store.write): stdin is kept in a temporary file first (bounded by the disk, not memory), so it can be
    # read again.
    again = not dry_run and is_url(db_target())
    with contextlib.ExitStack() as stack:
        head = None
        if file == "-" and again:
            stream = stack.enter_context(_spooled_stdin())
            size = os.fstat(stream.fileno()).st_size
        elif file == "-":
            stream, size = sys.stdin.buffer, None
            head = importer.read_head(stream)  # sizes up the stream: more than this is a big import
        elif vcard.is_vcard(file):
            stream, size = vcard.to_csv(file)
        elif spreadsheet.is_spreadsheet(file):
            stream, size = spreadsheet.open_sheet(file, sheet)
            stack.callback(stream.close)
        else:
            if sheet is not None:
                raise UsageError("--sheet is for a workbook (.xlsx .xlsm .xls .ods)")
            try:
                stream = stack.enter_context(open(file, "rb"))
            except OSError as exc:
                raise UsageError(f"cannot read {file}: {exc.strerror}") from None
            size = os.fstat(stream.fileno()).st_size
        reject_file = reject_out = None
        if rejects and not dry_run:
            reject_out = stack.enter_context(_rejects_output(rejects, file, force, encoding))
            reject_file = reject_out.stream
        progress = None
        if size and output.stderr_is_tty():
            # rich only when a table is drawn for a terminal
            from rich.progress import Progress

            bar = stack.enter_context(Progress(console=output.console(stderr=True), transient=True))
            task = bar.add_task(f"importing {file}", total=size)
            progress = lambda done: bar.update(task, completed=done)  # noqa: E731  (bytes read: a retry restarts it)
        target = None if dry_run else store(create=True)
        digest = None
        if key is None and file != "-" and not allow_duplicates:
            digest = importer.file_digest(file)  # a second import of the same file without --key is refused
        attempts = 0

        def work(conn):
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # the server aborted the attempt before: read the file again from its start
                stream.seek(0)
                shown[1] = 0
                if reject_file is not None:
                    reject_file.seek(0)
                    reject_file.truncate()
            if digest is not None:
                importer.refuse_reimport(conn, digest, label)
            since = None if dry_run else merging.highest_lead_id(conn)
            done = importer.import_csv(
                conn,
                stream,
                options,
                label=label,
                on_error=report,
                rejects=reject_file,
                on_progress=progress,
                size=size,
                head=head,
            )
            if digest is not None and not dry_run:
                importer.remember_import(conn, digest, done.inserted)
            # the new leads sharing an address or a phone with another lead, warned about as add-lead warns
            if since is not None and done.inserted:
                found[:] = merging.added_duplicates(conn, since)
            return done

        try:
            if target is None:
                with store().read() as conn:
                    result = work(conn)
            elif target.is_sqlite and importer.is_bulk(size, head):
                with target.bulk_write() as conn:
                    result = work(conn)
            else:
                # a keyed import's lock stays held between the attempts (Store.holding): no other keyed
                # import or add-lead runs in between
                holding = target.holding(KEYED_IMPORT_LOCK, config.lock_wait) if key else contextlib.nullcontext()
                with holding:
                    result = target.write(work)
        except importer.ImportFailed as exc:
            _summary(exc.result, label, failed=True)
            raise
        if reject_out is not None:
            reject_out.keep = result.rejected > 0  # no rejected row: no file
    if dry_run:
        output.render(result.columns, [formats.Column("column"), formats.Column("field")], "table")
    _summary(result, label)
    _duplicates(found)


SHOWN_DUPLICATES = 3  # an import names this many likely duplicates; `pipecli duplicates` lists them all


def _duplicates(found: list[dict[str, object]]) -> None:
    """Warn about the imported leads that look like another lead, as add-lead does: the first few by name,
    then how many in all and where to see them."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli.output import message

    for d in found[:SHOWN_DUPLICATES]:
        company = f", {d['company']}" if d["company"] else ""
        message(f"warning: lead {d['duplicate_id']} looks like lead {d['id']} ({d['name']}{company}): {d['why']}")
    if len(found) > SHOWN_DUPLICATES:
        message(f"warning: {len(found)} imported leads look like other leads; `pipecli duplicates` lists them all")


@contextlib.contextmanager
def _spooled_stdin():
    """Yield stdin's bytes kept in an unnamed temporary file (TMPDIR), rewound: an import that PostgreSQL
    aborts for a concurrent write reads them again from the start. Bounded by the disk, not memory."""
    # imported when stdin is imported into PostgreSQL
    import shutil
    import tempfile

    with contextlib.ExitStack() as stack:
        try:
            spool = stack.enter_context(tempfile.TemporaryFile(prefix="pipecli-stdin-"))
            shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
            spool.seek(0)
        except OSError as exc:
            raise PipecliError(
                f"cannot keep stdin in a temporary file in {tempfile.gettempdir()} (an import into PostgreSQL"
                f" reads it again if a concurrent write aborts it): {exc.strerror or exc}; set TMPDIR to a"
                " folder with room"
            ) from None
        yield spool


def _rejects_output(rejects: str, file: str, force: bool, encoding: str | None):
    """Return the `--rejects` file as a `files.PrivateOutput`: never the database or the input itself."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli.common import db_target
    from pipecli.store import files
    from pipecli.store.target import is_url
    from pipecli.transfer.source import choose_encoding

    if encoding is not None:
        choose_encoding(b"", encoding)  # an unknown --encoding is a usage error before any file is made
    target = db_target()
    protected = [] if is_url(target) else files.sqlite_files(target)
    if file != "-":
        protected.append((file, "the file being imported"))
    return files.PrivateOutput(
        rejects, what="the --rejects file", force=force, protected=protected, encoding=encoding or "utf-8"
    )


def _summary(result, label: str, failed: bool = False) -> None:
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli.output import message

    if result.profile != "csv":
        # imported when the summary is shown, like the output module above
        from pipecli.transfer.profiles import PROFILES

        message(f"read as: {PROFILES[result.profile].title} (--from {result.profile.split('-')[0]})")
    if result.extras and not failed:
        message(f"kept as extra fields: {', '.join(result.extras)}")
    if result.created_stages:
        verb = "would create" if result.dry_run else ("did not create" if failed else "created")
        message(f"{verb} stages: {', '.join(result.created_stages)}")
    counts = (
        f"{result.inserted} inserted, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.rejected} rejected"
    )
    if failed:
        message(f"{label}: 0 inserted, 0 updated, 0 unchanged, {result.rejected} rejected")
    elif result.dry_run:
        message(f"dry run, nothing written: would be {counts}")
    elif not result.inserted and not result.updated:
        message(f"{label}: nothing changed: {counts}")
    else:
        message(f"{label}: {counts}")


def export(
    fmt: Annotated[
        one_of(("csv", "json", "jsonl")), typer.Option("--format", "-f", case_sensitive=False, help="Output format.")
    ] = "csv",
    what: Annotated[
        one_of(("leads", "history", "activities")), typer.Option("--what", case_sensitive=False, help="What to export.")
    ] = "leads",
    pipeline: PipelineOpt = None,
    stage: StageOpt = None,
    owner: OwnerOpt = None,
    source: SourceOpt = None,
    status: StatusOpt = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived leads.")] = False,
    raw: Annotated[
        bool, typer.Option("--raw", help="CSV cells exactly as stored: do not defuse cells starting with = + - @.")
    ] = False,
) -> None:
    """Export leads (with extra fields), their stage history or activities to stdout.

    CSV cells that a spreadsheet would run as a formula (starting with = + - @) get a leading
    apostrophe, which spreadsheets hide and `pipecli import` removes; --raw writes them unchanged.
    Examples:

      pipecli export > leads.csv

      pipecli export --what history --status won --format jsonl | jq .

      pipecli export --raw | pipecli --db other.db import -
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import listing
    from pipecli.cli import output
    from pipecli.transfer import exporter

    filters = listing.LeadFilter(pipeline, stage, owner, source, status, include_archived=archived)
    with store().read() as conn:
        columns, rows = exporter.export(conn, what, filters)
        output.write_stream(rows, columns, fmt, raw=raw)


def register(app: typer.Typer) -> None:
    """Add `import` and `export` to `app`."""
    app.command("import")(import_)
    app.command("export")(export)
