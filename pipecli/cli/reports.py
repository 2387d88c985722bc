"""Reports: metrics, funnel, forecast and size."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipecli import vocabulary
from pipecli.cli.common import FormatOpt, PipelineOpt, RawOpt, amount, bounded, date, one_of, store
from pipecli.errors import UsageError
from pipecli.reports.periods import PERIODS

if TYPE_CHECKING:
    from pipecli.formats import Column
    from pipecli.reports.metrics import Funnel

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Figures as the pipeline stood at the end of this day (read from the history)."),
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only leads created / closed since this date.")]


def _summary_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("pipeline"),
        Column("as_of", "as of", kind="ts"),
        Column("since", kind="date"),
        Column("from_history", "from history", kind="bool"),
        Column("new_leads", "new leads", kind="int"),
        Column("won", kind="int"),
        Column("lost", kind="int"),
        Column("win_rate", "win rate", kind="pct"),
        Column("won_value", "won value", kind="money", source="won_value_minor"),
        Column("avg_won_deal", "average won deal", kind="money", source="avg_won_minor"),
        Column("cycle_median_days", "sales cycle median (days)", kind="float"),
        Column("cycle_mean_days", "sales cycle mean (days)", kind="float"),
        Column("open_deals", "open deals", kind="int"),
        Column("open_value", "open value", kind="money", source="open_value_minor"),
        Column("avg_open_age_days", "average open age (days)", kind="float"),
        Column("velocity_per_day", "pipeline velocity per day", kind="money", source="velocity_minor_per_day"),
    ]


def _stage_columns(times: bool = True):
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    cols = [
        Column("position", "#", kind="int"),
        Column("stage"),
        Column("reached", kind="int"),
        Column("open", kind="int"),
        Column("open_value", "open value", kind="money", source="open_value_minor"),
        Column("next_stage", "next"),
        Column("conversion", kind="pct"),
    ]
    if times:
        cols += [
            Column("time_median_days", "median days in stage", kind="float"),
            Column("time_p90_days", "p90 days in stage", kind="float"),
            Column("stays", kind="int"),
        ]
    return cols


def _source_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [Column("source"), Column("new_leads", "new leads", kind="int")]


def _fields(result: Any) -> dict[str, Any]:
    """Return a typed result's fields (a frozen dataclass of the core) as the record the columns read."""
    return dict(vars(result))


def _records(rows: Sequence[Mapping[str, Any]], columns: Sequence["Column"]) -> list[dict[str, Any]]:
    # imported when the command runs, so --help and --version stay light
    from pipecli import formats
    from pipecli.cli import output

    currency = output._currency()
    return [{c.name: formats.json_value(r.get(c.key), c.kind, currency) for c in columns} for r in rows]


def _long_csv(parts: list[tuple[str, list[dict[str, Any]], list["Column"]]]) -> None:
    """Write several record lists as one CSV: section, row label, figure, value."""
    # imported when the command runs, so --help and --version stay light
    import csv
    import sys

    from pipecli import formats
    from pipecli.cli import output
    from pipecli.cli.context import current

    currency = output._currency()
    defusing = current().defuse_csv  # a stage or source named =HYPERLINK(...) stays text (--raw: as is)

    def cell(value: Any, kind: str) -> str:
        text = formats.csv_value(value, kind, currency)
        return formats.defuse(text) if defusing and kind == "text" else text

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["section", "item", "figure", "value"])
    for section, rows, columns in parts:
        label = columns[0] if section != "summary" else None
        for r in rows:
            item = "" if label is None else cell(r.get(label.key), label.kind)
            for c in columns:
                if c is label:
                    continue
                writer.writerow([section, item, c.name, cell(r.get(c.key), c.kind)])


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
    from pipecli.cli import output
    from pipecli.reports import metrics, state

    with store().read() as conn:
        data = metrics.metrics(conn, pipeline, date(since, "--since"), date(as_of, "--as-of"))
    summary = _summary_columns()
    stage_cols = [c for c in _stage_columns() if c.name != "position"]
    record = _fields(data)
    stages = [_fields(s) for s in data.stages]
    sources = [_fields(s) for s in data.sources]
    if fmt == "json":
        out = _records([record], summary)[0]
        out["sources"] = _records(sources, _source_columns())
        out["stages"] = _records(stages, _stage_columns())
        output.write_json(out)
    elif fmt == "csv":
        _long_csv(
            [("summary", [record], summary), ("stage", stages, stage_cols), ("source", sources, _source_columns())]
        )
    else:
        output.render_record(record, summary, "table", title=f"Metrics: {data.pipeline}")
        if data.velocity_minor_per_day is None:
            need = state.VELOCITY_MIN_WON
            output.message(f"pipeline velocity: not enough history (it needs at least {need} won deals in the window)")
        output.line()
        output.render(stages, _stage_columns(), "table", title="Stages")
        output.line()
        output.render(sources, _source_columns(), "table", title="New leads by source")


