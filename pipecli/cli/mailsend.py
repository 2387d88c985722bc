"""Sending mail: `mail send` (a follow-up from a template), and mailing a report (`clean --mail-to`).

`mail` is a sub-app; `mail sync` and `mail status` (reading mail) register on the same sub-app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from pipecli.cli.common import store

mail_app = typer.Typer(
    name="mail",
    help="E-mail: send follow-ups from templates over SMTP ([mail] settings).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


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
      1  not sent, nothing logged: unknown lead or field, no address, server or login failure, daily cap
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

    with output.captured() as text_part:
        render("text")
    with output.captured() as markdown_part:
        render("markdown")
    mailed.mail_report(to, subject, text_part.getvalue(), markdown_part.getvalue())
    output.message(f"mailed the report to {to}")


def register(app: typer.Typer) -> None:
    """Add the `mail` sub-app (with `mail send`) to `app`."""
    mail_app.command()(send)
    app.add_typer(mail_app)
