"""`pipecli settings`: the settings a team shares, kept in the database (`pipecli/settings.py`)."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from pathlib import Path
from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt, store

settings_app = typer.Typer(
    help="Settings shared by everyone using the database (currency, scoring, forecast, clean, qualification). "
    "The database's value wins over your config file's, which wins over the default.",
    no_args_is_help=True,
)
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="A shared setting: currency, scoring.hot_threshold...")]


@settings_app.command("list")
def settings_list(fmt: FormatOpt = "table") -> None:
    """List every shared setting in force, where its value comes from, and who set it when:

    pipecli settings list --format json | jq '.[] | select(.source == "database")'
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import settings
    from pipecli.cli import views

    with store().read() as conn:
        views.settings(settings.listing(conn), fmt)


@settings_app.command("get")
def settings_get(key: KeyArg, fmt: FormatOpt = "table") -> None:
    """Print one shared setting in force: pipecli settings get scoring.hot_threshold"""
    # imported when the command runs, so --help and --version stay light
    from pipecli import settings
    from pipecli.cli import views

    with store().read() as conn:
        views.settings([settings.get(conn, key)], fmt, one=True)


@settings_app.command("set")
def settings_set(
    key: KeyArg,
    value: Annotated[
        str, typer.Argument(metavar="VALUE", help="20, true, JPY, '[\"need\", \"budget\"]', '{email = 5}'")
    ],
    fmt: FormatOpt = "table",
) -> None:
    """Set a shared setting for everyone using the database (journalled: `pipecli changes`, `pipecli undo`).

    \b
    Examples:
      pipecli settings set scoring.hot_threshold 60
      pipecli settings set qualification.required '["need", "budget"]'
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import settings
    from pipecli.cli import views

    changed = store().write(lambda conn: settings.set_value(conn, key, value))
    views.settings([changed], fmt, one=True)


@settings_app.command("unset")
def settings_unset(key: KeyArg, fmt: FormatOpt = "table") -> None:
    """Remove the database's value of a shared setting: your config file's value (or the default) applies again."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import settings
    from pipecli.cli import views

    now = store().write(lambda conn: settings.unset(conn, key))
    views.settings([now], fmt, one=True)


@settings_app.command("import")
def settings_import(
    file: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="A TOML file (default: your config file).")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Copy the shared settings a TOML file sets into the database, in one change: pipecli settings import"""
    # imported when the command runs, so --help and --version stay light
    from pipecli import settings
    from pipecli.cli import views

    opened = store()
    opened.first_write = None  # the import is the adoption (`settings.adopt`): the file's settings, not the config's
    imported = opened.write(lambda conn: settings.import_file(conn, file))
    views.settings(imported, fmt)


def register(app: typer.Typer) -> None:
    """Add `settings` to `app`."""
    app.add_typer(settings_app, name="settings")
