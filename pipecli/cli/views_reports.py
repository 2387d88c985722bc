"""The reports' renderings (`metrics`, `funnel`, `forecast` and its backtest, `size`, `clean`): their
columns, tables, bars, text and JSON shapes, `cli.views`'s sibling for the report commands.

As in `cli.views`, a command hands its core result (a frozen dataclass of `pipecli.reports`) to one view
here, which writes it through `cli.output` as a table or text, CSV or JSON; a JSON shape is built from the
same column lists as the table, so a key changes only here (`tests/test_json_shapes.py` pins them).
The column lists read the results' fields by name (`tests/test_report_results.py` checks each).

Command modules import this module inside their functions: it is not on the `pipecli --help` path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipecli import clock, formats, money
from pipecli.cli import output
from pipecli.cli.views import merge_command
from pipecli.formats import Column, neutralise

if TYPE_CHECKING:
    from pipecli.reports.backtest import Backtest
    from pipecli.reports.clean import Report
    from pipecli.reports.forecast import Forecast
    from pipecli.reports.metrics import Funnel, Metrics
    from pipecli.reports.sizing import Sizing

Row = Mapping[str, Any]
Columns = tuple[Column, ...]


def _fields(result: Any) -> dict[str, Any]:
    """Return a typed result's fields (a frozen dataclass of the core) as the record the columns read."""
    return dict(vars(result))


# --- metrics and funnel ----------------------------------------------------------------------------------

SUMMARY_COLUMNS: Columns = (
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
)
FUNNEL_COLUMNS: Columns = (
    Column("position", "#", kind="int"),
    Column("stage"),
    Column("reached", kind="int"),
    Column("open", kind="int"),
    Column("open_value", "open value", kind="money", source="open_value_minor"),
    Column("next_stage", "next"),
    Column("conversion", kind="pct"),
)
STAGE_COLUMNS: Columns = FUNNEL_COLUMNS + (
    Column("time_median_days", "median days in stage", kind="float"),
    Column("time_p90_days", "p90 days in stage", kind="float"),
    Column("stays", kind="int"),
)
SOURCE_COLUMNS: Columns = (Column("source"), Column("new_leads", "new leads", kind="int"))


def long_csv(parts: Sequence[tuple[str, Sequence[Row], Sequence[Column]]]) -> None:
    """Write several record lists as one CSV: section, row label, figure, value (the label is the first
    column's value, none for the summary)."""
    cell = output.csv_cells()  # a stage or source named =HYPERLINK(...) stays text (--raw: as is)
    rows = [["section", "item", "figure", "value"]]
    for section, records, columns in parts:
        label = columns[0] if section != "summary" else None
        for r in records:
            item = "" if label is None else cell(r.get(label.key), label.kind)
            for c in columns:
                if c is label:
                    continue
                rows.append([section, item, c.name, cell(r.get(c.key), c.kind)])
    output.write_csv(rows)


def metrics_json(data: Metrics) -> dict[str, Any]:
    """Return `metrics`'s JSON: the summary's figures, then the new leads by source and the stages."""
    out = output.record(_fields(data), SUMMARY_COLUMNS)
    out["sources"] = output.records([vars(s) for s in data.sources], SOURCE_COLUMNS)
    out["stages"] = output.records([vars(s) for s in data.stages], STAGE_COLUMNS)
    return out


def metrics(data: Metrics, fmt: str) -> None:
    """Write `metrics`: the summary as `field: value`, then the stages and the sources (JSON nests them;
    CSV is one long table of section, item, figure, value)."""
    if fmt == "json":
        output.write_json(metrics_json(data))
        return
    record = _fields(data)
    stages = [vars(s) for s in data.stages]
    sources = [vars(s) for s in data.sources]
    if fmt == "csv":
        stage_cols = [c for c in STAGE_COLUMNS if c.name != "position"]
        long_csv(
            [("summary", [record], SUMMARY_COLUMNS), ("stage", stages, stage_cols), ("source", sources, SOURCE_COLUMNS)]
        )
        return
    output.render_record(record, SUMMARY_COLUMNS, "table", title=f"Metrics: {data.pipeline}")
    if data.velocity_minor_per_day is None:
        # the core's threshold, loaded with the report the command just made
        from pipecli.reports.state import VELOCITY_MIN_WON

        output.message(
            f"pipeline velocity: not enough history (it needs at least {VELOCITY_MIN_WON} won deals in the window)"
        )
    output.line()
    output.render(stages, STAGE_COLUMNS, "table", title="Stages")
    output.line()
    output.render(sources, SOURCE_COLUMNS, "table", title="New leads by source")


