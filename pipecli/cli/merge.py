"""Duplicates and merging: `duplicates` (the pairs that look like one person), `merge` (fold one lead into another)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli import vocabulary
from pipecli.cli.common import (
    FormatOpt,
    LeadArg,
    PipelineOpt,
    RawOpt,
    YesOpt,
    confirm,
    one_of,
    resolve_lead,
    store,
)


def merge(
    lead: LeadArg,
    other: Annotated[str, typer.Argument(metavar="OTHER", help="The lead merged into LEAD (then removed).")],
    into: Annotated[
        str | None,
        typer.Option("--into", metavar="LEAD", help="Which of the two stays (needed when they are in two pipelines)."),
    ] = None,
    take: Annotated[
        list[str] | None,
        typer.Option(
            "--take",
            metavar="FIELD",
            help="Keep OTHER's value of a conflicting detail (as listed: email, value, extra:KEY, answer:budget); repeatable.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what the merge would do; change nothing.")] = False,
    yes: YesOpt = False,
) -> None:
    """Merge lead OTHER into LEAD: its activities, mail, answers, extra fields and follow-up move over,
    details LEAD lacks are taken from OTHER, conflicting ones keep LEAD's (listed; --take FIELD picks
    OTHER's); OTHER is removed. One command in history: `pipecli undo` takes it back.

    \b
    Examples:
      pipecli duplicates                   # the pairs, each with its command
      pipecli merge 12 31 --dry-run
      pipecli merge 12 31 --take email --yes
      pipecli merge 12 31 --into 31 --yes  # keep 31 (and its pipeline)
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import merging
    from pipecli.cli import views

    with store().read() as conn:
        a, b = resolve_lead(conn, lead), resolve_lead(conn, other)
        chosen = resolve_lead(conn, into) if into is not None else None
        kept, merged = merging.pair(conn, a, b, chosen)
        planned = merging.plan(conn, kept, merged, tuple(take or ()))
    views.merge_plan(planned, dry_run)
    if dry_run:
        return
    confirm(f"Merge lead {merged} ({planned.other['name']}) into lead {kept} ({planned.into['name']})?", yes)
    done = store().write(lambda conn: merging.merge(conn, kept, merged, tuple(take or ())))
    views.merged(done)


def duplicates(
    pipeline: PipelineOpt = None,
    status: Annotated[
        one_of(vocabulary.STATUSES) | None,
        typer.Option(case_sensitive=False, help="Only leads with this status: open, won or lost."),
    ] = None,
    fmt: FormatOpt = "table",
    raw: RawOpt = False,
) -> None:
    """List the leads that look like one person (same e-mail ignoring case and +tag; same phone and a
    similar name; same company without its legal form and a similar name), each pair with why and the
    command that merges the later lead into the earlier: pipecli duplicates --status open."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import merging
    from pipecli.cli import views

    with store().read() as conn:
        pairs = merging.duplicate_pairs(conn, pipeline, status)
    views.duplicates(pairs, fmt)


def register(app: typer.Typer) -> None:
    """Add `merge` and `duplicates` to `app`."""
    app.command()(merge)
    app.command()(duplicates)
