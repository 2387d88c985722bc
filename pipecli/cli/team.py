"""`pipecli team`: the members of a PostgreSQL database's team and their access (`pipecli/team.py`)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, store

team_app = typer.Typer(
    help="Who may use a PostgreSQL database, and what they see: a seller their own leads, a manager the "
    "pipelines they manage, an admin everything (row-level security in the database). Not on SQLite.",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The member's PostgreSQL role (and lead owner) name.")]


@team_app.command("add")
def team_add(
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="seller, manager or admin.")],
    pipelines: Annotated[
        str | None,
        typer.Option("--pipelines", help="Comma-separated pipelines the member is limited to (default: all)."),
    ] = None,
    existing: Annotated[
        bool, typer.Option("--existing", help="Map the existing PostgreSQL role NAME instead of creating it.")
    ] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Add a member (admin only): creates the PostgreSQL role NAME (LOGIN; give it a password with ALTER ROLE
    where the server asks for one) and grants it what its role needs.

    \b
    Examples:
      pipecli team add anna --role seller
      pipecli team add marco --role manager --pipelines "Sales,Renewals"
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import team
    from pipecli.cli import views

    wanted = pipelines.split(",") if pipelines is not None else None
    member = store().write(lambda conn: team.add(conn, name, role, wanted, existing))
    views.team([member], fmt)


@team_app.command("list")
def team_list(fmt: FormatOpt = "table") -> None:
    """List the team's members: pipecli team list --format json | jq -r '.[] | select(.role == "seller") | .name'"""
    # imported when the command runs, so --help and --version stay light
    from pipecli import team
    from pipecli.cli import views

    with store().read() as conn:
        views.team(team.members(conn), fmt)


@team_app.command("remove")
def team_remove(name: NameArg) -> None:
    """Remove a member (admin only): its grants are taken back and the role pipecli created is dropped; the
    leads it owns keep their owner (managers and admins still see them)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import team
    from pipecli.cli import views

    removed = store().write(lambda conn: team.remove(conn, name))
    views.team_removed(removed)


def register(app: typer.Typer) -> None:
    """Add `team` to `app`."""
    app.add_typer(team_app, name="team")