def funnel(data: Funnel, fmt: str) -> None:
    """Write the funnel: a bar per stage (rich bars on a terminal, `#` bars piped), or its rows as CSV or
    JSON; the won and lost deals left out for want of a known path are counted on stderr."""
    if data.unknown_path:
        n = data.unknown_path
        output.message(
            f"{n} won or lost deal{'s' * (n != 1)} with no known stage path (imported final states) "
            "left out of reached and conversion"
        )
    if fmt != "table":
        output.render([vars(s) for s in data.stages], FUNNEL_COLUMNS, fmt)
        return
    if output.drawn():
        _funnel_rich(data)
    else:
        output.write(_funnel_text(data))


def _funnel_lines(data: Funnel, bar_width: int = 40, short: bool = False) -> list[tuple[str, int, str]]:
    """Return (label, bar length, figures) per stage, bars scaled to `bar_width` characters (compact
    amounts with `short`)."""
    currency = output.currency()
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
            figures += f"  -> {s.conversion * 100:5.1f}% to {neutralise(s.next_stage or '')}"
        lines.append((neutralise(s.stage).ljust(width), bar, figures))
    return lines


def _funnel_text(data: Funnel) -> str:
    head = f"Funnel: {neutralise(data.pipeline)} as of {clock.show(data.as_of)}\n"
    return head + "".join(f"{label}  {'#' * bar:<40}  {figures}\n" for label, bar, figures in _funnel_lines(data))


def _funnel_rich(data: Funnel) -> None:
    # rich only when the bars are drawn for a terminal
    from rich.text import Text

    out = output.console()
    out.print(Text(f"Funnel: {neutralise(data.pipeline)} as of {clock.show(data.as_of)}", style="bold"))
    lines = _funnel_lines(data, short=True)
    room = out.width - max(len(label) + len(figures) for label, _, figures in lines) - 4
    width = max(10, min(40, room))
    for label, bar, figures in _funnel_lines(data, width, short=True):
        line = Text(label + "  ")
        line.append("█" * bar, style="cyan")
        line.append(" " * (width - bar) + "  " + figures)
        out.print(line)


# --- forecast and its backtest ---------------------------------------------------------------------------


def _quantile_columns(header: str = "") -> Columns:
    """Return the P10, P50 and P90 money columns of a forecast (headers `P10`..., after `header`)."""
    return tuple(Column(f"p{q}", f"{header}P{q}", kind="money", source=f"p{q}_minor") for q in (10, 50, 90))


PERIOD_COLUMNS: Columns = (
    Column("period"),
    Column("start", kind="date"),
    Column("end", kind="date"),
    Column("deals", kind="int"),
    Column("value", kind="money", source="value_minor"),
    Column("weighted", kind="money", source="weighted_minor"),
    *_quantile_columns(),
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
)
PROBABILITY_COLUMNS: Columns = (
    Column("stage"),
    Column("probability", kind="pct"),
    Column("source"),
    Column("closed_deals", "closed deals", kind="int", source="informed_by"),
)
BACKTEST_COLUMNS: Columns = (
    Column("period"),
    Column("start", kind="date"),
    Column("deals", "open deals", kind="int"),
    Column("actual", kind="money", source="actual_minor"),
    *_quantile_columns("pipecli "),
    Column("stage_weighted", "stage-weighted", kind="money", source="stage_weighted_minor"),
    Column("last_period", "last period", kind="money", source="last_period_minor"),
    Column("mean_of_3", "mean of last 3", kind="money", source="mean_of_3_minor"),
    Column("inside", "in P10-P90", kind="bool"),
)
SCORE_COLUMNS: Columns = (
    Column("forecaster"),
    Column("wape", "WAPE", kind="pct"),
    Column("bias", kind="pct"),
    Column("coverage", "P10-P90 coverage", kind="pct"),
    Column("pinball", "pinball loss", kind="pct"),
)


