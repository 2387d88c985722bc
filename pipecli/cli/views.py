"""Composite renderings and every command's JSON shape, defined once.

A command parses its options, calls one core function and hands the result to one view here; the view
writes it through `cli.output` as a table (or text), CSV or JSON. A JSON shape is built from the same
column lists as the table, in one `*_json` function per composite result, so a key means the same on every
command and a script's keys change only here; the golden test (`tests/test_json_shapes.py`) pins them all.
Views learn about the terminal only from `cli.output` (and so from the invocation's context), so the
board app and tests can reuse them as they are.

Command modules import this module inside their functions: it is not on the `pipecli --help` path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipecli import clock
from pipecli.cli import output
from pipecli.errors import UsageError
from pipecli.formats import Column, neutralise

if TYPE_CHECKING:
    from pipecli.examples import Example
    from pipecli.history import Change
    from pipecli.leads import Move
    from pipecli.mail.compose import Sent
    from pipecli.mail.sync import SyncResult
    from pipecli.merging import Plan
    from pipecli.reports.changes import ChangesReport
    from pipecli.settings import Setting
    from pipecli.team import Member, Removed
    from pipecli.undo import Entry, Undone

Row = Mapping[str, Any]
Columns = tuple[Column, ...]

# --- leads, board, pipelines, selling, transfer, admin and trust commands --------------------------------

LEAD_COLUMNS: Columns = (
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
)
LEAD_DETAIL_COLUMNS: Columns = LEAD_COLUMNS + (
    Column("lost_reason", "lost reason"),
    Column("external_id", "external id"),
    Column("closed_at", "closed", kind="ts"),
    Column("qualification"),
    Column("win_probability", "win probability", kind="pct"),
    Column("snoozed_until", "snoozed until", kind="date"),
)
HISTORY_COLUMNS: Columns = (
    Column("at", kind="ts"),
    Column("from_stage", "from"),
    Column("to_stage", "to"),
    Column("seconds_in_stage", "time in stage", kind="duration"),
    Column("reason", wrap=True),
)
ACTIVITY_COLUMNS: Columns = (Column("at", kind="ts"), Column("kind"), Column("note", wrap=True))
ANSWER_COLUMNS: Columns = (Column("criterion"), Column("answer"), Column("verdict"), Column("at", kind="ts"))


def added(lead_id: int, name: str, duplicates: list[dict[str, object]] | None = None) -> None:
    """Say a lead was added: its id alone on stdout (`id=$(pipecli add-lead ...)`), and a sentence on a terminal;
    a warning on stderr for each stored lead it looks like."""
    output.line(str(lead_id))
    if output.stdout_is_tty():
        output.message(f"added lead {lead_id}: {name}")
    for d in duplicates or []:
        company = f", {d['company']}" if d["company"] else ""
        output.message(f"warning: lead {lead_id} looks like lead {d['id']} ({d['name']}{company}): {d['why']}")


def moved(move: Move) -> None:
    """Say where a lead moved, and when."""
    output.message(f"lead {move.lead_id}: {move.from_stage} -> {move.to_stage} at {clock.show(move.at)}")


def logged(activity_id: int, lead_id: int, kind: str) -> None:
    """Say an activity was logged: its id alone when piped, a sentence on a terminal."""
    on_terminal = output.stdout_is_tty()
    output.line(f"logged {kind} on lead {lead_id} (activity {activity_id})" if on_terminal else str(activity_id))


LIST_COLUMNS = ("id", "name", "company", "stage", "value", "owner", "last_event_at", "next_step")
LIST_TABLE_FORM = {"last_event_at": Column("last_event_at", "last activity", kind="day")}  # the day is enough


def lead_columns(spec: str | None, fmt: str) -> Columns:
    """Return the columns `list` writes: those named in `spec` (comma-separated names or headers, `all`),
    else the compact set for a table (`LIST_COLUMNS`, fitting 80 columns) and every column for CSV and
    JSON, so scripts and `import` keep reading what they always read. An unknown name is a usage error
    naming the known ones."""
    by_name = {c.name: c for c in LEAD_COLUMNS}
    by_name.update({c.title.replace(" ", "_"): c for c in LEAD_COLUMNS})
    # the table's own headers name their columns too: `--columns last-activity` as the table says it
    by_name.update({c.title.replace(" ", "_"): by_name[name] for name, c in LIST_TABLE_FORM.items()})
    if spec is None:
        names = LIST_COLUMNS if fmt == "table" else tuple(c.name for c in LEAD_COLUMNS)
    elif spec.strip().lower() == "all":
        names = tuple(c.name for c in LEAD_COLUMNS)
    else:
        names = tuple(n.strip().lower().replace("-", "_").replace(" ", "_") for n in spec.split(",") if n.strip())
        unknown = [n for n in names if n not in by_name]
        if unknown or not names:
            known = ", ".join(c.name for c in LEAD_COLUMNS)
            raise UsageError(f"--columns: unknown column {', '.join(unknown) or '(none given)'}; known: {known}, all")
    chosen = [by_name[n] for n in dict.fromkeys(names)]
    if fmt == "table":
        chosen = [LIST_TABLE_FORM.get(c.name, c) for c in chosen]
    return tuple(chosen)


def leads(rows: Sequence[Row], fmt: str, columns: Columns = LEAD_COLUMNS) -> None:
    """Write leads as `pipecli list` shows them, in `columns` (see `lead_columns`)."""
    output.render(rows, columns, fmt, empty="no leads match")


def lead_json(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return `show`'s JSON: the lead's details, then its history, activities, extra fields and answers."""
    return {
        **output.record(info["lead"], LEAD_DETAIL_COLUMNS),
        "history": output.records(info["history"], HISTORY_COLUMNS),
        "activities": output.records(info["activities"], ACTIVITY_COLUMNS),
        "extra": dict(info["extra"]),
        "qualification_answers": output.records(info["qualification"], ANSWER_COLUMNS),
        "recent_changes": output.records(change_rows(info["recent_changes"]), CHANGE_JSON_COLUMNS),
    }


