"""Mail commands: `mail sync` (log a mailbox's messages on their leads), `mail status`, `mail send` (a
follow-up from a template), and mailing a report (`clean --mail-to`, `changes --mail-to`)."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from collections.abc import Callable
from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, store

mail_app = typer.Typer(
    name="mail",
    help="Mail: log a mailbox's messages on the leads they concern, see how the syncs went, send follow-ups.",
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

    \b
    Examples:
      pipecli mail sync ~/Maildir/INBOX
      export PIPECLI_IMAP_PASSWORD=...
      pipecli mail sync imaps://me@imap.example.com/INBOX
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views
    from pipecli.mail import sync as mail_sync

    result = mail_sync.sync(
        store(create=create_leads),
        source,
        keep_body=keep_body,
        create_leads=create_leads,
        rescan=rescan,
        addresses=address,
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


@mail_app.command("send")
def send(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    template: Annotated[
        str, typer.Option("--template", "-t", metavar="NAME", help="templates/NAME.txt in the config folder.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the message; send and log nothing.")] = False,
) -> None:
    """Send a lead an e-mail made from a template, threaded as a reply to the last message, and log it.

    \b
    Examples:
      pipecli mail send 12 --template follow-up --dry-run
      pipecli mail send 12 --template follow-up

    \b
    Exit codes:
      0  sent and logged as an `email` activity (or shown, with --dry-run)
      1  not sent, nothing logged: unknown lead or field, no address, server or
         login failure, daily cap
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views
    from pipecli.mail import compose

    sent = compose.send_from_template(store(), lead_id, template, dry_run)
    views.mail_sent(sent)


def mail_report(to: str, subject: str, render: Callable[[str], None]) -> None:
    """Mail a report to `to`: `render(fmt)` writes it as "text" for the text part and as "markdown" for
    the HTML part's tables; say on stderr where it went."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import output
    from pipecli.mail import report as mailed

    mailed.check_address(to)  # before rendering: a report's own notes ("none") go to stderr
    with output.captured() as text_part:
        render("text")
    with output.captured() as markdown_part:
        render("markdown")
    mailed.mail_report(to, subject, text_part.getvalue(), markdown_part.getvalue())
    output.message(f"mailed the report to {to}")


def register(app: typer.Typer) -> None:
    """Add the `mail` sub-app to `app`."""
    app.add_typer(mail_app)
