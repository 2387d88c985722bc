"""History commands: history (a lead's changes), undo (revert a command, or list recent ones)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, YesOpt, confirm, store


def history(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    limit: Annotated[int | None, typer.Option(min=1, help="Only the latest N changes.")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """A lead's changes, oldest first: when, who, what changed from what to what, and the command."""
    from pipecli import history as lead_history
    from pipecli.cli import views

    with store().read() as conn:
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
    with store().write() as conn:
        done = undoing.undo(conn, entry.id)
    views.undone(done)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(history)
    app.command()(undo)
