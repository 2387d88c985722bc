"""What every command shares: the `--format`, `--at`, `--pipeline` and `--yes` options, the invocation's store,
confirmations and the parsing of option values (times, dates, amounts).

The store and the terminal belong to the invocation's context (`cli.context`); the functions here are
the short names commands use for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from pipecli import vocabulary
from pipecli.cli import complete
from pipecli.cli.context import current
from pipecli.errors import PipecliError, UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from pipecli.store.db import Store


def one_of(values) -> Any:
    """Return the type of an option or argument that takes one of `values` (a typer choice: listed in
    --help, completed on TAB, any other value a usage error, exit 2); declare it with
    `case_sensitive=False` so `--format JSON` is `json`."""
    return Literal[tuple(values)]


FormatOpt = Annotated[
    one_of(("table", "csv", "json")),
    typer.Option("--format", "-f", case_sensitive=False, help="Output format."),
]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="When it happened: 2026-11-28, '2026-11-28 14:30', yesterday, '3 days ago'."),
]
PipelineOpt = Annotated[
    str | None,
    typer.Option(
        "--pipeline", "-p", autocompletion=complete.pipelines, help="Pipeline name (default: the default pipeline)."
    ),
]


def _set_defuse(value: bool) -> bool:
    current().defuse_csv = not value
    return value


RawOpt = Annotated[
    bool,
    typer.Option(
        "--raw",
        callback=_set_defuse,
        help="CSV cells exactly as stored: do not defuse text cells starting with = + - @ (as `export --raw`).",
    ),
]
StageOpt = Annotated[
    str | None, typer.Option(help="Only leads in this stage (won/lost too).", autocompletion=complete.stages)
]
OwnerOpt = Annotated[str | None, typer.Option(help="Only this owner's leads.", autocompletion=complete.owners)]
SourceOpt = Annotated[str | None, typer.Option(help="Only leads from this source.", autocompletion=complete.sources)]
StatusOpt = Annotated[one_of(vocabulary.STATUSES) | None, typer.Option(case_sensitive=False, help="open, won or lost.")]
LEAD_HELP = "The lead: 12, #12, an exact e-mail or external id, or part of a name or company matching one lead."
LeadArg = Annotated[str, typer.Argument(metavar="LEAD", help=LEAD_HELP, autocompletion=complete.leads)]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not on a terminal).")]


def set_db(db: str | None) -> None:
    """Use database `db` (the global `--db` option) for the rest of this invocation."""
    current().set_db(db)


def db_target() -> str:
    """Return the database this invocation uses (resolved from --db, $PIPECLI_DB, config, default)."""
    return current().target


def db_option() -> str | None:
    """Return the global --db option as given (None when not given)."""
    return current().db


def resolve_lead(conn: Connection, reference: str, gone_ok: bool = False) -> int:
    """Return the id of the lead `reference` names (`lookup.resolve`: id, #id, e-mail, external id or a
    fragment of a name matching one lead); the one place commands turn a LEAD argument into an id."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import lookup

    return lookup.resolve(conn, reference, gone_ok)


def store(create: bool = False) -> Store:
    """Return the Store for this invocation, opened (and migrated) on first use; only with `create` is a
    missing database created (see `Context.store`), which stderr then says. On opening, warn once about
    each setting of the config file that the database's shared value overrides."""
    ctx = current()
    opening = not ctx.is_open
    opened = ctx.store(create)
    if opening:
        opened.first_write = _adopt_settings
    if ctx.news:
        # imported when the command runs, so --help and --version stay light
        from pipecli.cli import output

        while ctx.news:
            output.message(ctx.news.pop(0))
    if ctx.shadowed:
        # imported when a command opens its database, so --help and --version stay light
        from pipecli.cli import views

        views.shadowed_settings(ctx.shadowed, ctx.target)
        ctx.shadowed = []
    return opened


def _adopt_settings(conn: Connection):
    """The store's first write: a database without shared settings adopts the config file's
    (`settings.adopt`); return what says so on stderr once that write committed."""
    # the settings module only when a command writes (it is light: its specs load on use)
    from pipecli import settings

    adopted = settings.adopt(conn)
    if not adopted:
        return None
    # imported when there is something to say, so --help and --version stay light
    from pipecli.cli import views

    target = current().target
    return lambda: views.settings_adopted(adopted, target)


def ts(value: str | None, what: str = "--at") -> int | None:
    """Return an `--at` option, the time an event happened, as epoch seconds (None when not given): never
    in the future (beyond `clock.SKEW`); given in words (`yesterday 15:00`), the moment it is read as is said
    on stderr once the command has succeeded (a failed command says its one line only)."""
    if value is None:
        return None
    # imported when the command runs, so --help and --version stay light
    from pipecli import clock

    moment = clock.parse_ts(value, what, event=True)
    if clock.in_words(value):
        reading = f"{what} {value.strip()}: read as {clock.from_ts(moment).strftime('%a')} {clock.show(moment)}"
        current().readings.append(reading)
    return moment


def date(value: str | None, what: str):
    """Return a date option as a date (None when not given or empty)."""
    if value is None or not value.strip():
        return None
    # imported when the command runs, so --help and --version stay light
    from pipecli import clock

    return clock.parse_date(value, what)


def amount(value: str | None, what: str = "--value", required: bool = False) -> int | None:
    """Return a money option as minor units of the invocation's currency (None when not given or empty;
    a usage error when empty and `required`, as a blank required amount is no amount)."""
    if value is None or not value.strip():
        if required:
            raise UsageError(f"{what} needs an amount, such as 100000")
        return None
    # imported when the command runs, so --help and --version stay light
    from pipecli import formats, money

    try:
        return money.parse_typed(value, current().currency, money.decimal_mark(formats.locale()))
    except PipecliError as exc:
        raise PipecliError(f"{what}: {exc}") from None


def bounded(value: int | None, what: str, low: int, high: int = 2**63 - 1) -> int | None:
    """Return an integer option unchanged when it lies in `low`..`high` (or was not given); otherwise a
    one-line usage error, before the value reaches a simulation or the calendar that cannot take it."""
    if value is not None and not low <= value <= high:
        raise UsageError(f"{what} must be from {low} to {high}, not {value}")
    return value


def confirm(question: str, yes: bool) -> None:
    """Go on when `--yes` was given or the user answers yes on a terminal; otherwise raise.

    Without a terminal to ask on, the refusal exits 2 and says to pass --yes."""
    if yes:
        return
    if not current().can_prompt:
        raise UsageError(f"{question.rstrip('?')}: not on a terminal, so pass --yes to confirm")
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import output

    if not output.ask(question):
        raise PipecliError("cancelled; nothing was changed")