def lead(info: Mapping[str, Any], fmt: str) -> None:
    """Write `show` (a `leads.show_lead` result): details, extra fields, answers, stage history, activities."""
    if fmt == "json":
        output.write_json(lead_json(info))
        return
    if fmt == "csv":
        output.render([info["lead"]], LEAD_DETAIL_COLUMNS, "csv")
        return
    output.render_record(info["lead"], LEAD_DETAIL_COLUMNS, "table", title=f"Lead {info['lead']['id']}")
    for key, value in info["extra"].items():
        output.line(f"  {neutralise(key)}: {neutralise(value or '')}")
    if info["qualification"]:
        output.line("\nQualification")
        output.render(info["qualification"], ANSWER_COLUMNS)
    output.line("\nHistory")
    output.render(info["history"], HISTORY_COLUMNS)
    output.line("\nActivities")
    output.render(info["activities"], ACTIVITY_COLUMNS, empty="  (none)")
    if info["recent_changes"]:
        output.line(f"\nRecent changes (all: pipecli history {info['lead']['id']})")
        output.render(change_rows(info["recent_changes"]), CHANGE_COLUMNS[:5])


BOARD_STAGE_COLUMNS: Columns = (
    Column("stage"),
    Column("kind"),
    Column("count", kind="int"),
    Column("value", kind="money", source="value_minor"),
)
BOARD_LEAD_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("value", kind="money", source="value_minor"),
)


def board_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the board's JSON: the pipeline, and each stage with its count, value and top leads."""
    return {
        "pipeline": data["pipeline"],
        "stages": [
            {**output.record(s, BOARD_STAGE_COLUMNS), "leads": output.records(s["leads"], BOARD_LEAD_COLUMNS)}
            for s in data["stages"]
        ],
    }


BOARD_COLUMN = 30  # the narrowest stage column of a board on a terminal; a wider screen holds more of them


