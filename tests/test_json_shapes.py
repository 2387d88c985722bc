"""The JSON shape of every command that writes JSON, pinned: key names, their order and nesting (not values).

Each command runs on one demo database (`pipecli demo`, plus a lead imported with an extra field, answered
qualification questions and a learned win model, so every nested list has something in it). A test fails
when a key is renamed, added, dropped, reordered or moved, or when a list the shape promises comes back
empty (that part of the shape would go unchecked). Scripts read these keys: change one only on purpose.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

FROZEN_NOW = "2026-11-28T09:00:00+00:00"  # as in conftest: the demo is built around it


class Keys:
    """A JSON object whose keys are data (extra field names, criteria answered): any keys, scalar values."""


class AnyValue:
    """Any JSON value (a setting's value: a number, text, a list or an object, as the setting's type says)."""


class MaybeEmpty:
    """A list that may be empty on the demo data; when it is not, each item has `shape`."""

    def __init__(self, shape):
        self.shape = shape


def check(expected, value, path: str = "$") -> None:
    """Assert that `value` (parsed JSON) has the `expected` shape: a dict literal pins keys in order, `[x]` a
    non-empty list whose every item has shape x, `None` a scalar (string, number, bool or null)."""
    if expected is AnyValue:
        return
    if expected is Keys:
        assert isinstance(value, dict) and value, f"{path}: expected a non-empty object, got {value!r}"
        assert all(not isinstance(v, (dict, list)) for v in value.values()), f"{path}: nested values in {value!r}"
    elif isinstance(expected, dict):
        assert isinstance(value, dict), f"{path}: expected an object, got {type(value).__name__}"
        assert list(value) == list(expected), f"{path}: keys\n  got      {list(value)}\n  expected {list(expected)}"
        for key, sub in expected.items():
            check(sub, value[key], f"{path}.{key}")
    elif isinstance(expected, (list, MaybeEmpty)):
        item = expected.shape if isinstance(expected, MaybeEmpty) else expected[0]
        assert isinstance(value, list), f"{path}: expected a list, got {type(value).__name__}"
        assert value or isinstance(expected, MaybeEmpty), f"{path}: empty, so its items' shape goes unchecked"
        for i, element in enumerate(value):
            check(item, element, f"{path}[{i}]")
    else:
        assert not isinstance(value, (dict, list)), f"{path}: expected a scalar, got {value!r}"


def keys(*names: str, **nested) -> dict:
    """Return an object shape: scalar keys `names`, then `nested` keys with their shapes, in that order."""
    return {**dict.fromkeys(names), **nested}


SETTING = {"key": None, "value": AnyValue, "source": None, "set_by": None, "set_at": None}

LIST_KEYS = (
    "id",
    "name",
    "company",
    "stage",
    "status",
    "value",
    "owner",
    "source",
    "expected_close",
    "last_event_at",
    "email",
    "phone",
    "pipeline",
    "created_at",
    "next_step",
    "next_step_due",
    "score",
)
CHANGE = keys("at", "who", "field", "from", "to", "command", "command_id")
READY = keys("id", "name", "company", "stage", "trigger", "trigger_at", "suggested")
STAGE_ROW = keys("position", "stage", "kind", "probability", "stale_days", "triggers", "qualification_stage", "leads")
FUNNEL_STAGE = keys("position", "stage", "reached", "open", "open_value", "next_stage", "conversion")
CLEAN_ROW = keys("lead_id", "name", "rule", "group", "why", "since", "threshold", "basis", "value", "owner", "stage")
EXPORT_LEAD = keys(
    "id",
    "name",
    "company",
    "email",
    "phone",
    "value",
    "pipeline",
    "stage",
    "source",
    "owner",
    "expected_close",
    "created_at",
    "closed_at",
    "lost_reason",
    "external_id",
    "forecast_category",
    "Industry",  # the imported lead's extra field, under its original header: every lead gets the column
)
EXPORT_HISTORY = keys("lead_id", "lead", "external_id", "pipeline", "from_stage", "to_stage", "at", "left_at", "reason")
EXPORT_ACTIVITY = keys("lead_id", "lead", "external_id", "kind", "note", "at")

MAIL_STATUS = keys(
    "source", "kind", "last_sync_at", "logged_total", "last_scanned", "last_logged", "last_matched", "last_unmatched",
    "last_error", "last_error_at",
)  # fmt: skip
MAIL_SYNC = keys(
    "source", "kind", "scanned", "logged", "already_logged", "matched", "unmatched", "created_leads",
    unmatched_senders=MaybeEmpty(keys("address", "name", "messages", "last_at")),
)  # fmt: skip

SHAPES: dict[str, object] = {
    "list": [keys(*LIST_KEYS)],
    "list --sort score --limit 5": [keys(*LIST_KEYS)],
    "board": keys(
        "pipeline",
        stages=[keys("stage", "kind", "count", "value", leads=MaybeEmpty(keys("id", "name", "company", "value")))],
    ),
    "show {lead}": keys(
        *LIST_KEYS,
        "lost_reason",
        "external_id",
        "closed_at",
        "qualification",
        "win_probability",
        "snoozed_until",
        history=[keys("at", "from_stage", "to_stage", "seconds_in_stage", "reason")],
        activities=[keys("at", "kind", "note")],
        extra=Keys,
        qualification_answers=[keys("criterion", "answer", "verdict", "at")],
        recent_changes=[CHANGE],
    ),
    "history {lead}": [CHANGE],
    "undo --list": [keys("id", "at", "who", "command", "changes", "leads", "state")],
    "today": keys(
        follow_ups=[keys("id", "name", "company", "stage", "next_step", "next_step_due", "days_overdue")],
        hot_without_next_step=[keys("id", "name", "company", "stage", "score", "last_event_at")],
        ready=[READY],
    ),
    "next": [READY],
    "score": [keys("id", "name", "company", "stage", "fit", "engagement", "total", "hot", "win_probability")],
    "score --hot": [keys("id", "name", "company", "stage", "fit", "engagement", "total", "hot", "win_probability")],
    "score {lead} --explain": keys(
        "lead_id",
        "name",
        "fit",
        "engagement",
        "total",
        "hot_threshold",
        "hot",
        "half_life_days",
        "win_probability",
        win_factors=[keys("field", "bucket", "weight")],
        rules=[keys("rule", "value", "points", "contribution")],
        activities=[keys("at", "kind", "points", "age_days", "contribution")],
    ),
    "score --rules": keys(
        rules=[keys("rule", "field", "points")],
        points=[keys("kind", "points")],
        half_life_days=None,
        hot_threshold=None,
        custom_rules=None,
    ),
    "qualify --pending": [keys("id", "name", "company", "stage", "created_at", "answered", "missing")],
    "pipeline list": [keys("name", "default", "stages", "open_leads", "open_value")],
    "pipeline show": [STAGE_ROW],
    "pipeline show Sales": [STAGE_ROW],
    "metrics": keys(
        "pipeline",
        "as_of",
        "since",
        "from_history",
        "new_leads",
        "won",
        "lost",
        "win_rate",
        "won_value",
        "avg_won_deal",
        "cycle_median_days",
        "cycle_mean_days",
        "open_deals",
        "open_value",
        "avg_open_age_days",
        "velocity_per_day",
        sources=[keys("source", "new_leads")],
        stages=[keys(*FUNNEL_STAGE, "time_median_days", "time_p90_days", "stays")],
    ),
    "funnel": [FUNNEL_STAGE],
    "funnel --as-of 2026-09-30": [FUNNEL_STAGE],
    "forecast": keys(
        "pipeline",
        "as_of",
        "from_history",
        "period",
        "probabilities",
        "runs",
        "seed",
        "simulation",
        "target",
        "velocity_per_day",
        stages=[keys("stage", "probability", "source", "closed_deals")],
        periods=[
            keys(
                "period",
                "start",
                "end",
                "deals",
                "value",
                "weighted",
                "p10",
                "p50",
                "p90",
                "won",
                "commit",
                "best_case",
                "pipeline",
                "omitted",
                "target_probability",
                "velocity",
                "expected",
                "from_open",
                "from_new",
                "arrivals",
            )
        ],
        new_business=keys("win_rate", "seasonal", "history_periods", "won_deals"),
        later=keys("deals", "value"),
    ),
    "forecast --backtest --runs 500": keys(
        "pipeline",
        "period",
        "runs",
        "seed",
        "probabilities",
        "history_periods",
        "period_count",
        "deals_per_period",
        "best",
        "verdict",
        periods=[
            keys(
                "period",
                "start",
                "deals",
                "actual",
                "p10",
                "p50",
                "p90",
                "stage_weighted",
                "last_period",
                "mean_of_3",
                "inside",
            )
        ],
        forecasters=[keys("forecaster", "wape", "bias", "coverage", "pinball")],
    ),
    "size --target 100000": keys(
        "pipeline",
        "period",
        "target",
        "avg_deal",
        "avg_deal_source",
        "close_rate",
        "close_rate_source",
        "reps",
        "reps_source",
        "deals_needed",
        "leads_needed",
        "leads_per_rep",
        "open_value",
        "coverage",
        "pipeline_needed",
        "pipeline_covered",
        stages=[keys("position", "stage", "to_won", "leads_needed_in_stage", "open")],
    ),
    "clean": [CLEAN_ROW],
    "duplicates": [
        keys("id", "name", "company", "duplicate_id", "duplicate_name", "duplicate_company", "why", "merge")
    ],
    "clean --as-of 2026-10-31": [CLEAN_ROW],
    "export --format json": [EXPORT_LEAD],
    "export --format json --what history": [EXPORT_HISTORY],
    "export --format json --what activities": [EXPORT_ACTIVITY],
    "mail status": MaybeEmpty(MAIL_STATUS),  # none on the demo: tests/test_mail_sync.py checks a filled one
    "examples": [keys("name", "about")],
    "settings list": [SETTING],
    "settings get scoring.hot_threshold": [SETTING],
}

# Commands that change the database: each runs on its own copy of the demo.
WRITING_SHAPES: dict[str, object] = {
    "qualify {lead} --authority Maria --need yes": keys("lead_id", "status", required=[None], verdicts=Keys, done=None),
    "score --learn": keys(
        "method",
        "auc",
        "split",
        "held_out",
        "trained_on",
        "learned_from",
        "won",
        "lost",
        fields=[None],
        skipped=MaybeEmpty(None),
        top_factors=[keys("field", "value", "weight")],
        pipeline=None,
        open_leads=None,
    ),
    "forget {lead} --yes": [keys("table", "rows")],
    "settings set scoring.hot_threshold 60": [SETTING],
}

IMPORTED = (  # the second row is a copy of the first (for `duplicates`)
    "name,company,email,value,owner,stage,Industry\nZoe Demo,Demo Srl,zoe@demo.example,9000,marco,Meeting,retail\n"
    "Demo Zoe,Demo S.r.l.,zoe+crm@demo.example,9000,marco,Meeting,retail\n"
)


def run(db: str, command: str, lead: int) -> str:
    """Run `pipecli --db DB COMMAND --format json` (once) and return its stdout, failing on a non-zero exit."""
    args = command.format(lead=lead).split()
    if "--format" not in args:
        args += ["--format", "json"]
    from pipecli.cli import app

    result = CliRunner().invoke(app, ["--db", db, *args])
    assert result.exit_code == 0, f"pipecli {' '.join(args)}: {result.stderr}{result.exception!r}"
    return result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Return (path, lead id) of a demo database with, besides the demo's leads, one lead that has an extra
    field, qualification answers, activities and a learned win probability (for `show` and `--explain`)."""
    folder = tmp_path_factory.mktemp("demo")
    db = str(folder / "demo.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PIPECLI_NOW", FROZEN_NOW)
        env.setenv("PIPECLI_CONFIG", str(folder / "config.toml"))
        env.setenv("XDG_DATA_HOME", str(folder / "data"))
        from pipecli.cli import app

        runner = CliRunner()
        for args, stdin in (
            (["demo", "--into", db], None),
            (["import", "-"], IMPORTED),
            (["score", "--learn"], None),
        ):
            result = runner.invoke(app, ["--db", db, *args], input=stdin)
            assert result.exit_code == 0, result.stderr
        lead = int(json.loads(run(db, "list --sort created --limit 1", 0))[0]["id"])
        for args in (
            ["qualify", str(lead), "--budget", "20000"],
            ["log", str(lead), "call", "--note", "intro", "--at", "2026-11-27"],
        ):
            result = runner.invoke(app, ["--db", db, *args])
            assert result.exit_code == 0, result.stderr
    return db, lead