def funnel_(
    pipeline: PipelineOpt = None, as_of: AsOfOpt = None, since: SinceOpt = None, fmt: FormatOpt = "table"
) -> None:
    """The funnel: each stage as a bar of the leads that reached it, with its open deals, their value and
    the conversion to the next stage. Won leads count as having reached every stage; won and lost deals
    whose path nobody observed (imported final states) are left out, and counted on stderr."""
    # imported when the command runs, so --help and --version stay light
    from pipecli.cli import output
    from pipecli.reports import metrics

    with store().read() as conn:
        data = metrics.funnel(conn, pipeline, date(as_of, "--as-of"), date(since, "--since"))
    if data.unknown_path:
        n = data.unknown_path
        output.message(
            f"{n} won or lost deal{'s' * (n != 1)} with no known stage path (imported final states) "
            "left out of reached and conversion"
        )
    cols = _stage_columns(times=False)
    if fmt != "table":
        output.render([_fields(s) for s in data.stages], cols, fmt)
        return
    if output.drawn():
        _funnel_rich(data)
    else:
        output.write(_funnel_text(data))


def _funnel_lines(data: "Funnel", bar_width: int = 40, short: bool = False) -> list[tuple[str, int, str]]:
    """Return (label, bar length, figures) per stage, bars scaled to `bar_width` characters (compact
    amounts with `short`)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import formats, money
    from pipecli.cli import output

    currency = output._currency()
    fmt = money.fmt_short if short else formats.money_text
    top = max([s.reached for s in data.stages] + [1])
    width = max(len(s.stage) for s in data.stages)
    lines = []
    for s in data.stages:
        bar = round(bar_width * s.reached / top) if s.reached else 0
        figures = f"{s.reached:>7}"
        if s.open is not None:
            figures += f"  open {s.open:>6} {fmt(s.open_value_minor, currency):>{8 if short else 16}}"
        else:
            figures += f"  won  {fmt(s.open_value_minor, currency):>{15 if short else 23}}"
        if s.conversion is not None:
            figures += f"  -> {s.conversion * 100:5.1f}% to {formats.neutralise(s.next_stage or '')}"
        lines.append((formats.neutralise(s.stage).ljust(width), bar, figures))
    return lines


def _funnel_text(data: "Funnel") -> str:
    # imported when the command runs, so --help and --version stay light
    from pipecli import clock
    from pipecli.formats import neutralise

    head = f"Funnel: {neutralise(data.pipeline)} as of {clock.show(data.as_of)}\n"
    return head + "".join(f"{label}  {'#' * bar:<40}  {figures}\n" for label, bar, figures in _funnel_lines(data))


def _funnel_rich(data: "Funnel") -> None:
    # imported when the command runs, so --help and --version stay light
    from rich.text import Text

    from pipecli import clock, formats
    from pipecli.cli import output

    out = output.console()
    out.print(Text(f"Funnel: {formats.neutralise(data.pipeline)} as of {clock.show(data.as_of)}", style="bold"))
    lines = _funnel_lines(data, short=True)
    room = out.width - max(len(label) + len(figures) for label, _, figures in lines) - 4
    width = max(10, min(40, room))
    for label, bar, figures in _funnel_lines(data, width, short=True):
        line = Text(label + "  ")
        line.append("█" * bar, style="cyan")
        line.append(" " * (width - bar) + "  " + figures)
        out.print(line)


def _period_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("period"),
        Column("start", kind="date"),
        Column("end", kind="date"),
        Column("deals", kind="int"),
        Column("value", kind="money", source="value_minor"),
        Column("weighted", kind="money", source="weighted_minor"),
        Column("p10", "P10", kind="money", source="p10_minor"),
        Column("p50", "P50", kind="money", source="p50_minor"),
        Column("p90", "P90", kind="money", source="p90_minor"),
        Column("won", "won so far", kind="money", source="won_minor"),
        Column("commit", kind="money", source="commit_minor"),
        Column("best_case", "best case", kind="money", source="best_minor"),
        Column("pipeline", kind="money", source="pipeline_minor"),
        Column("omitted", kind="money", source="omitted_minor"),
        Column("target_probability", "P(target)", kind="pct"),
        Column("velocity", "velocity check", kind="money", source="velocity_minor"),
        Column("expected", "model mean", kind="money", source="expected_minor"),
        Column("from_open", "from open deals", kind="money", source="from_open_minor"),
        Column("from_new", "from deals not yet created", kind="money", source="from_new_minor"),
        Column("arrivals", "new deals expected", kind="float"),
    ]


def _backtest_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("period"),
        Column("start", kind="date"),
        Column("deals", "open deals", kind="int"),
        Column("actual", kind="money", source="actual_minor"),
        Column("p10", "pipecli P10", kind="money", source="p10_minor"),
        Column("p50", "pipecli P50", kind="money", source="p50_minor"),
        Column("p90", "pipecli P90", kind="money", source="p90_minor"),
        Column("stage_weighted", "stage-weighted", kind="money", source="stage_weighted_minor"),
        Column("last_period", "last period", kind="money", source="last_period_minor"),
        Column("mean_of_3", "mean of last 3", kind="money", source="mean_of_3_minor"),
        Column("inside", "in P10-P90", kind="bool"),
    ]


def _score_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("forecaster"),
        Column("wape", "WAPE", kind="pct"),
        Column("bias", kind="pct"),
        Column("coverage", "P10-P90 coverage", kind="pct"),
        Column("pinball", "pinball loss", kind="pct"),
    ]


def _probability_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("stage"),
        Column("probability", kind="pct"),
        Column("source"),
        Column("closed_deals", "closed deals", kind="int", source="informed_by"),
    ]


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
    from pipecli import formats
    from pipecli.cli import output
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
        period_rows = [_fields(r) for r in data.periods]
        scores = [_fields(x) for x in data.forecasters]
        if fmt == "json":
            output.write_json(
                {
                    "pipeline": data.pipeline,
                    "period": data.period,
                    "runs": data.runs,
                    "seed": data.seed,
                    "probabilities": data.probabilities,
                    "history_periods": data.history_periods,
                    "period_count": data.period_count,
                    "deals_per_period": data.deals_per_period,
                    "best": data.best,
                    "verdict": data.verdict,
                    "periods": _records(period_rows, _backtest_columns()),
                    "forecasters": _records(scores, _score_columns()),
                }
            )
            return
        output.render(
            period_rows,
            _backtest_columns(),
            fmt,
            title=f"Backtest: {formats.neutralise(data.pipeline)} by {period}",
        )
        if fmt == "table":
            output.line(
                f"\n{data.period_count} {period}s backtested, {data.history_periods} {period}s of history before"
                f" the first, {data.deals_per_period:.1f} open deals per {period}; probabilities: {data.probabilities}"
            )
            output.render(scores, _score_columns(), "table")
            output.line(data.verdict)
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
    stage_rows = [_fields(s) for s in result.stages]
    period_rows = [_fields(p) for p in result.periods]
    if result.auto_note:
        output.message(result.auto_note)
    if result.stages and not any(s.probability for s in result.stages):
        output.message(
            "warning: every stage's win probability is 0, so the forecast is 0; set them with "
            "`pipecli pipeline stage PIPELINE STAGE --probability 0.4`"
        )
    if fmt == "json":
        # imported when the command runs, so --help and --version stay light
        from pipecli import clock

        currency = output._currency()
        out = {
            "pipeline": result.pipeline,
            "as_of": clock.iso(result.as_of),
            "from_history": result.from_history,
            "period": period,
            "probabilities": result.probabilities,
            "runs": result.runs,
            "seed": result.seed,
            "simulation": result.method,
            "target": formats.json_value(result.target_minor, "money", currency),
            "velocity_per_day": formats.json_value(result.velocity_minor_per_day, "money", currency),
            "stages": _records(stage_rows, _probability_columns()),
            "periods": _records(period_rows, _period_columns()),
            "new_business": _fields(result.new_business),
            "later": {
                "deals": result.later_deals,
                "value": formats.json_value(result.later_value_minor, "money", currency),
            },
        }
        output.write_json(out)
        return
    if fmt == "csv":
        output.render(period_rows, _period_columns(), "csv")
        return
    # imported when the command runs, so --help and --version stay light
    from pipecli import clock, formats

    currency = output._currency()
    output.line(
        f"Forecast: {formats.neutralise(result.pipeline)} as of {clock.show(result.as_of)}; probabilities: {result.probabilities}; "
        f"{result.runs} runs, seed {result.seed} ({result.method})"
    )
    output.render(stage_rows, _probability_columns(), "table")
    output.line()
    output.render(period_rows, _period_columns(), "table")
    if result.later_deals:
        output.line(
            f"\nlater: {result.later_deals} deals, {formats.money_text(result.later_value_minor, currency)} beyond the last period"
        )


def _size_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("pipeline"),
        Column("period"),
        Column("target", kind="money", source="target_minor"),
        Column("avg_deal", "average deal", kind="money", source="avg_deal_minor"),
        Column("avg_deal_source", "average deal from"),
        Column("close_rate", "close rate", kind="pct"),
        Column("close_rate_source", "close rate from"),
        Column("reps", "sellers", kind="int"),
        Column("reps_source", "sellers from"),
        Column("deals_needed", "deals needed", kind="int"),
        Column("leads_needed", "leads needed", kind="int"),
        Column("leads_per_rep", "leads per seller", kind="int"),
        Column("open_value", "open pipeline", kind="money", source="open_value_minor"),
        Column("coverage", "coverage (open ÷ target)", kind="float"),
        Column(
            "pipeline_needed", "pipeline needed (target ÷ close rate)", kind="money", source="pipeline_needed_minor"
        ),
        Column("pipeline_covered", "covered", kind="verdict"),
    ]


def _size_stage_columns():
    # imported when the command runs, so --help and --version stay light
    from pipecli.formats import Column

    return [
        Column("position", "#", kind="int"),
        Column("stage"),
        Column("to_won", "to won", kind="pct"),
        Column("leads_needed_in_stage", "leads needed in stage", kind="int", source="needed"),
        Column("open", "open now", kind="int"),
    ]


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
    from pipecli.cli import output
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
    stage_cols = _size_stage_columns()
    record = _fields(data)
    stages = [_fields(s) for s in data.stages]
    if fmt == "json":
        out = _records([record], _size_columns())[0]
        out["stages"] = _records(stages, stage_cols)
        output.write_json(out)
    elif fmt == "csv":
        output.render([record], _size_columns(), "csv")
    else:
        output.render_record(record, _size_columns(), "table", title="Sizing (whole deals and leads, rounded up)")
        output.line()
        output.render(stages, stage_cols, "table")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("metrics")(metrics_)
    app.command("funnel")(funnel_)
    app.command("forecast")(forecast_)
    app.command("size")(size_)