def board_lines(data: Mapping[str, Any], width: int | None = None) -> list[str]:
    """Return the board as lines of text: a headline, a block per open stage with its top leads, the outcomes.

    With `width` (a terminal's), the stage blocks stand side by side, as many as `BOARD_COLUMN`-wide
    columns fit, each line exactly fitted to its column (names cut with `…`, amounts whole); without it
    (piped) the blocks follow one another."""
    open_stages = [s for s in data["stages"] if s["kind"] == "open"]
    total = sum(s["value_minor"] for s in open_stages)
    head = f"{data['pipeline']}: {sum(s['count'] for s in open_stages)} open leads, {output.money(total)}"
    closed = [f"[{s['stage']} · {s['count']} · {output.money(s['value_minor'])}]" for s in data["stages"]]
    closed = [c for c, s in zip(closed, data["stages"]) if s["kind"] != "open"]
    per_row = 1 if width is None else max(1, min(len(open_stages), (width + 2) // (BOARD_COLUMN + 2)))
    column = 79 if width is None else (width - 2 * (per_row - 1)) // per_row
    blocks = [_board_block(s, column, fitted=width is not None) for s in open_stages]
    lines = [head]
    for start in range(0, len(blocks), per_row):
        row = blocks[start : start + per_row]
        lines.append("")
        for i in range(max(len(b) for b in row)):
            cells = [b[i] if i < len(b) else "" for b in row]
            if width is None:
                lines.append(cells[0])
            else:
                lines.append("  ".join(output.fit_cell(c, column) for c in cells).rstrip())
    return lines + closed


def _board_block(stage: Mapping[str, Any], column: int, fitted: bool) -> list[str]:
    """Return one open stage's lines: its header, a line per top lead (id, name, company, short amount)
    `column` cells wide, and how many more it holds."""
    head = f"{stage['stage']} · {stage['count']} · {output.money(stage['value_minor'])}"
    lines = [f"== {head}"]
    for card in stage["leads"]:
        who = card["name"] + (f" ({card['company']})" if card["company"] else "")
        label = neutralise(f"#{card['id']} {who}")
        price = output.money(card["value_minor"], short=True)
        room = column - 3 - 1 - max(7, len(price))
        lines.append(f"   {output.fit_cell(label, room)} {price:>7}")
    hidden = stage["count"] - len(stage["leads"])
    if hidden > 0:
        lines.append(f"   … and {hidden} more")
    return lines if fitted else [line.rstrip() if line.startswith("==") else line for line in lines]


def board(data: Mapping[str, Any], fmt: str) -> None:
    """Write a board (a `board.board` result): blocks per stage (table), a row per stage (csv), or JSON."""
    if fmt == "json":
        output.write_json(board_json(data))
    elif fmt == "csv":
        output.render(data["stages"], BOARD_STAGE_COLUMNS, "csv")
    else:
        output.line("\n".join(board_lines(data, output.screen_width())))


STAGE_COLUMNS: Columns = (
    Column("position", "#", kind="int"),
    Column("stage"),
    Column("kind"),
    Column("probability", kind="pct"),
    Column("stale_days", "stale after (days)", kind="int"),
    Column("triggers"),
    Column("qualification_stage", "qualification", kind="bool"),
    Column("leads", kind="int"),
)
PIPELINE_COLUMNS: Columns = (
    Column("name"),
    Column("default", kind="bool"),
    Column("stages", kind="int"),
    Column("open_leads", "open leads", kind="int"),
    Column("open_value", "open value", kind="money"),
)


def pipeline_stages(rows: Sequence[Row], fmt: str = "table") -> None:
    """Write a pipeline's stages: order, win probability, stale-after days, triggers and leads."""
    output.render(rows, STAGE_COLUMNS, fmt, title=f"Pipeline {rows[0]['pipeline']}")


def pipelines(rows: Sequence[Row], fmt: str) -> None:
    """Write the pipelines with their stage and open-lead counts and open value."""
    output.render(rows, PIPELINE_COLUMNS, fmt)


VERDICT_COLUMNS: Columns = (Column("criterion"), Column("verdict"), Column("required", kind="bool"))
PENDING_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("stage"),
    Column("created_at", "created", kind="ts"),
    Column("answered", kind="int"),
    Column("missing"),
)


def qualification_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return `qualify`'s JSON: the lead, its status, the criteria required, the verdicts given, what was done."""
    return {
        "lead_id": result["lead_id"],
        "status": result["status"],
        "required": list(result["required"]),
        "verdicts": dict(result["verdicts"]),
        "done": result["done"],
    }


def qualification(result: Mapping[str, Any], criteria: Sequence[str], fmt: str) -> None:
    """Write a `qualify.qualify` result: each of `criteria` with its verdict and whether it is required, then
    the lead's status on stderr."""
    if fmt == "json":
        output.write_json(qualification_json(result))
        return
    rows = [
        {"criterion": c, "verdict": result["verdicts"].get(c, "unknown"), "required": c in result["required"]}
        for c in criteria
    ]
    output.render(rows, VERDICT_COLUMNS, fmt)
    done = f"; {result['done']}" if result["done"] else ""
    output.message(f"lead {result['lead_id']} is {result['status']}{done}")


def pending(rows: Sequence[Row], fmt: str) -> None:
    """Write the open leads awaiting qualification, with how many answers they have and what is missing."""
    output.render(rows, PENDING_COLUMNS, fmt, empty="no open lead awaits qualification")


SCORE_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("stage"),
    Column("fit", kind="float"),
    Column("engagement", kind="float"),
    Column("total", kind="float"),
    Column("hot", kind="bool"),
    Column("win_probability", "win prob.", kind="pct"),
)
EXPLAIN_COLUMNS: Columns = (
    Column("lead_id", kind="int"),
    Column("name"),
    Column("fit", kind="float"),
    Column("engagement", kind="float"),
    Column("total", kind="float"),
    Column("hot_threshold", kind="float"),
    Column("hot", kind="bool"),
    Column("half_life_days", kind="float"),
    Column("win_probability", kind="float"),
)
RULE_PART_COLUMNS: Columns = (
    Column("rule"),
    Column("value"),
    Column("points", kind="float"),
    Column("contribution", kind="float"),
)
ACTIVITY_PART_COLUMNS: Columns = (
    Column("at", kind="ts"),
    Column("kind"),
    Column("points", kind="float"),
    Column("age_days", "age (days)", kind="float"),
    Column("contribution", kind="float"),
)
WIN_FACTOR_COLUMNS: Columns = (
    Column("field"),
    Column("bucket", "value"),
    Column("weight", "weight (log-odds)", kind="float"),
)
FIT_RULE_COLUMNS: Columns = (Column("rule"), Column("field"), Column("points", kind="float"))
POINTS_COLUMNS: Columns = (Column("kind", "activity"), Column("points", kind="float"))
FACTOR_COLUMNS: Columns = (Column("field"), Column("value"), Column("weight", kind="float"))


