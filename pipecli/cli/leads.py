"""Everyday commands: add-lead, move, edit, show, delete, log, list, board."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli import vocabulary
from pipecli.cli import complete
from pipecli.cli.common import (
    AtOpt,
    FormatOpt,
    LeadArg,
    OwnerOpt,
    PipelineOpt,
    RawOpt,
    SourceOpt,
    StageOpt,
    YesOpt,
    amount,
    confirm,
    date,
    one_of,
    resolve_lead,
    store,
    ts,
)


def add_lead(
    name: Annotated[str, typer.Argument(help="The person's name.")],
    company: Annotated[str | None, typer.Option(help="Company or account.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    value: Annotated[str | None, typer.Option(help="Deal value: 4500, 4,500.00, 4.500,00.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Lead source: referral, web, event...", autocompletion=complete.sources)
    ] = None,
    owner: Annotated[
        str | None, typer.Option(help="The seller who owns the lead.", autocompletion=complete.owners)
    ] = None,
    expected_close: Annotated[str | None, typer.Option(help="Expected close date: 2026-12-20.")] = None,
    external_id: Annotated[str | None, typer.Option(help="The lead's id in another system.")] = None,
    pipeline: PipelineOpt = None,
    stage: Annotated[
        str | None, typer.Option(help="Starting stage (default: the first).", autocompletion=complete.stages)
    ] = None,
    note: Annotated[str | None, typer.Option(help="A first note, logged as an activity.")] = None,
    at: AtOpt = None,
    unique: Annotated[bool, typer.Option("--unique", help="Refuse the lead when it looks like a stored one.")] = False,
) -> None:
    """Add a lead; print its id (only the id when piped: id=$(pipecli add-lead "Anna Rossi")). A lead that
    looks like a stored one (same email, phone or company and name) is added with a warning on stderr;
    --unique refuses it instead."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import leads
    from pipecli.cli import views

    opened = store(create=True)
    when = ts(at)  # outside the transaction: it may say on stderr how a time in words was read
    # retried from the start when PostgreSQL aborts it for a concurrent write (Store.write)
    added = opened.write(
        lambda conn: leads.add_checked(
            conn,
            name,
            unique=unique,
            company=company,
            email=email,
            phone=phone,
            value_minor=amount(value),
            source=source,
            owner=owner,
            expected_close=date(expected_close, "--expected-close"),
            external_id=external_id,
            pipeline=pipeline,
            stage=stage,
            note=note,
            at=when,
        )
    )
    views.added(added.lead_id, name, added.duplicates)


