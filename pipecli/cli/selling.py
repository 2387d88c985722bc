"""The seller's commands: qualify, score, next, follow-up, today."""

from __future__ import annotations

from typing import Annotated

import typer

from pipecli.cli.common import AtOpt, FormatOpt, PipelineOpt, date, store, ts


def qualify(
    lead_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="The lead (omit with --pending).")] = None,
    budget: Annotated[str | None, typer.Option(help="yes, no, unknown, or a value (an amount: 20000).")] = None,
    authority: Annotated[str | None, typer.Option(help="yes, no, unknown, or who decides (a name).")] = None,
    need: Annotated[str | None, typer.Option(help="yes, no, unknown, or the need in words.")] = None,
    timeline: Annotated[str | None, typer.Option(help="yes, no, unknown, or when (a date).")] = None,
    move: Annotated[
        bool, typer.Option("--move", help="Move a qualified lead to its pipeline's qualification stage.")
    ] = False,
    close: Annotated[
        bool, typer.Option("--close", help="Close a disqualified lead as lost (reason: disqualified: no budget).")
    ] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="List open leads whose qualification is incomplete, oldest first.")
    ] = False,
    pipeline: PipelineOpt = None,
    at: AtOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Record BANT answers: pipecli qualify 12 --budget 20000 --authority "Maria (CFO)" --need yes --timeline 2027-01-15 --move.

    An answer is yes, no (also none, 0, nobody, never), unknown, or a value, which counts as yes. A lead is
    qualified when the required criteria (config [qualification] required; default all four) are yes,
    disqualified when one is no, incomplete otherwise."""
    from pipecli import qualify as core
    from pipecli.cli import output
    from pipecli.cli.output import message
    from pipecli.formats import Column

    if pending:
        with store().read() as conn:
            rows = core.pending(conn, pipeline)
        output.render(
            rows,
            [
                Column("id", kind="int"),
                Column("name"),
                Column("company"),
                Column("stage"),
                Column("created_at", "created", kind="ts"),
                Column("answered", kind="int"),
                Column("missing"),
            ],
            fmt,
            empty="no open lead awaits qualification",
        )
        return
    if lead_id is None:
        from pipecli.errors import UsageError

        raise UsageError("give a lead ID (or --pending to list leads awaiting qualification)")
    answers = {"budget": budget, "authority": authority, "need": need, "timeline": timeline}
    with store().write() as conn:
        result = core.qualify(conn, lead_id, answers, ts(at), move=move, close=close)
    rows = [
        {"criterion": c, "verdict": result["verdicts"].get(c, "unknown"), "required": c in result["required"]}
        for c in core.CRITERIA
    ]
    if fmt == "json":
        output.write_json({**result, "required": list(result["required"])})
        return
    output.render(rows, [Column("criterion"), Column("verdict"), Column("required", kind="bool")], fmt)
    message(f"lead {lead_id} is {result['status']}" + (f"; {result['done']}" if result["done"] else ""))


def _score_columns():
    from pipecli.formats import Column

    return [
        Column("id", kind="int"),
        Column("name"),
        Column("company"),
        Column("stage"),
        Column("fit", kind="float"),
        Column("engagement", kind="float"),
        Column("total", kind="float"),
        Column("hot", kind="bool"),
        Column("win_probability", "win prob.", kind="pct"),
    ]


def score(
    lead_id: Annotated[int | None, typer.Argument(metavar="[ID]", help="One lead (with --explain).")] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show each rule's and each activity's contribution.")
    ] = False,
    rules: Annotated[
        bool, typer.Option("--rules", help="Show the fit rules, activity points, half-life and hot threshold in force.")
    ] = False,
    recompute: Annotated[
        bool,
        typer.Option("--recompute", help="Recompute every lead's stored score (after changing rules or importing)."),
    ] = False,
    learn: Annotated[
        bool, typer.Option("--learn", help="Learn P(won) from closed leads and report its held-out AUC.")
    ] = False,
    fields: Annotated[
        str | None,
        typer.Option(
            help="With --learn: the fields to learn from, a,b,c (default: source, owner, value and all extra fields)."
        ),
    ] = None,
    hot: Annotated[bool, typer.Option("--hot", help="Only hot leads.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many leads.")] = None,
    pipeline: PipelineOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Rank open leads by score (fit + decayed engagement): pipecli score --limit 20; pipecli score 12 --explain."""
    from pipecli import listing
    from pipecli.cli import output
    from pipecli.cli.output import message
    from pipecli.errors import UsageError
    from pipecli.formats import Column
    from pipecli.scoring import rules as scoring_rules
    from pipecli.scoring import score as scoring

    if sum([explain, rules, recompute, learn]) > 1:
        raise UsageError("use one of --explain, --rules, --recompute, --learn at a time")
    if fields is not None and not learn:
        raise UsageError("--fields goes with --learn")
    if lead_id is not None and not explain:
        explain = True
    if explain:
        if lead_id is None:
            raise UsageError("--explain needs a lead ID")
        with store().read() as conn:
            info = scoring.explain(conn, lead_id)
        _render_explain(info, fmt)
        return
    if rules:
        info = scoring_rules.rules_in_force()
        if fmt == "json":
            output.write_json(info)
            return
        output.render(
            info["rules"],
            [Column("rule"), Column("points", kind="float")],
            fmt,
            title="Fit rules" if fmt == "table" else None,
        )
        if fmt == "table":
            typer.echo("")
            output.render(
                info["points"], [Column("kind", "activity"), Column("points", kind="float")], title="Activity points"
            )
            typer.echo(
                f"\nengagement half-life: {info['half_life_days']:g} days; hot at {info['hot_threshold']:g} or more"
                + (
                    ""
                    if info["custom_rules"]
                    else " (default rules; set [[scoring.rules]] in the config to change them)"
                )
            )
        return
    if recompute:
        with store().write() as conn:
            count = scoring.recompute(conn)
        message(f"recomputed the scores of {count} leads")
        return
    if learn:
        names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        with store().write() as conn:
            report = scoring.learn_and_rescore(conn, names)
        _render_learn(report, fmt)
        return
    with store().read() as conn:
        rows = listing.ranked(conn, pipeline, limit, hot_only=hot)
    output.render(rows, _score_columns(), fmt, empty="no open leads")


