"""Everyday commands: add-lead, move, edit, show, delete, log, list, board."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli.cli.common import AtOpt, FormatOpt, PipelineOpt, YesOpt, amount, confirm, date, store, ts


def list_columns():
    """Return the columns of `pipecli list` (shared with commands that print leads)."""
    from pipecli.formats import Column

    return [
        Column("id", kind="int"),
        Column("name"),
        Column("company"),
        Column("stage"),
        Column("status"),
        Column("value", kind="money", source="value_minor"),
        Column("owner"),
        Column("source"),
        Column("expected_close", "expected close", kind="date"),
        Column("last_event_at", "last touched", kind="ts"),
        Column("email"),
        Column("phone"),
        Column("pipeline"),
        Column("created_at", "created", kind="ts"),
        Column("next_step", "next step"),
        Column("next_step_due", "due", kind="date"),
        Column("score", kind="float"),
    ]


def add_lead(
    name: Annotated[str, typer.Argument(help="The person's name.")],
    company: Annotated[str | None, typer.Option(help="Company or account.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    value: Annotated[str | None, typer.Option(help="Deal value: 4500, 4,500.00, 4.500,00.")] = None,
    source: Annotated[str | None, typer.Option(help="Lead source: referral, web, event...")] = None,
    owner: Annotated[str | None, typer.Option(help="The seller who owns the lead.")] = None,
    expected_close: Annotated[str | None, typer.Option(help="Expected close date: 2026-12-20.")] = None,
    external_id: Annotated[str | None, typer.Option(help="The lead's id in another system.")] = None,
    pipeline: PipelineOpt = None,
    stage: Annotated[str | None, typer.Option(help="Starting stage (default: the first).")] = None,
    note: Annotated[str | None, typer.Option(help="A first note, logged as an activity.")] = None,
    at: AtOpt = None,
) -> None:
    """Add a lead; print its id (only the id when piped: id=$(pipecli add-lead "Anna Rossi"))."""
    from pipecli import leads
    from pipecli.cli.output import message, stdout_is_tty

    with store().write() as conn:
        lead_id = leads.add_lead(
            conn,
            name,
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
            at=ts(at),
        )
    typer.echo(lead_id)
    if stdout_is_tty():
        message(f"added lead {lead_id}: {name}")


def move(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    stage: Annotated[str, typer.Argument(help="An open stage, or won / lost.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded in history; the lost reason).")] = None,
    at: AtOpt = None,
) -> None:
    """Move a lead to a stage, or close it: `pipecli move 12 won`, `pipecli move 12 lost --reason price`."""
    from pipecli import clock, leads
    from pipecli.cli.output import message

    with store().write() as conn:
        moved = leads.move_lead(conn, lead_id, stage, ts(at), reason)
    message(f"lead {moved.lead_id}: {moved.from_stage} -> {moved.to_stage} at {clock.show(moved.at)}")


def edit(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    name: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    value: Annotated[str | None, typer.Option(help="New value; '' clears it.")] = None,
    source: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    expected_close: Annotated[str | None, typer.Option(help="New date; '' clears it.")] = None,
    external_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Change a lead's details; an empty string clears a detail (--company '')."""
    from pipecli import leads
    from pipecli.cli.output import message

    changes = {
        k: v
        for k, v in {
            "name": name,
            "company": company,
            "email": email,
            "phone": phone,
            "source": source,
            "owner": owner,
            "external_id": external_id,
        }.items()
        if v is not None
    }
    if value is not None:
        changes["value_minor"] = amount(value)
    if expected_close is not None:
        changes["expected_close"] = date(expected_close, "--expected-close")
    with store().write() as conn:
        leads.edit_lead(conn, lead_id, changes)
    message(f"lead {lead_id} updated: {', '.join(sorted(changes))}")


def show(lead_id: Annotated[int, typer.Argument(metavar="ID")], fmt: FormatOpt = "table") -> None:
    """Show a lead: details, stage history with time in each stage, activities, extra fields."""
    from pipecli import formats, leads
    from pipecli.cli import output
    from pipecli.formats import Column

    with store().read() as conn:
        info = leads.show_lead(conn, lead_id)
    lead = info["lead"]
    detail_columns = list_columns() + [
        Column("lost_reason", "lost reason"),
        Column("external_id", "external id"),
        Column("closed_at", "closed", kind="ts"),
        Column("qualification"),
        Column("win_probability", "win probability", kind="pct"),
        Column("snoozed_until", "snoozed until", kind="date"),
    ]
    history_columns = [
        Column("at", kind="ts"),
        Column("from_stage", "from"),
        Column("to_stage", "to"),
        Column("seconds_in_stage", "time in stage", kind="duration"),
        Column("reason"),
    ]
    activity_columns = [Column("at", kind="ts"), Column("kind"), Column("note")]
    if fmt == "json":
        currency = output._currency()
        out = {c.name: formats.json_value(lead.get(c.key), c.kind, currency) for c in detail_columns}
        out["history"] = [
            {c.name: formats.json_value(h.get(c.key), c.kind, currency) for c in history_columns}
            for h in info["history"]
        ]
        out["activities"] = [
            {c.name: formats.json_value(a.get(c.key), c.kind, currency) for c in activity_columns}
            for a in info["activities"]
        ]
        out["extra"] = info["extra"]
        out["qualification_answers"] = [
            {**a, "at": formats.json_value(a["at"], "ts", currency)} for a in info["qualification"]
        ]
        output.write_json(out)
        return
    if fmt == "csv":
        output.render([lead], detail_columns, "csv")
        return
    output.render_record(lead, detail_columns, "table", title=f"Lead {lead_id}")
    for key, value in info["extra"].items():
        typer.echo(f"  {formats.neutralise(key)}: {formats.neutralise(value or '')}")
    if info["qualification"]:
        typer.echo("\nQualification")
        output.render(
            info["qualification"], [Column("criterion"), Column("answer"), Column("verdict"), Column("at", kind="ts")]
        )
    typer.echo("\nHistory")
    output.render(info["history"], history_columns)
    typer.echo("\nActivities")
    output.render(info["activities"], activity_columns, empty="  (none)")


