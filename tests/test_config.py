"""The one checked config reader: every section refuses an unknown key or a bad value with one line that
names the file, the section and the key, and exit 1 (through the CLI, on a real config file)."""

import pytest


def refused(cli, tmp_path, toml: str, *args: str) -> str:
    """Write `toml` as the config, run the command, check the one-line refusal; return the line."""
    file = tmp_path / "config.toml"
    file.write_text(toml)
    result = cli(*args, ok=False)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"pipecli: config file {file}: ")
    return lines[0]


@pytest.mark.parametrize(
    ("toml", "args", "says"),
    [
        ('[forecast]\nruns = "many"\n', ["forecast"], "[forecast] runs must be a whole number, not 'many'"),
        ("[forecast]\nruns = 0\n", ["forecast"], "[forecast] runs must be a number of at least 1, not 0"),
        ("[forecast]\nmin_history = 0\n", ["forecast"], "[forecast] min_history must be a number of at least 1, not 0"),
        ("[forecast]\nrunz = 10\n", ["forecast"], "[forecast] runz is not a setting (known: min_history, runs, seed)"),
        ("[forecast]\nseed = 1.5\n", ["forecast", "--backtest"], "[forecast] seed must be a whole number, not 1.5"),
        ("[clean]\npercentile = 150\n", ["clean"], "[clean] percentile must be between 1 and 100, not 150"),
        ('[clean]\nsample = "all"\n', ["clean"], "[clean] sample must be a whole number, not 'all'"),
        ("[clean]\nmin_history = true\n", ["clean"], "[clean] min_history must be a whole number, not True"),
        ("[clean]\nstale_days = 3\n", ["clean"], "[clean] stale_days is not a setting"),
        ("stale_days = 0\n", ["clean"], "stale_days must be a number of at least 1, not 0"),
        (
            "colour = 1\n",
            ["list"],
            "colour is not a setting (known: db, user, currency, stale_days, fiscal_year_start, locale, date_order, lock_wait, connect_timeout)",
        ),
        ("currency = 12\n", ["list"], "currency must be text, not 12"),
        ('[scoring]\nhot_threshold = "high"\n', ["list", "--hot"], "[scoring] hot_threshold must be a number"),
        ("[scoring]\nhalf_life_days = 0\n", ["score", "--rules"], "[scoring] half_life_days must be a number above 0"),
        ('[scoring.points]\nreply = "lots"\n', ["score", "--rules"], "[scoring] points must be a table whose values"),
        ("[scoring]\nhot = 3\n", ["score", "--rules"], "[scoring] hot is not a setting"),
        ('[scoring]\nrules = "none"\n', ["score", "--rules"], "[scoring] rules must be a non-empty list"),
        (
            '[qualification]\nrequired = ["budget", "money"]\n',
            ["qualify", "1", "--budget", "yes"],
            "[qualification] required must be a list whose items are each one of budget, authority, need, timeline",
        ),
        ("[qualification]\nrequired = []\n", ["qualify", "1", "--budget", "yes"], "required must be a non-empty list"),
        ("forecast = 3\n", ["forecast"], "[forecast] must be a table"),
    ],
)
def test_each_section_refuses_unknown_keys_and_bad_values(cli, tmp_path, toml, args, says):
    cli("add-lead", "Anna")
    assert says in refused(cli, tmp_path, toml, *args)


def test_good_values_of_every_section_are_taken(cli, tmp_path):
    """Integers where a number is wanted are taken as numbers, and each section's values reach its command."""
    (tmp_path / "config.toml").write_text(
        'currency = "usd"\nstale_days = 9\n'
        "[forecast]\nruns = 200\nseed = 7\nmin_history = 1\n"
        "[clean]\npercentile = 50\nsample = 10\nmin_history = 2\n"
        "[scoring]\nhot_threshold = 5\nhalf_life_days = 7\n[scoring.points]\nreply = 12\n"
        '[qualification]\nrequired = ["budget"]\n'
    )
    import json

    cli("add-lead", "Anna")
    data = json.loads(cli("forecast", "--format", "json").stdout)
    assert (data["runs"], data["seed"]) == (200, 7)
    rules = json.loads(cli("score", "--rules", "--format", "json").stdout)
    assert rules["hot_threshold"] == 5 and rules["half_life_days"] == 7
    assert {"kind": "reply", "points": 12} in rules["points"]
    assert "qualified" in cli("qualify", "1", "--budget", "yes").output
