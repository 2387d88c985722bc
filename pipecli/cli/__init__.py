"""The command-line layer: each command parses its options, calls one core function and hands the result
to one view (`cli.views`), which writes it through the one output layer (`cli.output`). The invocation's
`cli.context.Context` holds the store and every decision about the terminal.

Command modules import the core and the views inside their functions so that `pipecli --help` and
`--version` never import SQLAlchemy, pendulum or rich.

Exit codes: 0 success; 1 an error the message explains (unknown lead, bad value, refused change), or
`clean --check` found something; 2 a usage error, or a confirmation that could not be asked (pass
--yes); 66 the database is not there (a command that only reads creates none); 70 an internal error
(a bug: please report it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from pipecli import version
from pipecli.errors import PipecliError, UsageError

if TYPE_CHECKING:
    from pipecli.cli.context import Context

EXIT_INTERNAL = 70


class PipecliGroup(TyperGroup):
    """Runs each command inside its invocation's context (`cli.context`) and turns every PipecliError and
    database failure into one line on stderr and an exit code."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["pipecli_argv"] = list(args)  # the journal records the command line as typed
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:  # click's Context, which typer keeps private
        # cli.context and cli.output are this package's submodules: imported once the package is loaded
        from pipecli.cli.context import Context, using

        if not isinstance(ctx.obj, Context):  # a test may hand one in: runner.invoke(app, args, obj=Context(...))
            ctx.obj = Context()
        ctx.obj.argv = ctx.meta.get("pipecli_argv", [])
        with using(ctx.obj) as context:
            try:
                return self._invoke_reporting(ctx, context)
            finally:
                _end_paging()

    def _invoke_reporting(self, ctx: Any, context: Context) -> Any:
        try:
            return super().invoke(ctx)
        except PipecliError as exc:
            _error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):  # typer's own flow: usage errors, --help
            raise
        except BrokenPipeError:
            # The reader (`| head`) went away: not an error of ours.
            context.stderr.close()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            _error("interrupted; nothing was changed by the unfinished command")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("PIPECLI_DEBUG"):
                raise
            # SQLAlchemy's error type only on a failure: --help and --version never load SQLAlchemy
            from sqlalchemy.exc import DBAPIError

            if isinstance(exc, DBAPIError):
                # the store only to word a database failure
                from pipecli.store.db import translate_error

                _error(str(translate_error(exc, context.db or "database")))
                raise typer.Exit(1) from None
            if isinstance(exc, OverflowError) and "SQLite INTEGER" in str(exc):  # an id like 99999999999999999999
                _error(f"a number is too large: {exc}")
                raise typer.Exit(1) from None
            first = str(exc).splitlines()[0] if str(exc) else ""
            _error(f"internal error: {type(exc).__name__}: {first} (set PIPECLI_DEBUG=1 for details)")
            raise typer.Exit(EXIT_INTERNAL) from None


def _end_paging() -> None:
    # a submodule of this package: imported once the package is loaded
    from pipecli.cli import output

    output.end_paging()


def _error(text: str) -> None:
    # a submodule of this package: imported once the package is loaded
    from pipecli.cli import output

    output.error(text)


app = typer.Typer(
    cls=PipecliGroup,
    name="pipecli",
    help="A sales pipeline in your terminal, on one SQLite file you own.\n\n"
    "Exit codes: 0 ok; 1 error (message on stderr) or `clean --check` found something; "
    "2 usage error or confirmation needed (--yes); 66 no database there (nothing created); 70 internal error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import output

        output.line(f"pipecli {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database file or postgresql:// URL (else $PIPECLI_DB, config `db`, the default file).",
            metavar="PATH|URL",
        ),
    ] = None,
    as_: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Who makes the changes, as history records them (else $PIPECLI_USER, config `user`, your login).",
            metavar="NAME",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    no_pager: Annotated[
        bool,
        typer.Option(
            "--no-pager",
            help="Never page: by default output taller than the terminal goes through $PIPECLI_PAGER, else "
            "$PAGER, else `less -FRX` (never when piped).",
        ),
    ] = False,
) -> None:
    if as_ is not None:
        # imported when the command runs, so --help and --version stay light
        from pipecli.cli.context import current

        if not as_.strip():
            raise UsageError("--as needs a name")
        current().actor = as_
    if db is not None:  # else the context's own (None unless a test handed in a context with one)
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import common

        common.set_db(db)
    # submodules of this package: imported once the package is loaded
    from pipecli.cli import output
    from pipecli.cli.context import current

    current().pager = not no_pager
    output.start_paging()


from pipecli.cli import (  # noqa: E402  (they register on `app`)
    admin,
    calendar,
    clean,
    examples,
    history,
    leads,
    mail,
    merge,
    pipeline,
    reports,
    selling,
    settings,
    team,
    transfer,
    trust,
    ui,
)

for _module in (
    leads,
    pipeline,
    admin,
    selling,
    transfer,
    reports,
    clean,
    history,
    trust,
    ui,
    mail,
    merge,
    calendar,
    examples,
    settings,
    team,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point (also `python -m pipecli`, named `pipecli` all the same: usage lines and the
    shells' completion variable `_PIPECLI_COMPLETE` are the command's, not the interpreter's)."""
    if os.environ.get("_PIPECLI_COMPLETE"):
        # a submodule of this package: imported once the package is loaded
        from pipecli.cli import complete

        complete.words_as_typed()
    app(prog_name="pipecli")