def forecast_json(result: Forecast) -> dict[str, Any]:
    """Return `forecast`'s JSON: what was asked and how, the stages' probabilities, the periods, what the
    history says of new business, and the open deals beyond the last period."""
    currency = output.currency()
    return {
        "pipeline": result.pipeline,
        "as_of": clock.iso(result.as_of),
        "from_history": result.from_history,
        "period": result.period,
        "probabilities": result.probabilities,
        "runs": result.runs,
        "seed": result.seed,
        "simulation": result.method,
        "target": formats.json_value(result.target_minor, "money", currency),
        "velocity_per_day": formats.json_value(result.velocity_minor_per_day, "money", currency),
        "stages": output.records([vars(s) for s in result.stages], PROBABILITY_COLUMNS),
        "periods": output.records([vars(p) for p in result.periods], PERIOD_COLUMNS),
        "new_business": _fields(result.new_business),
        "later": {
            "deals": result.later_deals,
            "value": formats.json_value(result.later_value_minor, "money", currency),
        },
    }


def forecast(result: Forecast, fmt: str) -> None:
    """Write the forecast: a line of what it was made from, the stages' probabilities and the periods (CSV:
    the periods alone); the notes about the probabilities on stderr."""
    if result.auto_note:
        output.message(result.auto_note)
    if result.stages and not any(s.probability for s in result.stages):
        output.message(
            "warning: every stage's win probability is 0, so the forecast is 0; set them with "
            "`pipecli pipeline stage PIPELINE STAGE --probability 0.4`"
        )
    if fmt == "json":
        output.write_json(forecast_json(result))
        return
    period_rows = [vars(p) for p in result.periods]
    if fmt == "csv":
        output.render(period_rows, PERIOD_COLUMNS, "csv")
        return
    output.line(
        f"Forecast: {neutralise(result.pipeline)} as of {clock.show(result.as_of)}; probabilities: {result.probabilities}; "
        f"{result.runs} runs, seed {result.seed} ({result.method})"
    )
    output.render([vars(s) for s in result.stages], PROBABILITY_COLUMNS, "table")
    output.line()
    output.render(period_rows, PERIOD_COLUMNS, "table")
    if result.later_deals:
        output.line(
            f"\nlater: {result.later_deals} deals, {output.money(result.later_value_minor)} beyond the last period"
        )


def backtest_json(data: Backtest) -> dict[str, Any]:
    """Return the backtest's JSON: what was asked, the history before it, the verdict, the periods and
    each forecaster's scores."""
    return {
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
        "periods": output.records([vars(p) for p in data.periods], BACKTEST_COLUMNS),
        "forecasters": output.records([vars(x) for x in data.forecasters], SCORE_COLUMNS),
    }


def backtest(data: Backtest, fmt: str) -> None:
    """Write the backtest: the periods (alone in CSV), then in a table a line about the history, the
    forecasters' scores and the verdict."""
    if fmt == "json":
        output.write_json(backtest_json(data))
        return
    period = data.period
    title = f"Backtest: {neutralise(data.pipeline)} by {period}"
    output.render([vars(p) for p in data.periods], BACKTEST_COLUMNS, fmt, title=title)
    if fmt == "table":
        output.line(
            f"\n{data.period_count} {period}s backtested, {data.history_periods} {period}s of history before"
            f" the first, {data.deals_per_period:.1f} open deals per {period}; probabilities: {data.probabilities}"
        )
        output.render([vars(x) for x in data.forecasters], SCORE_COLUMNS, "table")
        output.line(data.verdict)


# --- size ------------------------------------------------------------------------------------------------

SIZE_COLUMNS: Columns = (
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
    Column("pipeline_needed", "pipeline needed (target ÷ close rate)", kind="money", source="pipeline_needed_minor"),
    Column("pipeline_covered", "covered", kind="verdict"),
)
SIZE_STAGE_COLUMNS: Columns = (
    Column("position", "#", kind="int"),
    Column("stage"),
    Column("to_won", "to won", kind="pct"),
    Column("leads_needed_in_stage", "leads needed in stage", kind="int", source="needed"),
    Column("open", "open now", kind="int"),
)