def _render_explain(info: dict, fmt: str) -> None:
    from pipecli import formats
    from pipecli.cli import output
    from pipecli.formats import Column

    rule_columns = [
        Column("rule"),
        Column("value"),
        Column("points", kind="float"),
        Column("contribution", kind="float"),
    ]
    activity_columns = [
        Column("at", kind="ts"),
        Column("kind"),
        Column("points", kind="float"),
        Column("age_days", "age (days)", kind="float"),
        Column("contribution", kind="float"),
    ]
    if fmt == "json":
        currency = output._currency()
        output.write_json(
            {
                **{k: v for k, v in info.items() if k not in ("rules", "activities")},  # win_factors included
                "rules": info["rules"],
                "activities": [
                    {c.name: formats.json_value(a[c.key], c.kind, currency) for c in activity_columns}
                    for a in info["activities"]
                ],
            }
        )
        return
    if fmt == "csv":
        from pipecli import clock

        rows = [{"part": "rule", "what": r["rule"], "contribution": r["contribution"]} for r in info["rules"]]
        rows += [
            {"part": "activity", "what": f"{a['kind']} {clock.iso(a['at'])}", "contribution": a["contribution"]}
            for a in info["activities"]
        ]
        output.render(rows, [Column("part"), Column("what"), Column("contribution", kind="float")], "csv")
        return
    typer.echo(f"Lead {info['lead_id']}: {formats.neutralise(info['name'])}")
    output.render(info["rules"], rule_columns, title="Fit")
    typer.echo("")
    engagement_title = f"Engagement (half-life {info['half_life_days']:g} days)"
    if info["activities"]:
        output.render(info["activities"], activity_columns, title=engagement_title)
    else:
        typer.echo(f"{engagement_title}: no activities")
    hot = "hot" if info["hot"] else "not hot"
    line = f"\nfit {info['fit']:.2f} + engagement {info['engagement']:.2f} = {info['total']:.2f} ({hot}; threshold {info['hot_threshold']:g})"
    if info["win_probability"] is not None:
        line += f"; learned win probability {info['win_probability'] * 100:.1f}%"
    typer.echo(line)
    if info["win_factors"]:
        typer.echo("")
        output.render(
            info["win_factors"][:8],
            [Column("field"), Column("bucket", "value"), Column("weight", "weight (log-odds)", kind="float")],
            title="Learned win probability: strongest factors for this lead",
        )


