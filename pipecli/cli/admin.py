"""Housekeeping commands: `db path`, `db init`, `db compact`, `db migrate-to`, `config path|show`, `demo`."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, db_option, db_target, store

db_app = typer.Typer(help="The database file: where it is, and what to do with it.", no_args_is_help=True)
config_app = typer.Typer(help="The config file.", no_args_is_help=True)


@db_app.command("path")
def db_path() -> None:
    """Print the database in use (--db, $PIPECLI_DB, config `db`, or the default file)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import output

    output.line(db_target())


@db_app.command("init")
def db_init(
    path: Annotated[
        str | None,
        typer.Argument(metavar="[PATH|URL]", help="The database to create (default: the one in use, see `db path`)."),
    ] = None,
) -> None:
    """Create a pipecli database (a SQLite file readable by you only, or the tables in an empty PostgreSQL
    database) with the default pipeline; say so when one is already there, and refuse a file that is not
    pipecli's. Commands that only read never create one: pipecli db init ~/sales/pipeline.db"""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import common, output
    from pipecli.store.target import redact

    if path is not None:
        common.set_db(path)
    if not store(create=True).created:
        output.message(f"a pipecli database is already at {redact(db_target())}: left as it was")


@db_app.command("compact")
def db_compact() -> None:
    """Rewrite the database so deleted rows leave no bytes behind (what `forget` does after erasing):
    finishes an erasure a full disk or another process's read left incomplete."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import privacy
    from pipecli.cli import output
    from pipecli.errors import PipecliError

    unfinished = privacy.incomplete(privacy.compact(store()))
    if unfinished:
        raise PipecliError(f"not compacted: {unfinished}")
    output.message("compacted the database")


@db_app.command("migrate-to")
def db_migrate_to(
    url: Annotated[str, typer.Argument(metavar="URL", help="An EMPTY PostgreSQL database: postgresql://user@host/db")],
    fmt: FormatOpt = "table",
) -> None:
    """Copy this pipeline with its whole history into an empty PostgreSQL database, ids included, and
    check every table's row count: pipecli db migrate-to postgresql://me@dbhost/sales"""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import output, views
    from pipecli.store import copy as dbcopy

    counts = dbcopy.migrate_to(store(), url)
    views.copied(counts, fmt)
    output.message(f"copied; use it with: export PIPECLI_DB={url}")


@config_app.command("path")
def config_path() -> None:
    """Print the config file's path ($PIPECLI_CONFIG or the platform's config folder)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import config
    from pipecli.cli import output

    output.line(str(config.path()))


@config_app.command("show")
def config_show() -> None:
    """Print the config in force (the file's settings; defaults are documented in the README)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import config
    from pipecli.cli import output, views

    shown = {"config_file": str(config.path()), "db": db_target(), "currency": output.currency()}
    shown.update({k: v for k, v in config.load().items() if k not in shown})
    views.config_json(shown)


def demo(
    leads_count: Annotated[int, typer.Option("--leads", help="How many leads to invent.")] = 80,
    db: Annotated[
        str | None, typer.Option("--into", help="Database file to build (default: demo.db in the data folder).")
    ] = None,
) -> None:
    """Build a demo pipeline with nine months of history, print its board, and say how to explore it."""
    # imported when the command runs, so --help and --version stay light
    from pathlib import Path

    import platformdirs

    from pipecli import board
    from pipecli import demo as demo_core
    from pipecli.cli import common, views
    from pipecli.cli.output import message

    target = db or db_option() or str(Path(platformdirs.user_data_dir("pipecli")) / "demo.db")
    common.set_db(target)
    store(create=True).write(lambda conn: demo_core.ensure(conn, leads_count))
    with store().read() as conn:
        data = board.board(conn)
    views.board(data, "table")
    message(f"\ndemo database: {target}\nexplore it: export PIPECLI_DB={target}; pipecli list --sort value")


def register(app: typer.Typer) -> None:
    """Add `db`, `config` and `demo` to `app`."""
    app.add_typer(db_app, name="db")
    app.add_typer(config_app, name="config")
    app.command("demo")(demo)
