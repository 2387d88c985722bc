"""Report options either work or are refused: a forecast option given to the backtest (or the reverse) is a
usage error (exit 2, one line), `--probabilities` applies to both, and `size` has no `--period` (it never
changed a figure)."""

import pytest


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--from", "2026-01-01"], "--from"),
        (["--to", "2026-06-01"], "--to"),
        (["--backtest", "--as-of", "2026-10-01"], "--as-of"),
        (["--backtest", "--target", "1000"], "--target"),
        (["--backtest", "--periods", "2"], "--periods"),
        (["--backtest", "--periods", "2", "--target", "5"], "--target, --periods"),
    ],
)
def test_forecast_options_of_the_other_mode_are_refused(cli, args, named):
    result = cli("forecast", *args, ok=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "does not apply" in lines[0]
    assert result.stdout == ""


def test_options_of_each_mode_still_work(cli):
    cli("add-lead", "Anna", "--value", "100")
    assert (
        cli("forecast", "--periods", "2", "--probabilities", "stage", "--target", "50", "--runs", "10").exit_code == 0
    )
    # the backtest takes --from/--to/--runs and --probabilities (it applies them); on one lead with no history it
    # says it has too little history to test, not that an option is wrong
    for extra in ([], ["--probabilities", "stage"]):
        result = cli(
            "forecast", "--backtest", "--from", "2026-01-01", "--to", "2026-03-01", "--runs", "10", *extra, ok=False
        )
        assert result.exit_code == 1 and "too little history" in result.stderr and "does not apply" not in result.stderr


def test_size_has_no_period(cli):
    result = cli(
        "size",
        "--target",
        "1000",
        "--avg-deal",
        "100",
        "--close-rate",
        "1",
        "--reps",
        "1",
        "--period",
        "week",
        ok=False,
    )
    assert result.exit_code == 2
    import json

    data = json.loads(
        cli(
            "size", "--target", "1000", "--avg-deal", "100", "--close-rate", "1", "--reps", "1", "--format", "json"
        ).stdout
    )
    assert data["period"] is None and data["deals_needed"] == 10
