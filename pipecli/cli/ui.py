"""`pipecli ui`: the board as a full-screen terminal app (the `pipecli.ui` package, on textual)."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli import complete
from pipecli.cli.common import PipelineOpt, store
from pipecli.errors import PipecliError, UsageError

INSTALL = 'pipecli ui needs textual: pip install "pipecli[ui]"'


def ui(
    pipeline: PipelineOpt = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's deals.", autocompletion=complete.owners)] = None,
    mine: Annotated[
        bool, typer.Option("--mine", help="Only deals you own (--as, $PIPECLI_USER, config `user`, login).")
    ] = False,
) -> None:
    """Open the board as a keyboard-driven app: move, log, plan, snooze, edit, add, undo (? lists the keys)."""
    import importlib.util

    if importlib.util.find_spec("textual") is None:
        raise PipecliError(INSTALL)
    # imported when the command runs: textual is an optional extra, and only this command loads it
    from pipecli.cli import output
    from pipecli.cli.context import current
    from pipecli.store.journal import resolve_actor
    from pipecli.ui.actions import Session
    from pipecli.ui.app import BoardApp

    context = current()
    if mine:
        if owner is not None:
            raise UsageError("--mine and --owner both name the owner: give one")
        owner = resolve_actor(context.actor)[0]
    if not (context.stdin_tty and context.stdout_tty):
        raise UsageError("pipecli ui needs a terminal (stdin and stdout); for a script use `pipecli board`")
    session = Session(store(), context.currency, context.actor)
    output.end_paging()  # the app takes the whole terminal: nothing of it goes through the pager
    BoardApp(session, pipeline, owner).run()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(ui)