def scores(rows: Sequence[Row], fmt: str) -> None:
    """Write open leads ranked by score: fit, engagement, total, hot, learned win probability."""
    output.render(rows, SCORE_COLUMNS, fmt, empty="no open leads")


def explanation_json(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return `score --explain`'s JSON: the totals, then the learned factors and each rule's and activity's part."""
    return {
        **output.record(info, EXPLAIN_COLUMNS),
        "win_factors": output.records(info["win_factors"], WIN_FACTOR_COLUMNS),
        "rules": output.records(info["rules"], RULE_PART_COLUMNS),
        "activities": output.records(info["activities"], ACTIVITY_PART_COLUMNS),
    }


def explanation(info: Mapping[str, Any], fmt: str) -> None:
    """Write how a lead's score is made (a `score.explain` result): the fit rules, the decayed activities,
    the sum, and the learned win probability's strongest factors."""
    if fmt == "json":
        output.write_json(explanation_json(info))
        return
    if fmt == "csv":
        rows = [{"part": "rule", "what": r["rule"], "contribution": r["contribution"]} for r in info["rules"]]
        rows += [
            {"part": "activity", "what": f"{a['kind']} {clock.iso(a['at'])}", "contribution": a["contribution"]}
            for a in info["activities"]
        ]
        output.render(rows, (Column("part"), Column("what"), Column("contribution", kind="float")), "csv")
        return
    output.line(f"Lead {info['lead_id']}: {neutralise(info['name'])}")
    output.render(info["rules"], RULE_PART_COLUMNS, title="Fit")
    output.line()
    engagement = f"Engagement (half-life {info['half_life_days']:g} days)"
    if info["activities"]:
        output.render(info["activities"], ACTIVITY_PART_COLUMNS, title=engagement)
    else:
        output.line(f"{engagement}: no activities")
    hot = "hot" if info["hot"] else "not hot"
    total = f"\nfit {info['fit']:.2f} + engagement {info['engagement']:.2f} = {info['total']:.2f}"
    total += f" ({hot}; threshold {info['hot_threshold']:g})"
    if info["win_probability"] is not None:
        total += f"; learned win probability {info['win_probability'] * 100:.1f}%"
    output.line(total)
    if info["win_factors"]:
        output.line()
        title = "Learned win probability: strongest factors for this lead"
        output.render(info["win_factors"][:8], WIN_FACTOR_COLUMNS, title=title)


def rules_json(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return `score --rules`'s JSON: fit rules, activity points, half-life, hot threshold, whether customised."""
    return {
        "rules": output.records(info["rules"], FIT_RULE_COLUMNS),
        "points": output.records(info["points"], POINTS_COLUMNS),
        "half_life_days": info["half_life_days"],
        "hot_threshold": info["hot_threshold"],
        "custom_rules": info["custom_rules"],
    }


def rules(info: Mapping[str, Any], fmt: str) -> None:
    """Write the scoring in force (a `rules.rules_in_force` result): fit rules and activity points, then the
    half-life and hot threshold."""
    if fmt == "json":
        output.write_json(rules_json(info))
        return
    fit = (Column("rule"), Column("points", kind="float"))
    if fmt == "csv":
        output.render(info["rules"], fit, "csv")
        return
    output.render(info["rules"], fit, title="Fit rules")
    output.line()
    output.render(info["points"], POINTS_COLUMNS, title="Activity points")
    default = "" if info["custom_rules"] else " (default rules; set [[scoring.rules]] in the config to change them)"
    half_life = f"engagement half-life: {info['half_life_days']:g} days"
    output.line(f"\n{half_life}; hot at {info['hot_threshold']:g} or more{default}")


def learned_json(report: Mapping[str, Any]) -> dict[str, Any]:
    """Return `score --learn`'s JSON: the method, held-out AUC and split, counts, fields and strongest factors."""
    facts = ("method", "auc", "split", "held_out", "trained_on", "learned_from", "won", "lost")
    return {
        **{key: report[key] for key in facts},
        "fields": list(report["fields"]),
        "skipped": list(report["skipped"]),
        "top_factors": output.records(report["top_factors"], FACTOR_COLUMNS),
        "pipeline": report["pipeline"],
        "open_leads": report["open_leads"],
    }


def learned(report: Mapping[str, Any], fmt: str) -> None:
    """Write what `score --learn` learned: how well it predicts held-out leads, and its strongest factors."""
    if fmt == "json":
        output.write_json(learned_json(report))
        return
    if fmt == "csv":
        output.render(report["top_factors"], FACTOR_COLUMNS, "csv")
        return
    auc = "n/a (the held-out leads have one outcome only)" if report["auc"] is None else f"{report['auc']:.3f}"
    split = "the newest" if report["split"] == "newest" else "a seeded random"
    closed = f"{report['learned_from']} closed leads ({report['won']} won, {report['lost']} lost)"
    if report["pipeline"] is not None:
        closed += f" of pipeline {neutralise(report['pipeline'])}"
    output.line(
        f"{report['method']}: learned from {closed}\n"
        f"held-out AUC {auc}: fitted on {report['trained_on']}, tested on {split} {report['held_out']}\n"
        f"fields used: {neutralise(', '.join(report['fields']))}"
    )
    if report["skipped"]:
        output.line(f"fields skipped (constant or identifiers): {neutralise(', '.join(report['skipped']))}")
    output.line()
    output.render(report["top_factors"], FACTOR_COLUMNS, title="Strongest factors")
    output.message(f"win probability written for {report['open_leads']} open leads")


READY_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("stage"),
    Column("trigger"),
    Column("trigger_at", "when", kind="ts"),
    Column("suggested", "suggested move"),
)
FOLLOW_UP_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("stage"),
    Column("next_step", "next step"),
    Column("next_step_due", "due", kind="date"),
    Column("days_overdue", "days overdue", kind="int"),
)
HOT_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("stage"),
    Column("score", kind="float"),
    Column("last_event_at", "last touched", kind="ts"),
)
TODAY_SECTIONS: dict[str, tuple[str, Columns]] = {
    "follow_ups": ("Follow-ups due", FOLLOW_UP_COLUMNS),
    "hot_without_next_step": ("Hot leads with no next step", HOT_COLUMNS),
    "ready": ("Ready to advance", READY_COLUMNS),
}


