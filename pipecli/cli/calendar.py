"""`calendar export`: follow-ups and expected close dates as an iCalendar file."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli.common import store

calendar_app = typer.Typer(
    name="calendar", help="Follow-ups and close dates in your calendar (iCalendar).", no_args_is_help=True
)


def export(
    days: Annotated[
        int, typer.Option(min=1, max=3660, help="Look this many days ahead (overdue follow-ups too).")
    ] = 30,
) -> None:
    """Write follow-ups (VTODO with a reminder) and expected close dates (all-day events) as iCalendar.

    \b
    Example:
      pipecli calendar export --days 30 > pipecli.ics
    """
    # imported when the command runs, so --help and --version (and other commands) never load icalendar
    from pipecli import calendar
    from pipecli.cli import views

    with store().read() as conn:
        data = calendar.export(conn, days)
    views.calendar_file(data)


def import_(
    file: Annotated[str, typer.Argument(metavar="FILE.ics", help="An iCalendar file (- for stdin).")],
) -> None:
    """Log past meetings whose attendees include a lead's address as `meeting` activities (once per UID).

    \b
    Example:
      pipecli calendar import meetings.ics
    """
    import sys

    # imported when the command runs, so --help and --version (and other commands) never load icalendar
    from pipecli import calendar
    from pipecli.cli import views
    from pipecli.store import files

    data = sys.stdin.buffer.read() if file == "-" else files.read_bytes(file)
    counts = store().write(lambda conn: calendar.import_meetings(conn, data))
    views.meetings_imported(counts)


def register(app: typer.Typer) -> None:
    """Add the `calendar` sub-app to `app`."""
    calendar_app.command("export")(export)
    calendar_app.command("import")(import_)
    app.add_typer(calendar_app)