def delete(lead_id: Annotated[int, typer.Argument(metavar="ID")], yes: YesOpt = False) -> None:
    """Delete a lead with its history and activities (asks first; --yes when not on a terminal)."""
    from pipecli import leads
    from pipecli.cli.output import message

    with store().read() as conn:
        lead = leads.get_lead(conn, lead_id)
    confirm(f"Delete lead {lead_id} ({lead['name']}) and all its history?", yes)
    with store().write() as conn:
        leads.delete_lead(conn, lead_id)
    message(f"deleted lead {lead_id}")


def log(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    kind: Annotated[
        str,
        typer.Argument(
            help="call, email, email_opened, reply, meeting, demo_request, demo, quote_request, quote, trial_start, trial_end, visit, webinar, social, sms, contract_sent, note."
        ),
    ],
    note: Annotated[str | None, typer.Option(help="What happened.")] = None,
    at: AtOpt = None,
    next_: Annotated[str | None, typer.Option("--next", help='Plan the follow-up: "2026-12-02 send proposal".')] = None,
) -> None:
    """Log an activity on a lead; print the activity's id: pipecli log 12 call --next "2026-12-02 send proposal"."""
    from pipecli import nextsteps
    from pipecli.cli.output import stdout_is_tty

    with store().write() as conn:
        activity_id = nextsteps.log_with_next(conn, lead_id, kind, note, ts(at), next_)
    typer.echo(activity_id if not stdout_is_tty() else f"logged {kind} on lead {lead_id} (activity {activity_id})")


def list_(
    pipeline: PipelineOpt = None,
    stage: Annotated[str | None, typer.Option(help="Only leads in this stage (won/lost too).")] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="open, won or lost.")] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="value (largest first), age (oldest first), expected-close, last-activity (longest silent first), created, name, score (highest now, engagement decayed), id."
        ),
    ] = "id",
    limit: Annotated[int | None, typer.Option(help="At most this many leads.")] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived leads.")] = False,
    hot: Annotated[
        bool, typer.Option("--hot", help="Only hot leads (score at or above [scoring] hot_threshold).")
    ] = False,
    fmt: FormatOpt = "table",
) -> None:
    """List leads, filtered and sorted: pipecli list --status open --sort value --limit 10."""
    from pipecli import listing
    from pipecli.cli import output

    filters = listing.LeadFilter(pipeline, stage, owner, source, status, include_archived=archived, hot=hot)
    with store().read() as conn:
        rows = listing.list_leads(conn, filters, sort, limit)
    output.render(rows, list_columns(), fmt, empty="no leads match")


def board_(
    pipeline: PipelineOpt = None,
    per_stage: Annotated[int, typer.Option(help="Leads shown per stage.")] = 5,
    fmt: FormatOpt = "table",
) -> None:
    """The pipeline at a glance: each stage with its count, value and most valuable leads."""
    from pipecli import board

    with store().read() as conn:
        data = board.board(conn, pipeline, per_stage)
    render_board(data, fmt)


def render_board(data: dict, fmt: str) -> None:
    """Print a board: blocks per stage (table), one row per stage (csv) or the whole structure (json)."""
    from pipecli import formats
    from pipecli.cli import output
    from pipecli.formats import Column

    if fmt == "json":
        currency = output._currency()
        output.write_json(
            {
                "pipeline": data["pipeline"],
                "stages": [
                    {
                        "stage": s["stage"],
                        "kind": s["kind"],
                        "count": s["count"],
                        "value": formats.json_value(s["value_minor"], "money", currency),
                        "leads": [
                            {
                                "id": lead["id"],
                                "name": lead["name"],
                                "company": lead["company"],
                                "value": formats.json_value(lead["value_minor"], "money", currency),
                            }
                            for lead in s["leads"]
                        ],
                    }
                    for s in data["stages"]
                ],
            }
        )
        return
    columns = [
        Column("stage"),
        Column("kind"),
        Column("count", kind="int"),
        Column("value", kind="money", source="value_minor"),
    ]
    if fmt == "csv":
        output.render(data["stages"], columns, "csv")
        return
    from pipecli import money

    currency = output._currency()
    open_stages = [s for s in data["stages"] if s["kind"] == "open"]
    total = sum(s["value_minor"] for s in open_stages)
    lines = [f"{data['pipeline']}: {sum(s['count'] for s in open_stages)} open leads, {money.fmt(total, currency)}"]
    for s in data["stages"]:
        head = f"{s['stage']} · {s['count']} · {money.fmt(s['value_minor'], currency)}"
        if s["kind"] != "open":
            lines.append(f"[{head}]")
            continue
        lines.append("")
        lines.append(f"== {head}")
        for lead in s["leads"]:
            who = lead["name"] + (f" ({lead['company']})" if lead["company"] else "")
            price = money.fmt_short(lead["value_minor"], currency)
            label = formats.neutralise(f"#{lead['id']} {who}")
            if len(label) > 68:
                label = label[:67] + "…"
            lines.append(f"   {label:<68} {price:>7}")
        hidden = s["count"] - len(s["leads"])
        if hidden > 0:
            lines.append(f"   … and {hidden} more")
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("add-lead")(add_lead)
    app.command()(move)
    app.command()(edit)
    app.command()(show)
    app.command()(delete)
    app.command()(log)
    app.command("list")(list_)
    app.command("board")(board_)