def ready(rows: Sequence[Row], fmt: str) -> None:
    """Write the leads ready to advance: the trigger each showed, when, and the suggested move."""
    output.render(rows, READY_COLUMNS, fmt, empty="no lead showed a trigger since entering its stage")


def today_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return `today`'s JSON: one list per section (follow-ups due, hot leads with no next step, ready)."""
    return {key: output.records(data[key], columns) for key, (_, columns) in TODAY_SECTIONS.items()}


def today(data: Mapping[str, Any], fmt: str) -> None:
    """Write the morning view (a `nextsteps.todays_work` result): a titled table per section, or `none`;
    in CSV each section under a `# name` line."""
    if fmt == "json":
        output.write_json(today_json(data))
        return
    for i, (key, (title, columns)) in enumerate(TODAY_SECTIONS.items()):
        if fmt == "csv":
            output.line(f"# {key}")
            output.render(data[key], columns, "csv")
            continue
        if i:
            output.line()
        if data[key]:
            output.render(data[key], columns, title=f"{title} ({len(data[key])})")
        else:
            output.line(f"{title}: none")


COPIED_COLUMNS: Columns = (
    Column("table"),
    Column("source_rows", "source rows", kind="int"),
    Column("copied_rows", "copied rows", kind="int"),
)
ERASED_COLUMNS: Columns = (Column("table"), Column("rows", "rows erased", kind="int"))


def copied(counts: Sequence[Row], fmt: str) -> None:
    """Write `db migrate-to`'s check: each table's rows in the source and in the copy."""
    output.render(counts, COPIED_COLUMNS, fmt)


EXAMPLE_COLUMNS: Columns = (Column("name"), Column("about"))


def examples(shipped: Sequence[Example], fmt: str) -> None:
    """Write the shipped examples (`pipecli examples`): each one's name and what it is for."""
    output.render([{"name": e.name, "about": e.about} for e in shipped], EXAMPLE_COLUMNS, fmt)


def forgotten(gone: Mapping[str, Any], fmt: str) -> None:
    """Write what `forget` erased (a `privacy.forget` result): the rows per table."""
    rows = [{"table": table, "rows": count} for table, count in gone["rows"].items()]
    output.render(rows, ERASED_COLUMNS, fmt)


SETTING_COLUMNS: Columns = (
    Column("key"),
    Column("value"),
    Column("source"),
    Column("set_by"),
    Column("set_at", kind="ts"),
)


def settings(shown: Sequence[Setting], fmt: str, one: bool = False) -> None:
    """Write shared settings (`pipecli settings`): key, value in force, its source, who set it when. JSON
    keeps each value's own type; a table or CSV shows a number, list or table in TOML-like JSON text."""
    import json

    rows = [
        {
            "key": s.key,
            "value": s.value
            if fmt == "json" or s.value is None or isinstance(s.value, str)
            else json.dumps(s.value, ensure_ascii=False),
            "source": s.source,
            "set_by": s.set_by,
            "set_at": s.set_at,
        }
        for s in shown
    ]
    if one:
        output.render_record(rows[0], SETTING_COLUMNS, fmt)
    else:
        output.render(rows, SETTING_COLUMNS, fmt)


TEAM_COLUMNS: Columns = (
    Column("name"),
    Column("role"),
    Column("pipelines"),
    Column("created_role", kind="bool"),
    Column("role_exists", kind="bool"),
    Column("added_by"),
    Column("added_at", kind="ts"),
)


