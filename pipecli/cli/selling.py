"""The seller's commands: qualify, score, next, follow-up, today."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli import complete
from pipecli.cli.common import LEAD_HELP, AtOpt, FormatOpt, LeadArg, PipelineOpt, RawOpt, date, resolve_lead, store, ts


def qualify(
    lead: Annotated[
        str | None,
        typer.Argument(
            metavar="[LEAD]", help="The lead (omit with --pending): " + LEAD_HELP, autocompletion=complete.leads
        ),
    ] = None,
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
    # imported when the command runs, so --help and --version stay light
    from pipecli import qualify as core
    from pipecli.cli import views

    if pending:
        with store().read() as conn:
            rows = core.pending(conn, pipeline)
        views.pending(rows, fmt)
        return
    if lead is None:
        # imported when the command runs, so --help and --version stay light
        from pipecli.errors import UsageError

        raise UsageError("give a lead ID (or --pending to list leads awaiting qualification)")
    answers = {"budget": budget, "authority": authority, "need": need, "timeline": timeline}
    when = ts(at)  # outside the transaction: it may say on stderr how a time in words was read
    result = store().write(
        lambda conn: core.qualify(conn, resolve_lead(conn, lead), answers, when, move=move, close=close)
    )
    views.qualification(result, core.CRITERIA, fmt)


def score(
    lead: Annotated[
        str | None,
        typer.Argument(metavar="[LEAD]", help="One lead (with --explain): " + LEAD_HELP, autocompletion=complete.leads),
    ] = None,
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
        bool,
        typer.Option(
            "--learn",
            help="Learn P(won) from closed leads (with --pipeline: that pipeline's only) and report its held-out AUC.",
        ),
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
    raw: RawOpt = False,
) -> None:
    """Rank open leads by score (fit + decayed engagement): pipecli score --limit 20; pipecli score 12 --explain."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import listing
    from pipecli.cli import views
    from pipecli.cli.output import message
    from pipecli.errors import UsageError
    from pipecli.scoring import rules as scoring_rules
    from pipecli.scoring import score as scoring

    if sum([explain, rules, recompute, learn]) > 1:
        raise UsageError("use one of --explain, --rules, --recompute, --learn at a time")
    if fields is not None and not learn:
        raise UsageError("--fields goes with --learn")
    if lead is not None and not explain:
        explain = True
    if explain:
        if lead is None:
            raise UsageError("--explain needs a lead ID")
        with store().read() as conn:
            lead_id = resolve_lead(conn, lead)
            info = scoring.explain(conn, lead_id)
        views.explanation(info, fmt)
    elif rules:
        views.rules(scoring_rules.rules_in_force(), fmt)
    elif recompute:
        count = store().write(scoring.recompute)
        message(f"recomputed the scores of {count} leads")
    elif learn:
        names = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        report = store().write(lambda conn: scoring.learn_and_rescore(conn, names, pipeline))
        views.learned(report, fmt)
    else:
        with store().read() as conn:
            rows = listing.ranked(conn, pipeline, limit, hot_only=hot)
        views.scores(rows, fmt)


def next_(pipeline: PipelineOpt = None, fmt: FormatOpt = "table") -> None:
    """Leads ready to advance: they showed one of their stage's triggers (pipeline stage P S --triggers ...) since entering it."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import nextsteps
    from pipecli.cli import views

    with store().read() as conn:
        rows = nextsteps.ready_to_advance(conn, pipeline)
    views.ready(rows, fmt)


def follow_up(
    lead: LeadArg,
    due: Annotated[str, typer.Argument(metavar="DATE", help="When: 2026-12-02, tomorrow, 'in 3 days'.")],
    step: Annotated[str, typer.Argument(metavar="TEXT", help="What to do.")],
) -> None:
    """Plan a lead's next step: pipecli follow-up 12 2026-12-02 "send proposal"."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import nextsteps
    from pipecli.cli.output import message

    day = date(due, "DATE")

    def work(conn):  # -> (lead id, what was stored)
        lead_id = resolve_lead(conn, lead)
        return lead_id, nextsteps.set_follow_up(conn, lead_id, day, step)

    lead_id, plan = store().write(work)
    message(f"lead {lead_id}: {plan['next_step']} by {plan['next_step_due'].isoformat()}")


def today(pipeline: PipelineOpt = None, fmt: FormatOpt = "table") -> None:
    """The morning view: follow-ups due today or overdue, hot leads with no next step, leads ready to advance."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import nextsteps
    from pipecli.cli import views

    with store().read() as conn:
        data = nextsteps.todays_work(conn, pipeline)
    views.today(data, fmt)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(qualify)
    app.command()(score)
    app.command("next")(next_)
    app.command("follow-up")(follow_up)
    app.command()(today)