def move(
    lead: LeadArg,
    stage: Annotated[str, typer.Argument(help="An open stage, or won / lost.", autocompletion=complete.stages)],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in history; the lost reason).")] = None,
    at: AtOpt = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline",
            "-p",
            help="Move it into this pipeline's stage (another pipeline).",
            autocompletion=complete.pipelines,
        ),
    ] = None,
) -> None:
    """Move a lead to a stage, or close it: `pipecli move 12 won`, `pipecli move 12 lost --reason price`,
    `pipecli move 12 Onboarding --pipeline "Post-sale"`."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import leads
    from pipecli.cli import output, views
    from pipecli.cli.context import current

    if stage.strip().lower() == "lost" and reason is None and current().can_prompt:
        reason = output.ask_text(f"Why was lead {lead} lost? (the lost reason; Enter for none)") or None
    opened = store()
    when = ts(at)  # outside the transaction: it may say on stderr how a time in words was read
    # retried from the start when PostgreSQL aborts it for a concurrent write (Store.write)
    moved = opened.write(lambda conn: leads.move_lead(conn, resolve_lead(conn, lead), stage, when, reason, pipeline))
    views.moved(moved)


def edit(
    lead: LeadArg,
    name: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    value: Annotated[str | None, typer.Option(help="New value; '' clears it.")] = None,
    source: Annotated[str | None, typer.Option(autocompletion=complete.sources)] = None,
    owner: Annotated[str | None, typer.Option(autocompletion=complete.owners)] = None,
    expected_close: Annotated[str | None, typer.Option(help="New date; '' clears it.")] = None,
    external_id: Annotated[str | None, typer.Option()] = None,
    lost_reason: Annotated[str | None, typer.Option(help="A lost lead's reason.")] = None,
    forecast_category: Annotated[
        str | None,
        typer.Option(
            metavar="commit|best|pipeline|omit",
            help="The deal's forecast category, rolled up per period by `forecast`; '' clears it (pipeline).",
        ),
    ] = None,
    at: AtOpt = None,
) -> None:
    """Change a lead's details; an empty string clears a detail (--company ''). --at backdates the change."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import leads
    from pipecli.cli.output import message

    changes: dict[str, object] = {
        k: v
        for k, v in {
            "name": name,
            "company": company,
            "email": email,
            "phone": phone,
            "source": source,
            "owner": owner,
            "external_id": external_id,
            "lost_reason": lost_reason,
            "forecast_category": forecast_category,
        }.items()
        if v is not None
    }
    if value is not None:
        changes["value_minor"] = amount(value)
    if expected_close is not None:
        changes["expected_close"] = date(expected_close, "--expected-close")
    opened = store()
    when = ts(at)  # outside the transaction: it may say on stderr how a time in words was read

    def work(conn) -> tuple[int, list[str]]:
        lead_id = resolve_lead(conn, lead)
        # a value it already had records no event: say so, or `undo` would seem to skip this edit
        return lead_id, leads.edit_lead(conn, lead_id, changes, when)

    lead_id, changed = opened.write(work)  # retried from the start when PostgreSQL aborts it for a concurrent write
    # imported when the command runs, so --help and --version stay light
    from pipecli.history import SHOWN_AS

    if changed:
        message(f"lead {lead_id} updated: {', '.join(SHOWN_AS.get(c, c) for c in changed)}")
    else:
        message(
            f"lead {lead_id} unchanged: it already has {', '.join(sorted(SHOWN_AS.get(c, c) for c in changes))} as given"
        )


def show(lead: LeadArg, fmt: FormatOpt = "table", raw: RawOpt = False) -> None:
    """Show a lead: details, stage history with time in each stage, activities, extra fields."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import leads
    from pipecli.cli import views

    with store().read() as conn:
        lead_id = resolve_lead(conn, lead)
        info = leads.show_lead(conn, lead_id)
    views.lead(info, fmt)


def delete(lead: LeadArg, yes: YesOpt = False) -> None:
    """Delete a lead with its history and activities (asks first; --yes when not on a terminal)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import leads
    from pipecli.cli.output import message

    with store().read() as conn:
        lead_id = resolve_lead(conn, lead)
        row = leads.get_lead(conn, lead_id, for_update=True)  # a lead to change: refused as such
    confirm(f"Delete lead {lead_id} ({row['name']}) and all its history?", yes)
    store().write(lambda conn: leads.delete_lead(conn, lead_id))  # run again if PostgreSQL asks (Store.write)
    message(f"deleted lead {lead_id}")


