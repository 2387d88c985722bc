"""Stage resolution: a row's pipeline and stage cells, through `--stage-map`, to the stages they name.

A stage cell matches a stage of the row's pipeline by name (case-insensitive), or an outcome by a word
that means one whatever the pipeline calls it (`Closed Won`, `lost`); an empty cell is the first open
stage. An unknown stage refuses the row, unless `--create-stages` adds it to the pipeline (on a dry run,
only counted). Every answer is cached: a file names few stages, many times.

`stage_date_columns` finds the columns that say when a deal entered a stage (HubSpot's `Date entered
"Proposal (Sales Pipeline)"`, a generic `date entered proposal` or `proposal date`): the import reads them
as the deal's stage path instead of keeping them as extra fields.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from pipecli import pipelines
from pipecli.errors import PipecliError
from pipecli.transfer.columns import norm_header
from pipecli.transfer.model import BadCell, ImportOptions, Record

# Stage values that mean an outcome whatever the pipeline calls it.
OUTCOME_WORDS = {"won": "won", "closedwon": "won", "win": "won", "lost": "lost", "closedlost": "lost"}


class Stages:
    """Resolves a row's pipeline and stage value (through the stage map) to stage dicts, creating
    unknown stages when asked; `created` lists the stages created (or, dry, that would be)."""

    def __init__(self, conn: Connection, options: ImportOptions):
        self.conn, self.options = conn, options
        self.created: list[str] = []
        self.default: Record = pipelines.get_pipeline(conn, options.pipeline)
        self.pipelines: dict[str, Record] = {}
        self.cache: dict[tuple[Any, str], Record] = {}  # (pipeline id, raw cell) -> stage
        self.by_pipeline: dict[int, dict[str, Record]] = {}

    def pipeline(self, name: str | None) -> Record:
        """Return the pipeline a cell names (the default one for an empty cell), or raise BadCell."""
        if not name:
            return self.default
        key = name.strip().lower()
        if key not in self.pipelines:
            try:
                self.pipelines[key] = pipelines.get_pipeline(self.conn, name.strip())
            except PipecliError as exc:
                raise BadCell(str(exc)) from None
        return self.pipelines[key]

    def _stages(self, pipeline_id: int) -> dict[str, Record]:
        if pipeline_id not in self.by_pipeline:
            rows = pipelines.stages(self.conn, pipeline_id)
            table = {s["name"].lower(): s for s in rows}
            table[""] = rows[0]  # no stage given: the first open stage
            self.by_pipeline[pipeline_id] = table
        return self.by_pipeline[pipeline_id]

    def preload(self) -> None:
        """Read the default pipeline's stages now: a forked helper process must read no database."""
        self._stages(self.default["id"])

    def by_name(self, name: str) -> Record | None:
        """Return the default pipeline's stage called `name` (case-insensitive, through the stage map), or None."""
        value = self.options.stage_map.get(name.lower(), name)
        return self._stages(self.default["id"]).get(value.lower()) if value else None

    def resolve(self, pipeline: Record, raw: str) -> Record:
        """Return the stage of `pipeline` a stage cell names, or raise BadCell saying which stages there are."""
        key = (pipeline["id"], raw)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        value = raw.strip()
        value = self.options.stage_map.get(value.lower(), value)
        table = self._stages(pipeline["id"])
        stage = table.get(value.lower()) or table.get(OUTCOME_WORDS.get(norm_header(value), "\0"))
        if stage is None:
            if not self.options.create_stages:
                names = ", ".join(s["name"] for k, s in table.items() if k and not k.startswith("\0"))
                raise BadCell(
                    f"unknown stage in pipeline {pipeline['name']} (stages: {names}); "
                    "map it with --stage-map or pass --create-stages"
                )
            if self.options.dry_run:
                position = 1 + max(s["position"] or 0 for s in table.values())
                stage = {"id": None, "name": value, "kind": "open", "position": position}
            else:
                stage = pipelines.add_stage(self.conn, pipeline["name"], value)
            table[value.lower()] = stage
            self.created.append(f"{pipeline['name']}/{value}")
        self.cache[key] = stage
        return stage


# `Date entered "Proposal (Sales Pipeline)"` (HubSpot), `date entered proposal`, `date_entered_proposal`
_ENTERED = re.compile(r'^\s*date[\s_-]*entered[\s_-]*"?([^"]+?)"?\s*$', re.IGNORECASE)
_DATED = re.compile(r"^\s*(.+?)[\s_-]+date\s*$", re.IGNORECASE)  # `proposal date`, `meeting_date`
_PIPELINE_NOTE = re.compile(r"\s*\([^)]*\)\s*$")  # HubSpot's ` (Sales Pipeline)` after the stage


def stage_date_columns(columns: list[tuple[str, str]], stages: Stages, keep: set[str]) -> list[tuple[int, str, Record]]:
    """Return (column index, header, stage) for each column kept as an extra field whose header says
    when a deal entered an open stage of the default pipeline, but those `keep` names (normalised headers
    `--map COL=extra` keeps). A `date entered X` header naming no stage raises a one-line PipecliError; a
    `X date` header is a stage date only when X is an open stage's name (`close date` is not)."""
    found = []
    for i, (header, f) in enumerate(columns):
        if f != "extra" or norm_header(header) in keep:
            continue
        explicit = _ENTERED.match(header)
        named = explicit or _DATED.match(header)
        if named is None:
            continue
        name = _PIPELINE_NOTE.sub("", named.group(1)).strip()
        try:
            stage = stages.resolve(stages.default, name) if explicit else stages.by_name(name)
        except BadCell as exc:
            raise PipecliError(
                f"column {header!r} gives the dates deals entered {name!r}: {exc}; "
                f"or keep the column with --map '{header}=extra'"
            ) from None
        if stage is None or stage["kind"] != "open":
            continue  # an outcome's date is the close date; `X date` naming no stage is an extra field
        found.append((i, header, stage))
    return found
