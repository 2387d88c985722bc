"""Reports: metrics, funnel, forecast and size."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from pipecli.cli.common import FormatOpt, PipelineOpt, amount, choice, date, store

AsOfOpt = Annotated[
    Optional[str],
    typer.Option("--as-of", help="Figures as the pipeline stood at the end of this day (read from the history)."),
]
SinceOpt = Annotated[Optional[str], typer.Option("--since", help="Only leads created / closed since this date.")]


def _summary_columns():
    from pipecli.output import Column

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
    from pipecli.output import Column

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
    from pipecli.output import Column

    return [Column("source"), Column("new_leads", "new leads", kind="int")]


def _records(rows: list[dict], columns) -> list[dict]:
    from pipecli import output

    currency = output._currency()
    return [{c.name: output.json_value(r.get(c.key), c.kind, currency) for c in columns} for r in rows]


def _long_csv(parts: list[tuple[str, list[dict], list]]) -> None:
    """Write several record lists as one CSV: section, row label, figure, value."""
    import csv
    import sys

    from pipecli import output

    currency = output._currency()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["section", "item", "figure", "value"])
    for section, rows, columns in parts:
        label = columns[0] if section != "summary" else None
        for r in rows:
            item = "" if label is None else output.csv_value(r.get(label.key), label.kind, currency)
            for c in columns:
                if c is label:
                    continue
                writer.writerow([section, item, c.name, output.csv_value(r.get(c.key), c.kind, currency)])


def metrics_(
    pipeline: PipelineOpt = None,
    since: SinceOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Pipeline metrics: new leads, win rate, average won deal, sales cycle, velocity, and per stage the
    conversion to the next stage and the time spent in it.

    pipecli metrics --since 2026-01-01;  pipecli metrics --as-of 2026-06-30 --format json | jq .win_rate
    """
    from pipecli import metrics, output

    with store().read() as conn:
        data = metrics.metrics(conn, pipeline, date(since, "--since"), date(as_of, "--as-of"))
    summary = _summary_columns()
    stage_cols = [c for c in _stage_columns() if c.name != "position"]
    if fmt == "json":
        out = _records([data], summary)[0]
        out["sources"] = _records(data["sources"], _source_columns())
        out["stages"] = _records(data["stages"], _stage_columns())
        output.write_json(out)
    elif fmt == "csv":
        _long_csv([("summary", [data], summary), ("stage", data["stages"], stage_cols),
                   ("source", data["sources"], _source_columns())])
    else:
        output.render_record(data, summary, "table", title=f"Metrics: {data['pipeline']}")
        typer.echo("")
        output.render(data["stages"], _stage_columns(), "table", title="Stages")
        typer.echo("")
        output.render(data["sources"], _source_columns(), "table", title="New leads by source")


def funnel_(pipeline: PipelineOpt = None, as_of: AsOfOpt = None, since: SinceOpt = None, fmt: FormatOpt = "table") -> None:
    """The funnel: each stage as a bar of the leads that reached it, with its open deals, their value and
    the conversion to the next stage. Won leads count as having reached every stage."""
    from pipecli import metrics, output

    with store().read() as conn:
        data = metrics.funnel(conn, pipeline, date(as_of, "--as-of"), date(since, "--since"))
    cols = _stage_columns(times=False)
    if fmt != "table":
        output.render(data["stages"], cols, fmt)
        return
    if output.stdout_is_tty():
        _funnel_rich(data)
    else:
        typer.echo(_funnel_text(data), nl=False)


def _funnel_lines(data: dict) -> list[tuple[str, int, str]]:
    """Return (label, bar length, figures) per stage, bars scaled to 40 characters."""
    from pipecli import money, output

    currency = output._currency()
    top = max([s["reached"] for s in data["stages"]] + [1])
    width = max(len(s["stage"]) for s in data["stages"])
    lines = []
    for s in data["stages"]:
        bar = round(40 * s["reached"] / top) if s["reached"] else 0
        figures = f"{s['reached']:>7}"
        if s["open"] is not None:
            figures += f"  open {s['open']:>6} {money.fmt(s['open_value_minor'], currency):>16}"
        else:
            figures += f"  won value {money.fmt(s['open_value_minor'], currency):>16}"
        if s["conversion"] is not None:
            figures += f"  -> {s['conversion'] * 100:5.1f}% to {s['next_stage']}"
        lines.append((output.neutralise(s["stage"]).ljust(width), bar, figures))
    return lines


def _funnel_text(data: dict) -> str:
    from pipecli import clock

    head = f"Funnel: {data['pipeline']} as of {clock.show(data['as_of'])}\n"
    return head + "".join(f"{label}  {'#' * bar:<40}  {figures}\n" for label, bar, figures in _funnel_lines(data))


def _funnel_rich(data: dict) -> None:
    from rich.text import Text

    from pipecli import clock, output

    out = output.console()
    out.print(Text(f"Funnel: {data['pipeline']} as of {clock.show(data['as_of'])}", style="bold"))
    for label, bar, figures in _funnel_lines(data):
        line = Text(label + "  ")
        line.append("█" * bar, style="cyan")
        line.append(" " * (40 - bar) + "  " + figures)
        out.print(line)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("metrics")(metrics_)
    app.command("funnel")(funnel_)
