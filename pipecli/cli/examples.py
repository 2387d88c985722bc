"""`pipecli examples [NAME]`: list the examples shipped in the package, or print one."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli.common import FormatOpt


def examples(
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME|list]", help="The example to print; none (or `list`) lists them.")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """List the shipped examples, or print one to save where it is needed.

    \b
    Examples:
      pipecli examples crontab   # the cron lines mailing the stale-deal report
      pipecli examples clean-and-mail.sh > ~/.local/bin/clean-and-mail.sh
      chmod +x ~/.local/bin/clean-and-mail.sh
      pipecli examples leads.csv > leads.csv && pipecli import leads.csv --dry-run
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import examples as shipped
    from pipecli.cli import output, views

    if name is None or name == "list":
        views.examples(shipped.catalogue(), fmt)
    else:
        output.write(shipped.read(name))


def register(app: typer.Typer) -> None:
    """Add `examples` to `app`."""
    app.command("examples")(examples)
