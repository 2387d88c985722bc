"""The daily stale-deal report and what to do about it: `clean`, `snooze`."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli import complete
from pipecli.cli.common import LeadArg, PipelineOpt, RawOpt, YesOpt, date, one_of, resolve_lead, store
from pipecli.errors import UsageError

FORMATS = ("text", "table", "csv", "json", "markdown")


def clean(
    pipeline: PipelineOpt = None,
    owner: Annotated[str | None, typer.Option(help="Only this seller's deals.", autocompletion=complete.owners)] = None,
    stage: Annotated[
        str | None, typer.Option(help="Only the deals in this open stage.", autocompletion=complete.stages)
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            "--rules",
            metavar="GROUPS|RULES",
            autocompletion=complete.clean_rules,
            help="What to judge: stale (silent, stuck, overdue; the default), hygiene (incomplete, no-next-step, "
            "duplicate), all, or rules by name, comma-separated: --rules stale,hygiene.",
        ),
    ] = None,
    since_last: Annotated[
        bool,
        typer.Option(
            "--since-last", help="Report only what is new since the last --since-last report (a short daily mail)."
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="DATE", help="Judge the pipeline as it stood at the end of DATE (reads history)."
        ),
    ] = None,
    fmt: Annotated[
        one_of(FORMATS) | None,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="Output format (default: text, the summary and the findings by rule; table for the full table).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when anything is found, 0 when the pipeline is clean.")
    ] = False,
    close_lost: Annotated[bool, typer.Option("--close-lost", help="Close the deals found as lost.")] = False,
    snooze_days: Annotated[
        int | None, typer.Option("--snooze", metavar="DAYS", help="Snooze the deals found for DAYS days.")
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="Archive the deals found (hidden from list and reports).")
    ] = False,
    reason: Annotated[
        str, typer.Option(help="Why, recorded in each deal's history (the lost reason with --close-lost).")
    ] = "stale",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what --close-lost/--snooze/--archive would do; change nothing.")
    ] = False,
    yes: YesOpt = False,
    raw: RawOpt = False,
    mail_to: Annotated[
        str | None,
        typer.Option(
            "--mail-to",
            metavar="ADDR",
            help="Mail the report to ADDR (text and HTML, over the [mail] settings) instead of printing it; with --check only when something is found.",
        ),
    ] = None,
) -> None:
    """Report stale deals (silent, stuck, overdue) and, with --rules hygiene, incomplete records (incomplete,
    no-next-step, duplicate); optionally act on them.

    The first line of the text report is a summary; when nothing is stale it is the only line.
    --close-lost and --archive act only on stale findings, and never on a deal younger than its stage's
    stale limit.

    \b
    Examples:
      pipecli clean                     # the summary, then the findings by rule
      pipecli clean --owner bob --format table
      pipecli clean --check --mail-to sales@example.com
                                        # mailed only when something is found
      pipecli clean --rules stale,hygiene --format table
      pipecli clean --since-last        # only what is new since the last report
      pipecli clean --as-of 2026-10-31  # the pipeline as it stood then
      pipecli clean --close-lost --reason stale --yes
      pipecli clean --snooze 14 --reason "budget freeze until January" --dry-run

    \b
    Exit codes:
      0  the report was made (and, with --check, nothing was found)
      1  --check found something; or an error, such as a mail that could not
         be sent (stderr says what)
      2  usage error, or an action without --yes when not on a terminal
         (nothing changed)
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views_reports
    from pipecli.cli.common import confirm
    from pipecli.cli.output import message
    from pipecli.reports import clean as stale
    from pipecli.reports import clean_actions

    actions = [
        a for a, on in (("close-lost", close_lost), ("snooze", snooze_days is not None), ("archive", archive)) if on
    ]
    if len(actions) > 1:
        raise UsageError("give only one of --close-lost, --snooze, --archive")
    if actions and as_of is not None:
        raise UsageError("--as-of shows the past; acting on it is not allowed (drop --as-of)")
    if dry_run and not actions:
        raise UsageError("--dry-run goes with --close-lost, --snooze or --archive")
    if snooze_days is not None and snooze_days < 1:
        raise UsageError("--snooze DAYS must be at least 1")
    if since_last and (as_of is not None or actions):
        raise UsageError("--since-last goes with the report alone (not with --as-of or an action)")
    day = date(as_of, "--as-of")
    fmt = fmt or "text"  # the readable summary, on a terminal too: the table is --format table
    chosen = stale.choose_rules(rules)
    if since_last:
        report = store().write(
            lambda conn: stale.keep_new(
                conn, stale.find_stale(conn, pipeline, owner, day, rules=chosen, stage=stage), owner, stage
            )
        )
    else:
        with store().read() as conn:
            report = stale.find_stale(conn, pipeline, owner, day, rules=chosen, stage=stage)
    if mail_to is not None:
        if not (check and not report.rows):  # with --check, a mail only when something was found
            # imported when the command runs, so --help and --version stay light
            from pipecli.cli.mail import mail_report

            mail_report(
                mail_to,
                views_reports.clean_summary(report, owner, as_of is not None),
                lambda f: views_reports.clean(report, f, owner, as_of is not None),
            )
    else:
        views_reports.clean(report, fmt, owner, as_of is not None)
    if actions and report.rows:
        action = actions[0]
        targets, left = report.act_on(action)
        if left:
            message(
                f"{left} deal{'s' * (left != 1)} left alone: {action} acts only on stale findings "
                "(silent, stuck, overdue) of deals older than their stage's stale limit"
            )
        if not targets:
            message(f"nothing to {action.split('-')[0]}; nothing was changed")
            return
        n = len(targets)
        deals = f"{n} deal{'s' * (n != 1)}"
        verb, past, rest = {
            "close-lost": ("Close", "closed", " as lost"),
            "snooze": ("Snooze", "snoozed", f" until {clean_actions.snooze_end(snooze_days or 0).isoformat()}"),
            "archive": ("Archive", "archived", ""),
        }[action]
        if dry_run:
            message(f"dry run: would {verb.lower()} {deals}{rest} (reason: {reason}); nothing was changed")
        else:
            confirm(f"{verb} {deals}{rest} (reason: {reason})?", yes)
            done = store().write(lambda conn: clean_actions.apply(conn, targets, action, reason, snooze_days))
            message(f"{past} {len(done)} of {deals}{rest} (reason: {reason})")
    if check and report.rows:
        # imported when the command runs, so --help and --version stay light
        from pipecli.errors import EXIT_FOUND

        raise typer.Exit(EXIT_FOUND)


def snooze(
    lead: LeadArg,
    until: Annotated[
        str | None, typer.Option("--until", metavar="DATE", help="Leave the deal out of `clean` until this date.")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why the deal is stalled (recorded in its history).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="End the snooze now.")] = False,
) -> None:
    """Snooze a deal stalled for a known reason: `pipecli snooze 12 --until 2027-01-10 --reason "budget freeze"`."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli.output import message
    from pipecli.reports import clean_actions

    if clear == (until is not None):
        raise UsageError("give either --until DATE (with --reason) or --clear")
    day = date(until, "--until")

    def work(conn):  # -> (lead id, what was stored)
        lead_id = resolve_lead(conn, lead)
        return lead_id, clean_actions.snooze(conn, lead_id, day, reason)

    lead_id, snoozed = store().write(work)
    if clear:
        message(f"lead {lead_id}: snooze cleared")
    else:
        message(f"lead {lead_id} snoozed until {snoozed['snoozed_until']}: {snoozed['snooze_reason']}")


def register(app: typer.Typer) -> None:
    """Add `clean` and `snooze` to `app`."""
    app.command()(clean)
    app.command()(snooze)