@pytest.mark.parametrize("command", list(SHAPES))
def test_json_shape(command, demo):
    db, lead = demo
    check(SHAPES[command], json.loads(run(db, command, lead)))


@pytest.mark.parametrize("command", list(WRITING_SHAPES))
def test_json_shape_of_a_command_that_writes(command, demo, tmp_path):
    db = str(tmp_path / "copy.db")
    shutil.copyfile(demo[0], db)  # closed cleanly by its last command: no write-ahead log to copy
    check(WRITING_SHAPES[command], json.loads(run(db, command, demo[1])))


def test_export_json_lines_has_the_json_shape(demo):
    db, lead = demo
    lines = run(db, "export --format jsonl", lead).splitlines()
    assert lines
    for line in lines:
        check(EXPORT_LEAD, json.loads(line))


def test_config_show_is_json(tmp_path):
    from pipecli.cli import app

    result = CliRunner().invoke(app, ["--db", str(tmp_path / "p.db"), "config", "show"])
    assert result.exit_code == 0
    check(keys("config_file", "db", "currency"), json.loads(result.stdout))


def test_db_migrate_to_json_shape(demo, pg_url):
    check([keys("table", "source_rows", "copied_rows")], json.loads(run(demo[0], f"db migrate-to {pg_url}", 0)))


def test_the_shape_check_catches_what_it_pins():
    """The checker itself: a renamed, reordered or missing key, a scalar turned list, an empty list all fail."""
    shape = keys("a", b=[keys("c")])
    check(shape, {"a": 1, "b": [{"c": None}]})
    for wrong in (
        {"a": 1, "b": [{"d": None}]},
        {"b": [{"c": 1}], "a": 1},
        {"a": 1},
        {"a": [1], "b": [{"c": 1}]},
        {"a": 1, "b": []},
    ):
        with pytest.raises(AssertionError):
            check(shape, wrong)


def test_team_list_json_shape(pg_url):
    from pipecli.store.target import role_of

    member = {
        "name": None,
        "role": None,
        "pipelines": MaybeEmpty(None),
        "created_role": None,
        "role_exists": None,
        "added_by": None,
        "added_at": None,
    }
    from pipecli.cli import app

    assert CliRunner().invoke(app, ["--db", pg_url, "db", "init"]).exit_code == 0  # no JSON of its own
    # the test's own role mapped as an admin: no role to create on the shared server, none to drop after
    check([member], json.loads(run(pg_url, f"team add {role_of(pg_url)} --role admin --existing", 0)))
    check([member], json.loads(run(pg_url, "team list", 0)))
