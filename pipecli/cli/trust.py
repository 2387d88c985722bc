"""Keeping the data safe: `backup`, `restore`, `forget`."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, YesOpt, confirm, db_target, store


def backup(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Where to write the copy.")],
    yes: YesOpt = False,
) -> None:
    """Write a consistent copy of the database to FILE (readable by you only), even while others write.

    \b
    Example:
      pipecli backup ~/backups/pipeline-$(date +%F).db
    """
    # imported when the command runs, so --help and --version stay light
    from pathlib import Path

    from pipecli.cli.output import message
    from pipecli.store import backup as core

    if Path(file).expanduser().exists():
        confirm(f"Replace the existing file {file}?", yes)
    made = core.backup(store(), file, overwrite=True)
    message(f"backed up {made['leads']} leads to {made['path']} ({made['bytes']} bytes)")


def restore(
    file: Annotated[str, typer.Argument(metavar="FILE", help="A backup made by `pipecli backup`.")],
    yes: YesOpt = False,
) -> None:
    """Replace the database with a backup (asks first; --yes when not on a terminal)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli.output import message
    from pipecli.errors import PipecliError
    from pipecli.store import backup as core
    from pipecli.store.target import is_url

    target = db_target()
    if is_url(target):
        raise PipecliError("restore works on SQLite files; for PostgreSQL use pg_restore")
    info = core.inspect_backup(file)
    confirm(f"Replace {target} with the backup {info['path']} ({info['leads']} leads)?", yes)
    done = core.restore(target, file)
    message(f"restored {done['leads']} leads from {done['path']} into {target}")


def forget(
    who: Annotated[str, typer.Argument(metavar="EMAIL|ID", help="The person's email address or lead id.")],
    yes: YesOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Erase a person for good: their lead(s), history, activities, notes, extra fields and answers,
    then compact the database so the bytes are gone (right to erasure). Backups keep their copy."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import privacy
    from pipecli.cli import output, views
    from pipecli.errors import PipecliError

    with store().read() as conn:
        people = privacy.find_person(conn, who)
    names = ", ".join(f"{p['id']} {p['name']}" for p in people)
    confirm(f"Erase {len(people)} lead(s) ({names}) and everything about them, for good?", yes)
    gone = store().write(lambda conn: privacy.forget(conn, who))
    compacted = privacy.compact(store())
    views.forgotten(gone, fmt)
    unfinished = privacy.incomplete(compacted)
    if unfinished:
        raise PipecliError(f"forgot {len(gone['leads'])} lead(s), but {unfinished}")
    output.message(f"forgot {len(gone['leads'])} lead(s) and compacted the database")


def register(app: typer.Typer) -> None:
    """Add `backup`, `restore` and `forget` to `app`."""
    app.command()(backup)
    app.command()(restore)
    app.command()(forget)