def log(
    lead: LeadArg,
    kind: Annotated[
        one_of(vocabulary.KINDS),
        typer.Argument(
            metavar="KIND",
            case_sensitive=False,
            show_choices=False,  # the help lists them, wrapped; the <a|b|...> label would be 161 columns wide
            help="What happened: " + ", ".join(vocabulary.KINDS) + ".",
        ),
    ],
    note: Annotated[str | None, typer.Option(help="What happened.")] = None,
    at: AtOpt = None,
    next_: Annotated[str | None, typer.Option("--next", help='Plan the follow-up: "2026-12-02 send proposal".')] = None,
) -> None:
    """Log an activity on a lead; print the activity's id: pipecli log 12 call --next "2026-12-02 send proposal"."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import nextsteps
    from pipecli.cli import views

    opened = store()
    when = ts(at)  # outside the transaction: it may say on stderr how a time in words was read

    def work(conn) -> tuple[int, int]:
        lead_id = resolve_lead(conn, lead)
        return lead_id, nextsteps.log_with_next(conn, lead_id, kind, note, when, next_)

    # retried from the start when PostgreSQL aborts it for a concurrent write (Store.write)
    lead_id, activity_id = opened.write(work)
    views.logged(activity_id, lead_id, kind)


def list_(
    pipeline: PipelineOpt = None,
    stage: StageOpt = None,
    owner: OwnerOpt = None,
    source: SourceOpt = None,
    status: Annotated[
        one_of((*vocabulary.STATUSES, "all")) | None,
        typer.Option(
            case_sensitive=False, help="open, won, lost or all (default: open, unless --stage names a stage)."
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Only leads whose name, company or e-mail holds TEXT (or external id)."),
    ] = None,
    sort: Annotated[
        one_of(vocabulary.SORTS),
        typer.Option(case_sensitive=False, help=", ".join(f"{k} ({v})" for k, v in vocabulary.SORTS.items()) + "."),
    ] = "id",
    limit: Annotated[int | None, typer.Option(help="At most this many leads.")] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived leads.")] = False,
    hot: Annotated[
        bool, typer.Option("--hot", help="Only hot leads (score at or above [scoring] hot_threshold).")
    ] = False,
    mine: Annotated[
        bool,
        typer.Option(
            "--mine",
            help="Only leads you own: on PostgreSQL with a team, your database role; else --as, $PIPECLI_USER, config `user`, login.",
        ),
    ] = False,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="A,B,C|all",
            help="The columns to show, comma-separated, or all (default on a terminal: id, name, company, "
            "stage, value, owner, last activity, next step; CSV and JSON: all).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The leads as they stood at the end of this day (from the history)."),
    ] = None,
    fmt: FormatOpt = "table",
    raw: RawOpt = False,
) -> None:
    """List leads, filtered and sorted: pipecli list --sort value --limit 10.

    Without --status or --stage only open leads are listed (--status all lists every lead). A table shows
    the compact columns, CSV and JSON every column; --columns chooses: --columns id,name,email,phone.
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli import listing
    from pipecli.cli import views

    shown = views.lead_columns(columns, fmt)

    me = None
    if mine:
        # imported when the command runs, so --help and --version stay light
        from pipecli.cli.context import current
        from pipecli.errors import UsageError
        from pipecli.store.journal import resolve_actor

        if owner is not None:
            raise UsageError("--mine and --owner both name the owner: give one")
        me = resolve_actor(current().actor)[0]

    filters = listing.LeadFilter(
        pipeline,
        stage,
        owner,
        source,
        listing.list_status(status, stage),
        include_archived=archived,
        hot=hot,
        search=search,
        mine=me,
    )
    with store().read() as conn:
        rows = listing.list_leads(conn, filters, sort, limit, date(as_of, "--as-of"))
    views.leads(rows, fmt, shown)


def board_(
    pipeline: PipelineOpt = None,
    per_stage: Annotated[int, typer.Option(help="Leads shown per stage.")] = 5,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The board as it stood at the end of this day (from the history).")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """The pipeline at a glance: each stage with its count, value and most valuable leads."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import board
    from pipecli.cli import views

    with store().read() as conn:
        data = board.board(conn, pipeline, per_stage, date(as_of, "--as-of"))
    views.board(data, fmt)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("add-lead")(add_lead)
    app.command()(move)
    app.command()(edit)
    app.command()(show)
    app.command()(delete)
    # the kind as people type it (`Demo-Request`): the choice compares words as `kind_key` writes them
    app.command(context_settings={"token_normalize_func": vocabulary.kind_key})(log)
    app.command("list")(list_)
    app.command("board")(board_)
