"""Mail commands: `mail sync` (log a mailbox's messages on their leads) and `mail status`."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, store

mail_app = typer.Typer(
    name="mail",
    help="Mail: log a mailbox's messages on the leads they concern, and see how the syncs went.",
    no_args_is_help=True,
)


@mail_app.command("sync")
def sync(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="A Maildir folder, an mbox file or imaps://user@host/INBOX.")
    ],
    keep_body: Annotated[
        bool, typer.Option("--keep-body", help="Store each message's text too (default: not).")
    ] = False,
    create_leads: Annotated[
        bool, typer.Option("--create-leads", help="Add a lead, in the first stage, for each address no lead has.")
    ] = False,
    rescan: Annotated[
        bool, typer.Option("--rescan", help="Read the whole mailbox again (messages already logged stay logged once).")
    ] = False,
    address: Annotated[
        list[str] | None,
        typer.Option(
            "--address", metavar="ADDR", help="Your own address (repeatable; default config [mail] addresses)."
        ),
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Log each new message of SOURCE as an activity on its lead: `email` sent, `reply` received,
    `auto_reply` for out-of-office answers (no engagement). Idempotent: run it as often as you like.

    pipecli mail sync ~/Maildir/INBOX; PIPECLI_IMAP_PASSWORD=... pipecli mail sync imaps://me@imap.example.com/INBOX"""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views
    from pipecli.mail import sync as mail_sync

    result = mail_sync.sync(
        store(), source, keep_body=keep_body, create_leads=create_leads, rescan=rescan, addresses=address
    )
    views.mail_synced(result, fmt)


@mail_app.command("status")
def status(fmt: FormatOpt = "table") -> None:
    """Each mail source: when it last synced, what that sync logged, matched and left unmatched, its last error."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views
    from pipecli.mail import status as mail_status

    with store().read() as conn:
        rows = mail_status.statuses(conn)
    views.mail_statuses(rows, fmt)


def register(app: typer.Typer) -> None:
    """Add the `mail` sub-app to `app`."""
    app.add_typer(mail_app)
