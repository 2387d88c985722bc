"""`pipecli pipeline ...`: pipelines and their stages."""

# no `from __future__ import annotations`: typer reads these annotations at every start, and evaluating
# them as strings (a compile() each) made `pipecli --help` and every TAB about a third slower

from typing import Annotated

import typer

from pipecli.cli import complete
from pipecli.cli.common import FormatOpt, YesOpt, confirm, store

pipeline_app = typer.Typer(help="Pipelines and their stages.", no_args_is_help=True)


def _show_stages(name: str | None, fmt: str = "table") -> None:
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines
    from pipecli.cli import views

    with store().read() as conn:
        rows = pipelines.show_pipeline(conn, name)
    views.pipeline_stages(rows, fmt)


@pipeline_app.command("add")
def add(
    name: Annotated[str, typer.Argument()],
    stages: Annotated[str, typer.Option(help='Open stages in order: "New,Demo,Proposal".')],
) -> None:
    """Add a pipeline with its open stages (won and lost are added for you)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines

    names = [s.strip() for s in stages.split(",") if s.strip()]
    with store(create=True).write() as conn:
        pipelines.create_pipeline(conn, name, [(s, None, None) for s in names])
    _show_stages(name)


@pipeline_app.command("list")
def list_(fmt: FormatOpt = "table") -> None:
    """List pipelines with their stage and open-lead counts."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines
    from pipecli.cli import views

    with store().read() as conn:
        rows = pipelines.list_pipelines(conn)
    views.pipelines(rows, fmt)


@pipeline_app.command("show")
def show(
    name: Annotated[
        str | None, typer.Argument(help="Pipeline (default: the default one).", autocompletion=complete.pipelines)
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Show a pipeline's stages: order, win probability, stale-after days, triggers, leads."""
    _show_stages(name, fmt)


@pipeline_app.command("stage")
def stage(
    name: Annotated[str, typer.Argument(help="Pipeline.", autocompletion=complete.pipelines)],
    stage_name: Annotated[str, typer.Argument(metavar="STAGE", autocompletion=complete.pipeline_stages)],
    probability: Annotated[float | None, typer.Option(help="Win probability of deals in this stage, 0..1.")] = None,
    stale_days: Annotated[int | None, typer.Option(help="Days of silence after which a lead here is stale.")] = None,
    triggers: Annotated[
        str | None, typer.Option(help="Activity kinds that signal readiness to advance: demo_request,quote_request.")
    ] = None,
    rename: Annotated[str | None, typer.Option(help="New name for the stage.")] = None,
    position: Annotated[int | None, typer.Option(help="Move the stage to this position (1 = first).")] = None,
    qualification: Annotated[
        bool, typer.Option("--qualification", help="Make this the stage `qualify --move` moves to.")
    ] = False,
    forecast_category: Annotated[
        str | None,
        typer.Option(
            help="Default forecast category (commit, best, pipeline, omit) of its deals without one; '' clears it."
        ),
    ] = None,
) -> None:
    """Configure a stage: pipecli pipeline stage Sales Meeting --probability 0.4 --stale-days 14."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines

    with store().write() as conn:
        updated = pipelines.configure_stage(
            conn, name, stage_name, probability, stale_days, triggers, rename, qualification, forecast_category
        )
        if position is not None:
            pipelines.move_stage(conn, name, updated["name"], position)
    _show_stages(name)


@pipeline_app.command("add-stage")
def add_stage(
    name: Annotated[str, typer.Argument(help="Pipeline.", autocompletion=complete.pipelines)],
    stage_name: Annotated[str, typer.Argument(metavar="STAGE", autocompletion=complete.pipeline_stages)],
    position: Annotated[int | None, typer.Option(help="Where (1 = first; default last).")] = None,
    probability: Annotated[float | None, typer.Option()] = None,
    stale_days: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Add an open stage to a pipeline."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines

    with store().write() as conn:
        pipelines.add_stage(conn, name, stage_name, position, probability, stale_days)
    _show_stages(name)


@pipeline_app.command("remove-stage")
def remove_stage(
    name: Annotated[str, typer.Argument(help="Pipeline.", autocompletion=complete.pipelines)],
    stage_name: Annotated[str, typer.Argument(metavar="STAGE", autocompletion=complete.pipeline_stages)],
) -> None:
    """Remove an open stage (refused while leads are in it; its history is kept)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines

    with store().write() as conn:
        pipelines.remove_stage(conn, name, stage_name)
    _show_stages(name)


@pipeline_app.command("rename")
def rename(old: str, new: str) -> None:
    """Rename a pipeline."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines

    with store().write() as conn:
        pipelines.rename_pipeline(conn, old, new)
    _show_stages(new)


@pipeline_app.command("default")
def default(name: str) -> None:
    """Make a pipeline the default one (used when a command names none)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines
    from pipecli.cli.output import message

    with store().write() as conn:
        p = pipelines.set_default(conn, name)
    message(f"{p['name']} is now the default pipeline")


@pipeline_app.command("delete")
def delete(name: str, yes: YesOpt = False) -> None:
    """Delete an empty pipeline (refused while it holds leads)."""
    # imported when the command runs, so --help and --version stay light
    from pipecli import pipelines
    from pipecli.cli.output import message

    confirm(f"Delete pipeline {name}?", yes)
    with store().write() as conn:
        pipelines.delete_pipeline(conn, name)
    message(f"deleted pipeline {name}")


def register(app: typer.Typer) -> None:
    """Add the `pipeline` group to `app`."""
    app.add_typer(pipeline_app, name="pipeline")