def team(members: Sequence[Member], fmt: str) -> None:
    """Write the team's members (`pipecli team`); JSON keeps the pipelines as a list ([] for all)."""
    rows = [
        {
            "name": m.name,
            "role": m.role,
            "pipelines": m.pipelines if fmt == "json" else ", ".join(m.pipelines) or "all",
            "created_role": m.created_role,
            "role_exists": m.role_exists,
            "added_by": m.added_by,
            "added_at": m.added_at,
        }
        for m in members
    ]
    output.render(rows, TEAM_COLUMNS, fmt)


def team_removed(removed: Removed) -> None:
    """Say that a member was removed, what became of its role, and how many leads still name it."""
    role = "its database role was dropped" if removed.role_dropped else "its database role was kept, without grants"
    output.message(
        f"{removed.member.name} removed from the team: {role}; {removed.owned_leads} lead(s) still name it as owner"
    )


def shadowed_settings(shadowed: Sequence[tuple[str, Any, Any]], target: str) -> None:
    """Warn that the config file sets shared keys the database holds otherwise (the database's value is used)."""
    for key, mine, held in shadowed:
        output.message(
            f"warning: your config file sets {key} = {mine!r}, but the database holds {held!r} for everyone "
            "and that is used (see `pipecli settings list`; remove the key from your config file)"
        )


def settings_adopted(adopted: Sequence[Setting], target: str) -> None:
    """Say once that a database without shared settings adopted the config file's (`settings.adopt`)."""
    # the config's path and the URL's redaction only for this rare sentence
    from pipecli import config
    from pipecli.store.target import redact

    values = ", ".join(f"{s.key} = {s.value!r}" for s in adopted)
    output.message(
        f"the database {redact(target)} had no shared settings: it adopted those of your config file "
        f"{config.path()} for everyone who uses it ({values}); see `pipecli settings list`"
    )


def config_json(shown: Mapping[str, Any]) -> None:
    """Write the config in force as JSON (`config show`); values JSON has no type for are written as text."""
    import json

    output.line(json.dumps(dict(shown), indent=2, ensure_ascii=False, default=str))


# --- reports: metrics, funnel, forecast, size, clean ------------------------------------------------------


# --- history and undo ------------------------------------------------------------------------------------

CHANGE_COLUMNS: Columns = (
    Column("at", kind="ts"),
    Column("who"),
    Column("field"),
    Column("from"),
    Column("to"),
    Column("command"),
)
CHANGE_JSON_COLUMNS: Columns = CHANGE_COLUMNS + (Column("command_id", kind="int"),)
ENTRY_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("at", kind="ts"),
    Column("who"),
    Column("command"),
    Column("changes", kind="int"),
    Column("leads", kind="int"),
    Column("state"),
)


def _shown_value(field: str, value: str | None) -> str | None:
    """Return an event's value for people: amounts in the currency, the rest as recorded."""
    if value is None or field != "value":
        return value
    return output.money(int(value))