def _render_learn(report: dict, fmt: str) -> None:
    from pipecli.cli import output
    from pipecli.cli.output import message
    from pipecli.formats import Column

    if fmt == "json":
        output.write_json(report)
        return
    if fmt == "csv":
        output.render(report["top_factors"], [Column("field"), Column("value"), Column("weight", kind="float")], "csv")
        return
    auc = "n/a (the held-out leads have one outcome only)" if report["auc"] is None else f"{report['auc']:.3f}"
    split = "the newest" if report["split"] == "newest" else "a seeded random"
    typer.echo(
        f"{report['method']}: learned from {report['learned_from']} closed leads ({report['won']} won, {report['lost']} lost)\n"
        f"held-out AUC {auc}: fitted on {report['trained_on']}, tested on {split} {report['held_out']}\n"
        f"fields used: {', '.join(report['fields'])}"
    )
    if report["skipped"]:
        typer.echo(f"fields skipped (constant or identifiers): {', '.join(report['skipped'])}")
    typer.echo("")
    output.render(
        report["top_factors"],
        [Column("field"), Column("value"), Column("weight", kind="float")],
        title="Strongest factors",
    )
    message(f"win probability written for {report['open_leads']} open leads")


def next_(pipeline: PipelineOpt = None, fmt: FormatOpt = "table") -> None:
    """Leads ready to advance: they showed one of their stage's triggers (pipeline stage P S --triggers ...) since entering it."""
    from pipecli import nextsteps
    from pipecli.cli import output

    with store().read() as conn:
        rows = nextsteps.ready_to_advance(conn, pipeline)
    output.render(rows, _ready_columns(), fmt, empty="no lead showed a trigger since entering its stage")


def _ready_columns():
    from pipecli.formats import Column

    return [
        Column("id", kind="int"),
        Column("name"),
        Column("company"),
        Column("stage"),
        Column("trigger"),
        Column("trigger_at", "when", kind="ts"),
        Column("suggested", "suggested move"),
    ]


def follow_up(
    lead_id: Annotated[int, typer.Argument(metavar="ID")],
    due: Annotated[str, typer.Argument(metavar="DATE", help="When: 2026-12-02, tomorrow, 'in 3 days'.")],
    step: Annotated[str, typer.Argument(metavar="TEXT", help="What to do.")],
) -> None:
    """Plan a lead's next step: pipecli follow-up 12 2026-12-02 "send proposal"."""
    from pipecli import nextsteps
    from pipecli.cli.output import message

    with store().write() as conn:
        plan = nextsteps.set_follow_up(conn, lead_id, date(due, "DATE"), step)
    message(f"lead {lead_id}: {plan['next_step']} by {plan['next_step_due'].isoformat()}")


def today(pipeline: PipelineOpt = None, fmt: FormatOpt = "table") -> None:
    """The morning view: follow-ups due today or overdue, hot leads with no next step, leads ready to advance."""
    from pipecli import formats, nextsteps
    from pipecli.cli import output
    from pipecli.formats import Column

    with store().read() as conn:
        data = nextsteps.todays_work(conn, pipeline)
    sections = {
        "follow_ups": (
            "Follow-ups due",
            [
                Column("id", kind="int"),
                Column("name"),
                Column("company"),
                Column("stage"),
                Column("next_step", "next step"),
                Column("next_step_due", "due", kind="date"),
                Column("days_overdue", "days overdue", kind="int"),
            ],
        ),
        "hot_without_next_step": (
            "Hot leads with no next step",
            [
                Column("id", kind="int"),
                Column("name"),
                Column("company"),
                Column("stage"),
                Column("score", kind="float"),
                Column("last_event_at", "last touched", kind="ts"),
            ],
        ),
        "ready": ("Ready to advance", _ready_columns()),
    }
    if fmt == "json":
        currency = output._currency()
        output.write_json(
            {
                key: [{c.name: formats.json_value(r.get(c.key), c.kind, currency) for c in cols} for r in data[key]]
                for key, (_, cols) in sections.items()
            }
        )
        return
    for i, (key, (title, cols)) in enumerate(sections.items()):
        if fmt == "csv":
            typer.echo(f"# {key}")
            output.render(data[key], cols, "csv")
            continue
        if i:
            typer.echo("")
        if data[key]:
            output.render(data[key], cols, title=f"{title} ({len(data[key])})")
        else:
            typer.echo(f"{title}: none")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(qualify)
    app.command()(score)
    app.command("next")(next_)
    app.command("follow-up")(follow_up)
    app.command()(today)
