"""Reports: metrics, funnel, forecast and size."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli import vocabulary
from pipecli.cli.common import FormatOpt, PipelineOpt, RawOpt, amount, bounded, date, one_of, store
from pipecli.errors import UsageError
from pipecli.reports.periods import PERIODS

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Figures as the pipeline stood at the end of this day (read from the history)."),
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only leads created / closed since this date.")]


def metrics_(
    pipeline: PipelineOpt = None,
    since: SinceOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
    raw: RawOpt = False,
) -> None:
    """Pipeline metrics: new leads, win rate, average won deal, sales cycle, velocity, and per stage the
    conversion to the next stage and the time spent in it.

    \b
    Examples:
      pipecli metrics --since 2026-01-01
      pipecli metrics --as-of 2026-06-30 --format json | jq .win_rate
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views_reports
    from pipecli.reports import metrics

    with store().read() as conn:
        data = metrics.metrics(conn, pipeline, date(since, "--since"), date(as_of, "--as-of"))
    views_reports.metrics(data, fmt)


def funnel_(
    pipeline: PipelineOpt = None, as_of: AsOfOpt = None, since: SinceOpt = None, fmt: FormatOpt = "table"
) -> None:
    """The funnel: each stage as a bar of the leads that reached it, with its open deals, their value and
    the conversion to the next stage. Won leads count as having reached every stage; won and lost deals
    whose path nobody observed (imported final states) are left out, and counted on stderr."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views_reports
    from pipecli.reports import metrics

    with store().read() as conn:
        data = metrics.funnel(conn, pipeline, date(as_of, "--as-of"), date(since, "--since"))
    views_reports.funnel(data, fmt)


def forecast_(
    pipeline: PipelineOpt = None,
    period: Annotated[one_of(PERIODS), typer.Option(case_sensitive=False, help="The forecast's periods.")] = "month",
    periods: Annotated[
        int | None, typer.Option(help="How many periods, starting with the current one (default 3).")
    ] = None,
    as_of: AsOfOpt = None,
    target: Annotated[str | None, typer.Option(help="Revenue target per period: the chance of reaching it.")] = None,
    probabilities: Annotated[
        one_of(vocabulary.PROBABILITY_MODES) | None,
        typer.Option(
            case_sensitive=False,
            help="Win probabilities: configured per stage, learned from history, or per lead from `score --learn` (auto, the default: learned when present, else history).",
        ),
    ] = None,
    runs: Annotated[int | None, typer.Option(help="Monte Carlo runs (default 10000, config [forecast] runs).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same output).")] = None,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Replay past periods: forecast at each start vs what closed.")
    ] = False,
    from_: Annotated[
        str | None, typer.Option("--from", help="Backtest from this period (default six periods back).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Backtest up to the period holding this day, included (default the last whole period)."
        ),
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Revenue forecast per coming period: deals expected to close, their value, the weighted value, P10/P50/P90
    from a seeded simulation, the chance of reaching --target and a velocity cross-check.

    \b
    Examples:
      pipecli forecast --period quarter --target 50000
      pipecli forecast --backtest --format json
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views_reports
    from pipecli.reports import forecast

    seed = bounded(seed, "--seed", 0)
    forecast_only = {"--as-of": as_of, "--target": target, "--periods": periods}
    backtest_only = {"--from": from_, "--to": to}
    wrong = [k for k, v in (forecast_only if backtest else backtest_only).items() if v is not None]
    if wrong:
        mode = "the backtest (it replays past periods from history)" if backtest else "a forecast without --backtest"
        raise UsageError(f"{', '.join(wrong)} does not apply to {mode}: drop it")
    if backtest:
        # imported when the command runs, so --help and --version stay light
        from pipecli.reports import backtest as bt

        with store().read() as conn:
            data = bt.backtest(
                conn, pipeline, period, date(from_, "--from"), date(to, "--to"), runs, seed, probabilities or "auto"
            )
        views_reports.backtest(data, fmt)
        return
    with store().read() as conn:
        result = forecast.forecast(
            conn,
            pipeline,
            period,
            3 if periods is None else periods,
            date(as_of, "--as-of"),
            amount(target, "--target"),
            probabilities or "auto",
            runs,
            seed,
        )
    views_reports.forecast(result, fmt)


def size_(
    target: Annotated[str, typer.Option(help="Revenue target: 100000.")],
    avg_deal: Annotated[str | None, typer.Option(help="Average deal size (default: the average won deal).")] = None,
    close_rate: Annotated[str | None, typer.Option(help="Close rate, 0.8 or 80% (default: won ÷ closed).")] = None,
    reps: Annotated[int | None, typer.Option(help="Sellers (default: distinct lead owners).")] = None,
    pipeline: PipelineOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """What a target needs: deals (target ÷ average deal), leads (÷ close rate), leads per seller (÷ sellers),
    each rounded up; the leads each stage must hold, and how the open pipeline covers it.

    \b
    Example (200 deals, 250 leads, 25 each):
      pipecli size --target 100000 --avg-deal 500 --close-rate 0.8 --reps 10
    """
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import views_reports
    from pipecli.reports import sizing

    target_minor = amount(target, "--target", required=True)
    assert target_minor is not None  # required: a blank one is refused
    with store().read() as conn:
        data = sizing.size(
            conn,
            target_minor,
            amount(avg_deal, "--avg-deal"),
            sizing.parse_rate(close_rate),
            reps,
            pipeline,
        )
    views_reports.size(data, fmt)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("metrics")(metrics_)
    app.command("funnel")(funnel_)
    app.command("forecast")(forecast_)
    app.command("size")(size_)
