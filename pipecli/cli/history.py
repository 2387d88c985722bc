"""History commands: history (a lead's changes), undo (revert a command, or list recent ones)."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli import complete
from pipecli.cli.common import FormatOpt, LeadArg, RawOpt, YesOpt, confirm, one_of, resolve_lead, store


def history(
    lead: LeadArg,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the latest N changes.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """A lead's changes, oldest first: when, who, what changed from what to what, and the command."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import history as lead_history
    from pipecli.cli import views

    with store().read() as conn:
        lead_id = resolve_lead(conn, lead, gone_ok=True)  # a deleted lead's id still has its history
        changes = lead_history.lead_history(conn, lead_id, limit)
    views.changes_of_lead(changes, fmt)


def undo(
    entry_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="The command to undo (see --list).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Show recent commands that changed data.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="With --list: how many.")] = 20,
    yes: YesOpt = False,
    fmt: FormatOpt = "table",
) -> None:
    """Undo the last command that changed data (again: redo it), or command ID when nothing later depends on it.

    pipecli undo --list; pipecli undo; pipecli undo 42 --yes"""
    # imported when the command runs, so --help and --version stay light
    from pipecli import undo as undoing
    from pipecli.cli import views

    if list_:
        with store().read() as conn:
            entries = undoing.recent(conn, limit)
        views.journal_entries(entries, fmt)
        return
    with store().read() as conn:
        entry = undoing.choose(conn, entry_id)
    confirm(f"Undo command {entry.id} ({entry.command}), {entry.changes} change(s)?", yes)
    done = store().write(lambda conn: undoing.undo(conn, entry.id))
    views.undone(done)


def changes(
    since: Annotated[str, typer.Option(help="Start of the window: 7d, 2w, 1m, or a date.")] = "7d",
    until: Annotated[str | None, typer.Option(help="End of the window (default now).")] = None,
    pipeline: Annotated[
        str | None,
        typer.Option("--pipeline", "-p", help="Only this pipeline (default all).", autocompletion=complete.pipelines),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's deals.", autocompletion=complete.owners)] = None,
    fmt: Annotated[
        one_of(("table", "csv", "json", "markdown")),
        typer.Option("--format", "-f", case_sensitive=False, help="Output format (markdown for a review mail)."),
    ] = "table",
    mail_to: Annotated[
        str | None,
        typer.Option(
            "--mail-to", metavar="ADDR", help="Mail the report to ADDR (text and HTML) instead of printing it."
        ),
    ] = None,
    raw: RawOpt = False,
) -> None:
    """What changed: the open-value waterfall (balanced to the cent), close dates pushed and pulled in,
    stage moves and every deal that changed: pipecli changes --since 7d --format markdown."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import clock
    from pipecli.cli import views
    from pipecli.reports import changes as report

    end = clock.now_ts() if until is None else clock.parse_ts(until, "--until")
    start = report.window_start(since, end)
    with store().read() as conn:
        result = report.changes(conn, start, end, pipeline, owner)
    if mail_to is not None:
        # imported when the command runs, so --help and --version stay light
        from pipecli.cli.mail import mail_report

        subject = f"Pipeline: what changed {clock.show(result.since)} → {clock.show(result.until)}"
        mail_report(mail_to, subject, lambda f: views.changes(result, "table" if f == "text" else f))
        return
    views.changes(result, fmt)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(history)
    app.command()(undo)
    app.command()(changes)