def size_json(data: Sizing) -> dict[str, Any]:
    """Return `size`'s JSON: the figures, then what each stage must hold."""
    out = output.record(_fields(data), SIZE_COLUMNS)
    out["stages"] = output.records([vars(s) for s in data.stages], SIZE_STAGE_COLUMNS)
    return out


def size(data: Sizing, fmt: str) -> None:
    """Write what a target needs: the figures as `field: value` and the stages' needs (CSV: the figures)."""
    if fmt == "json":
        output.write_json(size_json(data))
        return
    record = _fields(data)
    if fmt == "csv":
        output.render([record], SIZE_COLUMNS, "csv")
        return
    output.render_record(record, SIZE_COLUMNS, "table", title="Sizing (whole deals and leads, rounded up)")
    output.line()
    output.render([vars(s) for s in data.stages], SIZE_STAGE_COLUMNS, "table")


# --- clean -----------------------------------------------------------------------------------------------

CLEAN_COLUMNS: Columns = (
    Column("lead_id", "id", kind="int"),
    Column("name"),
    Column("rule"),
    Column("group"),
    Column("why", wrap=True),
    Column("since", kind="ts"),
    Column("threshold"),
    Column("basis"),
    Column("value", kind="money", source="value_minor"),
    Column("owner"),
    Column("stage"),
)


def clean_summary(report: Report, owner: str | None = None, historic: bool = False) -> str:
    """Return the report's one-line summary: "3 stale deals worth €4,500.00 in Sales: 2 silent, 1 stuck"
    ("deals to look at" when hygiene rules are judged; "new since the last report" with --since-last)."""
    # the core's rule groups, loaded with the report the command just made
    from pipecli.reports.clean import GROUPS

    where = report.pipeline + (f" (owner {owner})" if owner else "")
    when = f" as of {report.day.isoformat()}" if historic else ""
    noun = "stale deal" if set(report.rules) <= set(GROUPS["stale"]) else "deal to look at"
    plural = noun.replace("deal", "deals")
    last = f" since the last report ({clock.show(report.since_last)})" if report.since_last is not None else ""
    if not report.rows:
        if report.unchanged:
            still = f"{report.unchanged} finding{'s' * (report.unchanged != 1)} as before"
            return f"Nothing new in {where}{last}: {still}."
        return f"No {plural} in {where}{when}: the pipeline is clean."
    n = len(report.lead_ids)
    parts = ", ".join(
        f"{count} {rule}{'s' if rule == 'duplicate' and count != 1 else ''}" for rule, count in report.counts.items()
    )
    new = f" new{last}" if last else ""
    as_before = f" ({report.unchanged} more as before)" if report.unchanged else ""
    worth = output.money(report.value_minor)
    return f"{n}{new} {noun if n == 1 else plural} worth {worth} in {where}{when}: {parts}{as_before}"


def clean(report: Report, fmt: str, owner: str | None = None, historic: bool = False) -> None:
    """Write the report in `fmt`: text (the summary, then the findings grouped by rule), a table or
    Markdown table under the summary, or the findings as CSV or JSON."""
    head = neutralise(clean_summary(report, owner, historic))
    if fmt in ("csv", "json"):
        output.render([vars(r) for r in report.rows], CLEAN_COLUMNS, fmt)
        return
    if fmt in ("table", "markdown"):
        if not report.rows:
            output.line(head)
            return
        output.render([vars(r) for r in report.rows], CLEAN_COLUMNS, fmt, title=head)
        return
    prices: dict[int, str] = {}  # values repeat across rows: format each once
    lines = [head]
    rule = None
    for r in report.rows:
        if r.rule != rule:
            rule = r.rule
            lines += ["", f"{rule} ({report.counts[rule]})"]
        facts = f"  #{r.lead_id} {neutralise(r.name)} · {neutralise(r.stage)}"
        value = r.value_minor
        if value is not None:
            if value not in prices:
                prices[value] = output.money(value)
            facts += f" · {prices[value]}"
        if r.owner:
            facts += f" · {neutralise(r.owner)}"
        lines.append(facts)
        lines.append(f"      {neutralise(r.why)}")
        if r.original_id is not None:
            lines.append(f"      merge: {merge_command(r.original_id, r.lead_id)}")
    output.line("\n".join(lines))  # each value escaped on its own: a line break in a name forges no line