def change_rows(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """Return a lead's changes as rows of CHANGE_JSON_COLUMNS."""
    return [
        {
            "at": c.at,
            "who": c.actor,
            "field": c.field,
            "from": _shown_value(c.field, c.old),
            "to": _shown_value(c.field, c.new),
            "command": c.command,
            "command_id": c.journal_id,
        }
        for c in changes
    ]


def changes_of_lead(changes: Sequence[Change], fmt: str) -> None:
    """Write `history ID`: one row per change."""
    columns = CHANGE_JSON_COLUMNS if fmt != "table" else CHANGE_COLUMNS
    output.render(change_rows(changes), columns, fmt, empty="no recorded changes")


def _state(entry: Entry) -> str:
    if entry.reverted_by is not None:
        return f"undone by {entry.reverted_by}"
    if entry.undoes is not None:
        return f"undoes {entry.undoes}"
    return ""


def journal_entries(entries: Sequence[Entry], fmt: str) -> None:
    """Write `undo --list`: recent commands that changed data, newest first."""
    rows = [
        {
            "id": e.id,
            "at": e.at,
            "who": e.actor,
            "command": e.command,
            "changes": e.changes,
            "leads": e.leads,
            "state": _state(e),
        }
        for e in entries
    ]
    output.render(rows, ENTRY_COLUMNS, fmt, empty="no command has changed anything yet")


def undone(done: Undone) -> None:
    """Say what an undo reverted."""
    what = "redid" if done.redo else "undid"
    output.message(
        f"{what} command {done.reverted.id} ({done.reverted.command}): {done.changes} change(s) reverted; "
        f"`pipecli undo` again to {'undo it again' if done.redo else 'redo it'}"
    )


# --- duplicates and merges ------------------------------------------------------------------------------

DUPLICATE_COLUMNS: Columns = (
    Column("id", kind="int"),
    Column("name"),
    Column("company"),
    Column("duplicate_id", "duplicate id", kind="int"),
    Column("duplicate_name", "duplicate"),
    Column("duplicate_company", "its company"),
    Column("why"),
    Column("merge", "merge with"),
)


def merge_command(original: int, duplicate: int, same_pipeline: bool = True) -> str:
    """Return the command that merges lead `duplicate` into lead `original` (saying which stays when the
    two are in different pipelines): what `duplicates` and `clean` offer."""
    return f"pipecli merge {original} {duplicate}" + ("" if same_pipeline else f" --into {original}")


def duplicates(pairs: Sequence[Row], fmt: str) -> None:
    """Write `duplicates`: one row per likely copy, with its original, why, and the merge command."""
    rows = [{**p, "merge": merge_command(p["id"], p["duplicate_id"], p["same_pipeline"])} for p in pairs]
    output.render(rows, DUPLICATE_COLUMNS, fmt, empty="no likely duplicates")


def _detail(field: str, value: Any) -> str:
    """Return a merged detail's value for people: amounts in the currency, dates as ISO text."""
    if value is None:
        return "(none)"
    if field == "value":
        return output.money(int(value))
    return neutralise(value.isoformat() if hasattr(value, "isoformat") else str(value))


def merge_plan(plan: Plan, dry_run: bool) -> None:
    """Say on stderr what merging `plan.other` into `plan.into` does: the details it takes, the rows it
    moves, each conflict with the kept value and the other's, and the `--take` that picks the other's."""
    a, b = plan.into, plan.other
    took = ", ".join(plan.took) or "no details"
    would = "would merge" if dry_run else "merging"
    output.message(
        f"{would} lead {b['id']} ({neutralise(b['name'])}) into lead {a['id']} ({neutralise(a['name'])}): "
        f"takes {took}; moves {plan.activities} activit{'y' if plan.activities == 1 else 'ies'}"
    )
    for c in plan.conflicts:
        hint = "" if c.field == "stage" else f" (--take {c.field} keeps lead {b['id']}'s)"
        output.message(
            f"  kept {c.field}: {_detail(c.field, c.kept)}; lead {b['id']} had {_detail(c.field, c.other)}{hint}"
        )
    if dry_run:
        output.message("dry run: nothing was changed")


def merged(done: Plan) -> None:
    """Say a merge was made: the kept lead's id alone on stdout, a sentence on stderr with how to undo it."""
    output.line(str(done.into["id"]))
    output.message(
        f"merged lead {done.other['id']} into lead {done.into['id']}; lead {done.other['id']} was removed "
        "(`pipecli history` shows both histories; `pipecli undo` takes the merge back)"
    )


# --- changes ---------------------------------------------------------------------------------------------

WATERFALL_COLUMNS: Columns = (Column("step"), Column("value", kind="money"), Column("deals", kind="int"))
DEAL_CHANGE_COLUMNS: Columns = (
    Column("lead_id", "id", kind="int"),
    Column("name"),
    Column("stage"),
    Column("value_start", "value before", kind="money"),
    Column("value_end", "value now", kind="money"),
    Column("summary", wrap=True),
)
DEAL_CHANGE_JSON_COLUMNS: Columns = DEAL_CHANGE_COLUMNS + (
    Column("pushed", kind="int"),
    Column("pushed_ever", kind="int"),
    Column("pulled", kind="int"),
    Column("forward", kind="int"),
    Column("backward", kind="int"),
    Column("outcome"),
)
_SIGN = {"value decreased": -1, "won": -1, "lost": -1, "moved out": -1, "deleted": -1}


def waterfall_rows(report: ChangesReport) -> list[dict[str, Any]]:
    """Return the waterfall: open value at the start, each flow that moved something, open value at the end."""
    rows: list[dict[str, Any]] = [{"step": "open at start", "value": report.open_start, "deals": None}]
    for flow, amount in report.flows.items():
        if amount or report.counts[flow]:
            rows.append(
                {"step": f"{'-' if _SIGN.get(flow) else '+'} {flow}", "value": amount, "deals": report.counts[flow]}
            )
    rows.append({"step": "open at end", "value": report.open_end, "deals": None})
    return rows


def changes_json(report: ChangesReport) -> dict[str, Any]:
    """Return `changes`'s JSON: the window, the waterfall, close-date and stage movement, the deals."""

    return {
        "since": clock.iso(report.since),
        "until": clock.iso(report.until),
        "pipeline": report.pipeline,
        "owner": report.owner,
        "open_start": output.json_value(report.open_start, "money", output.currency()),
        "flows": [
            {"flow": f, "value": output.json_value(v, "money", output.currency()), "deals": report.counts[f]}
            for f, v in report.flows.items()
        ],
        "open_end": output.json_value(report.open_end, "money", output.currency()),
        "close_dates": {
            "pushed": report.pushed,
            "pulled_in": report.pulled,
            "overdue": report.overdue,
            "overdue_value": output.json_value(report.overdue_value, "money", output.currency()),
        },
        "stages": {"forward": report.forward, "backward": report.backward},
        "deals": output.records([vars(d) for d in report.deals], DEAL_CHANGE_JSON_COLUMNS),
    }


def changes(report: ChangesReport, fmt: str) -> None:
    """Write `changes`: the waterfall, then close dates and stage moves, then the deals that changed."""

    if fmt == "json":
        output.write_json(changes_json(report))
        return
    if fmt == "csv":  # the steps are text: `+ created` is defused as a formula would be (--raw: as is)
        output.render(waterfall_rows(report), WATERFALL_COLUMNS, "csv")
        return
    scope = " · ".join(x for x in (report.pipeline, report.owner) if x) or "all pipelines"
    title = f"What changed {clock.show(report.since)} → {clock.show(report.until)} ({scope})"
    heading = (lambda t: output.line(f"\n## {t}\n")) if fmt == "markdown" else (lambda t: output.line(f"\n{t}"))
    if fmt == "markdown":
        output.line(f"# {title}")
    else:
        output.line(title)
    if report.history_since and report.since < report.history_since:
        output.message(f"history began {clock.show(report.history_since)}: earlier values are those found then")
    heading("Open pipeline value")
    output.render(waterfall_rows(report), WATERFALL_COLUMNS, fmt)
    heading("Close dates and stages")
    output.line(
        f"pushed out {report.pushed}×, pulled in {report.pulled}×, now overdue {report.overdue} "
        f"({output.money(report.overdue_value)}); stage moves forward {report.forward}, back {report.backward}"
    )
    heading(f"Deals that changed ({len(report.deals)})")
    output.render([vars(d) for d in report.deals], DEAL_CHANGE_COLUMNS, fmt, empty="none")


# --- mail ------------------------------------------------------------------------------------------------

SENDER_COLUMNS: Columns = (
    Column("address"),
    Column("name"),
    Column("messages", kind="int"),
    Column("last_at", "last message", kind="ts"),
)
MAIL_STATUS_COLUMNS: Columns = (
    Column("source"),
    Column("kind"),
    Column("last_sync_at", "last sync", kind="ts"),
    Column("logged_total", "logged (all)", kind="int"),
    Column("last_scanned", "read", kind="int"),
    Column("last_logged", "logged", kind="int"),
    Column("last_matched", "matched", kind="int"),
    Column("last_unmatched", "unmatched", kind="int"),
    Column("last_error", "last error"),
    Column("last_error_at", "error at", kind="ts"),
)


def mail_synced_json(result: SyncResult) -> dict[str, Any]:
    """Return `mail sync`'s JSON: its counts, then the unmatched addresses."""
    return {
        "source": result.source,
        "kind": result.kind,
        "scanned": result.scanned,
        "logged": result.logged,
        "already_logged": result.already_logged,
        "matched": result.matched,
        "unmatched": result.unmatched,
        "created_leads": result.created_leads,
        "unmatched_senders": output.records([vars(s) for s in result.unmatched_senders], SENDER_COLUMNS),
    }


def mail_synced(result: SyncResult, fmt: str) -> None:
    """Write what a sync did: the counts on stderr, the unmatched addresses as data (all of it in JSON)."""
    if fmt == "json":
        output.write_json(mail_synced_json(result))
        return
    if result.senders or fmt != "table":
        output.render([vars(s) for s in result.unmatched_senders], SENDER_COLUMNS, fmt)
    created = f", {result.created_leads} lead(s) created" if result.created_leads else ""
    output.message(
        f"{result.source}: {result.scanned} message(s) read, {result.logged} logged, {result.already_logged} "
        f"already logged, {result.unmatched} unmatched{created}"
        + ("; see the addresses above (--create-leads adds them)" if result.senders and fmt == "table" else "")
    )


def mail_statuses(rows: Sequence[Row], fmt: str) -> None:
    """Write `mail status`: one row per mail source."""
    output.render(rows, MAIL_STATUS_COLUMNS, fmt, empty="no mail synced yet (see `pipecli mail sync --help`)")


def mail_sent(sent: Sent) -> None:
    """Write what `mail send` did: the whole message on stdout for a dry run, else one line on stderr."""
    if sent.activity_id is None:
        output.write(sent.message.as_string())
        output.message(f"dry run: nothing sent or logged ({sent.sent_today} of {sent.cap} e-mails sent today)")
        return
    thread = " as a reply" if sent.threaded else ""
    output.message(
        f"sent to {sent.message['To']}{thread}; logged as activity {sent.activity_id} on lead {sent.lead_id} "
        f"({sent.sent_today} of {sent.cap} e-mails today)"
    )


def calendar_file(data: bytes) -> None:
    """Write an iCalendar file to stdout as it is (its CRLF line ends kept)."""
    output.write_bytes(data)


def meetings_imported(counts: Mapping[str, int]) -> None:
    """Say on stderr what `calendar import` logged and left alone."""
    output.message(
        f"logged {counts['logged']} meeting(s); {counts['already']} already logged, {counts['future']} in the "
        f"future, {counts['unmatched']} matching no lead (of {counts['meetings']} events)"
    )
